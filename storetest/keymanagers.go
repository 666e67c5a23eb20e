package storetest

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// newKeyManager is a manager not stored yet.
func (fx *fixture) newKeyManager(name string) *keysmith.KeyManager {
	now := fx.clock.Now()
	return &keysmith.KeyManager{ID: keysmith.NewID("km"), Name: name, Type: keysmith.KeyManagerOIDC,
		Issuer: "https://idp.example.com/" + name, Enabled: true, JWKSURI: "https://idp.example.com/jwks",
		RegistrationEndpoint: "https://idp.example.com/register", TokenEndpoint: "https://idp.example.com/token",
		RegistrationTokenSealed: "v1.sealed-registration-token", IntrospectionClientID: "keysmith",
		IntrospectionSecretSealed: "v1.sealed-introspection", CreatedAt: now, CreatedBy: "usr_admin", UpdatedAt: now}
}

// createKeyManager stores a manager, failing the test on error.
func (fx *fixture) createKeyManager(name string) *keysmith.KeyManager {
	fx.t.Helper()
	m := fx.newKeyManager(name)
	if err := fx.db.CreateKeyManager(fx.ctx, m, keysmith.MaxKeyManagers); err != nil {
		fx.t.Fatalf("CreateKeyManager %s: %v", name, err)
	}
	return m
}

// createExternalClient stores a client of owner registered at manager m
// under the manager's client_id ext.
func (fx *fixture) createExternalClient(owner *keysmith.User, m *keysmith.KeyManager, ext string) (*keysmith.Client, error) {
	fx.registerClientScopes()
	c := &keysmith.Client{ID: keysmith.NewID("cli"), Name: "external", OwnerID: owner.ID,
		Environment: keysmith.EnvSandbox, Scopes: []string{"read"}, GrantTypes: []string{"client_credentials"},
		TokenTTL: 3600e9, TokenFormat: keysmith.FormatJWT, CreatedAt: fx.clock.Now(), CreatedBy: owner.ID,
		RedirectURIs: []string{}, PostLogoutRedirectURIs: []string{}, TokenEndpointAuthMethod: keysmith.AuthSecretBasic,
		KeyManagerID: m.ID, ExternalClientID: ext, RegistrationURI: "https://idp.example.com/register/" + ext,
		RegistrationTokenSealed: "v1.sealed-rat"}
	return c, fx.db.CreateClient(fx.ctx, c, nil, keysmith.Hash{})
}

