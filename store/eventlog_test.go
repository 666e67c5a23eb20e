package store_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/internal/testclock"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/storetest"
)

// logFixture is a store with a bootstrapped admin and a manual clock.
type logFixture struct {
	db    *store.DB
	clock *testclock.Clock
	admin *keysmith.User
}

func openLog(t *testing.T, dsn string) *logFixture {
	t.Helper()
	clock := testclock.New()
	db := openStore(t, dsn, clock)
	u, _, _, err := (&keysmith.Service{Store: db, Now: clock.Now}).Bootstrap(t.Context(), "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	return &logFixture{db: db, clock: clock, admin: u}
}

func openStore(t *testing.T, dsn string, clock *testclock.Clock) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), dsn, store.Options{Now: clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newToken stores a token owned by the admin, recording api_token.created.
func (f *logFixture) newToken(t *testing.T, name string, expires *time.Time) *keysmith.Token {
	t.Helper()
	_, h := keysmith.NewAPITokenSecret()
	now := f.clock.Now()
	tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: name, Type: keysmith.TokenUser, OwnerID: f.admin.ID,
		CreatedAt: now, CreatedBy: f.admin.ID, ExpiresAt: expires}
	if err := f.db.CreateToken(t.Context(), tok, h); err != nil {
		t.Fatal(err)
	}
	return tok
}

