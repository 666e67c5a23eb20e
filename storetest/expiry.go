package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
)

// Idle expiry is final: the store refuses a use that would revive a token
// whose expiry was recorded, or that arrives later than the idle deadline
// plus keysmith.IdleSettle.

// createIdleToken creates a token of a new owner with an idle TTL of an
// hour, at the clock's time.
func (fx *fixture) createIdleToken() *keysmith.Token {
	fx.t.Helper()
	t, _, h := fx.newToken(fx.addUser(keysmith.NewID("usr") + "@example.com"))
	t.IdleTTL = time.Hour
	fx.mustCreate(fx.ctx, t, h)
	return t
}

// recordUse stores one use made at at, failing the test on error.
func (fx *fixture) recordUse(id string, at time.Time) {
	fx.t.Helper()
	if err := fx.db.RecordTokenUses(fx.ctx, []keysmith.TokenUse{{TokenID: id, At: at, IP: "192.0.2.7"}}); err != nil {
		fx.t.Fatalf("RecordTokenUses: %v", err)
	}
}

// expiryEvents counts the api_token.expired events about a token.
func (fx *fixture) expiryEvents(id string) int {
	fx.t.Helper()
	evs, _, err := fx.db.FindEvents(fx.ctx, keysmith.EventFilter{Type: keysmith.EventAPITokenExpired, TargetID: id})
	if err != nil {
		fx.t.Fatalf("FindEvents: %v", err)
	}
	return len(evs)
}

func testRecordTokenUsesRefusesAUseArrivingAfterTheDeadlinePlusSettle(t *testing.T, fx *fixture) {
	onTime, late := fx.createIdleToken(), fx.createIdleToken()
	created := fx.clock.Now()
	usedAt := created.Add(59 * time.Minute) // before the deadline, an hour after creation
	fx.clock.Advance(time.Hour + keysmith.IdleSettle - time.Microsecond)
	fx.recordUse(onTime.ID, usedAt)
	if got := fx.mustFindToken(onTime.ID); got.LastUsedAt == nil || !got.LastUsedAt.Equal(usedAt) || got.ExpiryRecordedAt != nil {
		t.Fatalf("use arriving just within the settle time: last use %v, expiry recorded %v; want %v and not recorded",
			got.LastUsedAt, got.ExpiryRecordedAt, usedAt)
	}
	fx.clock.Advance(time.Microsecond) // the deadline plus IdleSettle
	fx.recordUse(late.ID, usedAt)
	got := fx.mustFindToken(late.ID)
	if got.LastUsedAt != nil || got.Status(fx.clock.Now()) != keysmith.TokenExpired {
		t.Fatalf("use arriving at the deadline plus the settle time was stored: last use %v, status %s", got.LastUsedAt, got.Status(fx.clock.Now()))
	}
	if got.ExpiryRecordedAt == nil || fx.expiryEvents(late.ID) != 1 {
		t.Errorf("the refusal did not record the expiry once: recorded at %v, %d events", got.ExpiryRecordedAt, fx.expiryEvents(late.ID))
	}
	fx.recordUse(late.ID, usedAt) // again, as another replica would
	if n := fx.expiryEvents(late.ID); n != 1 {
		t.Errorf("%d expiry events after a second refused use, want 1", n)
	}
}

func testRecordTokenUsesNeverRevivesATokenWhoseExpiryWasRecorded(t *testing.T, fx *fixture) {
	tok := fx.createIdleToken()
	created := fx.clock.Now()
	fx.clock.Advance(time.Hour + time.Second) // past the deadline, within the settle time
	if err := fx.db.RecordTokenExpiry(fx.ctx, tok.ID, fx.clock.Now()); err != nil {
		t.Fatalf("RecordTokenExpiry: %v", err)
	}
	if got := fx.mustFindToken(tok.ID); got.ExpiryRecordedAt == nil || fx.expiryEvents(tok.ID) != 1 {
		t.Fatalf("RecordTokenExpiry after the deadline: recorded at %v, %d events; want recorded once", got.ExpiryRecordedAt, fx.expiryEvents(tok.ID))
	}
	changes, _ := fx.published(func() {
		fx.recordUse(tok.ID, created.Add(59*time.Minute)) // made in time, flushed after the expiry was recorded
	})
	got := fx.mustFindToken(tok.ID)
	if got.LastUsedAt != nil || got.Status(fx.clock.Now()) != keysmith.TokenExpired {
		t.Errorf("a use flushed after the recorded expiry revived the token: last use %v, status %s", got.LastUsedAt, got.Status(fx.clock.Now()))
	}
	// (On PostgreSQL the store may also have heard its own notification.)
	if len(changes) == 0 || slices.ContainsFunc(changes, func(c keysmith.Change) bool { return c != tokenChange(tok.ID) }) {
		t.Errorf("refused use published %v, want the token's change (caches hold the refused use)", changes)
	}
	if err := fx.db.RecordTokenExpiry(fx.ctx, tok.ID, fx.clock.Now()); err != nil || fx.expiryEvents(tok.ID) != 1 {
		t.Errorf("second RecordTokenExpiry: %v, %d events; want no error and still one", err, fx.expiryEvents(tok.ID))
	}
}