// testKeyManagers: every KeyManagerStore method, its error codes, events
// and changes, and the external client columns.
func testKeyManagers(t *testing.T, fx *fixture) {
	alice := fx.addUser("alice@example.com")

	t.Run("CreateKeyManagerRoundTripsRecordsItsEventAndPublishesAChange", func(t *testing.T) {
		fx := fx.in(t)
		m := fx.createKeyManager("okta-prod")
		got, err := fx.db.FindKeyManagerByID(fx.ctx, m.ID)
		if err != nil {
			t.Fatalf("FindKeyManagerByID: %v", err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("FindKeyManagerByID (-created +read):\n%s", diff)
		}
		fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeKeyManager, ID: m.ID})
		if got := fx.eventTypesAbout(m.ID); !slices.Equal(got, []keysmith.EventType{keysmith.EventKeyManagerCreated}) {
			t.Errorf("events about the manager = %v, want [key_manager.created]", got)
		}
	})

	t.Run("FindKeyManagersListsAllByName", func(t *testing.T) {
		fx := fx.in(t)
		b, a := fx.createKeyManager("list-b"), fx.createKeyManager("list-a")
		all, err := fx.db.FindKeyManagers(fx.ctx)
		if err != nil {
			t.Fatalf("FindKeyManagers: %v", err)
		}
		ia := slices.IndexFunc(all, func(m *keysmith.KeyManager) bool { return m.ID == a.ID })
		ib := slices.IndexFunc(all, func(m *keysmith.KeyManager) bool { return m.ID == b.ID })
		if ia < 0 || ib < 0 || ia > ib {
			t.Errorf("FindKeyManagers: list-a at %d, list-b at %d; want both, by name", ia, ib)
		}
	})

	t.Run("CreateKeyManagerWithATakenNameIsConflictAndChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		fx.createKeyManager("dup")
		before, events := fx.count("key_managers"), fx.count("events")
		wantCode(t, "CreateKeyManager of a taken name", fx.db.CreateKeyManager(fx.ctx, fx.newKeyManager("dup"), keysmith.MaxKeyManagers), keysmith.CodeConflict)
		if n, e := fx.count("key_managers"), fx.count("events"); n != before || e != events {
			t.Errorf("after the refused create: %d managers, %d events; want %d, %d", n, e, before, events)
		}
	})

	t.Run("OpaqueTokenPrefixRoundTripsAndIsUniqueAmongEnabledManagers", func(t *testing.T) {
		fx := fx.in(t)
		prefix := keysmith.NewID("p") + "_"
		a := fx.newKeyManager("prefix-a")
		a.OpaqueTokenPrefix, a.AcceptUnregisteredClients = prefix, true
		if err := fx.db.CreateKeyManager(fx.ctx, a, keysmith.MaxKeyManagers); err != nil {
			t.Fatalf("CreateKeyManager: %v", err)
		}
		got, err := fx.db.FindKeyManagerByID(fx.ctx, a.ID)
		if err != nil || got.OpaqueTokenPrefix != prefix || !got.AcceptUnregisteredClients {
			t.Fatalf("read back: %+v, %v", got, err)
		}
		before, events := fx.count("key_managers"), fx.count("events")
		b := fx.newKeyManager("prefix-b")
		b.OpaqueTokenPrefix = prefix
		wantCode(t, "CreateKeyManager of an enabled manager with a taken prefix",
			fx.db.CreateKeyManager(fx.ctx, b, keysmith.MaxKeyManagers), keysmith.CodeConflict)
		if n, e := fx.count("key_managers"), fx.count("events"); n != before || e != events {
			t.Errorf("after the refused create: %d managers, %d events; want %d, %d", n, e, before, events)
		}
		// Disabled, it may share the prefix; enabling it is refused while a is.
		b.Enabled = false
		if err := fx.db.CreateKeyManager(fx.ctx, b, keysmith.MaxKeyManagers); err != nil {
			t.Fatalf("CreateKeyManager disabled with the prefix: %v", err)
		}
		b.Enabled = true
		_, err = fx.db.UpdateKeyManager(fx.ctx, b)
		wantCode(t, "UpdateKeyManager enabling a manager with a taken prefix", err, keysmith.CodeConflict)
		if got, _ := fx.db.FindKeyManagerByID(fx.ctx, b.ID); got == nil || got.Enabled {
			t.Fatalf("refused update changed the manager: %+v", got)
		}
		a.Enabled, a.AcceptUnregisteredClients = false, false
		if _, err := fx.db.UpdateKeyManager(fx.ctx, a); err != nil {
			t.Fatalf("disabling a: %v", err)
		}
		if _, err := fx.db.UpdateKeyManager(fx.ctx, b); err != nil {
			t.Fatalf("enabling b once a is disabled: %v", err)
		}
		if got, _ := fx.db.FindKeyManagerByID(fx.ctx, a.ID); got == nil || got.AcceptUnregisteredClients {
			t.Fatalf("accept_unregistered_clients not updated: %+v", got)
		}
	})

	t.Run("CreateKeyManagerBeyondMaxIsConflict", func(t *testing.T) {
		fx := fx.in(t)
		n := fx.count("key_managers")
		wantCode(t, "CreateKeyManager beyond max", fx.db.CreateKeyManager(fx.ctx, fx.newKeyManager("one-too-many"), n), keysmith.CodeConflict)
	})

	t.Run("UnknownKeyManagerIsNotFound", func(t *testing.T) {
		fx := fx.in(t)
		_, err := fx.db.FindKeyManagerByID(fx.ctx, "km_unknown")
		wantCode(t, "FindKeyManagerByID", err, keysmith.CodeNotFound)
		_, err = fx.db.UpdateKeyManager(fx.ctx, fx.newKeyManager("ghost"))
		wantCode(t, "UpdateKeyManager", err, keysmith.CodeNotFound)
		wantCode(t, "DeleteKeyManager", fx.db.DeleteKeyManager(fx.ctx, "km_unknown", alice.ID), keysmith.CodeNotFound)
		_, err = fx.db.FindClientByExternalID(fx.ctx, "km_unknown", "x")
		wantCode(t, "FindClientByExternalID", err, keysmith.CodeNotFound)
	})

	t.Run("UpdateKeyManagerStoresTheChangeAndRecordsWhatChangedWithoutSecrets", func(t *testing.T) {
		fx := fx.in(t)
		m := fx.createKeyManager("to-change")
		fx.clock.Advance(1e9)
		next := *m
		next.Name, next.Enabled, next.RegistrationTokenSealed = "changed", false, "v1.another-sealed-token"
		next.Type, next.CreatedBy = keysmith.KeyManagerOkta, "someone else" // not changeable: kept
		got, err := fx.db.UpdateKeyManager(fx.ctx, &next)
		if err != nil {
			t.Fatalf("UpdateKeyManager: %v", err)
		}
		read, err := fx.db.FindKeyManagerByID(fx.ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, read); diff != "" {
			t.Errorf("UpdateKeyManager answer vs read (-answer +read):\n%s", diff)
		}
		if read.Name != "changed" || read.Enabled || read.Type != m.Type || read.CreatedBy != m.CreatedBy ||
			!read.UpdatedAt.After(m.UpdatedAt) || read.RegistrationTokenSealed != "v1.another-sealed-token" {
			t.Errorf("after update: %+v", read)
		}
		fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeKeyManager, ID: m.ID})
		evs := fx.eventsOf(keysmith.EventKeyManagerUpdated)
		d := evs[len(evs)-1].Details
		if d["name"] != "changed" || d["enabled"] != false || d["registration_token"] != "changed" {
			t.Errorf("key_manager.updated details = %v", d)
		}
		fx.createKeyManager("taken")
		next.Name = "taken"
		_, err = fx.db.UpdateKeyManager(fx.ctx, &next)
		wantCode(t, "UpdateKeyManager to a taken name", err, keysmith.CodeConflict)
	})

	t.Run("ExternalClientRoundTripsAndIsFoundByItsExternalID", func(t *testing.T) {
		fx := fx.in(t)
		m := fx.createKeyManager("ext")
		c, err := fx.createExternalClient(alice, m, "0oa-ext-1")
		if err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
		got, err := fx.db.FindClientByExternalID(fx.ctx, m.ID, "0oa-ext-1")
		if err != nil {
			t.Fatalf("FindClientByExternalID: %v", err)
		}
		if got.ID != c.ID || got.KeyManagerID != m.ID || got.ExternalClientID != "0oa-ext-1" ||
			got.RegistrationURI != c.RegistrationURI || got.RegistrationTokenSealed != "v1.sealed-rat" {
			t.Errorf("FindClientByExternalID = %+v, want %+v", got, c)
		}
		_, err = fx.db.FindClientByExternalID(fx.ctx, "", c.ID)
		wantCode(t, "FindClientByExternalID of Keysmith's own", err, keysmith.CodeNotFound)
		_, err = fx.createExternalClient(alice, m, "0oa-ext-1")
		wantCode(t, "a second client with the same external id", err, keysmith.CodeConflict)
		// The registration's token and URI change with an update.
		c2 := *got
		c2.RegistrationTokenSealed, c2.RegistrationURI = "v1.rotated", "https://idp.example.com/register/moved"
		if _, err := fx.db.UpdateClient(fx.ctx, &c2, got.Scopes); err != nil {
			t.Fatal(err)
		}
		after, _ := fx.db.FindClientByID(fx.ctx, c.ID)
		if after.RegistrationTokenSealed != "v1.rotated" || after.RegistrationURI != c2.RegistrationURI {
			t.Errorf("after UpdateClient: %+v", after)
		}
		if err := fx.db.SetClientRegistration(fx.ctx, c.ID, "https://idp.example.com/r/3", "v1.rotated-again"); err != nil {
			t.Fatalf("SetClientRegistration: %v", err)
		}
		after, _ = fx.db.FindClientByID(fx.ctx, c.ID)
		if after.RegistrationTokenSealed != "v1.rotated-again" || after.RegistrationURI != "https://idp.example.com/r/3" {
			t.Errorf("after SetClientRegistration: %+v", after)
		}
		own, _ := fx.createClient(alice, "")
		wantCode(t, "SetClientRegistration of Keysmith's own client", fx.db.SetClientRegistration(fx.ctx, own.ID, "x", "y"), keysmith.CodeNotFound)
	})

	t.Run("ClientOfADisabledOrDeletedManagerIsRefused", func(t *testing.T) {
		fx := fx.in(t)
		m := fx.createKeyManager("off")
		off := *m
		off.Enabled = false
		if _, err := fx.db.UpdateKeyManager(fx.ctx, &off); err != nil {
			t.Fatal(err)
		}
		_, err := fx.createExternalClient(alice, m, "x1")
		wantCode(t, "client of a disabled manager", err, keysmith.CodeConflict)
		gone := fx.createKeyManager("gone")
		if err := fx.db.DeleteKeyManager(fx.ctx, gone.ID, alice.ID); err != nil {
			t.Fatal(err)
		}
		_, err = fx.createExternalClient(alice, gone, "x2")
		wantCode(t, "client of a deleted manager", err, keysmith.CodeConflict)
	})

	t.Run("DeleteKeyManagerRevokesItsClientsInTheSameTransaction", func(t *testing.T) {
		fx := fx.in(t)
		m := fx.createKeyManager("to-delete")
		c, err := fx.createExternalClient(alice, m, "del-1")
		if err != nil {
			t.Fatal(err)
		}
		own, _ := fx.createClient(alice, "")
		if err := fx.db.DeleteKeyManager(fx.ctx, m.ID, alice.ID); err != nil {
			t.Fatalf("DeleteKeyManager: %v", err)
		}
		_, err = fx.db.FindKeyManagerByID(fx.ctx, m.ID)
		wantCode(t, "FindKeyManagerByID after delete", err, keysmith.CodeNotFound)
		got, _ := fx.db.FindClientByID(fx.ctx, c.ID)
		if got.RevokedAt == nil || got.RevokedBy != alice.ID {
			t.Errorf("client of the deleted manager: revoked %v by %q, want revoked by alice", got.RevokedAt, got.RevokedBy)
		}
		if o, _ := fx.db.FindClientByID(fx.ctx, own.ID); o.RevokedAt != nil {
			t.Errorf("Keysmith's own client was revoked with the manager")
		}
		fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeOAuthClient, ID: c.ID})
		fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeKeyManager, ID: m.ID})
		want := []keysmith.EventType{keysmith.EventKeyManagerCreated, keysmith.EventKeyManagerDeleted}
		if got := fx.eventTypesAbout(m.ID); !slices.Equal(got, want) {
			t.Errorf("events about the manager = %v, want %v", got, want)
		}
		if got := fx.eventTypesAbout(c.ID); !slices.Contains(got, keysmith.EventClientRevoked) {
			t.Errorf("events about its client = %v, want oauth_client.revoked among them", got)
		}
	})
}
