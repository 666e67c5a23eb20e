package storetest

import (
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// createAPI stores an API with the named scopes (the first self-service),
// failing the test on error.
func (fx *fixture) createAPI(identifier string, scopes ...string) *keysmith.API {
	fx.t.Helper()
	now := fx.clock.Now()
	a := &keysmith.API{ID: keysmith.NewID("api"), Name: "API " + identifier, Identifier: identifier,
		Scopes: []keysmith.Scope{}, CreatedAt: now, UpdatedAt: now}
	for i, n := range scopes {
		a.Scopes = append(a.Scopes, keysmith.Scope{Name: n, Description: "may " + n, SelfService: i == 0, APIID: a.ID})
	}
	if err := fx.db.CreateAPI(fx.ctx, a); err != nil {
		fx.t.Fatalf("CreateAPI: %v", err)
	}
	return a
}

// clientNaming stores a client of owner naming scopes and audience.
func (fx *fixture) clientNaming(owner *keysmith.User, audience string, scopes ...string) (*keysmith.Client, error) {
	c := &keysmith.Client{ID: keysmith.NewID("cli"), Name: "client", OwnerID: owner.ID,
		Environment: keysmith.EnvSandbox, Scopes: scopes, GrantTypes: []string{"client_credentials"},
		TokenTTL: 3600e9, TokenFormat: keysmith.FormatJWT, Audience: audience,
		CreatedAt: fx.clock.Now(), CreatedBy: owner.ID}
	s, h := fx.newClientSecret(c.ID)
	return c, fx.db.CreateClient(fx.ctx, c, s, h)
}

// testAPIs: every APIStore method, its error codes, and the invariant that
// no live credential names a scope (or has an audience) that does not
// exist, even when a scope is deleted while a client is being given it.
func testAPIs(t *testing.T, fx *fixture) {
	owner := fx.addUser("apis@example.com")

	t.Run("GrantsAreCheckedAgainstTheGranterUnderTheScopesLock", func(t *testing.T) {
		// The service checks grants before the write; the store checks the
		// scope as locked again, so one made admin-only meanwhile is not
		// granted by a developer.
		fx := fx.in(t)
		fx.createAPI("urn:gl", "gl:self", "gl:admin") // the first is self-service
		dev := &keysmith.User{ID: owner.ID, Role: keysmith.RoleDeveloper}
		org := &keysmith.User{ID: owner.ID, Role: keysmith.RoleOrgAdmin}
		tok, _, h := fx.newToken(owner)
		tok.Scopes = []string{"gl:self", "gl:admin"}
		err := fx.db.CreateToken(keysmith.WithGranter(fx.ctx, dev), tok, h)
		wantCode(t, "a developer granting an admin-only scope", err, keysmith.CodeForbidden)
		if _, err := fx.db.FindTokenByID(fx.ctx, tok.ID); keysmith.ErrorCode(err) != keysmith.CodeNotFound {
			t.Fatalf("the refused token was stored: %v", err)
		}
		tok.Scopes = []string{"gl:self"}
		fx.mustCreate(keysmith.WithGranter(fx.ctx, dev), tok, h)
		// Keeping a scope granted before needs no grant; adding one does.
		all := []string{"gl:self", "gl:admin"}
		_, err = fx.db.UpdateToken(keysmith.WithGranter(fx.ctx, dev), tok.ID, keysmith.TokenUpdate{Scopes: &all, ScopesBefore: tok.Scopes})
		wantCode(t, "a developer adding an admin-only scope", err, keysmith.CodeForbidden)
		if _, err := fx.db.UpdateToken(keysmith.WithGranter(fx.ctx, org), tok.ID, keysmith.TokenUpdate{Scopes: &all, ScopesBefore: tok.Scopes}); err != nil {
			t.Fatalf("an org admin adding it: %v", err)
		}
		name := "renamed"
		kept := []string{"gl:admin"}
		if _, err := fx.db.UpdateToken(keysmith.WithGranter(fx.ctx, dev), tok.ID, keysmith.TokenUpdate{Name: &name, Scopes: &kept, ScopesBefore: all}); err != nil {
			t.Fatalf("a developer keeping a granted admin-only scope: %v", err)
		}
	})

	t.Run("CreateAPIRoundTripsEveryFieldWithScopesInOrder", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createAPI("https://orders.example", "orders:write", "orders:read", "orders:admin")
		got, err := fx.db.FindAPIByID(fx.ctx, a.ID)
		if err != nil {
			t.Fatalf("FindAPIByID: %v", err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("FindAPIByID (-created +read):\n%s", diff)
		}
		found, err := fx.db.FindScopes(fx.ctx, []string{"orders:read", "openid", "nope"})
		if err != nil {
			t.Fatalf("FindScopes: %v", err)
		}
		if len(found) != 2 || found["orders:read"].APIID != a.ID || !found["openid"].SelfService {
			t.Errorf("FindScopes = %v, want orders:read of the API and the built-in openid", found)
		}
	})

	t.Run("TakenIdentifierOrScopeNameIsConflictAndChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		fx.createAPI("https://taken.example", "taken:scope")
		before := fx.count("apis")
		now := fx.clock.Now()
		for _, a := range []*keysmith.API{
			{ID: keysmith.NewID("api"), Name: "x", Identifier: "https://taken.example", CreatedAt: now, UpdatedAt: now},
			{ID: keysmith.NewID("api"), Name: "x", Identifier: "urn:other", CreatedAt: now, UpdatedAt: now,
				Scopes: []keysmith.Scope{{Name: "fresh"}, {Name: "taken:scope"}}},
			{ID: keysmith.NewID("api"), Name: "x", Identifier: "urn:other2", CreatedAt: now, UpdatedAt: now,
				Scopes: []keysmith.Scope{{Name: "openid"}}},
		} {
			wantCode(t, "CreateAPI "+a.Identifier, fx.db.CreateAPI(fx.ctx, a), keysmith.CodeConflict)
		}
		if n := fx.count("apis"); n != before {
			t.Errorf("apis: %d rows after refused creates, want %d", n, before)
		}
		if found, _ := fx.db.FindScopes(fx.ctx, []string{"fresh"}); len(found) != 0 {
			t.Errorf("scope of a refused API was stored: %v", found)
		}
	})

	t.Run("FindAPIsListsEveryAPIByName", func(t *testing.T) {
		fx := fx.in(t)
		fx.createAPI("urn:list:z", "list:z")
		as, err := fx.db.FindAPIs(fx.ctx)
		if err != nil {
			t.Fatalf("FindAPIs: %v", err)
		}
		if len(as) != fx.count("apis") {
			t.Fatalf("FindAPIs: %d APIs, want %d", len(as), fx.count("apis"))
		}
		for i, a := range as {
			if i > 0 && as[i-1].Name > a.Name {
				t.Errorf("FindAPIs not by name: %q before %q", as[i-1].Name, a.Name)
			}
			if a.Identifier == "urn:list:z" && (len(a.Scopes) != 1 || a.Scopes[0].Name != "list:z") {
				t.Errorf("FindAPIs scopes of urn:list:z = %v", a.Scopes)
			}
		}
	})

	t.Run("UnknownAPIIsNotFound", func(t *testing.T) {
		fx := fx.in(t)
		_, err := fx.db.FindAPIByID(fx.ctx, "api_missing")
		wantCode(t, "FindAPIByID", err, keysmith.CodeNotFound)
		_, err = fx.db.UpdateAPI(fx.ctx, "api_missing", keysmith.APIUpdate{Name: ptr("x")})
		wantCode(t, "UpdateAPI", err, keysmith.CodeNotFound)
		wantCode(t, "DeleteAPI", fx.db.DeleteAPI(fx.ctx, "api_missing"), keysmith.CodeNotFound)
	})

	t.Run("UpdateAPIReplacesScopesKeepingTheOnesInUse", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createAPI("urn:upd", "upd:a", "upd:b", "upd:c")
		if _, err := fx.clientNaming(owner, "", "upd:a"); err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
		scopes := []keysmith.ScopeInput{{Name: "upd:new"}, {Name: "upd:a", Description: "changed", SelfService: false}}
		got, err := fx.db.UpdateAPI(fx.ctx, a.ID, keysmith.APIUpdate{Name: ptr("renamed"), Identifier: ptr("urn:upd2"), Scopes: &scopes})
		if err != nil {
			t.Fatalf("UpdateAPI: %v", err)
		}
		read, _ := fx.db.FindAPIByID(fx.ctx, a.ID)
		if diff := cmp.Diff(got, read); diff != "" {
			t.Errorf("UpdateAPI answer differs from what is read (-answer +read):\n%s", diff)
		}
		if read.Name != "renamed" || read.Identifier != "urn:upd2" || len(read.Scopes) != 2 ||
			read.Scopes[0].Name != "upd:new" || read.Scopes[1].Description != "changed" || read.Scopes[1].SelfService {
			t.Errorf("after UpdateAPI = %+v", read)
		}
		if found, _ := fx.db.FindScopes(fx.ctx, []string{"upd:b", "upd:c"}); len(found) != 0 {
			t.Errorf("dropped scopes still registered: %v", found)
		}
	})

	t.Run("DroppingOrDeletingAScopeInUseIsConflictNamingTheClient", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createAPI("urn:used", "used:a", "used:b")
		c, err := fx.clientNaming(owner, "", "used:b")
		if err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
		keep := []keysmith.ScopeInput{{Name: "used:a"}}
		_, err = fx.db.UpdateAPI(fx.ctx, a.ID, keysmith.APIUpdate{Scopes: &keep})
		wantCode(t, "UpdateAPI dropping a scope in use", err, keysmith.CodeConflict)
		if !strings.Contains(keysmith.ErrorMessage(err), c.ID) {
			t.Errorf("conflict %q does not name the client %s", keysmith.ErrorMessage(err), c.ID)
		}
		err = fx.db.DeleteAPI(fx.ctx, a.ID)
		wantCode(t, "DeleteAPI in use", err, keysmith.CodeConflict)
		if !strings.Contains(keysmith.ErrorMessage(err), c.ID) {
			t.Errorf("conflict %q does not name the client %s", keysmith.ErrorMessage(err), c.ID)
		}
		// Revoking the client drops its grants: then the API may go.
		if _, err := fx.db.RevokeClient(fx.ctx, c.ID, owner.ID); err != nil {
			t.Fatal(err)
		}
		if err := fx.db.DeleteAPI(fx.ctx, a.ID); err != nil {
			t.Fatalf("DeleteAPI after the client was revoked: %v", err)
		}
		_, err = fx.db.FindAPIByID(fx.ctx, a.ID)
		wantCode(t, "FindAPIByID of the deleted API", err, keysmith.CodeNotFound)
	})

	t.Run("AudienceMustBeRegisteredAndKeepsItsAPI", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createAPI("https://aud.example", "aud:read")
		_, err := fx.clientNaming(owner, "https://elsewhere.example")
		wantCode(t, "CreateClient with an unregistered audience", err, keysmith.CodeInvalid)
		_, err = fx.clientNaming(owner, "", "unregistered:scope")
		wantCode(t, "CreateClient with an unregistered scope", err, keysmith.CodeInvalid)
		c, err := fx.clientNaming(owner, "https://aud.example")
		if err != nil {
			t.Fatalf("CreateClient with a registered audience: %v", err)
		}
		err = fx.db.DeleteAPI(fx.ctx, a.ID)
		wantCode(t, "DeleteAPI of a live client's audience", err, keysmith.CodeConflict)
		if !strings.Contains(keysmith.ErrorMessage(err), c.ID) {
			t.Errorf("conflict %q does not name the client %s", keysmith.ErrorMessage(err), c.ID)
		}
		_, err = fx.db.UpdateAPI(fx.ctx, a.ID, keysmith.APIUpdate{Identifier: ptr("https://moved.example")})
		wantCode(t, "UpdateAPI moving a live client's audience", err, keysmith.CodeConflict)
	})

	t.Run("UpdateClientGrantsAddedScopesAndKeepsUnregisteredOldOnes", func(t *testing.T) {
		fx := fx.in(t)
		fx.createAPI("urn:uc", "uc:a", "uc:b")
		c, err := fx.clientNaming(owner, "", "uc:a")
		if err != nil {
			t.Fatal(err)
		}
		// A client from before scopes were registered.
		if _, err := fx.db.SQL().ExecContext(fx.ctx, `UPDATE oauth_clients SET scopes = 'uc:a legacy' WHERE id = $1`, c.ID); err != nil {
			t.Fatal(err)
		}
		next := *c
		next.Name, next.Scopes = "renamed", []string{"uc:b", "legacy"}
		_, err = fx.db.UpdateClient(fx.ctx, &next, []string{"uc:a"})
		wantCode(t, "UpdateClient with stale scopes", err, keysmith.CodeConflict)
		got, err := fx.db.UpdateClient(fx.ctx, &next, []string{"uc:a", "legacy"})
		if err != nil {
			t.Fatalf("UpdateClient: %v", err)
		}
		if got.Name != "renamed" || strings.Join(got.Scopes, " ") != "uc:b legacy" {
			t.Errorf("UpdateClient = %+v", got)
		}
		next.Scopes = []string{"uc:b", "other:unregistered"}
		_, err = fx.db.UpdateClient(fx.ctx, &next, []string{"uc:b", "legacy"})
		wantCode(t, "UpdateClient adding an unregistered scope", err, keysmith.CodeInvalid)
		// uc:a is free now, uc:b is not.
		if n := fx.grantsOf("uc:a"); n != 0 {
			t.Errorf("uc:a has %d grants after the client dropped it", n)
		}
		if n := fx.grantsOf("uc:b"); n != 1 {
			t.Errorf("uc:b has %d grants, want 1", n)
		}
	})

	t.Run("ScopeDeletedWhileGrantedEndsWithNoDanglingGrant", func(t *testing.T) {
		fx := fx.in(t)
		for i := range 5 {
			a := fx.createAPI("urn:race:"+string(rune('a'+i)), "race:"+string(rune('a'+i)))
			var wg sync.WaitGroup
			var createErr, deleteErr error
			wg.Go(func() { _, createErr = fx.clientNaming(owner, a.Identifier, a.Scopes[0].Name) })
			wg.Go(func() { deleteErr = fx.db.DeleteAPI(fx.ctx, a.ID) })
			wg.Wait()
			if (createErr == nil) == (deleteErr == nil) {
				t.Fatalf("create client: %v, delete API: %v; want exactly one to succeed", createErr, deleteErr)
			}
			var dangling int
			if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*) FROM scope_grants g
				LEFT JOIN api_scopes s ON s.name = g.scope WHERE s.name IS NULL`).Scan(&dangling); err != nil {
				t.Fatal(err)
			}
			if dangling != 0 {
				t.Fatalf("%d grants of deleted scopes", dangling)
			}
		}
	})

	t.Run("UnregisteredScopesAreRecordedOnce", func(t *testing.T) {
		fx := fx.in(t)
		c, err := fx.clientNaming(owner, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fx.db.SQL().ExecContext(fx.ctx, `UPDATE oauth_clients SET scopes = 'openid ghost:scope' WHERE id = $1`, c.ID); err != nil {
			t.Fatal(err)
		}
		// The store opened already recorded (no client then); forget that.
		if _, err := fx.db.SQL().ExecContext(fx.ctx, `DELETE FROM settings WHERE key = 'unregistered_scopes_recorded'`); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		counts := make([]int, 4)
		errs := make([]error, 4)
		for i := range 4 {
			wg.Go(func() { counts[i], errs[i] = fx.db.RecordUnregisteredScopes(fx.ctx) })
		}
		wg.Wait()
		total := 0
		for i := range 4 {
			if errs[i] != nil {
				t.Fatalf("RecordUnregisteredScopes: %v", errs[i])
			}
			total += counts[i]
		}
		var events int
		if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*) FROM events WHERE type = $1`,
			string(keysmith.EventClientScopesUnregistered)).Scan(&events); err != nil {
			t.Fatal(err)
		}
		if total < 1 || events != total {
			t.Errorf("recorded %d (events %d), want the client's event once", total, events)
		}
	})
}

// grantsOf counts the credentials that name a scope.
func (fx *fixture) grantsOf(scope string) int {
	fx.t.Helper()
	var n int
	if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*) FROM scope_grants WHERE scope = $1`, scope).Scan(&n); err != nil {
		fx.t.Fatal(err)
	}
	return n
}
