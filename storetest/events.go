package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/keysmith/keysmith"
)

// eventRow is one row of the system log as stored.
type eventRow struct {
	Seq      int64
	ID       string
	Time     int64 // microseconds
	Type     string
	ActorID  string
	Data     string
	PrevHash string
	Hash     string
}

// events returns the system log in order.
func (fx *fixture) events() []eventRow {
	fx.t.Helper()
	rows, err := fx.db.SQL().QueryContext(fx.ctx,
		`SELECT seq, id, time, type, actor_id, data, prev_hash, hash FROM events ORDER BY seq`)
	if err != nil {
		fx.t.Fatalf("read events: %v", err)
	}
	defer rows.Close()
	var out []eventRow
	for rows.Next() {
		var r eventRow
		if err := rows.Scan(&r.Seq, &r.ID, &r.Time, &r.Type, &r.ActorID, &r.Data, &r.PrevHash, &r.Hash); err != nil {
			fx.t.Fatalf("read events: %v", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		fx.t.Fatalf("read events: %v", err)
	}
	return out
}

// event decodes the row's data, and fails the test if the columns disagree
// with it.
func (r eventRow) event(t *testing.T) keysmith.Event {
	t.Helper()
	var ev keysmith.Event
	if err := json.Unmarshal([]byte(r.Data), &ev); err != nil {
		t.Fatalf("event %d: data is not an event: %v\n%s", r.Seq, err, r.Data)
	}
	if ev.Seq != r.Seq || ev.ID != r.ID || string(ev.Type) != r.Type || ev.Actor.ID != r.ActorID || ev.Time.UnixMicro() != r.Time {
		t.Errorf("event %d: columns (seq %d, id %s, type %s, actor %s, time %d) disagree with data %s",
			r.Seq, r.Seq, r.ID, r.Type, r.ActorID, r.Time, r.Data)
	}
	ev.PrevHash, ev.Hash = r.PrevHash, r.Hash
	return ev
}

// checkChain fails the test unless the log is one unbroken hash chain with
// sequence numbers 1..n, each event encoded canonically.
func checkChain(t *testing.T, log []eventRow) {
	t.Helper()
	prev := ""
	for i, r := range log {
		if r.Seq != int64(i+1) {
			t.Fatalf("event at position %d has seq %d, want %d: the log has a gap", i+1, r.Seq, i+1)
		}
		if r.PrevHash != prev {
			t.Errorf("event %d: prev_hash %q, want the previous event's hash %q", r.Seq, r.PrevHash, prev)
		}
		if want := keysmith.ChainHash(r.PrevHash, r.Data); r.Hash != want {
			t.Errorf("event %d: hash %q, want ChainHash(prev_hash, data) = %q", r.Seq, r.Hash, want)
		}
		// Auditors recompute the hash from the decoded event, so the stored
		// data must be exactly its canonical encoding.
		if canon, err := keysmith.CanonicalEvent(r.event(t)); err != nil || canon != r.Data {
			t.Errorf("event %d: data is not canonical (err %v):\nstored    %s\ncanonical %s", r.Seq, err, r.Data, canon)
		}
		prev = r.Hash
	}
}

// audited returns a context of a request made by admin.
func audited(ctx context.Context, admin *keysmith.User) (context.Context, keysmith.Audit) {
	a := keysmith.Audit{Actor: keysmith.UserRef(admin), ClientIP: "203.0.113.9",
		UserAgent: "storetest/1.0", RequestID: "req_" + keysmith.NewID("r")}
	return keysmith.WithAudit(ctx, a), a
}

// wantEvent is the event a change should record, at the fixture's time.
func (fx *fixture) wantEvent(seq int64, typ keysmith.EventType, a keysmith.Audit, details map[string]any, targets ...keysmith.Ref) keysmith.Event {
	return keysmith.Event{Seq: seq, Time: fx.clock.Now(), Type: typ, Message: typ.Message(), Actor: a.Actor,
		Targets: targets, ClientIP: a.ClientIP, UserAgent: a.UserAgent, RequestID: a.RequestID,
		Outcome: "success", Details: details}
}

// compareEvents compares recorded events with what they should be, but for
// their random ids and hashes (checkChain covers those).
func compareEvents(t *testing.T, want []keysmith.Event, log []eventRow) {
	t.Helper()
	var got []keysmith.Event
	for _, r := range log {
		got = append(got, r.event(t))
	}
	ignore := cmpopts.IgnoreFields(keysmith.Event{}, "ID", "PrevHash", "Hash")
	if diff := cmp.Diff(want, got, ignore, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	checkChain(t, log)
}

// Token events name the token and its owner as targets, so that a
// revocation shows whether the actor was the owner.

func testBootstrapAppendsUserAndTokenEvents(t *testing.T, fx *fixture) {
	u, tok, h := fx.firstAdmin("admin@example.com")
	ctx, a := audited(fx.ctx, u)
	if err := fx.db.Bootstrap(ctx, u, tok, h); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	compareEvents(t, []keysmith.Event{
		fx.wantEvent(1, keysmith.EventUserCreated, a, map[string]any{"role": "super_admin", "type": "person"}, keysmith.UserRef(u)),
		fx.wantEvent(2, keysmith.EventAPITokenCreated, a, map[string]any{"network": map[string]any{"mode": "any", "zones": []any{}}, "rate_limit_percent": float64(50), "idle_ttl_seconds": float64(30 * 24 * 3600), "type": "user", "owner_id": u.ID}, keysmith.TokenRef(tok), keysmith.UserRef(u)),
	}, fx.events())
}

func testCreateTokenAppendsOneEvent(t *testing.T, fx *fixture) {
	owner, admin := fx.addUser("owner@example.com"), fx.addUser("admin@example.com")
	ctx, a := audited(fx.ctx, admin)
	tok, _, h := fx.newToken(owner)
	tok.Type, tok.CreatedBy = keysmith.TokenService, admin.ID
	tok.ExpiresAt = ptr(fx.clock.Now().Add(30*24*time.Hour + 5*time.Microsecond))
	fx.mustCreate(ctx, tok, h)
	compareEvents(t, []keysmith.Event{
		fx.wantEvent(1, keysmith.EventAPITokenCreated, a, map[string]any{
			"network": map[string]any{"mode": "any", "zones": []any{}}, "rate_limit_percent": float64(50), "idle_ttl_seconds": float64(30 * 24 * 3600), "type": "service", "owner_id": owner.ID, "expires_at": tok.ExpiresAt.Format(time.RFC3339Nano),
		}, keysmith.TokenRef(tok), keysmith.UserRef(owner)),
	}, fx.events())
}

func testRevokeTokenAppendsOneEvent(t *testing.T, fx *fixture) {
	owner, admin := fx.addUser("owner@example.com"), fx.addUser("admin@example.com")
	tok, _ := fx.createToken(owner)
	fx.clock.Advance(time.Hour)
	ctx, a := audited(fx.ctx, admin)
	if _, err := fx.db.RevokeToken(ctx, tok.ID, admin.ID); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	log := fx.events()
	if len(log) != 2 {
		t.Fatalf("%d events after CreateToken and RevokeToken, want 2", len(log))
	}
	compareEvents(t, []keysmith.Event{
		log[0].event(t),
		fx.wantEvent(2, keysmith.EventAPITokenRevoked, a, nil, keysmith.TokenRef(tok), keysmith.UserRef(owner)),
	}, log)
}

func testEventWithoutAuditIsBySystem(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	tok, _ := fx.createToken(owner)
	compareEvents(t, []keysmith.Event{
		fx.wantEvent(1, keysmith.EventAPITokenCreated, keysmith.Audit{Actor: keysmith.SystemActor},
			map[string]any{"network": map[string]any{"mode": "any", "zones": []any{}}, "rate_limit_percent": float64(50), "idle_ttl_seconds": float64(30 * 24 * 3600), "type": "user", "owner_id": owner.ID}, keysmith.TokenRef(tok), keysmith.UserRef(owner)),
	}, fx.events())
}

func testFailedChangeAppendsNoEvent(t *testing.T, fx *fixture) {
	for _, tt := range fx.failedChangeCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			fx := fx.in(t)
			before := fx.events()
			tt.do(t, fx)
			if diff := cmp.Diff(before, fx.events()); diff != "" {
				t.Errorf("system log changed (-before +after):\n%s", diff)
			}
		})
	}
	checkChain(t, fx.events())
}

