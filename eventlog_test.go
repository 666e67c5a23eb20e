package keysmith_test

import (
	"testing"
	"time"

	"github.com/keysmith/keysmith"
)

// chain links events as the store records them, without a database.
func chain(t *testing.T, evs ...keysmith.Event) []keysmith.EventRow {
	t.Helper()
	var rows []keysmith.EventRow
	prev := ""
	for i, ev := range evs {
		ev.Seq = int64(i + 1)
		data, err := keysmith.CanonicalEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		ids, outcome := keysmith.TargetIDs(ev.Targets), ev.Outcome
		rows = append(rows, keysmith.EventRow{Seq: ev.Seq, ID: ev.ID, Type: string(ev.Type), ActorID: ev.Actor.ID,
			Data: data, PrevHash: prev, Hash: keysmith.ChainHash(prev, data), Time: ev.Time.UnixMicro(),
			TargetIDs: &ids, Outcome: &outcome})
		prev = rows[i].Hash
	}
	return rows
}

func TestTheChainRulesHoldWithoutADatabase(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	rows := chain(t,
		keysmith.Event{ID: "evt_1", Time: at, Type: keysmith.EventAPITokenCreated, Outcome: keysmith.OutcomeSuccess},
		keysmith.Event{ID: "evt_2", Time: at, Type: keysmith.EventAPITokenRevoked, Outcome: keysmith.OutcomeSuccess})

	t.Run("AnIntactChainLinks", func(t *testing.T) {
		prev, id := "", ""
		for i, r := range rows {
			if _, p := keysmith.CheckLink(r, int64(i+1), prev, id); p != nil {
				t.Fatalf("event %d: %s", r.Seq, p)
			}
			prev, id = r.Hash, r.ID
		}
	})
	t.Run("ChangedContentsAreCaught", func(t *testing.T) {
		r := rows[1]
		r.Data = r.Data[:len(r.Data)-1] + " }"
		if _, p := keysmith.CheckLink(r, 2, rows[0].Hash, rows[0].ID); p == nil || p.Kind != keysmith.ProblemModified {
			t.Fatalf("problem %v, want %s", p, keysmith.ProblemModified)
		}
	})
	t.Run("ARemovedEventIsCaught", func(t *testing.T) {
		if _, p := keysmith.CheckLink(rows[1], 1, "", ""); p == nil || p.Kind != keysmith.ProblemRemoved {
			t.Fatalf("problem %v, want %s", p, keysmith.ProblemRemoved)
		}
	})
	t.Run("AnAnchorNoPruningRecordedIsNotConfirmed", func(t *testing.T) {
		if p := keysmith.CheckAnchor(4, "somehash", nil); p == nil || p.Kind != keysmith.ProblemAnchor {
			t.Fatalf("problem %v, want %s", p, keysmith.ProblemAnchor)
		}
		if p := keysmith.CheckAnchor(0, "", nil); p != nil {
			t.Fatalf("a log never pruned: problem %v", p)
		}
	})
}
