package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/storetest"
)

// TestWriteGroup is SQLite's group commit (issue 22): writes that queue
// while another commits run in one transaction, each in its own savepoint.
// Each case holds the writer's turn until its writes have queued, so that
// they meet in one group.
func TestWriteGroup(t *testing.T) {
	t.Run("AFailingMemberRollsBackAloneAndTheOthersCommit", func(t *testing.T) {
		db, owner := openGroupStore(t)
		taken, takenHash := newToken(owner)
		if err := db.CreateToken(t.Context(), taken, takenHash); err != nil {
			t.Fatal(err)
		}
		const n = 8
		toks := make([]*keysmith.Token, n)
		errs := inOneGroup(t, db, n, func(i int) error {
			tok, h := newToken(owner)
			if i == 3 {
				h = takenHash // a duplicate: conflict
			}
			toks[i] = tok
			return db.CreateToken(t.Context(), tok, h)
		})
		for i, err := range errs {
			switch {
			case i == 3 && keysmith.ErrorCode(err) != keysmith.CodeConflict:
				t.Errorf("duplicate: got %v, want conflict", err)
			case i == 3:
				if _, err := db.FindTokenByID(t.Context(), toks[i].ID); keysmith.ErrorCode(err) != keysmith.CodeNotFound {
					t.Errorf("the failed member's token: got %v, want not found", err)
				}
			case err != nil:
				t.Errorf("member %d: %v", i, err)
			default:
				if _, err := db.FindTokenByID(t.Context(), toks[i].ID); err != nil {
					t.Errorf("member %d's token: %v", i, err)
				}
			}
		}
		wantChain(t, db, 1+n-1)
	})

	t.Run("AMemberWhoseCallerGaveUpBeforeItsTurnChangesNothing", func(t *testing.T) {
		db, owner := openGroupStore(t)
		const n = 6
		toks := make([]*keysmith.Token, n)
		gaveUp, cancel := context.WithCancel(t.Context())
		errs := inOneGroup(t, db, n, func(i int) error {
			ctx := t.Context()
			if i == 2 {
				ctx = gaveUp
			}
			tok, h := newToken(owner)
			toks[i] = tok
			return db.CreateToken(ctx, tok, h)
		}, cancel)
		for i, err := range errs {
			if i == 2 {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("cancelled member: got %v, want context.Canceled", err)
				}
				if _, err := db.FindTokenByID(t.Context(), toks[i].ID); keysmith.ErrorCode(err) != keysmith.CodeNotFound {
					t.Errorf("the cancelled member's token: got %v, want not found", err)
				}
			} else if err != nil {
				t.Errorf("member %d: %v", i, err)
			}
		}
		wantChain(t, db, n-1)
	})

	t.Run("APanickingMemberRollsBackAloneAndPanicsInItsCaller", func(t *testing.T) {
		db, owner := openGroupStore(t)
		const n = 5
		var recovered any
		errs := inOneGroup(t, db, n, func(i int) error {
			if i != 1 {
				tok, h := newToken(owner)
				return db.CreateToken(t.Context(), tok, h)
			}
			defer func() { recovered = recover() }()
			return store.Write(t.Context(), db, func(tx *sql.Tx) error {
				if _, err := tx.Exec(`UPDATE users SET name = 'changed by a write that panics'`); err != nil {
					return err
				}
				panic("member 1 panics")
			})
		})
		if recovered != "member 1 panics" {
			t.Errorf("the panicking member's caller recovered %v, want its panic", recovered)
		}
		for i, err := range errs {
			if i != 1 && err != nil {
				t.Errorf("member %d: %v", i, err)
			}
		}
		var name string
		if err := db.SQL().QueryRow(`SELECT name FROM users WHERE id = $1`, owner.ID).Scan(&name); err != nil || name != owner.Name {
			t.Errorf("user's name %q (%v), want %q: the panicking write is rolled back", name, err, owner.Name)
		}
		wantChain(t, db, n-1)
		// The writer goes on.
		tok, h := newToken(owner)
		if err := db.CreateToken(t.Context(), tok, h); err != nil {
			t.Errorf("a write after the panic: %v", err)
		}
	})

	t.Run("AMemberReadsWhatEarlierMembersWrote", func(t *testing.T) {
		db, owner := openGroupStore(t)
		const n = 4
		tok, h := newToken(owner)
		errs := inOneGroup(t, db, n, func(i int) error {
			if i == 0 {
				return db.CreateToken(t.Context(), tok, h)
			}
			// The revokes queue after the creation: each finds the token,
			// the first revokes it, the others find it revoked.
			_, err := db.RevokeToken(t.Context(), tok.ID, owner.ID)
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("member %d: %v", i, err)
			}
		}
		wantChain(t, db, 2) // created, revoked once
	})

	t.Run("ABatchRunsAloneBesideGroups", func(t *testing.T) {
		db, owner := openGroupStore(t)
		const n = 6
		errs := inOneGroup(t, db, n, func(i int) error {
			if i == 2 {
				return db.Batch(t.Context(), func(b *store.Batch) error {
					for range 3 {
						tok, h := newToken(owner)
						if err := b.CreateToken(t.Context(), tok, h); err != nil {
							return err
						}
					}
					return nil
				})
			}
			tok, h := newToken(owner)
			return db.CreateToken(t.Context(), tok, h)
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("member %d: %v", i, err)
			}
		}
		wantChain(t, db, n-1+3)
	})

	t.Run("AMemberWhoseCallerGivesUpMidWriteStillRunsItsStatements", func(t *testing.T) {
		db, owner := openGroupStore(t)
		toks := make([]*keysmith.Token, 3)
		userID := keysmith.NewID("usr")
		errs := inOneGroup(t, db, 3, func(i int) error { // 1 and 2 meet in a group
			if i != 1 {
				tok, h := newToken(owner)
				toks[i] = tok
				return db.CreateToken(t.Context(), tok, h)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			return store.WriteExec(ctx, db, func(tx store.Execer) error {
				cancel() // the caller gives up once its statements run
				now := time.Now().UnixMicro()
				_, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, name, role, type, status, created_at, updated_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, userID, "late@example.com", "Late", string(keysmith.RoleDeveloper),
					string(keysmith.UserPerson), string(keysmith.UserActive), now, now)
				return err
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("member %d: %v", i, err)
			}
		}
		if _, err := db.FindTokenByID(t.Context(), toks[2].ID); err != nil {
			t.Errorf("the next member's token: %v", err)
		}
		var n int
		if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM users WHERE id = $1`, userID).Scan(&n); err != nil || n != 1 {
			t.Errorf("the member's user: %d rows, %v", n, err)
		}
	})

	t.Run("WritesAfterCloseFail", func(t *testing.T) {
		db, owner := openGroupStore(t)
		db.Close()
		tok, h := newToken(owner)
		if err := db.CreateToken(t.Context(), tok, h); err == nil {
			t.Error("CreateToken after Close succeeded")
		}
	})
}

// openGroupStore opens a fresh SQLite store with one user.
func openGroupStore(t *testing.T) (*store.DB, *keysmith.User) {
	t.Helper()
	db, err := store.Open(t.Context(), storetest.DSN(t, "sqlite"), store.Options{IndexEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now()
	u := &keysmith.User{ID: keysmith.NewID("usr"), Email: "owner@example.com", Name: "Owner"}
	_, err = db.SQL().Exec(`INSERT INTO users (id, email, name, role, type, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, u.ID, u.Email, u.Name, string(keysmith.RoleDeveloper),
		string(keysmith.UserPerson), string(keysmith.UserActive), now.UnixMicro(), now.UnixMicro())
	if err != nil {
		t.Fatal(err)
	}
	return db, u
}

func newToken(owner *keysmith.User) (*keysmith.Token, keysmith.Hash) {
	_, h := keysmith.NewAPITokenSecret()
	return &keysmith.Token{ID: keysmith.NewID("tok"), Name: "group member", Type: keysmith.TokenUser,
		OwnerID: owner.ID, CreatedBy: owner.ID, CreatedAt: time.Now(), IdleTTL: keysmith.DefaultIdleTTL}, h
}

// inOneGroup runs write(i) for i in 0..n-1, each in its own goroutine,
// started in order while the writer's turn is held, and releases the turn
// once all have queued (then calls each of before); it returns their
// errors and checks that fewer groups than writes were committed.
func inOneGroup(t *testing.T, db *store.DB, n int, write func(i int) error, before ...func()) []error {
	t.Helper()
	release := store.HoldWrites(db)
	t.Cleanup(release) // a failure below must not leave Close waiting for the turn
	groups0, _ := store.WriteGroups(db)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = write(i) })
		waitFor(t, fmt.Sprintf("write %d to queue", i), func() bool { return store.WaitingWrites(db) == int64(i+1) })
	}
	for _, f := range before {
		f()
	}
	release()
	wg.Wait()
	if groups, _ := store.WriteGroups(db); groups-groups0 >= uint64(n) {
		t.Errorf("%d writes committed in %d groups, want fewer", n, groups-groups0)
	}
	return errs
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// wantChain checks that the system log holds n events and its chain is
// whole.
func wantChain(t *testing.T, db *store.DB, n int) {
	t.Helper()
	var got int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM events`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Errorf("%d events, want %d", got, n)
	}
	// Once indexed, the text of each event is in event_search once, and
	// none of a member rolled back.
	if err := db.IndexNewEvents(context.Background()); err != nil {
		t.Fatalf("IndexNewEvents: %v", err)
	}
	var rows, indexed int
	if err := db.SQL().QueryRow(`SELECT (SELECT COUNT(*) FROM event_search),
		(SELECT COUNT(*) FROM events WHERE EXISTS (SELECT 1 FROM event_search s WHERE s.rowid = events.seq))`).Scan(&rows, &indexed); err != nil {
		t.Fatal(err)
	}
	if rows != n || indexed != n {
		t.Errorf("event_search has %d rows, for %d of the %d events; want one for each", rows, indexed, n)
	}
	c, err := db.VerifyEvents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Problem != nil {
		t.Errorf("the chain is broken: %+v", c.Problem)
	}
}