func testEventChainIsConsistent(t *testing.T, fx *fixture) {
	admin, _ := fx.bootstrap()
	ctx, _ := audited(fx.ctx, admin)
	for i := range 5 {
		fx.clock.Advance(time.Second)
		tok, _ := fx.createToken(admin)
		if i%2 == 0 {
			if _, err := fx.db.RevokeToken(ctx, tok.ID, admin.ID); err != nil {
				t.Fatalf("RevokeToken: %v", err)
			}
		}
	}
	log := fx.events()
	if len(log) != 2+5+3 {
		t.Errorf("%d events, want %d", len(log), 2+5+3)
	}
	checkChain(t, log)
}

func testConcurrentWritersExtendOneGapFreeChain(t *testing.T, fx *fixture) {
	const writers, each = 10, 3
	owner := fx.addUser("owner@example.com")
	errs := make([]error, writers)
	concurrently(writers, func(i int) {
		for range each {
			tok, _, h := fx.newToken(owner)
			if err := fx.db.CreateToken(fx.ctx, tok, h); err != nil {
				errs[i] = err
				return
			}
			if i%2 == 0 {
				if _, err := fx.db.RevokeToken(fx.ctx, tok.ID, owner.ID); err != nil {
					errs[i] = err
					return
				}
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	log := fx.events()
	if want := writers*each + writers/2*each; len(log) != want {
		t.Errorf("%d events, want %d", len(log), want)
	}
	checkChain(t, log)
}

func testEventsHoldNoTokenHash(t *testing.T, fx *fixture) {
	admin, _ := fx.bootstrap()
	var hashes []keysmith.Hash
	for range 3 {
		tok, h := fx.createToken(admin)
		hashes = append(hashes, h)
		if _, err := fx.db.RevokeToken(fx.ctx, tok.ID, admin.ID); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
	}
	// The bootstrap token's hash too.
	var hex string
	if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT hash FROM tokens WHERE name = 'bootstrap'`).Scan(&hex); err != nil {
		t.Fatalf("read bootstrap token hash: %v", err)
	}
	h, ok := keysmith.ParseHash(hex)
	if !ok {
		t.Fatalf("bootstrap token hash %q is not a hex SHA-256", hex)
	}
	hashes = append(hashes, h)
	for _, r := range fx.events() {
		row := fmt.Sprint(r)
		for _, h := range hashes {
			if strings.Contains(strings.ToLower(row), h.String()) {
				t.Errorf("event %d holds the hash of a token: %s", r.Seq, r.Data)
			}
		}
	}
}

// failedChangeCases sets up a live and a revoked token and returns the
// changes that must fail against them (see failedChanges).
func (fx *fixture) failedChangeCases(t *testing.T) []failedChange {
	t.Helper()
	fx.bootstrap()
	owner, admin := fx.addUser("owner@example.com"), fx.addUser("admin@example.com")
	orig, origHash := fx.createToken(owner)
	revoked, _ := fx.createToken(owner)
	if _, err := fx.db.RevokeToken(fx.ctx, revoked.ID, admin.ID); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	return failedChanges(orig, origHash, revoked)
}