// events returns every event, oldest first.
func (f *logFixture) events(t *testing.T, filter keysmith.EventFilter) []*keysmith.Event {
	t.Helper()
	var out []*keysmith.Event
	if err := f.db.ExportEvents(t.Context(), filter, func(ev *keysmith.Event) error {
		out = append(out, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *logFixture) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := f.db.SQL().Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (f *logFixture) verify(t *testing.T) *keysmith.LogCheck {
	t.Helper()
	c, err := f.db.VerifyEvents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantIntact fails unless the chain verifies with n events.
func (f *logFixture) wantIntact(t *testing.T, n int64) *keysmith.LogCheck {
	t.Helper()
	c := f.verify(t)
	if c.Problem != nil || c.Events != n {
		t.Fatalf("verify: %d events, problem %v; want %d events, intact", c.Events, c.Problem, n)
	}
	return c
}

// wantProblem fails unless the chain breaks at seq with the kind, naming id.
func (f *logFixture) wantProblem(t *testing.T, seq int64, id, kind string) {
	t.Helper()
	c := f.verify(t)
	if c.Problem == nil {
		t.Fatalf("verify found the chain intact (%d events), want %s at seq %d", c.Events, kind, seq)
	}
	if p := c.Problem; p.Seq != seq || p.ID != id || p.Kind != kind || p.Detail == "" {
		t.Fatalf("verify: %v (seq %d, id %q, kind %s); want seq %d, id %q, kind %s", p, p.Seq, p.ID, p.Kind, seq, id, kind)
	}
}

func TestEventLog(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		f := openLog(t, dsn)
		ctx := t.Context()

		t.Run("BootstrapRecordsUserAndToken", func(t *testing.T) {
			evs := f.events(t, keysmith.EventFilter{})
			if len(evs) != 2 || evs[0].Type != keysmith.EventUserCreated || evs[1].Type != keysmith.EventAPITokenCreated {
				t.Fatalf("events after bootstrap: %v", evs)
			}
			if evs[1].Actor != keysmith.SystemActor || len(evs[1].Targets) != 2 || evs[1].Targets[1].ID != f.admin.ID ||
				evs[1].Targets[1].DisplayName != "admin@localhost" {
				t.Errorf("bootstrap token event: actor %v, targets %v", evs[1].Actor, evs[1].Targets)
			}
			f.wantIntact(t, 2)
		})

		t.Run("AFailedChangeRecordsNothing", func(t *testing.T) {
			before := len(f.events(t, keysmith.EventFilter{}))
			_, h := keysmith.NewAPITokenSecret()
			tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "x", Type: keysmith.TokenUser, OwnerID: "usr_nobody",
				CreatedAt: f.clock.Now(), CreatedBy: "usr_nobody"}
			if err := f.db.CreateToken(ctx, tok, h); err == nil {
				t.Fatal("token for a user that does not exist was stored")
			}
			dup := f.newToken(t, "dup", nil)
			dup.Name = "again"
			if err := f.db.CreateToken(ctx, dup, keysmith.HashOf("other")); keysmith.ErrorCode(err) != keysmith.CodeConflict {
				t.Fatalf("duplicate id: %v, want conflict", err)
			}
			if _, err := f.db.RevokeToken(ctx, "tok_missing", f.admin.ID); keysmith.ErrorCode(err) != keysmith.CodeNotFound {
				t.Fatalf("revoke missing: %v", err)
			}
			if got := len(f.events(t, keysmith.EventFilter{})); got != before+1 {
				t.Errorf("%d events after one success and three failures, want %d", got, before+1)
			}
		})

		t.Run("RecordEventAppendsAStandaloneEvent", func(t *testing.T) {
			actx := keysmith.WithAudit(ctx, keysmith.Audit{Actor: keysmith.UserRef(f.admin), ClientIP: "192.0.2.7",
				UserAgent: "curl/8", RequestID: "req-1"})
			if err := f.db.RecordEvent(actx, keysmith.EventAccessDenied, keysmith.OutcomeDenied,
				map[string]any{"path": "/v1/x"}, keysmith.Ref{Type: "api_token", ID: "tok_a_b"}); err != nil {
				t.Fatal(err)
			}
			evs, _, err := f.db.FindEvents(ctx, keysmith.EventFilter{Outcome: keysmith.OutcomeDenied})
			if err != nil || len(evs) != 1 {
				t.Fatalf("denied events: %v, %v", evs, err)
			}
			ev := evs[0]
			if ev.Type != keysmith.EventAccessDenied || ev.Message != "Access denied" || ev.Actor.ID != f.admin.ID ||
				ev.ClientIP != "192.0.2.7" || ev.UserAgent != "curl/8" || ev.RequestID != "req-1" || ev.Details["path"] != "/v1/x" ||
				ev.Hash == "" || ev.PrevHash == "" {
				t.Errorf("recorded %+v", ev)
			}
		})

		t.Run("FiltersSelectEvents", func(t *testing.T) {
			f.clock.Advance(time.Hour)
			mark := f.clock.Now()
			a := f.newToken(t, "Needle In A Haystack", nil)
			f.clock.Advance(time.Minute)
			b := f.newToken(t, "other", nil)
			if _, err := f.db.RevokeToken(keysmith.WithAudit(ctx, keysmith.Audit{Actor: keysmith.UserRef(f.admin)}), a.ID, f.admin.ID); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name   string
				filter keysmith.EventFilter
				want   int
			}{
				{"Type", keysmith.EventFilter{Type: keysmith.EventAPITokenRevoked}, 1},
				{"Actor", keysmith.EventFilter{ActorID: f.admin.ID}, 2}, // the denial and the revocation
				{"Target", keysmith.EventFilter{TargetID: a.ID}, 2},
				{"TargetOwner", keysmith.EventFilter{TargetID: f.admin.ID, Since: mark}, 3},
				{"TargetIsNotAPattern", keysmith.EventFilter{TargetID: "tok_%"}, 0},
				{"TargetMatchesWholeIDs", keysmith.EventFilter{TargetID: a.ID[:len(a.ID)-1]}, 0},
				{"QueryIgnoresCase", keysmith.EventFilter{Query: "needle in a HAYSTACK"}, 2},
				{"QueryIsNotAPattern", keysmith.EventFilter{Query: "needle_in"}, 0},
				{"Since", keysmith.EventFilter{Since: mark.Add(time.Minute)}, 2},
				{"Until", keysmith.EventFilter{Since: mark, Until: mark.Add(time.Minute)}, 1},
				{"Together", keysmith.EventFilter{Type: keysmith.EventAPITokenCreated, TargetID: b.ID}, 1},
			} {
				t.Run(c.name, func(t *testing.T) {
					if got := f.events(t, c.filter); len(got) != c.want {
						t.Errorf("%d events, want %d: %v", len(got), c.want, got)
					}
				})
			}
		})

		t.Run("PagesAreStableWhileEventsAreAppended", func(t *testing.T) {
			all := f.events(t, keysmith.EventFilter{})
			seen := map[int64]bool{}
			var last int64 = 1 << 62
			cursor := ""
			for page := 0; ; page++ {
				evs, next, err := f.db.FindEvents(ctx, keysmith.EventFilter{Page: keysmith.Page{Limit: 2, Cursor: cursor}})
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					if seen[ev.Seq] || ev.Seq >= last {
						t.Fatalf("seq %d after seq %d: not newest first, or listed twice", ev.Seq, last)
					}
					seen[ev.Seq], last = true, ev.Seq
				}
				f.newToken(t, fmt.Sprint("appended ", page), nil) // newer than every page: never listed
				if cursor = next; cursor == "" {
					break
				}
			}
			if len(seen) != len(all) {
				t.Errorf("paging saw %d events, there were %d", len(seen), len(all))
			}
			for _, c := range []string{"garbage!", "c2VxOng", "c2VxOi0x"} {
				if _, _, err := f.db.FindEvents(ctx, keysmith.EventFilter{Page: keysmith.Page{Cursor: c}}); keysmith.ErrorCode(err) != keysmith.CodeInvalid {
					t.Errorf("cursor %q: %v, want invalid", c, err)
				}
			}
		})
		f.wantIntact(t, int64(len(f.events(t, keysmith.EventFilter{}))))
	})
}

