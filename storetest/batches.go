package storetest

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
)

// Background jobs (the expiry sweep, pruning the system log) work in small
// batches, each its own short transaction, so that no write waits long
// behind them. The contract runs with a batch of testBatch rows, so a few
// rows cross batch boundaries.

// testBatch is the store's Options.BatchSize in the contract tests.
const testBatch = 4

func testRecordTokenExpiriesRecordsEachTokenOnceAcrossBatchesAndConcurrentSweeps(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	var ids []string
	for i := range 3*testBatch + 1 {
		tok, _, h := fx.newToken(owner)
		tok.IdleTTL = time.Hour
		if i%2 == 0 {
			tok.ExpiresAt = ptr(fx.clock.Now().Add(time.Minute))
		}
		fx.mustCreate(fx.ctx, tok, h)
		ids = append(ids, tok.ID)
	}
	live, _ := fx.createToken(owner) // default idle TTL: not due
	fx.clock.Advance(2 * time.Hour)
	other := fx.open() // a second replica sweeping at the same time
	counts := make([]int, 2)
	errs := make([]error, 2)
	concurrently(2, func(i int) {
		db := fx.db
		if i == 1 {
			db = other
		}
		counts[i], errs[i] = db.RecordTokenExpiries(fx.ctx, fx.clock.Now())
	})
	if errs[0] != nil || errs[1] != nil || counts[0]+counts[1] != len(ids) {
		t.Fatalf("two concurrent sweeps recorded %v, errors %v; want %d in all", counts, errs, len(ids))
	}
	for _, id := range ids {
		if n := fx.expiryEvents(id); n != 1 {
			t.Errorf("token %s has %d expiry events; want exactly 1", id, n)
		}
	}
	if n := fx.expiryEvents(live.ID); n != 0 {
		t.Errorf("the live token has %d expiry events; want none", n)
	}
	if n, err := fx.db.RecordTokenExpiries(fx.ctx, fx.clock.Now()); err != nil || n != 0 {
		t.Errorf("a third sweep recorded %d, %v; want 0", n, err)
	}
}

func testPruneEventsAcrossBatchesHidesPrunedEventsAndFinishesAnInterruptedRun(t *testing.T, fx *fixture) {
	for range 3*testBatch + 1 {
		if err := fx.db.RecordEvent(fx.ctx, keysmith.EventAccessDenied, keysmith.OutcomeDenied, nil); err != nil {
			t.Fatal(err)
		}
	}
	old := fx.count("events")
	fx.clock.Advance(time.Hour)
	cut := fx.clock.Now()
	if err := fx.db.RecordEvent(fx.ctx, keysmith.EventAccessDenied, keysmith.OutcomeDenied, nil); err != nil {
		t.Fatal(err)
	}
	saved := fx.savedEvents(old)
	n, err := fx.db.PruneEvents(fx.ctx, cut)
	if err != nil || n != int64(old) {
		t.Fatalf("PruneEvents = %d, %v; want the %d events before the cut", n, err, old)
	}
	const left = 2 // the event after the cut, and system_log.pruned
	fx.wantLog("after pruning", left)
	if rows := fx.count("events"); rows != left {
		t.Errorf("%d events stored after pruning; want %d: the pruned ones deleted", rows, left)
	}

	// An interrupted run: the anchor moved, the events below it not yet
	// deleted. Nobody sees them, and the chain verifies.
	fx.restoreEvents(saved)
	fx.wantLog("with pruned events not yet deleted", left)
	if n, err := fx.db.PruneEvents(fx.ctx, cut); err != nil || n != 0 {
		t.Fatalf("PruneEvents after the interrupted run = %d, %v; want nothing new pruned", n, err)
	}
	if rows := fx.count("events"); rows != left {
		t.Errorf("%d events stored after the next run; want %d: it deletes the leftovers", rows, left)
	}
	fx.wantLog("after the next run", left)
}

