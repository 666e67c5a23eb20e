package storetest

import (
	"fmt"
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

	testAppTransfers(t, fx)
}

func appNames(as []*keysmith.App) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}

// testAppTransfers: TransferApp moves an application with its clients and
// live keys to another owner; by default it revokes the keys and deletes
// every secret first, recording each, and it is refused for a user who
// may not own it. Credentials the previous owner adds meanwhile are reset
// with the rest or refused.
func testAppTransfers(t *testing.T, fx *fixture) {
	alice, bob, admin := fx.addUser("alice-t@example.com"), fx.addUser("bob-t@example.com"), fx.addUser("admin-t@example.com")

	t.Run("TransferAppResetsEveryCredentialAndGivesTheNewOwnerTheRest", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createApp(alice, "handed over")
		c, first := fx.createClient(alice, a.ID)
		second, h := fx.newClientSecret(c.ID)
		if err := fx.db.CreateClientSecret(fx.ctx, alice.ID, second, h, 5, fx.clock.Now()); err != nil {
			t.Fatal(err)
		}
		revoked, _ := fx.createClient(alice, a.ID)
		if _, err := fx.db.RevokeClient(fx.ctx, revoked.ID, alice.ID); err != nil {
			t.Fatal(err)
		}
		key, gone := fx.createAppKey(a, keysmith.EnvSandbox), fx.createAppKey(a, keysmith.EnvProduction)
		if _, err := fx.db.RevokeToken(fx.ctx, gone.ID, alice.ID); err != nil {
			t.Fatal(err)
		}
		other := fx.createApp(alice, "kept")
		otherClient, otherSecret := fx.createClient(alice, other.ID)
		fx.clock.Advance(time.Minute)

		got, err := fx.db.TransferApp(fx.ctx, a.ID, bob.ID, admin.ID, true)
		if err != nil {
			t.Fatalf("TransferApp: %v", err)
		}
		want := *a
		want.OwnerID, want.UpdatedAt = bob.ID, fx.clock.Now()
		if diff := cmp.Diff(&keysmith.AppTransfer{App: &want, FromOwnerID: alice.ID, CredentialsReset: true, RevokedKeys: 1,
			DeletedSecrets: 3, RevokedClients: 1}, got); diff != "" {
			t.Errorf("TransferApp (-want +got):\n%s", diff)
		}
		if read, err := fx.db.FindAppByID(fx.ctx, a.ID); err != nil || !cmp.Equal(&want, read) {
			t.Errorf("application after the transfer: %+v, %v; want %+v", read, err, &want)
		}
		for _, id := range []string{c.ID, revoked.ID} {
			cl, err := fx.db.FindClientByID(fx.ctx, id)
			if err != nil || cl.OwnerID != bob.ID {
				t.Errorf("client %s after the transfer: %+v, %v; want bob's", id, cl, err)
			}
			if ids := fx.secretIDs(id); len(ids) != 0 {
				t.Errorf("client %s still has secrets %v", id, ids)
			}
			fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeOAuthClient, ID: id})
		}
		if k := fx.mustFindToken(key.ID); k.RevokedAt == nil || !k.RevokedAt.Equal(fx.clock.Now()) || k.RevokedBy != admin.ID {
			t.Errorf("the live key: revoked at %v by %q, want now by the admin", k.RevokedAt, k.RevokedBy)
		}
		if diff := cmp.Diff([]string{otherSecret.ID}, fx.secretIDs(otherClient.ID)); diff != "" {
			t.Errorf("secrets of another application of alice's (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]keysmith.EventType{keysmith.EventAppKeyCreated, keysmith.EventAppKeyRevoked},
			fx.eventTypesAbout(key.ID)); diff != "" {
			t.Errorf("events of the key (-want +got):\n%s", diff)
		}
		for _, s := range []string{first.ID, second.ID} {
			if evs := fx.eventTypesAbout(s); len(evs) == 0 || evs[len(evs)-1] != keysmith.EventClientSecretDeleted {
				t.Errorf("events of secret %s: %v; want oauth_client_secret.deleted last", s, evs)
			}
		}
		evs, _, err := fx.db.FindEvents(fx.ctx, keysmith.EventFilter{TargetID: a.ID})
		if err != nil || len(evs) == 0 || evs[0].Type != keysmith.EventAppTransferred {
			t.Fatalf("newest event about the application: %+v, %v; want app.transferred", evs, err)
		}
		wantDetails := map[string]any{"from": alice.ID, "to": bob.ID, "credentials_reset": true,
			"revoked_keys": float64(1), "deleted_secrets": float64(3), "revoked_clients": float64(1)}
		if diff := cmp.Diff(wantDetails, evs[0].Details); diff != "" {
			t.Errorf("app.transferred details (-want +got):\n%s", diff)
		}
		if n := len(evs[0].Targets); n != 3 || evs[0].Targets[1].ID != alice.ID || evs[0].Targets[2].ID != bob.ID {
			t.Errorf("app.transferred targets %+v; want the application, alice and bob", evs[0].Targets)
		}
	})

	t.Run("TransferAppKeepingCredentialsGivesTheNewOwnerTheLiveKeys", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createApp(alice, "continued")
		c, first := fx.createClient(alice, a.ID)
		key := fx.createAppKey(a, keysmith.EnvSandbox)
		got, err := fx.db.TransferApp(fx.ctx, a.ID, bob.ID, admin.ID, false)
		if err != nil || got.CredentialsReset || got.RevokedKeys != 0 || got.DeletedSecrets != 0 || got.App.OwnerID != bob.ID {
			t.Fatalf("TransferApp keeping credentials = %+v, %v; want bob's, nothing reset", got, err)
		}
		if diff := cmp.Diff([]string{first.ID}, fx.secretIDs(c.ID)); diff != "" {
			t.Errorf("secrets kept (-want +got):\n%s", diff)
		}
		if k := fx.mustFindToken(key.ID); k.RevokedAt != nil || k.OwnerID != bob.ID {
			t.Errorf("the key: revoked at %v, owner %s; want live and bob's", k.RevokedAt, k.OwnerID)
		}
		fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeToken, ID: key.ID})
	})

	t.Run("TransferAppIsRefusedForAUserWhoMayNotOwnItAndChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createApp(alice, "stays")
		fx.createClient(alice, a.ID)
		inactive, readOnly := fx.addUser(keysmith.NewID("off")+"@example.com"), fx.addUser(keysmith.NewID("ro")+"@example.com")
		if _, err := fx.db.SQL().ExecContext(fx.ctx, `UPDATE users SET status = $1 WHERE id = $2`, string(keysmith.UserInactive), inactive.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.db.SQL().ExecContext(fx.ctx, `UPDATE users SET role = $1 WHERE id = $2`, string(keysmith.RoleReadOnlyAdmin), readOnly.ID); err != nil {
			t.Fatal(err)
		}
		before := fx.counts()
		for _, c := range []struct {
			what, app, to string
			code          keysmith.Code
		}{
			{"an unknown application", keysmith.NewID("app"), bob.ID, keysmith.CodeNotFound},
			{"an unknown user", a.ID, keysmith.NewID("usr"), keysmith.CodeInvalid},
			{"its present owner", a.ID, alice.ID, keysmith.CodeInvalid},
			{"a deactivated user", a.ID, inactive.ID, keysmith.CodeConflict},
			{"a read-only admin", a.ID, readOnly.ID, keysmith.CodeInvalid},
		} {
			_, err := fx.db.TransferApp(fx.ctx, c.app, c.to, admin.ID, true)
			wantCode(t, "TransferApp to "+c.what, err, c.code)
		}
		if diff := cmp.Diff(before, fx.counts()); diff != "" {
			t.Errorf("row counts changed (-before +after):\n%s", diff)
		}
		if got, err := fx.db.FindAppByID(fx.ctx, a.ID); err != nil || got.OwnerID != alice.ID {
			t.Errorf("application after the refusals: %+v, %v; want alice's", got, err)
		}
	})

	t.Run("CredentialsThePreviousOwnerAddsDuringATransferAreResetOrRefused", func(t *testing.T) {
		// The application's row lock orders a transfer with the clients and
		// keys added to it, the client's row lock with its secrets: each
		// addition for the previous owner commits before the transfer (and
		// is reset with the rest) or is refused after (CodeConflict).
		fx := fx.in(t)
		fx.registerClientScopes()
		for round := range 4 {
			owner := fx.addUser(fmt.Sprintf("racer%d-%s@example.com", round, keysmith.NewID("r")))
			a := fx.createApp(owner, "raced")
			c, _ := fx.createClient(owner, a.ID)
			const adders = 9
			errs := make([]error, adders)
			var got *keysmith.AppTransfer
			var transferErr error
			concurrently(adders+1, func(i int) {
				if i == adders {
					got, transferErr = fx.db.TransferApp(fx.ctx, a.ID, bob.ID, admin.ID, true)
					return
				}
				errs[i] = fx.addCredentialFor(owner, a, c, i%3)
			})
			if transferErr != nil {
				t.Fatalf("round %d: TransferApp: %v", round, transferErr)
			}
			added := [3]int{}
			for i, err := range errs {
				switch keysmith.ErrorCode(err) {
				case "":
					added[i%3]++
				case keysmith.CodeConflict:
				default:
					t.Errorf("round %d: addition %d: %v, want success or conflict", round, i, err)
				}
			}
			if got.RevokedKeys != added[1] || got.DeletedSecrets != 1+added[0]+added[2] {
				t.Errorf("round %d: transfer reset %d keys and %d secrets; %d keys and %d secrets were added before it (and 1 at first)",
					round, got.RevokedKeys, got.DeletedSecrets, added[1], added[0]+added[2])
			}
			t.Logf("round %d: %v added before the transfer (secrets, keys, clients), %d refused after", round, added, adders-added[0]-added[1]-added[2])
			fx.wantNothingWorksFor(t, a.ID, bob.ID)
		}
	})
}

