package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// TestConcurrentWritesTakeLocksInOneOrder runs, at once on PostgreSQL, what
// took row and log locks in opposite orders: use flushes of overlapping
// token sets in different orders (as several replicas flush), the expiry
// sweep recording a few hundred tokens, and PATCHes of the same tokens
// through the API. With one lock order (rows by id, then the log) none of
// them fails with "deadlock detected" or answers 500.
func TestConcurrentWritesTakeLocksInOneOrder(t *testing.T) {
	s := apptest.Start(t, storetest.Postgres(t), app.Config{UsageFlushInterval: time.Hour})
	ctx := t.Context()
	seed := func(n int, idle time.Duration) []string {
		ids := make([]string, n)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < n; i += 8 {
					_, h := keysmith.NewAPITokenSecret()
					tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: fmt.Sprint("t", i), Type: keysmith.TokenUser,
						OwnerID: s.AdminID, CreatedAt: s.Clock.Now(), CreatedBy: s.AdminID, IdleTTL: idle}
					if err := s.App.Store.CreateToken(ctx, tok, h); err != nil {
						t.Error(err)
					}
					ids[i] = tok.ID
				}
			})
		}
		wg.Wait()
		return ids
	}
	expiring := seed(240, time.Minute) // swept while the others run
	live := seed(40, keysmith.DefaultIdleTTL)
	s.Clock.Advance(2 * time.Minute) // past the deadline and any sweep margin
	all := append(append([]string(nil), live...), expiring...)

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	start := make(chan struct{})
	for range 4 { // replicas flushing overlapping sets, each in its own order
		wg.Go(func() {
			<-start
			for range 4 {
				var uses []keysmith.TokenUse
				for _, i := range rand.Perm(len(all))[:120] {
					uses = append(uses, keysmith.TokenUse{TokenID: all[i], At: s.Clock.Now(), IP: "192.0.2.1"})
				}
				if err := s.App.Store.RecordTokenUses(context.Background(), uses); err != nil {
					errs <- fmt.Errorf("flush: %w", err)
				}
			}
		})
	}
	wg.Go(func() {
		<-start
		if err := s.App.Maintain(context.Background()); err != nil {
			errs <- fmt.Errorf("sweep: %w", err)
		}
	})
	for w := range 8 { // admins editing the same tokens
		wg.Go(func() {
			<-start
			for _, i := range rand.Perm(len(expiring))[:12] {
				r := s.Do("PATCH", "/v1/tokens/"+expiring[i], s.AdminToken, map[string]any{"name": fmt.Sprint("edited by ", w)})
				if r.Status != http.StatusOK {
					errs <- fmt.Errorf("PATCH answered %d: %s", r.Status, r.Raw)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := s.App.Maintain(ctx); err != nil { // whatever the concurrent sweep left
		t.Fatal(err)
	}
	var unrecorded int
	err := s.App.Store.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens WHERE idle_ttl = $1 AND expiry_recorded_at IS NULL`,
		time.Minute.Microseconds()).Scan(&unrecorded)
	if err != nil || unrecorded != 0 {
		t.Errorf("%d of the expired tokens have no recorded expiry after the sweeps (%v)", unrecorded, err)
	}
}

// TestShutdownFlushRetriesAFailedWrite stops a server on PostgreSQL while its
// last flush fails once: its connection is ended while it waits for a row
// lock, as a deadlock victim's or a dropped connection's would. The flush is
// tried again, and the use it carried is stored.
func TestShutdownFlushRetriesAFailedWrite(t *testing.T) {
	s := apptest.Start(t, storetest.Postgres(t), app.Config{UsageFlushInterval: time.Hour})
	ctx := t.Context()
	id, secret := newToken(t, s, s.AdminToken, "used just before shutdown")
	if code := verifyCode(t, s, secret); code != "VALID" {
		t.Fatalf("verify: %s", code)
	}
	db := s.App.Store.SQL()
	lock, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.ExecContext(ctx, `SELECT id FROM tokens WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { defer close(stopped); s.Stop() }()
	var pid int
	for deadline := time.Now().Add(5 * time.Second); ; {
		err := db.QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`).Scan(&pid)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last flush never waited for the token's row: %v", err)
		}
		time.Sleep(5 * time.Millisecond) // polling pg_stat_activity; nothing to wait on
	}
	if _, err := db.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	<-stopped
	var lastUsed sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT last_used_at FROM tokens WHERE id = $1`, id).Scan(&lastUsed); err != nil {
		t.Fatal(err)
	}
	if !lastUsed.Valid {
		t.Error("the use seen before shutdown was lost: the failed last flush was not tried again")
	}
}