// wantLog checks that the chain verifies with n events after the anchor,
// and that FindEvents and ExportEvents show exactly those.
func (fx *fixture) wantLog(when string, n int) {
	fx.t.Helper()
	check, err := fx.db.VerifyEvents(fx.ctx)
	if err != nil || check.Problem != nil || check.AnchorSeq == 0 || check.Events != int64(n) {
		fx.t.Errorf("VerifyEvents %s = %+v, %v; want an intact chain of %d events from an anchor", when, check, err, n)
		return
	}
	evs, _, err := fx.db.FindEvents(fx.ctx, keysmith.EventFilter{})
	if err != nil || len(evs) != n || evs[len(evs)-1].Seq != check.FirstSeq {
		fx.t.Errorf("FindEvents %s = %d events, %v; want the %d from seq %d", when, len(evs), err, n, check.FirstSeq)
	}
	exported := 0
	err = fx.db.ExportEvents(fx.ctx, keysmith.EventFilter{}, func(ev *keysmith.Event) error {
		if ev.Seq <= check.AnchorSeq {
			fx.t.Errorf("ExportEvents %s visited pruned event %d (anchor %d)", when, ev.Seq, check.AnchorSeq)
		}
		exported++
		return nil
	})
	if err != nil || exported != n {
		fx.t.Errorf("ExportEvents %s visited %d events, %v; want %d", when, exported, err, n)
	}
}

// storedEvent is an events row as stored.
type storedEvent struct {
	seq, time                            int64
	id, typ, actor, data, prevHash, hash string
	targetIDs, outcome                   sql.NullString
}

// savedEvents reads the stored rows of the first n events.
func (fx *fixture) savedEvents(n int) []storedEvent {
	fx.t.Helper()
	rows, err := fx.db.SQL().QueryContext(fx.ctx, `SELECT seq, time, id, type, actor_id, data, prev_hash, hash, target_ids, outcome
		FROM events ORDER BY seq LIMIT $1`, n)
	if err != nil {
		fx.t.Fatal(err)
	}
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		var e storedEvent
		if err := rows.Scan(&e.seq, &e.time, &e.id, &e.typ, &e.actor, &e.data, &e.prevHash, &e.hash, &e.targetIDs, &e.outcome); err != nil {
			fx.t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil || len(out) != n {
		fx.t.Fatalf("saved %d of %d events: %v", len(out), n, err)
	}
	return out
}

// restoreEvents puts saved rows back, as a pruning interrupted before it
// deleted them would have left them.
func (fx *fixture) restoreEvents(evs []storedEvent) {
	fx.t.Helper()
	for _, e := range evs {
		_, err := fx.db.SQL().ExecContext(fx.ctx, `INSERT INTO events (seq, time, id, type, actor_id, data, prev_hash, hash, target_ids, outcome)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			e.seq, e.time, e.id, e.typ, e.actor, e.data, e.prevHash, e.hash, e.targetIDs, e.outcome)
		if err != nil {
			fx.t.Fatal(fmt.Errorf("restore event %d: %w", e.seq, err))
		}
	}
}

func testRecordTokenUsesStoresEveryUseAcrossBatches(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	var uses []keysmith.TokenUse
	for i := range 2*testBatch + 1 {
		tok, _ := fx.createToken(owner)
		uses = append(uses, keysmith.TokenUse{TokenID: tok.ID, At: fx.clock.Now().Add(time.Duration(i+1) * time.Second), IP: "192.0.2.7"})
	}
	if err := fx.db.RecordTokenUses(fx.ctx, uses); err != nil {
		t.Fatalf("RecordTokenUses: %v", err)
	}
	for _, u := range uses {
		if got := fx.mustFindToken(u.TokenID).LastUsedAt; got == nil || !got.Equal(u.At) {
			t.Errorf("token %s last used at %v; want %v", u.TokenID, got, u.At)
		}
	}
}
