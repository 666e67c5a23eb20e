package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// newClientSecret returns an unsaved secret record of client created now,
// with its secret's hash.
func (fx *fixture) newClientSecret(clientID string) (*keysmith.ClientSecret, keysmith.Hash) {
	plain, h := keysmith.NewClientSecret()
	p := plain.Reveal()
	return &keysmith.ClientSecret{ID: keysmith.NewID("sec"), ClientID: clientID, Description: "secret " + p[len(p)-4:],
		Last4: p[len(p)-4:], CreatedAt: fx.clock.Now()}, h
}

// createClient stores a client of owner in app (may be "") with its first
// secret, failing the test on error.
func (fx *fixture) createClient(owner *keysmith.User, appID string) (*keysmith.Client, *keysmith.ClientSecret) {
	fx.t.Helper()
	fx.registerClientScopes()
	c := &keysmith.Client{ID: keysmith.NewID("cli"), Name: "client", AppID: appID, OwnerID: owner.ID,
		Environment: keysmith.EnvSandbox, Scopes: []string{"read", "write"}, GrantTypes: []string{"client_credentials"},
		TokenTTL: time.Hour, TokenFormat: keysmith.FormatJWT, Audience: "https://api.example.com",
		CreatedAt: fx.clock.Now(), CreatedBy: owner.ID, RedirectURIs: []string{}, PostLogoutRedirectURIs: []string{},
		TokenEndpointAuthMethod: keysmith.AuthSecretBasic}
	s, h := fx.newClientSecret(c.ID)
	if err := fx.db.CreateClient(fx.ctx, c, s, h); err != nil {
		fx.t.Fatalf("CreateClient: %v", err)
	}
	return c, s
}

// secretIDs returns the ids of a client's stored secrets, oldest first.
func (fx *fixture) secretIDs(clientID string) []string {
	fx.t.Helper()
	ss, err := fx.db.FindClientSecrets(fx.ctx, clientID)
	if err != nil {
		fx.t.Fatalf("FindClientSecrets: %v", err)
	}
	ids := []string{}
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}