// tamperFixture is a log of seven events to tamper with.
func tamperFixture(t *testing.T, dsn string) (*logFixture, []*keysmith.Event) {
	t.Helper()
	f := openLog(t, dsn)
	for i := range 5 {
		f.clock.Advance(time.Second)
		f.newToken(t, fmt.Sprint("token ", i), nil)
	}
	evs := f.events(t, keysmith.EventFilter{})
	if len(evs) != 7 {
		t.Fatalf("%d events, want 7", len(evs))
	}
	f.wantIntact(t, 7)
	return f, evs
}

func TestEventLogTampering(t *testing.T) {
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) { tamperTests(t, engine) })
	}
}

// tamperTests each tamper with a fresh log in their own database.
func tamperTests(t *testing.T, engine string) {
	{
		t.Run("ModifiedDataIsNamed", func(t *testing.T) {
			t.Parallel()
			f, evs := tamperFixture(t, storetest.DSN(t, engine))
			f.exec(t, `UPDATE events SET data = REPLACE(data, 'token 2', 'token X') WHERE seq = 5`)
			f.wantProblem(t, 5, evs[4].ID, keysmith.ProblemModified)
		})
		t.Run("ModifiedColumnIsNamed", func(t *testing.T) {
			t.Parallel()
			f, evs := tamperFixture(t, storetest.DSN(t, engine))
			f.exec(t, `UPDATE events SET target_ids = '' WHERE seq = 3`)
			f.wantProblem(t, 3, evs[2].ID, keysmith.ProblemModified)
		})
		t.Run("RewrittenHashIsNamedByItsSuccessor", func(t *testing.T) {
			t.Parallel()
			f, evs := tamperFixture(t, storetest.DSN(t, engine))
			f.exec(t, `UPDATE events SET data = REPLACE(data, 'token 1', 'token Y') WHERE seq = 4`)
			var data, prev string
			if err := f.db.SQL().QueryRow(`SELECT data, prev_hash FROM events WHERE seq = 4`).Scan(&data, &prev); err != nil {
				t.Fatal(err)
			}
			f.exec(t, `UPDATE events SET hash = $1 WHERE seq = 4`, keysmith.ChainHash(prev, data))
			// Seq 4 is consistent in itself; seq 5 no longer links to it.
			f.wantProblem(t, 5, evs[4].ID, keysmith.ProblemModified)
		})
		t.Run("DeletedMiddleRowIsNamed", func(t *testing.T) {
			t.Parallel()
			f, _ := tamperFixture(t, storetest.DSN(t, engine))
			f.exec(t, `DELETE FROM events WHERE seq = 4`)
			f.wantProblem(t, 4, "", keysmith.ProblemRemoved)
		})
		t.Run("DeletedFirstRowIsNamed", func(t *testing.T) {
			t.Parallel()
			f, _ := tamperFixture(t, storetest.DSN(t, engine))
			f.exec(t, `DELETE FROM events WHERE seq = 1`)
			f.wantProblem(t, 1, "", keysmith.ProblemRemoved)
		})
		t.Run("SwappedRowsAreNamed", func(t *testing.T) {
			t.Parallel()
			f, evs := tamperFixture(t, storetest.DSN(t, engine))
			f.exec(t, `UPDATE events SET seq = -1 WHERE seq = 3`)
			f.exec(t, `UPDATE events SET seq = 3 WHERE seq = 6`)
			f.exec(t, `UPDATE events SET seq = 6 WHERE seq = -1`)
			// Seq 3 now holds the event recorded as seq 6.
			f.wantProblem(t, 3, evs[5].ID, keysmith.ProblemReordered)
		})
	}
}

