package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// createApp stores an application of owner, failing the test on error.
func (fx *fixture) createApp(owner *keysmith.User, name string) *keysmith.App {
	fx.t.Helper()
	now := fx.clock.Now()
	a := &keysmith.App{ID: keysmith.NewID("app"), Name: name, Description: "about " + name, OwnerID: owner.ID,
		CreatedAt: now, UpdatedAt: now}
	if err := fx.db.CreateApp(fx.ctx, a); err != nil {
		fx.t.Fatalf("CreateApp %s: %v", name, err)
	}
	return a
}

// testApps: every AppStore method and its error codes; deleting an
// application revokes its clients in the same change.
func testApps(t *testing.T, fx *fixture) {
	alice, bob := fx.addUser("alice@example.com"), fx.addUser("bob@example.com")

	t.Run("CreateAppRoundTripsEveryField", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createApp(alice, "Shop «β»")
		got, err := fx.db.FindAppByID(fx.ctx, a.ID)
		if err != nil {
			t.Fatalf("FindAppByID: %v", err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("FindAppByID (-created +read):\n%s", diff)
		}
	})

	t.Run("CreateAppWithAnExistingIDIsConflictAndChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createApp(alice, "original")
		before := fx.counts()
		dup := *a
		dup.Name = "the duplicate"
		wantCode(t, "CreateApp with an existing id", fx.db.CreateApp(fx.ctx, &dup), keysmith.CodeConflict)
		if diff := cmp.Diff(before, fx.counts()); diff != "" {
			t.Errorf("row counts changed (-before +after):\n%s", diff)
		}
		if got, err := fx.db.FindAppByID(fx.ctx, a.ID); err != nil || got.Name != "original" {
			t.Errorf("original after the refused create: %+v, %v", got, err)
		}
	})

	t.Run("FindAppsListsNewestFirstAndFiltersByOwner", func(t *testing.T) {
		fx := fx.in(t)
		fx.clock.Advance(time.Second)
		older := fx.createApp(bob, "older")
		fx.clock.Advance(time.Second)
		newer := fx.createApp(bob, "newer")
		got, next, err := fx.db.FindApps(fx.ctx, keysmith.AppFilter{OwnerID: bob.ID})
		if err != nil {
			t.Fatalf("FindApps: %v", err)
		}
		if len(got) != 2 || got[0].ID != newer.ID || got[1].ID != older.ID || next != "" {
			t.Errorf("FindApps of bob = %v (next %q), want [newer, older] and no next page", appNames(got), next)
		}
		page, next, err := fx.db.FindApps(fx.ctx, keysmith.AppFilter{Page: keysmith.Page{Limit: 1}})
		if err != nil || len(page) != 1 || page[0].ID != newer.ID || next == "" {
			t.Fatalf("FindApps limit 1 = %v, next %q, %v; want the newest and a cursor", appNames(page), next, err)
		}
		_, _, err = fx.db.FindApps(fx.ctx, keysmith.AppFilter{Page: keysmith.Page{Cursor: "garbage"}})
		wantCode(t, "FindApps with a garbage cursor", err, keysmith.CodeInvalid)
	})

	t.Run("UpdateAppChangesWhatItNames", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createApp(alice, "before")
		fx.clock.Advance(time.Minute)
		got, err := fx.db.UpdateApp(fx.ctx, a.ID, keysmith.AppUpdate{Description: ptr("new words")})
		if err != nil {
			t.Fatalf("UpdateApp: %v", err)
		}
		want := *a
		want.Description, want.UpdatedAt = "new words", fx.clock.Now()
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("UpdateApp returned (-want +got):\n%s", diff)
		}
		if read, err := fx.db.FindAppByID(fx.ctx, a.ID); err != nil || !cmp.Equal(&want, read) {
			t.Errorf("read after UpdateApp: %+v, %v; want %+v", read, err, &want)
		}
	})

	t.Run("DeleteAppRevokesItsClients", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createApp(alice, "doomed")
		c, _ := fx.createClient(alice, a.ID)
		fx.clock.Advance(time.Minute)
		if err := fx.db.DeleteApp(fx.ctx, a.ID, bob.ID); err != nil {
			t.Fatalf("DeleteApp: %v", err)
		}
		_, err := fx.db.FindAppByID(fx.ctx, a.ID)
		wantCode(t, "FindAppByID of the deleted app", err, keysmith.CodeNotFound)
		got, err := fx.db.FindClientByID(fx.ctx, c.ID)
		if err != nil {
			t.Fatalf("FindClientByID: %v", err)
		}
		if got.RevokedAt == nil || !got.RevokedAt.Equal(fx.clock.Now()) || got.RevokedBy != bob.ID {
			t.Errorf("client of the deleted app: revoked at %v by %q, want now by %s", got.RevokedAt, got.RevokedBy, bob.ID)
		}
	})

	t.Run("UnknownAppIsNotFound", func(t *testing.T) {
		fx := fx.in(t)
		unknown := keysmith.NewID("app")
		_, err := fx.db.FindAppByID(fx.ctx, unknown)
		wantCode(t, "FindAppByID of an unknown id", err, keysmith.CodeNotFound)
		_, err = fx.db.UpdateApp(fx.ctx, unknown, keysmith.AppUpdate{Name: ptr("x")})
		wantCode(t, "UpdateApp of an unknown id", err, keysmith.CodeNotFound)
		wantCode(t, "DeleteApp of an unknown id", fx.db.DeleteApp(fx.ctx, unknown, alice.ID), keysmith.CodeNotFound)
	})
}

func appNames(as []*keysmith.App) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}
