package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// newRegistrationToken is an initial access token of app, not stored yet,
// with its secret and hash.
func (fx *fixture) newRegistrationToken(app *keysmith.App, by *keysmith.User, maxUses int) (*keysmith.RegistrationToken, keysmith.Secret, keysmith.Hash) {
	now := fx.clock.Now()
	plain, h := keysmith.NewRegistrationToken()
	return &keysmith.RegistrationToken{ID: keysmith.NewID("rgt"), AppID: app.ID, Environment: keysmith.EnvSandbox,
		Description: "for the ci", ExpiresAt: now.Add(time.Hour), MaxUses: maxUses, CreatedAt: now, CreatedBy: by.ID}, plain, h
}

// createRegistrationToken stores an initial access token, failing the test
// on error.
func (fx *fixture) createRegistrationToken(app *keysmith.App, by *keysmith.User, maxUses int) (*keysmith.RegistrationToken, keysmith.Secret) {
	fx.t.Helper()
	t, plain, h := fx.newRegistrationToken(app, by, maxUses)
	if err := fx.db.CreateRegistrationToken(fx.ctx, t, h); err != nil {
		fx.t.Fatalf("CreateRegistrationToken: %v", err)
	}
	return t, plain
}

// newRegisteredClient is a client of app to register with token t, its
// secret and registration, not stored yet.
type newRegistered struct {
	c      *keysmith.Client
	s      *keysmith.ClientSecret
	h      keysmith.Hash
	reg    *keysmith.ClientRegistration
	access keysmith.Secret
	ah     keysmith.Hash
}

func (fx *fixture) newRegisteredClient(app *keysmith.App, t *keysmith.RegistrationToken) newRegistered {
	now := fx.clock.Now()
	c := &keysmith.Client{ID: keysmith.NewID("cli"), Name: "registered", AppID: app.ID, OwnerID: app.OwnerID,
		Environment: t.Environment, Scopes: []string{}, GrantTypes: []string{"client_credentials"},
		TokenTTL: time.Hour, TokenFormat: keysmith.FormatJWT, CreatedAt: now, CreatedBy: t.CreatedBy,
		RedirectURIs: []string{}, PostLogoutRedirectURIs: []string{}, TokenEndpointAuthMethod: keysmith.AuthSecretBasic,
		PKCERequired: true, RefreshTokenTTL: keysmith.DefaultRefreshTokenTTL, RefreshTokenIdleTTL: keysmith.DefaultRefreshTokenIdleTTL}
	s, h := fx.newClientSecret(c.ID)
	access, ah := keysmith.NewRegistrationAccessToken()
	return newRegistered{c: c, s: s, h: h, access: access, ah: ah,
		reg: &keysmith.ClientRegistration{ClientID: c.ID, RegistrationTokenID: t.ID, CreatedBy: t.CreatedBy, CreatedAt: now}}
}

func (fx *fixture) register(t *keysmith.RegistrationToken, n newRegistered) error {
	return fx.db.RegisterClient(fx.ctx, t.ID, fx.clock.Now(), n.c, n.s, n.h, n.reg, n.ah)
}