func TestEventLogRetention(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		f, evs := tamperFixture(t, dsn) // seven events over five seconds
		ctx := t.Context()

		t.Run("NothingOldEnoughPrunesNothing", func(t *testing.T) {
			n, err := f.db.PruneEvents(ctx, evs[0].Time)
			if err != nil || n != 0 {
				t.Fatalf("prune: %d, %v", n, err)
			}
			f.wantIntact(t, 7)
		})

		t.Run("PruningKeepsTheChainVerifiableFromTheAnchor", func(t *testing.T) {
			f.clock.Advance(time.Hour)
			n, err := f.db.PruneEvents(ctx, evs[4].Time) // before the fifth event
			if err != nil || n != 4 {
				t.Fatalf("prune: %d, %v; want 4 deleted", n, err)
			}
			c := f.wantIntact(t, 4) // three left and the pruning
			if c.AnchorSeq != 4 || c.AnchorHash != evs[3].Hash || c.FirstSeq != 5 {
				t.Errorf("check %+v, want anchor seq 4 with the hash of event 4", c)
			}
			pruned := f.events(t, keysmith.EventFilter{Type: keysmith.EventSystemLogPruned})
			if len(pruned) != 1 || pruned[0].Actor != keysmith.SystemActor || pruned[0].Details["through_seq"] != float64(4) ||
				pruned[0].Details["deleted"] != float64(4) {
				t.Fatalf("pruning event: %+v", pruned)
			}
			f.newToken(t, "after pruning", nil)
			f.wantIntact(t, 5)
		})

		t.Run("PruningEverythingStillChains", func(t *testing.T) {
			f.clock.Advance(time.Hour)
			n, err := f.db.PruneEvents(ctx, f.clock.Now())
			if err != nil || n != 5 {
				t.Fatalf("prune: %d, %v; want 5 deleted", n, err)
			}
			c := f.wantIntact(t, 1)
			if c.AnchorSeq != 9 || c.FirstSeq != 10 {
				t.Errorf("check %+v, want anchor 9, first 10", c)
			}
		})

		t.Run("RemovingTheOldestRemainingEventIsNamed", func(t *testing.T) {
			f.newToken(t, "one more", nil)
			f.exec(t, `DELETE FROM events WHERE seq = 10`)
			f.wantProblem(t, 10, "", keysmith.ProblemRemoved)
		})

		t.Run("AnAnchorMovedByHandIsNamed", func(t *testing.T) {
			var hash string
			f.db.SQL().QueryRow(`SELECT hash FROM events WHERE seq = 10`).Scan(&hash)
			f.exec(t, `DELETE FROM events WHERE seq = 10`) // already gone; hide it by moving the anchor
			var h11 string
			if err := f.db.SQL().QueryRow(`SELECT prev_hash FROM events WHERE seq = 11`).Scan(&h11); err != nil {
				t.Fatal(err)
			}
			f.exec(t, `UPDATE event_anchor SET seq = 10, hash = $1`, h11)
			f.wantProblem(t, 10, "", keysmith.ProblemAnchor)
		})
	})
}

func TestTokenExpiriesAreRecordedOnce(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		f := openLog(t, dsn)
		ctx := t.Context()
		in := func(d time.Duration) *time.Time { x := f.clock.Now().Add(d); return &x }
		soon := f.newToken(t, "soon", in(time.Hour))
		revoked := f.newToken(t, "revoked first", in(time.Hour))
		f.newToken(t, "later", in(48*time.Hour))
		f.newToken(t, "never", nil)
		if _, err := f.db.RevokeToken(ctx, revoked.ID, f.admin.ID); err != nil {
			t.Fatal(err)
		}
		sweep := func(want int) {
			t.Helper()
			if n, err := f.db.RecordTokenExpiries(ctx, f.clock.Now()); err != nil || n != want {
				t.Fatalf("sweep at %s: %d, %v; want %d", f.clock.Now(), n, err, want)
			}
		}
		sweep(0)
		f.clock.Advance(time.Hour)
		sweep(1)
		sweep(0)
		evs := f.events(t, keysmith.EventFilter{Type: keysmith.EventAPITokenExpired})
		if len(evs) != 1 || evs[0].Targets[0].ID != soon.ID || evs[0].Targets[1].ID != f.admin.ID ||
			evs[0].Actor != keysmith.SystemActor || evs[0].Details["expired_at"] != soon.ExpiresAt.Format(time.RFC3339Nano) {
			t.Fatalf("expiry events: %+v", evs)
		}
		f.clock.Advance(48 * time.Hour)
		sweep(1)
		f.wantIntact(t, int64(len(f.events(t, keysmith.EventFilter{}))))
	})
}