// addCredentialFor adds, for owner, a secret to client c (kind 0), a key
// to application a (1) or a client with its secret to a (2).
func (fx *fixture) addCredentialFor(owner *keysmith.User, a *keysmith.App, c *keysmith.Client, kind int) error {
	switch kind {
	case 0:
		s, h := fx.newClientSecret(c.ID)
		return fx.db.CreateClientSecret(fx.ctx, owner.ID, s, h, 100, fx.clock.Now())
	case 1:
		k, _, _ := fx.newToken(owner)
		k.ID, k.Type, k.AppID, k.Environment = keysmith.NewID("key"), keysmith.TokenAppKey, a.ID, keysmith.EnvSandbox
		_, h := keysmith.NewAppKeySecret()
		return fx.db.CreateToken(fx.ctx, k, h)
	}
	cl := &keysmith.Client{ID: keysmith.NewID("cli"), Name: "late", AppID: a.ID, OwnerID: owner.ID,
		Environment: keysmith.EnvSandbox, Scopes: []string{"read"}, GrantTypes: []string{"client_credentials"},
		TokenTTL: time.Hour, TokenFormat: keysmith.FormatJWT, CreatedAt: fx.clock.Now(), CreatedBy: owner.ID}
	s, h := fx.newClientSecret(cl.ID)
	return fx.db.CreateClient(fx.ctx, cl, s, h)
}

// wantNothingWorksFor checks that application appID belongs to owner with
// every client, and that no secret of its clients nor live key is left.
func (fx *fixture) wantNothingWorksFor(t *testing.T, appID, owner string) {
	t.Helper()
	clients, _, err := fx.db.FindClients(fx.ctx, keysmith.ClientFilter{AppID: appID, Page: keysmith.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if c.OwnerID != owner {
			t.Errorf("client %s of the transferred application is %s's, want %s's", c.ID, c.OwnerID, owner)
		}
		if ids := fx.secretIDs(c.ID); len(ids) != 0 {
			t.Errorf("client %s of the transferred application has secrets %v", c.ID, ids)
		}
	}
	var live int
	if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*) FROM tokens WHERE app_id = $1 AND revoked_at IS NULL`,
		appID).Scan(&live); err != nil || live != 0 {
		t.Errorf("the transferred application has %d live keys (%v), want none", live, err)
	}
}
