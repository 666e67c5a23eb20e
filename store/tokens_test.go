package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/internal/testclock"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/storetest"
)

// open returns a store on dsn with a manual clock and a first user.
func open(t *testing.T, dsn string) (*store.DB, *testclock.Clock, *keysmith.User) {
	t.Helper()
	clock := testclock.New()
	db, err := store.Open(t.Context(), dsn, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := &keysmith.Service{Store: db, Now: clock.Now}
	u, _, _, err := svc.Bootstrap(t.Context(), "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	return db, clock, u
}

func TestRecordTokenUsesNeverRevivesAnIdleExpiredToken(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		db, clock, u := open(t, dsn)
		ctx := context.Background()
		t0 := clock.Now()
		_, h := keysmith.NewAPITokenSecret()
		tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "idle", Type: keysmith.TokenUser, OwnerID: u.ID,
			CreatedAt: t0, CreatedBy: u.ID, IdleTTL: time.Hour}
		if err := db.CreateToken(ctx, tok, h); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name       string
			use        keysmith.TokenUse
			wantStored time.Time
		}{
			{"AfterTheDeadlineIsIgnored", keysmith.TokenUse{At: t0.Add(2 * time.Hour)}, time.Time{}},
			{"BeforeTheDeadlineRenews", keysmith.TokenUse{At: t0.Add(30 * time.Minute)}, t0.Add(30 * time.Minute)},
			{"JustBeforeTheRenewedDeadline", keysmith.TokenUse{At: t0.Add(89 * time.Minute)}, t0.Add(89 * time.Minute)},
			{"OlderThanStoredIsIgnored", keysmith.TokenUse{At: t0.Add(60 * time.Minute)}, t0.Add(89 * time.Minute)},
			{"BatchStartingAfterTheDeadlineIsIgnored", keysmith.TokenUse{At: t0.Add(5 * time.Hour), First: t0.Add(149 * time.Minute)}, t0.Add(89 * time.Minute)},
			{"BatchStartingBeforeTheDeadlineRenews", keysmith.TokenUse{At: t0.Add(5 * time.Hour), First: t0.Add(148 * time.Minute)}, t0.Add(5 * time.Hour)},
		}
		for _, st := range steps {
			st.use.TokenID = tok.ID
			if err := db.RecordTokenUses(ctx, []keysmith.TokenUse{st.use}); err != nil {
				t.Fatal(err)
			}
			got, err := db.FindTokenByID(ctx, tok.ID)
			if err != nil {
				t.Fatal(err)
			}
			if (got.LastUsedAt == nil) != st.wantStored.IsZero() || (got.LastUsedAt != nil && !got.LastUsedAt.Equal(st.wantStored)) {
				t.Errorf("%s: last_used_at = %v, want %v", st.name, got.LastUsedAt, st.wantStored)
			}
		}
	})
}

func TestFindTokenByHashFindsTheRotatedOutSecret(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		db, clock, u := open(t, dsn)
		ctx := context.Background()
		_, oldHash := keysmith.NewAPITokenSecret()
		tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "r", Type: keysmith.TokenUser, OwnerID: u.ID,
			CreatedAt: clock.Now(), CreatedBy: u.ID}
		if err := db.CreateToken(ctx, tok, oldHash); err != nil {
			t.Fatal(err)
		}
		_, newHash := keysmith.NewAPITokenSecret()
		until := clock.Now().Add(time.Minute)
		if _, err := db.RotateToken(ctx, tok.ID, newHash, until); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			h    keysmith.Hash
			prev bool
		}{{newHash, false}, {oldHash, true}} {
			got, err := db.FindTokenByHash(ctx, c.h)
			if err != nil || got.ID != tok.ID || got.ViaPreviousSecret != c.prev || !got.PrevSecretExpiresAt.Equal(until) {
				t.Errorf("FindTokenByHash = %+v, %v; want %s with ViaPreviousSecret %v", got, err, tok.ID, c.prev)
			}
		}
		// A second rotation forgets the first secret.
		_, third := keysmith.NewAPITokenSecret()
		if _, err := db.RotateToken(ctx, tok.ID, third, until); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindTokenByHash(ctx, oldHash); keysmith.ErrorCode(err) != keysmith.CodeNotFound {
			t.Errorf("first secret after two rotations: %v, want not found", err)
		}
	})
}
