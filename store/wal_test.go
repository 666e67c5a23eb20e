package store_test

import (
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/storetest"
)

// TestWALStaysBounded: under steady concurrent writes the background
// checkpoint still lets the WAL start over (see sqliteDialect.checkpoint):
// before, no writer ever began on a fully copied WAL and it grew without
// limit.
func TestWALStaysBounded(t *testing.T) {
	path := storetest.SQLite(t)
	db, err := store.Open(t.Context(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now()
	owner := &keysmith.User{ID: keysmith.NewID("usr"), Email: "owner@example.com", Name: "Owner"}
	if _, err := db.SQL().Exec(`INSERT INTO users (id, email, name, role, type, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, owner.ID, owner.Email, owner.Name, string(keysmith.RoleDeveloper),
		string(keysmith.UserPerson), string(keysmith.UserActive), now.UnixMicro(), now.UnixMicro()); err != nil {
		t.Fatal(err)
	}
	const creators, bound = 16, 64 << 20
	var created, largest atomic.Int64
	deadline := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	for range creators {
		wg.Go(func() {
			for time.Now().Before(deadline) && !t.Failed() {
				tok, h := newToken(owner)
				if err := db.CreateToken(t.Context(), tok, h); err != nil {
					t.Error(err)
					return
				}
				created.Add(1)
			}
		})
	}
	wg.Go(func() {
		for time.Now().Before(deadline) {
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > largest.Load() {
				largest.Store(fi.Size())
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	wg.Wait()
	t.Logf("%d tokens created, largest WAL %d KiB", created.Load(), largest.Load()>>10)
	if largest.Load() > bound {
		t.Errorf("the WAL grew to %d MiB, want at most %d", largest.Load()>>20, bound>>20)
	}
}

// TestEventSearchKeepsSegmentsOnDelete: pruning deletes rows of the log's
// text index in every maintenance run; with FTS5's default deletemerge a
// delete rewrote whole segments (hundreds of MB at a million events)
// inside the pruning transaction, and every write waited seconds for it.
func TestEventSearchKeepsSegmentsOnDelete(t *testing.T) {
	db, err := store.Open(t.Context(), storetest.SQLite(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var v int
	if err := db.SQL().QueryRow(`SELECT v FROM event_search_config WHERE k = 'deletemerge'`).Scan(&v); err != nil {
		t.Fatalf("read event_search's deletemerge: %v", err)
	}
	if v != 0 {
		t.Errorf("event_search deletemerge = %d, want 0", v)
	}
}
