package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
)

// testEventLog: the EventStore methods that read, extend, prune and check
// the system log (the events of changes have their own cases in events.go).
func testEventLog(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	audit := keysmith.Audit{Actor: keysmith.Ref{Type: "user", ID: owner.ID}, ClientIP: "192.0.2.9", RequestID: "req-1"}
	target := keysmith.Ref{Type: "user", ID: owner.ID, DisplayName: owner.Email}

	t.Run("RecordEventAppendsAnEventWithTheAuditOfItsContext", func(t *testing.T) {
		fx := fx.in(t)
		ctx := keysmith.WithAudit(fx.ctx, audit)
		if err := fx.db.RecordEvent(ctx, keysmith.EventAccessDenied, keysmith.OutcomeDenied,
			map[string]any{"reason": "the marker"}, target); err != nil {
			t.Fatalf("RecordEvent: %v", err)
		}
		evs, next, err := fx.db.FindEvents(fx.ctx, keysmith.EventFilter{Type: keysmith.EventAccessDenied,
			Outcome: keysmith.OutcomeDenied, TargetID: owner.ID, ActorID: owner.ID, Query: "THE MARKER"})
		if err != nil || next != "" || len(evs) != 1 {
			t.Fatalf("FindEvents of the recorded event = %d events, next %q, %v; want 1", len(evs), next, err)
		}
		if e := evs[0]; e.Actor.ID != owner.ID || e.ClientIP != audit.ClientIP || e.RequestID != audit.RequestID {
			t.Errorf("recorded event = %+v; want the audit %+v", e, audit)
		}
		_, _, err = fx.db.FindEvents(fx.ctx, keysmith.EventFilter{Page: keysmith.Page{Cursor: "garbage"}})
		wantCode(t, "FindEvents with a garbage cursor", err, keysmith.CodeInvalid)
	})

	t.Run("ExportEventsVisitsEveryEventOldestFirstAndStopsAtTheFirstError", func(t *testing.T) {
		fx := fx.in(t)
		for range 2 {
			if err := fx.db.RecordEvent(fx.ctx, keysmith.EventAccessDenied, keysmith.OutcomeDenied, nil); err != nil {
				t.Fatal(err)
			}
		}
		var seqs []int64
		if err := fx.db.ExportEvents(fx.ctx, keysmith.EventFilter{Page: keysmith.Page{Limit: 1}}, func(e *keysmith.Event) error {
			seqs = append(seqs, e.Seq)
			return nil
		}); err != nil {
			t.Fatalf("ExportEvents: %v", err)
		}
		if len(seqs) != fx.count("events") || len(seqs) < 2 || seqs[0] >= seqs[len(seqs)-1] {
			t.Errorf("ExportEvents visited seqs %v; want all %d events, oldest first, regardless of Limit", seqs, fx.count("events"))
		}
		stop := errors.New("stop")
		calls := 0
		err := fx.db.ExportEvents(fx.ctx, keysmith.EventFilter{}, func(*keysmith.Event) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("ExportEvents with a failing fn: %v after %d calls; want fn's error after 1", err, calls)
		}
	})

	t.Run("RecordTokenExpiriesRecordsEachExpiredTokenOnce", func(t *testing.T) {
		fx := fx.in(t)
		tok, _, h := fx.newToken(owner)
		tok.ExpiresAt = ptr(fx.clock.Now().Add(time.Minute))
		fx.mustCreate(fx.ctx, tok, h)
		fx.clock.Advance(2 * time.Minute)
		for i, want := range []int{1, 0} {
			n, err := fx.db.RecordTokenExpiries(fx.ctx, fx.clock.Now())
			if err != nil || n != want {
				t.Errorf("RecordTokenExpiries call %d = %d, %v; want %d", i+1, n, err, want)
			}
		}
	})

	t.Run("PruneEventsKeepsTheRestVerifiableFromItsAnchor", func(t *testing.T) {
		fx := fx.in(t)
		before := fx.count("events")
		fx.clock.Advance(time.Hour)
		cut := fx.clock.Now()
		fx.createToken(owner) // an event after the cut
		n, err := fx.db.PruneEvents(fx.ctx, cut)
		if err != nil || n != int64(before) {
			t.Fatalf("PruneEvents = %d, %v; want the %d events before the cut", n, err, before)
		}
		check, err := fx.db.VerifyEvents(fx.ctx)
		if err != nil || check.Problem != nil || check.AnchorSeq == 0 || check.Events != int64(fx.count("events")) {
			t.Errorf("VerifyEvents after pruning = %+v, %v; want an intact chain from an anchor", check, err)
		}
		evs, _, err := fx.db.FindEvents(fx.ctx, keysmith.EventFilter{Type: keysmith.EventSystemLogPruned})
		if err != nil || len(evs) != 1 {
			t.Errorf("pruning events = %d, %v; want 1", len(evs), err)
		}
	})

	// Last: it breaks the chain.
	t.Run("VerifyEventsReportsAModifiedEvent", func(t *testing.T) {
		fx := fx.in(t)
		if err := fx.db.RecordEvent(fx.ctx, keysmith.EventAccessDenied, keysmith.OutcomeDenied,
			map[string]any{"reason": "to be forged"}); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.db.SQL().ExecContext(fx.ctx, `UPDATE events SET data = REPLACE(data, 'to be forged', 'was forged')`); err != nil {
			t.Fatal(err)
		}
		check, err := fx.db.VerifyEvents(fx.ctx)
		if err != nil || check.Problem == nil || check.Problem.Kind != keysmith.ProblemModified {
			t.Errorf("VerifyEvents after an edit = %+v, %v; want a modified event", check, err)
		}
	})
}
