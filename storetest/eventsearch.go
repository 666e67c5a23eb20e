package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/store"
)

// testEventSearch: the system log read by target and by text through their
// indexes (event_targets, event_search) selects what the filters say, on
// every page, in the export, and after pruning.
func testEventSearch(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	audit := keysmith.Audit{Actor: keysmith.Ref{Type: "user", ID: owner.ID, DisplayName: owner.Email},
		ClientIP: "198.51.100.7", UserAgent: "Terraform/1.9", RequestID: "req-abc123"}
	ctx := keysmith.WithAudit(fx.ctx, audit)
	record := func(typ keysmith.EventType, details map[string]any, targets ...keysmith.Ref) {
		t.Helper()
		if err := fx.db.RecordEvent(ctx, typ, keysmith.OutcomeDenied, details, targets...); err != nil {
			t.Fatalf("RecordEvent: %v", err)
		}
	}
	ref := func(i int) keysmith.Ref {
		return keysmith.Ref{Type: "api_token", ID: fmt.Sprintf("tok_target%02d", i), DisplayName: fmt.Sprintf("Deploy Key %02d", i)}
	}
	// 30 events, each naming ten of 40 targets; the first 10 before the cut.
	var cut time.Time
	for i := range 30 {
		if i == 10 {
			fx.clock.Advance(time.Hour)
			cut = fx.clock.Now()
		}
		var targets []keysmith.Ref
		for j := range 10 {
			targets = append(targets, ref((i+j*3)%40))
		}
		typ := keysmith.EventAccessDenied
		if i%2 == 1 {
			typ = keysmith.EventAPITokenUpdated
		}
		record(typ, map[string]any{"reason": fmt.Sprintf("event number %02d", i), "changed": []any{"name"},
			"hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, targets...)
		fx.clock.Advance(time.Second)
	}
	record(keysmith.EventAccessDenied, map[string]any{"reason": `say "hi" * NEAR(a b) AND OR (x) 100% a_b c\d -e ^f`})
	record(keysmith.EventAccessDenied, map[string]any{"reason": "Überprüfung der Schlüssel"})
	record(keysmith.EventAccessDenied, map[string]any{"reason": "100 abc"})

	// want is what the filter selects, newest first, found by reading
	// every event and applying the filter by hand.
	want := func(f keysmith.EventFilter) []int64 {
		t.Helper()
		var all []*keysmith.Event
		if err := fx.db.ExportEvents(fx.ctx, keysmith.EventFilter{}, func(ev *keysmith.Event) error {
			all = append(all, ev)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, ev := range slices.Backward(all) {
			hasTarget := f.TargetID == "" || slices.ContainsFunc(ev.Targets, func(r keysmith.Ref) bool { return r.ID == f.TargetID })
			if hasTarget && (f.Type == "" || ev.Type == f.Type) && (f.Since.IsZero() || !ev.Time.Before(f.Since)) &&
				(f.Query == "" || keysmith.EventMatches(ev, f.Query)) {
				out = append(out, ev.Seq)
			}
		}
		return out
	}
	// check pages through f two at a time and exports it, and compares both
	// with want.
	check := func(t *testing.T, f keysmith.EventFilter, wantN int) {
		t.Helper()
		w := want(f)
		if wantN >= 0 && len(w) != wantN || wantN < 0 && len(w) == 0 {
			t.Fatalf("q %q, target %q selects %d events by hand; the case expects %d (-1: some)", f.Query, f.TargetID, len(w), wantN)
		}
		var paged []int64
		f.Limit = 2
		for range 100 {
			evs, next, err := fx.db.FindEvents(fx.ctx, f)
			if err != nil {
				t.Fatalf("FindEvents(%+v): %v", f, err)
			}
			for _, ev := range evs {
				paged = append(paged, ev.Seq)
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
		if !slices.Equal(paged, w) {
			t.Errorf("FindEvents(q %q, target %q, type %q) paged to the end = %v; want %v", f.Query, f.TargetID, f.Type, paged, w)
		}
		var exported []int64
		f.Page = keysmith.Page{}
		if err := fx.db.ExportEvents(fx.ctx, f, func(ev *keysmith.Event) error {
			exported = append(exported, ev.Seq)
			return nil
		}); err != nil {
			t.Fatalf("ExportEvents: %v", err)
		}
		slices.Reverse(exported)
		if !slices.Equal(exported, w) {
			t.Errorf("ExportEvents(q %q, target %q) = %v (newest first); want %v", f.Query, f.TargetID, exported, w)
		}
	}

	// texts are searches and how many events each finds.
	texts := []struct {
		q    string
		want int
	}{
		{"number 17", 1},                 // a detail, any case
		{"DEPLOY KEY 05", 6},             // a target's name
		{"tok_target05", 6},              // a target's id
		{"owner@exa", 33},                // the actor's e-mail
		{"51.100.7", 33},                 // the client IP
		{"terraform", 33},                // the user agent
		{"req-abc", 33},                  // the request id
		{"denied", 33},                   // the outcome
		{"access denied", 15 + 3},        // the message
		{"api_token.updated", 15},        // the type
		{"ber", 31},                      // common: 30 numbers and Über
		{"überprüfung", 1},               // Unicode, lower case
		{"ÜBERPRÜF", 1},                  // Unicode, upper case
		{"uberpruf", 0},                  // no folding of accents
		{`"hi" *`, 1},                    // FTS syntax is text
		{`NEAR(a b) AND OR (x)`, 1},      // so are its operators
		{`100%`, 1},                      // LIKE's wildcards too
		{`100 `, 1},                      // (not "100%")
		{`a_b`, 1},                       // _ is a character
		{`c\d`, 1},                       // so is \
		{`-e ^f`, 1},                     //
		{"display_name", 0},              // field names are not searched
		{"9f86d081884c7d659a2f", 0},      // nor hashes
		{"name", 30},                     // but a detail's value is
		{"no such text anywhere", 0},     //
		{"event number 0", 10},           // several pieces, one apart
		{"aaaaaaaaaaaaaaaaaaaaaaaaa", 0}, // more pieces than are looked up
	}
	// New events are indexed after their commit (IndexNewEvents; the
	// fixture's store never does it in the background): until then a
	// search reads them itself.
	t.Run("TextSearchFindsEventsNotIndexedYet", func(t *testing.T) {
		for _, c := range texts {
			check(t, keysmith.EventFilter{Query: c.q}, c.want)
		}
		check(t, keysmith.EventFilter{TargetID: ref(3).ID, Query: "NUMBER 2"}, -1)
	})
	if err := fx.db.IndexNewEvents(fx.ctx); err != nil {
		t.Fatalf("IndexNewEvents: %v", err)
	}
	fx.wantIndexed(t)
	t.Run("TargetFilterFindsEveryEventOfEachOfManyTargets", func(t *testing.T) {
		for i := range 40 {
			check(t, keysmith.EventFilter{TargetID: ref(i).ID}, -1)
		}
		check(t, keysmith.EventFilter{TargetID: ref(0).ID}, 7)
		check(t, keysmith.EventFilter{TargetID: "tok_target"}, 0) // an id, not a prefix
	})
	t.Run("TargetFilterCombinesWithTypeSinceAndText", func(t *testing.T) {
		check(t, keysmith.EventFilter{TargetID: ref(3).ID, Type: keysmith.EventAPITokenUpdated}, -1)
		check(t, keysmith.EventFilter{TargetID: ref(3).ID, Since: cut}, -1)
		check(t, keysmith.EventFilter{TargetID: ref(3).ID, Query: "NUMBER 2"}, -1)
		check(t, keysmith.EventFilter{TargetID: ref(3).ID, Query: "no such text"}, 0)
	})
	t.Run("TextSearchFindsSubstringsOfWhatPeopleRead", func(t *testing.T) {
		for _, c := range texts {
			check(t, keysmith.EventFilter{Query: c.q}, c.want)
		}
	})
	t.Run("ShortTextIsInvalid", func(t *testing.T) {
		for _, q := range []string{"a", "ab", "ü", "ßx"} {
			_, _, err := fx.db.FindEvents(fx.ctx, keysmith.EventFilter{Query: q})
			wantCode(t, "FindEvents with q "+q, err, keysmith.CodeInvalid)
			err = fx.db.ExportEvents(fx.ctx, keysmith.EventFilter{Query: q}, func(*keysmith.Event) error { return nil })
			wantCode(t, "ExportEvents with q "+q, err, keysmith.CodeInvalid)
		}
	})
	t.Run("TextSearchCombinesWithTypeAndSince", func(t *testing.T) {
		check(t, keysmith.EventFilter{Query: "number", Type: keysmith.EventAPITokenUpdated}, 15)
		check(t, keysmith.EventFilter{Query: "number", Since: cut}, 20)
	})
	t.Run("PrunedEventsAreFoundByNeitherIndexAndLeaveNoRows", func(t *testing.T) {
		if _, err := fx.db.PruneEvents(fx.ctx, cut); err != nil {
			t.Fatal(err)
		}
		check(t, keysmith.EventFilter{TargetID: ref(0).ID}, -1)
		check(t, keysmith.EventFilter{Query: "number"}, 20)
		check(t, keysmith.EventFilter{Query: "event number 0"}, 0)
		var left int
		if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*) FROM event_targets
			WHERE seq NOT IN (SELECT seq FROM events)`).Scan(&left); err != nil || left != 0 {
			t.Errorf("event_targets rows of deleted events = %d, %v; want 0", left, err)
		}
		// Events appended after the pruning are found as before.
		record(keysmith.EventAccessDenied, map[string]any{"reason": "after the pruning"}, ref(0))
		check(t, keysmith.EventFilter{TargetID: ref(0).ID, Query: "after the"}, 1)
	})
	t.Run("EventsWhoseTextIsNotIndexedYetAreFoundWithoutTheIndex", func(t *testing.T) {
		// As after the upgrade to the text index, while older events are
		// being indexed: those from the 20th down are not yet. (Last: the
		// store does not index them again.)
		evs, _, err := fx.db.FindEvents(fx.ctx, keysmith.EventFilter{Query: "event number 19"})
		if err != nil || len(evs) != 1 {
			t.Fatalf("event 19: %d, %v", len(evs), err)
		}
		through := evs[0].Seq
		unindex := `DELETE FROM event_search WHERE seq <= $1`
		if fx.db.Engine() == "sqlite" {
			unindex = `DELETE FROM event_search WHERE rowid <= $1`
		}
		if _, err := fx.db.SQL().ExecContext(fx.ctx, unindex, through); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.db.SQL().ExecContext(fx.ctx, `INSERT INTO event_search_fill (id, through) VALUES (1, $1)`, through); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			q    string
			want int
		}{
			{"number", 20}, {"event number 1", 10}, {"NUMBER 2", 10}, {"ÜBERPRÜF", 1}, {`"hi" *`, 1},
			{`c\d`, 1}, {"a_b", 1}, {"display_name", 0}, {"deploy key 05", 4}, {"no such text", 0}, {"after the", 1},
		} {
			check(t, keysmith.EventFilter{Query: c.q}, c.want)
		}
		check(t, keysmith.EventFilter{Query: "number", TargetID: ref(3).ID}, -1)
		check(t, keysmith.EventFilter{Query: "number", Type: keysmith.EventAPITokenUpdated}, 10)
	})
	t.Run("EventsOfTheFillTheIndexAndNotYetIndexedAreOneLog", func(t *testing.T) {
		// The fill's events (at or below the 20th), indexed ones, and new
		// ones not indexed yet: pages cross from one to the next.
		for i := range 4 {
			record(keysmith.EventAccessDenied, map[string]any{"reason": fmt.Sprintf("event number 9%d", i)}, ref(3))
		}
		check(t, keysmith.EventFilter{Query: "number"}, 24)
		check(t, keysmith.EventFilter{Query: "number", TargetID: ref(3).ID}, -1)
		check(t, keysmith.EventFilter{Query: "event number 9"}, 4)
		// The new ones are indexed while a search pages through them.
		f := keysmith.EventFilter{Query: "number", Page: keysmith.Page{Limit: 3}}
		var paged []int64
		for page := 0; ; page++ {
			evs, next, err := fx.db.FindEvents(fx.ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				paged = append(paged, ev.Seq)
			}
			if page == 0 {
				if err := fx.db.IndexNewEvents(fx.ctx); err != nil {
					t.Fatalf("IndexNewEvents: %v", err)
				}
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
		if w := want(keysmith.EventFilter{Query: "number"}); !slices.Equal(paged, w) {
			t.Errorf("paged while indexed = %v; want %v", paged, w)
		}
		check(t, keysmith.EventFilter{Query: "number"}, 24)
		check(t, keysmith.EventFilter{Query: "event number 9"}, 4)
	})
	t.Run("NewEventsAreIndexedInTheBackground", func(t *testing.T) {
		opt := storeOptions(fx.root, fx.clock)
		opt.IndexEvery = 10 * time.Millisecond
		db, err := store.Open(fx.ctx, fx.dsn, opt)
		if err != nil {
			t.Fatal(err)
		}
		closeAtEnd(t, db)
		if err := db.RecordEvent(ctx, keysmith.EventAccessDenied, keysmith.OutcomeDenied,
			map[string]any{"reason": "indexed by itself"}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var head, last int64
			if err := db.SQL().QueryRowContext(fx.ctx, `SELECT (SELECT through FROM event_search_head),
				(SELECT MAX(seq) FROM events)`).Scan(&head, &last); err != nil {
				t.Fatal(err)
			}
			if head == last {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("event_search_head at seq %d, the newest event %d: not indexed after 10 s", head, last)
			}
		}
		fx.wantIndexed(t)
	})
	t.Run("TwoIndexersAndAPruningPastTheHeadIndexEachEventOnce", func(t *testing.T) {
		other := openStore(t, fx.dsn, fx.clock) // another process's store on the same database
		for i := range 5 {
			record(keysmith.EventAccessDenied, map[string]any{"reason": fmt.Sprintf("second indexer %d", i)})
			indexer := fx.db
			if i%2 == 1 {
				indexer = other
			}
			if err := indexer.IndexNewEvents(fx.ctx); err != nil {
				t.Fatalf("IndexNewEvents: %v", err)
			}
		}
		fx.wantIndexed(t)
		check(t, keysmith.EventFilter{Query: "second indexer"}, 5)
		// Events pruned before their text is indexed: the head moves to
		// the anchor.
		record(keysmith.EventAccessDenied, map[string]any{"reason": "pruned unindexed"})
		fx.clock.Advance(time.Hour)
		if _, err := fx.db.PruneEvents(fx.ctx, fx.clock.Now()); err != nil {
			t.Fatal(err)
		}
		record(keysmith.EventAccessDenied, map[string]any{"reason": "after the last pruning"})
		if err := other.IndexNewEvents(fx.ctx); err != nil {
			t.Fatalf("IndexNewEvents: %v", err)
		}
		fx.wantIndexed(t)
		check(t, keysmith.EventFilter{Query: "pruned unindexed"}, 0)
		check(t, keysmith.EventFilter{Query: "the last pruning"}, 1)
	})
}

// wantIndexed checks that every event above the fill's seq (and the
// pruning's anchor) has its text in event_search, once.
func (fx *fixture) wantIndexed(t *testing.T) {
	t.Helper()
	key := "seq"
	if fx.db.Engine() == "sqlite" {
		key = "rowid"
	}
	var events, rows int
	if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT
		(SELECT COUNT(*) FROM events WHERE seq > COALESCE((SELECT through FROM event_search_fill), 0)
			AND seq > COALESCE((SELECT seq FROM event_anchor), 0)),
		(SELECT COUNT(*) FROM event_search WHERE `+key+` > COALESCE((SELECT through FROM event_search_fill), 0)
			AND `+key+` > COALESCE((SELECT seq FROM event_anchor), 0))`).Scan(&events, &rows); err != nil {
		t.Fatal(err)
	}
	if rows != events {
		t.Errorf("event_search holds %d rows for %d events; want one each", rows, events)
	}
}