func TestEventColumnsAreFilledForOlderEvents(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		f := openLog(t, dsn)
		tok := f.newToken(t, "old", nil)
		f.exec(t, `UPDATE events SET target_ids = NULL, outcome = NULL`)
		f.exec(t, `DELETE FROM event_targets`) // filled with the column
		if c := f.verify(t); c.Problem == nil {
			t.Fatal("verify accepts events whose columns are missing")
		}
		db := openStore(t, dsn, f.clock) // as a restart after the upgrade
		if evs, _, err := db.FindEvents(t.Context(), keysmith.EventFilter{TargetID: tok.ID}); err != nil || len(evs) != 1 {
			t.Fatalf("events about the token after the fill: %v, %v", evs, err)
		}
		f.wantIntact(t, 3)
	})
}

// TestEventIndexesAreFilledForOlderEvents undoes migration 019 and opens
// the store again, as the first start after the upgrade: the migration
// fills event_targets from target_ids, and Open starts indexing the text
// of every event there was; searches find them all meanwhile.
func TestEventIndexesAreFilledForOlderEvents(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		f := openLog(t, dsn)
		var toks []*keysmith.Token
		for i := range 3 {
			toks = append(toks, f.newToken(t, fmt.Sprintf("Orchid-%d", i), nil))
		}
		f.exec(t, `DROP TABLE event_targets`)
		f.exec(t, `DROP TABLE event_search`)
		f.exec(t, `DROP TABLE event_search_fill`)
		f.exec(t, `DELETE FROM schema_migrations WHERE version = 19`)
		db := openStore(t, dsn, f.clock)
		for _, tok := range toks {
			evs, _, err := db.FindEvents(t.Context(), keysmith.EventFilter{TargetID: tok.ID})
			if err != nil || len(evs) != 1 {
				t.Fatalf("events about %s after the upgrade: %d, %v; want 1", tok.Name, len(evs), err)
			}
			evs, _, err = db.FindEvents(t.Context(), keysmith.EventFilter{Query: strings.ToUpper(tok.Name)})
			if err != nil || len(evs) != 1 || evs[0].Targets[0].ID != tok.ID {
				t.Fatalf("search for %s after the upgrade: %d, %v; want its event", tok.Name, len(evs), err)
			}
		}
		evs, _, err := db.FindEvents(t.Context(), keysmith.EventFilter{Query: "orchid"})
		if err != nil || len(evs) != 3 {
			t.Fatalf("search for all three: %d, %v", len(evs), err)
		}
		store.WaitForSearchFill(db)
		var left int
		if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM event_search_fill`).Scan(&left); err != nil || left != 0 {
			t.Errorf("event_search_fill rows after the fill: %d, %v; want 0", left, err)
		}
		if db.Engine() == "postgres" {
			var n int
			if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'event_search_doc'`).Scan(&n); err != nil || n != 1 {
				t.Errorf("the text index after the fill: %d, %v; want it built", n, err)
			}
		}
	})
}

// TestConcurrentReplicasExtendOneChain writes from two stores on one
// PostgreSQL database at once, as two replicas would.
func TestConcurrentReplicasExtendOneChain(t *testing.T) {
	dsn := storetest.Postgres(t)
	f := openLog(t, dsn)
	other := openStore(t, dsn, f.clock)
	const perWriter = 15
	var wg sync.WaitGroup
	errs := make(chan error, 4*2*perWriter)
	for _, db := range []*store.DB{f.db, other, f.db, other} {
		wg.Go(func() {
			for i := range perWriter {
				_, h := keysmith.NewAPITokenSecret()
				tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: fmt.Sprint("c", i), Type: keysmith.TokenUser,
					OwnerID: f.admin.ID, CreatedAt: f.clock.Now(), CreatedBy: f.admin.ID}
				errs <- db.CreateToken(context.Background(), tok, h)
				errs <- db.RecordEvent(context.Background(), keysmith.EventAccessDenied, keysmith.OutcomeDenied, nil)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	f.wantIntact(t, 2+4*2*perWriter)
	c, err := other.VerifyEvents(t.Context())
	if err != nil || c.Problem != nil {
		t.Fatalf("the other replica's walk: %+v, %v", c, err)
	}
}