// testClients: every ClientStore method and its error codes, and the
// secret cap under concurrent additions.
func testClients(t *testing.T, fx *fixture) {
	alice, bob := fx.addUser("alice@example.com"), fx.addUser("bob@example.com")

	t.Run("CreateClientRoundTripsWithItsFirstSecret", func(t *testing.T) {
		fx := fx.in(t)
		c, s := fx.createClient(alice, "")
		got, err := fx.db.FindClientByID(fx.ctx, c.ID)
		if err != nil {
			t.Fatalf("FindClientByID: %v", err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("FindClientByID (-created +read):\n%s", diff)
		}
		ss, err := fx.db.FindClientSecrets(fx.ctx, c.ID)
		if err != nil || len(ss) != 1 || !cmp.Equal(s, ss[0]) {
			t.Errorf("FindClientSecrets = %+v, %v; want [%+v]", ss, err, s)
		}
		checks, err := fx.db.FindClientSecretChecks(fx.ctx, c.ID)
		if err != nil || len(checks) != 1 || checks[0].SecretID != s.ID || checks[0].ExpiresAt != nil {
			t.Errorf("FindClientSecretChecks = %+v, %v; want the one secret, without expiry", checks, err)
		}
		fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeOAuthClient, ID: c.ID})
	})

	t.Run("CreateClientOfADeletedAppIsNotFoundAndStoresNothing", func(t *testing.T) {
		// A client is created under its application's row lock, as an app
		// key is: one made while the application is deleted either commits
		// first (and is revoked with it) or finds it gone, never outlives it.
		fx := fx.in(t)
		fx.registerClientScopes()
		a := fx.createApp(alice, "gone")
		if err := fx.db.DeleteApp(fx.ctx, a.ID, alice.ID); err != nil {
			t.Fatal(err)
		}
		c := &keysmith.Client{ID: keysmith.NewID("cli"), Name: "late", AppID: a.ID, OwnerID: alice.ID,
			Environment: keysmith.EnvSandbox, Scopes: []string{"read"}, GrantTypes: []string{"client_credentials"},
			TokenTTL: time.Hour, TokenFormat: keysmith.FormatJWT, CreatedAt: fx.clock.Now(), CreatedBy: alice.ID}
		s, h := fx.newClientSecret(c.ID)
		wantCode(t, "CreateClient of a deleted application", fx.db.CreateClient(fx.ctx, c, s, h), keysmith.CodeNotFound)
		if _, err := fx.db.FindClientByID(fx.ctx, c.ID); keysmith.ErrorCode(err) != keysmith.CodeNotFound {
			t.Errorf("the refused client was stored: %v", err)
		}
	})

	t.Run("FindClientsFiltersByAppAndOwnerNewestFirst", func(t *testing.T) {
		fx := fx.in(t)
		app := fx.createApp(bob, "bob's")
		fx.clock.Advance(time.Second)
		older, _ := fx.createClient(bob, app.ID)
		fx.clock.Advance(time.Second)
		newer, _ := fx.createClient(bob, app.ID)
		fx.createClient(bob, "")
		got, next, err := fx.db.FindClients(fx.ctx, keysmith.ClientFilter{OwnerID: bob.ID, AppID: app.ID})
		if err != nil || next != "" || len(got) != 2 || got[0].ID != newer.ID || got[1].ID != older.ID {
			t.Errorf("FindClients of bob's app = %d clients, next %q, %v; want [newer, older]", len(got), next, err)
		}
		_, _, err = fx.db.FindClients(fx.ctx, keysmith.ClientFilter{Page: keysmith.Page{Cursor: "garbage"}})
		wantCode(t, "FindClients with a garbage cursor", err, keysmith.CodeInvalid)
	})

	t.Run("RevokeClientIsIdempotent", func(t *testing.T) {
		fx := fx.in(t)
		c, _ := fx.createClient(alice, "")
		fx.clock.Advance(time.Minute)
		first, err := fx.db.RevokeClient(fx.ctx, c.ID, alice.ID)
		if err != nil || first.RevokedAt == nil || !first.RevokedAt.Equal(fx.clock.Now()) || first.RevokedBy != alice.ID {
			t.Fatalf("RevokeClient = %+v, %v; want revoked now by alice", first, err)
		}
		fx.clock.Advance(time.Minute)
		events := fx.count("events")
		second, err := fx.db.RevokeClient(fx.ctx, c.ID, bob.ID)
		if err != nil || !cmp.Equal(first, second) {
			t.Errorf("second RevokeClient = %+v, %v; want the first revocation %+v", second, err, first)
		}
		if n := fx.count("events"); n != events {
			t.Errorf("second RevokeClient recorded %d events, want none", n-events)
		}
		_, err = fx.db.RevokeClient(fx.ctx, keysmith.NewID("cli"), alice.ID)
		wantCode(t, "RevokeClient of an unknown id", err, keysmith.CodeNotFound)
		_, err = fx.db.FindClientByID(fx.ctx, keysmith.NewID("cli"))
		wantCode(t, "FindClientByID of an unknown id", err, keysmith.CodeNotFound)
	})

	t.Run("CreateClientSecretIsRefusedBeyondTheCapForARevokedOrUnknownClient", func(t *testing.T) {
		fx := fx.in(t)
		c, first := fx.createClient(alice, "")
		fx.clock.Advance(time.Second) // oldest first is by creation time
		second, h := fx.newClientSecret(c.ID)
		if err := fx.db.CreateClientSecret(fx.ctx, alice.ID, second, h, 2, fx.clock.Now()); err != nil {
			t.Fatalf("CreateClientSecret under the cap: %v", err)
		}
		third, h3 := fx.newClientSecret(c.ID)
		wantCode(t, "CreateClientSecret at the cap", fx.db.CreateClientSecret(fx.ctx, alice.ID, third, h3, 2, fx.clock.Now()), keysmith.CodeConflict)
		if diff := cmp.Diff([]string{first.ID, second.ID}, fx.secretIDs(c.ID)); diff != "" {
			t.Errorf("secrets after the refused addition (-want +got):\n%s", diff)
		}
		lost, hl := fx.newClientSecret(keysmith.NewID("cli"))
		wantCode(t, "CreateClientSecret of an unknown client", fx.db.CreateClientSecret(fx.ctx, alice.ID, lost, hl, 5, fx.clock.Now()), keysmith.CodeNotFound)
		if _, err := fx.db.RevokeClient(fx.ctx, c.ID, alice.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "CreateClientSecret of a revoked client", fx.db.CreateClientSecret(fx.ctx, alice.ID, third, h3, 5, fx.clock.Now()), keysmith.CodeConflict)
		wantCode(t, "ResetClientSecrets of a revoked client", fx.db.ResetClientSecrets(fx.ctx, alice.ID, third, h3), keysmith.CodeConflict)
		wantCode(t, "ResetClientSecrets of an unknown client", fx.db.ResetClientSecrets(fx.ctx, alice.ID, lost, hl), keysmith.CodeNotFound)
	})

	t.Run("DeleteClientSecretDeletesOnlyThatSecretOfThatClient", func(t *testing.T) {
		fx := fx.in(t)
		c, first := fx.createClient(alice, "")
		other, otherSecret := fx.createClient(alice, "")
		fx.clock.Advance(time.Second)
		second, h := fx.newClientSecret(c.ID)
		second.ExpiresAt = ptr(fx.clock.Now().Add(time.Hour))
		if err := fx.db.CreateClientSecret(fx.ctx, alice.ID, second, h, 5, fx.clock.Now()); err != nil {
			t.Fatal(err)
		}
		err := fx.db.DeleteClientSecret(fx.ctx, c.ID, otherSecret.ID)
		wantCode(t, "DeleteClientSecret of another client's secret", err, keysmith.CodeNotFound)
		err = fx.db.DeleteClientSecret(fx.ctx, c.ID, keysmith.NewID("sec"))
		wantCode(t, "DeleteClientSecret of an unknown secret", err, keysmith.CodeNotFound)
		if err := fx.db.DeleteClientSecret(fx.ctx, c.ID, first.ID); err != nil {
			t.Fatalf("DeleteClientSecret: %v", err)
		}
		if diff := cmp.Diff([]string{second.ID}, fx.secretIDs(c.ID)); diff != "" {
			t.Errorf("secrets after the deletion (-want +got):\n%s", diff)
		}
		checks, err := fx.db.FindClientSecretChecks(fx.ctx, c.ID)
		if err != nil || len(checks) != 1 || checks[0].Hash != h || checks[0].ExpiresAt == nil ||
			!checks[0].ExpiresAt.Equal(*second.ExpiresAt) {
			t.Errorf("FindClientSecretChecks = %+v, %v; want the second secret's hash and expiry", checks, err)
		}
		if diff := cmp.Diff([]string{otherSecret.ID}, fx.secretIDs(other.ID)); diff != "" {
			t.Errorf("the other client's secrets (-want +got):\n%s", diff)
		}
	})

	t.Run("ResetClientSecretsReplacesEverySecret", func(t *testing.T) {
		fx := fx.in(t)
		c, _ := fx.createClient(alice, "")
		extra, h := fx.newClientSecret(c.ID)
		if err := fx.db.CreateClientSecret(fx.ctx, alice.ID, extra, h, 5, fx.clock.Now()); err != nil {
			t.Fatal(err)
		}
		fresh, fh := fx.newClientSecret(c.ID)
		if err := fx.db.ResetClientSecrets(fx.ctx, alice.ID, fresh, fh); err != nil {
			t.Fatalf("ResetClientSecrets: %v", err)
		}
		if diff := cmp.Diff([]string{fresh.ID}, fx.secretIDs(c.ID)); diff != "" {
			t.Errorf("secrets after the reset (-want +got):\n%s", diff)
		}
		checks, err := fx.db.FindClientSecretChecks(fx.ctx, c.ID)
		if err != nil || len(checks) != 1 || checks[0].Hash != fh {
			t.Errorf("FindClientSecretChecks after the reset = %+v, %v; want only the new hash", checks, err)
		}
	})

	t.Run("ConcurrentCreateClientSecretsNeverExceedTheCap", func(t *testing.T) {
		fx := fx.in(t)
		c, _ := fx.createClient(alice, "")
		const max, tries = 4, 10
		errs := make([]error, tries)
		concurrently(tries, func(i int) {
			s, h := fx.newClientSecret(c.ID)
			errs[i] = fx.db.CreateClientSecret(fx.ctx, alice.ID, s, h, max, fx.clock.Now())
		})
		ok := 0
		for i, err := range errs {
			switch keysmith.ErrorCode(err) {
			case "":
				ok++
			case keysmith.CodeConflict:
			default:
				t.Errorf("addition %d: %v, want success or conflict", i, err)
			}
		}
		if n := len(fx.secretIDs(c.ID)); ok != max-1 || n != max {
			t.Errorf("%d concurrent additions to a client with 1 secret, cap %d: %d succeeded, %d stored; want %d and %d",
				tries, max, ok, n, max-1, max)
		}
	})
	t.Run("AnExpiredSecretFreesAPlaceAndStaysListed", func(t *testing.T) {
		// The cap counts the secrets that have not expired at now: one whose
		// expiry is at or before now no longer holds a place, though it is
		// listed until deleted (and authenticates nothing, see oauth).
		fx := fx.in(t)
		c, first := fx.createClient(alice, "")
		fx.clock.Advance(time.Second)
		expiring, h := fx.newClientSecret(c.ID)
		expiring.ExpiresAt = ptr(fx.clock.Now().Add(time.Hour))
		if err := fx.db.CreateClientSecret(fx.ctx, alice.ID, expiring, h, 2, fx.clock.Now()); err != nil {
			t.Fatalf("CreateClientSecret under the cap: %v", err)
		}
		third, h3 := fx.newClientSecret(c.ID)
		wantCode(t, "CreateClientSecret at the cap, a second before the expiry",
			fx.db.CreateClientSecret(fx.ctx, alice.ID, third, h3, 2, expiring.ExpiresAt.Add(-time.Second)), keysmith.CodeConflict)
		fx.clock.Advance(time.Hour) // now is the expiry: expired
		third.CreatedAt = fx.clock.Now()
		if err := fx.db.CreateClientSecret(fx.ctx, alice.ID, third, h3, 2, fx.clock.Now()); err != nil {
			t.Fatalf("CreateClientSecret once the other has expired: %v", err)
		}
		if diff := cmp.Diff([]string{first.ID, expiring.ID, third.ID}, fx.secretIDs(c.ID)); diff != "" {
			t.Errorf("secrets, the expired one still listed (-want +got):\n%s", diff)
		}
		fourth, h4 := fx.newClientSecret(c.ID)
		wantCode(t, "CreateClientSecret with two unexpired secrets, cap 2",
			fx.db.CreateClientSecret(fx.ctx, alice.ID, fourth, h4, 2, fx.clock.Now()), keysmith.CodeConflict)
	})

	t.Run("ExpiredSecretsAreKeptOnlyUpToABound", func(t *testing.T) {
		// Expired secrets free their place but stay until deleted: a client
		// keeps at most StoredSecretsPerMax times the cap, expired included.
		fx := fx.in(t)
		c, _ := fx.createClient(alice, "")
		const max = 2
		for i := 1; i < keysmith.StoredSecretsPerMax*max; i++ {
			fx.clock.Advance(time.Second)
			sec, h := fx.newClientSecret(c.ID)
			sec.ExpiresAt = ptr(fx.clock.Now().Add(time.Second))
			if err := fx.db.CreateClientSecret(fx.ctx, alice.ID, sec, h, max, fx.clock.Now()); err != nil {
				t.Fatalf("secret %d: %v", i, err)
			}
			fx.clock.Advance(time.Second) // expired
		}
		sec, h := fx.newClientSecret(c.ID)
		wantCode(t, "CreateClientSecret beyond the stored bound", fx.db.CreateClientSecret(fx.ctx, alice.ID, sec, h, max, fx.clock.Now()),
			keysmith.CodeConflict)
		if n := len(fx.secretIDs(c.ID)); n != keysmith.StoredSecretsPerMax*max {
			t.Errorf("%d secrets kept, want %d", n, keysmith.StoredSecretsPerMax*max)
		}
	})

	t.Run("ConcurrentCreateClientSecretsBesideExpiredOnesNeverExceedTheCap", func(t *testing.T) {
		fx := fx.in(t)
		c, _ := fx.createClient(alice, "")
		for range 2 {
			s, h := fx.newClientSecret(c.ID)
			s.ExpiresAt = ptr(fx.clock.Now().Add(time.Minute))
			if err := fx.db.CreateClientSecret(fx.ctx, alice.ID, s, h, 5, fx.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		fx.clock.Advance(time.Minute)
		const max, tries = 4, 10
		errs := make([]error, tries)
		concurrently(tries, func(i int) {
			s, h := fx.newClientSecret(c.ID)
			errs[i] = fx.db.CreateClientSecret(fx.ctx, alice.ID, s, h, max, fx.clock.Now())
		})
		ok := 0
		for i, err := range errs {
			switch keysmith.ErrorCode(err) {
			case "":
				ok++
			case keysmith.CodeConflict:
			default:
				t.Errorf("addition %d: %v, want success or conflict", i, err)
			}
		}
		if n := len(fx.secretIDs(c.ID)); ok != max-1 || n != max+2 {
			t.Errorf("%d concurrent additions to a client with 1 live and 2 expired secrets, cap %d: %d succeeded, %d stored; want %d and %d",
				tries, max, ok, n, max-1, max+2)
		}
	})

	t.Run("SecretsForAnOwnerTheClientNoLongerHasAreConflict", func(t *testing.T) {
		// The service checks the caller against the client's owner before
		// the write; the store checks that owner again under the client's
		// row lock, so a secret is never made for the previous owner of a
		// transferred application.
		fx := fx.in(t)
		c, first := fx.createClient(alice, "")
		s, h := fx.newClientSecret(c.ID)
		wantCode(t, "CreateClientSecret for bob", fx.db.CreateClientSecret(fx.ctx, bob.ID, s, h, 5, fx.clock.Now()), keysmith.CodeConflict)
		wantCode(t, "ResetClientSecrets for bob", fx.db.ResetClientSecrets(fx.ctx, bob.ID, s, h), keysmith.CodeConflict)
		if diff := cmp.Diff([]string{first.ID}, fx.secretIDs(c.ID)); diff != "" {
			t.Errorf("secrets after the refusals (-want +got):\n%s", diff)
		}
	})
}

// registerClientScopes registers, unless it is there, the API that the
// clients of createClient use: scopes read and write, identifier
// https://api.example.com.
func (fx *fixture) registerClientScopes() {
	fx.t.Helper()
	found, err := fx.db.FindScopes(fx.ctx, []string{"read"})
	if err != nil {
		fx.t.Fatalf("FindScopes: %v", err)
	}
	if len(found) > 0 {
		return
	}
	now := fx.clock.Now()
	a := &keysmith.API{ID: keysmith.NewID("api"), Name: "example", Identifier: "https://api.example.com",
		Scopes: []keysmith.Scope{{Name: "read"}, {Name: "write"}}, CreatedAt: now, UpdatedAt: now}
	if err := fx.db.CreateAPI(fx.ctx, a); err != nil && keysmith.ErrorCode(err) != keysmith.CodeConflict {
		fx.t.Fatalf("CreateAPI: %v", err)
	}
}