func testRecordTokenExpiryLeavesARenewedTokenAlone(t *testing.T, fx *fixture) {
	tok := fx.createIdleToken()
	created := fx.clock.Now()
	fx.recordUse(tok.ID, created.Add(59*time.Minute)) // stored before anyone calls it expired
	fx.clock.Advance(time.Hour + time.Second)
	if err := fx.db.RecordTokenExpiry(fx.ctx, tok.ID, fx.clock.Now()); err != nil {
		t.Fatalf("RecordTokenExpiry: %v", err)
	}
	if got := fx.mustFindToken(tok.ID); got.ExpiryRecordedAt != nil || got.Status(fx.clock.Now()) != keysmith.TokenActive {
		t.Errorf("renewed token: expiry recorded at %v, status %s; want not recorded, active", got.ExpiryRecordedAt, got.Status(fx.clock.Now()))
	}
	if err := fx.db.RecordTokenExpiry(fx.ctx, keysmith.NewID("tok"), fx.clock.Now()); err != nil {
		t.Errorf("RecordTokenExpiry of an unknown token: %v, want nothing done", err)
	}
}

func testPruneAccessTokensDeletesOnlyExpiredRecords(t *testing.T, fx *fixture) {
	now := fx.clock.Now()
	const expired = 1100 // more than one batch
	var rows []string
	add := func(id string, expires *time.Time, revoked bool) {
		exp, rev := "NULL", "NULL"
		if expires != nil {
			exp = fmt.Sprint(expires.UnixMicro())
		}
		if revoked {
			rev = fmt.Sprint(now.UnixMicro())
		}
		rows = append(rows, fmt.Sprintf("('%s', 'opaque', 'cli_x', '', 'sandbox', 'a', 'aud', %d, %s, %s)",
			id, now.Add(-2*time.Hour).UnixMicro(), exp, rev))
	}
	for i := range expired {
		add(fmt.Sprint("at_old", i), ptr(now.Add(-time.Duration(i+1)*time.Second)), i%2 == 0)
	}
	add("at_at_the_cutoff", &now, false)
	add("at_live", ptr(now.Add(time.Hour)), false)
	add("at_revoked_live", ptr(now.Add(time.Hour)), true)
	add("at_never", nil, false)
	_, err := fx.db.SQL().ExecContext(fx.ctx, `INSERT INTO oauth_tokens (id, format, client_id, app_id, environment, scope,
		audience, issued_at, expires_at, revoked_at) VALUES `+strings.Join(rows, ", "))
	if err != nil {
		t.Fatalf("insert access tokens: %v", err)
	}
	n, err := fx.db.PruneAccessTokens(fx.ctx, now)
	if err != nil || n != expired {
		t.Fatalf("PruneAccessTokens = %d, %v; want %d", n, err, expired)
	}
	if got := fx.count("oauth_tokens"); got != 4 {
		t.Errorf("%d access tokens left, want 4 (expiring at the cutoff or later, and never)", got)
	}
	if ids, err := fx.db.FindRevokedAccessTokens(fx.ctx, now); err != nil || len(ids) != 1 || ids[0] != "at_revoked_live" {
		t.Errorf("revoked unexpired tokens after pruning: %v, %v; want at_revoked_live", ids, err)
	}
	if n, err := fx.db.PruneAccessTokens(fx.ctx, now); err != nil || n != 0 {
		t.Errorf("second PruneAccessTokens = %d, %v; want 0", n, err)
	}
}