// testRegistrations: every RegistrationStore method, its error codes and
// events; a registration is one change with its client, and max_uses holds
// under concurrent registrations.
func testRegistrations(t *testing.T, fx *fixture) {
	admin := fx.addUser("dcr-admin@example.com")
	app := fx.createApp(admin, "registered apps")

	t.Run("CreateRegistrationTokenRoundTripsAndRecordsItsEvent", func(t *testing.T) {
		fx := fx.in(t)
		tok, plain, h := fx.newRegistrationToken(app, admin, 3)
		if err := fx.db.CreateRegistrationToken(fx.ctx, tok, h); err != nil {
			t.Fatalf("CreateRegistrationToken: %v", err)
		}
		got, err := fx.db.FindRegistrationTokenByHash(fx.ctx, keysmith.HashOf(plain.Reveal()))
		if err != nil {
			t.Fatalf("FindRegistrationTokenByHash: %v", err)
		}
		if diff := cmp.Diff(tok, got); diff != "" {
			t.Errorf("read back (-created +read):\n%s", diff)
		}
		list, _, err := fx.db.FindRegistrationTokens(fx.ctx, keysmith.RegistrationTokenFilter{})
		if err != nil || !slices.ContainsFunc(list, func(x *keysmith.RegistrationToken) bool { return x.ID == tok.ID }) {
			t.Errorf("FindRegistrationTokens = %v, %v; want it to list %s", list, err, tok.ID)
		}
		if got := fx.eventTypesAbout(tok.ID); !slices.Equal(got, []keysmith.EventType{keysmith.EventRegistrationTokenCreated}) {
			t.Errorf("events about the token = %v, want [registration_token.created]", got)
		}
		AssertNoPlaintext(t, fx.db.SQL(), fx.db.Engine(), plain.Reveal())
	})

	t.Run("CreateRegistrationTokenForAMissingAppIsInvalidAndChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		before, events := fx.count("registration_tokens"), fx.count("events")
		tok, _, h := fx.newRegistrationToken(&keysmith.App{ID: "app_missing"}, admin, 1)
		wantCode(t, "CreateRegistrationToken for a missing app", fx.db.CreateRegistrationToken(fx.ctx, tok, h), keysmith.CodeInvalid)
		if n, e := fx.count("registration_tokens"), fx.count("events"); n != before || e != events {
			t.Errorf("after the refusal: %d tokens, %d events; want %d, %d", n, e, before, events)
		}
	})

	t.Run("FindUnknownRegistrationTokenOrRegistrationIsNotFound", func(t *testing.T) {
		fx := fx.in(t)
		_, h := keysmith.NewRegistrationToken()
		_, err := fx.db.FindRegistrationTokenByHash(fx.ctx, h)
		wantCode(t, "FindRegistrationTokenByHash", err, keysmith.CodeNotFound)
		_, err = fx.db.FindClientRegistrationByHash(fx.ctx, h)
		wantCode(t, "FindClientRegistrationByHash", err, keysmith.CodeNotFound)
	})

	t.Run("RevokeRegistrationTokenIsIdempotentAndRecordsOneEvent", func(t *testing.T) {
		fx := fx.in(t)
		tok, _ := fx.createRegistrationToken(app, admin, 1)
		for range 2 {
			got, err := fx.db.RevokeRegistrationToken(fx.ctx, tok.ID, admin.ID)
			if err != nil || got.RevokedAt == nil || got.RevokedBy != admin.ID {
				t.Fatalf("RevokeRegistrationToken = %+v, %v; want it revoked by %s", got, err, admin.ID)
			}
		}
		want := []keysmith.EventType{keysmith.EventRegistrationTokenCreated, keysmith.EventRegistrationTokenRevoked}
		if got := fx.eventTypesAbout(tok.ID); !slices.Equal(got, want) {
			t.Errorf("events about the token = %v, want %v", got, want)
		}
		_, err := fx.db.RevokeRegistrationToken(fx.ctx, "rgt_missing", admin.ID)
		wantCode(t, "RevokeRegistrationToken of an unknown id", err, keysmith.CodeNotFound)
	})

	t.Run("RegisterClientMakesTheClientAndItsRegistrationAndCountsAUse", func(t *testing.T) {
		fx := fx.in(t)
		tok, _ := fx.createRegistrationToken(app, admin, 2)
		n := fx.newRegisteredClient(app, tok)
		if err := fx.register(tok, n); err != nil {
			t.Fatalf("RegisterClient: %v", err)
		}
		c, err := fx.db.FindClientByID(fx.ctx, n.c.ID)
		if err != nil || c.AppID != app.ID || c.OwnerID != app.OwnerID || c.CreatedBy != admin.ID {
			t.Fatalf("FindClientByID = %+v, %v; want the registered client", c, err)
		}
		reg, err := fx.db.FindClientRegistrationByHash(fx.ctx, keysmith.HashOf(n.access.Reveal()))
		if err != nil {
			t.Fatalf("FindClientRegistrationByHash: %v", err)
		}
		if diff := cmp.Diff(n.reg, reg); diff != "" {
			t.Errorf("registration (-stored +read):\n%s", diff)
		}
		got, _ := fx.db.FindRegistrationTokenByHash(fx.ctx, fx.hashOfToken(tok))
		if got == nil || got.Uses != 1 {
			t.Errorf("uses after one registration = %+v, want 1", got)
		}
		if types := fx.eventTypesAbout(n.c.ID); !slices.Contains(types, keysmith.EventClientCreated) {
			t.Errorf("events about the client = %v, want oauth_client.created", types)
		}
		AssertNoPlaintext(t, fx.db.SQL(), fx.db.Engine(), n.access.Reveal())
	})

	t.Run("RegisterClientWithAnUnusableTokenIsUnauthorizedAndChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		used, _ := fx.createRegistrationToken(app, admin, 1)
		if err := fx.register(used, fx.newRegisteredClient(app, used)); err != nil {
			t.Fatalf("first RegisterClient: %v", err)
		}
		revoked, _ := fx.createRegistrationToken(app, admin, 5)
		if _, err := fx.db.RevokeRegistrationToken(fx.ctx, revoked.ID, admin.ID); err != nil {
			t.Fatal(err)
		}
		expiring, _ := fx.createRegistrationToken(app, admin, 5)
		for name, tok := range map[string]*keysmith.RegistrationToken{"used up": used, "revoked": revoked, "expired": expiring} {
			before := map[string]int{"oauth_clients": fx.count("oauth_clients"), "client_registrations": fx.count("client_registrations"),
				"events": fx.count("events")}
			now := fx.clock.Now()
			if name == "expired" {
				now = tok.ExpiresAt
			}
			n := fx.newRegisteredClient(app, tok)
			err := fx.db.RegisterClient(fx.ctx, tok.ID, now, n.c, n.s, n.h, n.reg, n.ah)
			wantCode(t, "RegisterClient with a "+name+" token", err, keysmith.CodeUnauthorized)
			for table, want := range before {
				if got := fx.count(table); got != want {
					t.Errorf("%s token: %d rows in %s after the refusal, want %d", name, got, table, want)
				}
			}
		}
	})

	t.Run("RegisterClientFailingHalfwayLeavesTheUseUncounted", func(t *testing.T) {
		fx := fx.in(t)
		tok, _ := fx.createRegistrationToken(app, admin, 1)
		n := fx.newRegisteredClient(app, tok)
		n.c.OwnerID = admin.ID + "x" // the application's owner changed meanwhile: CreateClient refuses
		wantCode(t, "RegisterClient for the wrong owner", fx.register(tok, n), keysmith.CodeConflict)
		if got, _ := fx.db.FindRegistrationTokenByHash(fx.ctx, fx.hashOfToken(tok)); got == nil || got.Uses != 0 {
			t.Errorf("uses after a failed registration = %+v, want 0", got)
		}
	})

	t.Run("ConcurrentRegistrationsNeverPassMaxUses", func(t *testing.T) {
		fx := fx.in(t)
		const max, tries = 3, 10
		tok, _ := fx.createRegistrationToken(app, admin, max)
		var wg sync.WaitGroup
		errs := make([]error, tries)
		for i := range tries {
			n := fx.newRegisteredClient(app, tok)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = fx.register(tok, n)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch keysmith.ErrorCode(err) {
			case "":
				ok++
			case keysmith.CodeUnauthorized:
			default:
				t.Errorf("RegisterClient: %v, want success or CodeUnauthorized", err)
			}
		}
		got, _ := fx.db.FindRegistrationTokenByHash(fx.ctx, fx.hashOfToken(tok))
		if ok != max || got == nil || got.Uses != max {
			t.Errorf("%d registrations succeeded, uses %+v; want exactly %d", ok, got, max)
		}
	})
}

// hashOfToken reads the stored hash of an initial access token, for tests
// that no longer hold its secret.
func (fx *fixture) hashOfToken(t *keysmith.RegistrationToken) keysmith.Hash {
	fx.t.Helper()
	var s string
	if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT hash FROM registration_tokens WHERE id = $1`, t.ID).Scan(&s); err != nil {
		fx.t.Fatal(err)
	}
	h, ok := keysmith.ParseHash(s)
	if !ok {
		fx.t.Fatalf("stored hash %q is not a hash", s)
	}
	return h
}
