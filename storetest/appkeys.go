package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// registerScopes registers an API with the scopes named, none self-service.
func (fx *fixture) registerScopes(names ...string) {
	fx.t.Helper()
	now := fx.clock.Now()
	a := &keysmith.API{ID: keysmith.NewID("api"), Name: "orders", Identifier: "https://" + keysmith.NewID("api") + ".example",
		CreatedAt: now, UpdatedAt: now}
	for _, n := range names {
		a.Scopes = append(a.Scopes, keysmith.Scope{Name: n})
	}
	if err := fx.db.CreateAPI(fx.ctx, a); err != nil {
		fx.t.Fatalf("CreateAPI: %v", err)
	}
}

// createAppKey stores an app key of application a in env with scopes.
func (fx *fixture) createAppKey(a *keysmith.App, env keysmith.Environment, scopes ...string) *keysmith.Token {
	fx.t.Helper()
	secret, hash := keysmith.NewAppKeySecret()
	t, _, _ := fx.newToken(&keysmith.User{ID: a.OwnerID})
	t.ID, t.Name, t.Type, t.AppID, t.Environment, t.Scopes = keysmith.NewID("key"), "key "+secret.Reveal()[4:10],
		keysmith.TokenAppKey, a.ID, env, scopes
	fx.mustCreate(fx.ctx, t, hash)
	return t
}

// grants returns the scopes scope_grants records for holder, sorted.
func (fx *fixture) grants(holder string) []string {
	fx.t.Helper()
	rows, err := fx.db.SQL().QueryContext(fx.ctx, `SELECT scope FROM scope_grants WHERE holder_id = $1 ORDER BY scope`, holder)
	if err != nil {
		fx.t.Fatalf("read scope_grants: %v", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			fx.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// eventTypesAbout returns the types of the events that name id, oldest
// first.
func (fx *fixture) eventTypesAbout(id string) []keysmith.EventType {
	fx.t.Helper()
	evs, _, err := fx.db.FindEvents(fx.ctx, keysmith.EventFilter{TargetID: id})
	if err != nil {
		fx.t.Fatalf("FindEvents: %v", err)
	}
	var out []keysmith.EventType
	for _, e := range evs {
		out = append(out, e.Type)
	}
	slices.Reverse(out) // FindEvents answers newest first
	return out
}

// testAppKeys: app keys are tokens of type app_key that the token methods
// store and change like API tokens, recording app_key.* events; lists of
// tokens leave them out; deleting their application revokes them.
func testAppKeys(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	fx.registerScopes("orders:read", "orders:write")

	t.Run("CreateRoundTripsAppEnvironmentAndScopesAndGrantsThem", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createApp(owner, "shop")
		k := fx.createAppKey(a, keysmith.EnvSandbox, "orders:read", "openid")
		got := fx.mustFindToken(k.ID)
		if diff := cmp.Diff(k, got, storedFields); diff != "" {
			t.Errorf("FindTokenByID (-created +read):\n%s", diff)
		}
		if g := fx.grants(k.ID); !slices.Equal(g, []string{"orders:read"}) {
			t.Errorf("scope_grants = %v, want [orders:read] (built-in scopes need no row)", g)
		}
		if ev := fx.eventTypesAbout(k.ID); !slices.Equal(ev, []keysmith.EventType{keysmith.EventAppKeyCreated}) {
			t.Errorf("events = %v, want [app_key.created]", ev)
		}
	})

	t.Run("CreateWithAnUnregisteredScopeIsInvalidAndChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createApp(owner, "shop")
		before := fx.counts()
		_, hash := keysmith.NewAppKeySecret()
		k, _, _ := fx.newToken(owner)
		k.Type, k.AppID, k.Environment, k.Scopes = keysmith.TokenAppKey, a.ID, keysmith.EnvSandbox, []string{"nobody:registered"}
		wantCode(t, "CreateToken with an unregistered scope", fx.db.CreateToken(fx.ctx, k, hash), keysmith.CodeInvalid)
		if diff := cmp.Diff(before, fx.counts()); diff != "" {
			t.Errorf("row counts changed (-before +after):\n%s", diff)
		}
	})

	t.Run("CreateForAnApplicationThatIsGoneIsNotFound", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createApp(owner, "gone")
		if err := fx.db.DeleteApp(fx.ctx, a.ID, owner.ID); err != nil {
			t.Fatal(err)
		}
		_, hash := keysmith.NewAppKeySecret()
		k, _, _ := fx.newToken(owner)
		k.Type, k.AppID, k.Environment = keysmith.TokenAppKey, a.ID, keysmith.EnvSandbox
		wantCode(t, "CreateToken of a key of a deleted app", fx.db.CreateToken(fx.ctx, k, hash), keysmith.CodeNotFound)
	})

	t.Run("FindTokensListsKeysOnlyUnderTheirApplication", func(t *testing.T) {
		fx := fx.in(t)
		dev := fx.addUser("lists@example.com")
		tok, _ := fx.createToken(dev)
		a, b := fx.createApp(dev, "a"), fx.createApp(dev, "b")
		ka := fx.createAppKey(a, keysmith.EnvSandbox)
		kb := fx.createAppKey(b, keysmith.EnvProduction)
		ids := func(f keysmith.TokenFilter) []string {
			ts, _, err := fx.db.FindTokens(fx.ctx, f)
			if err != nil {
				t.Fatalf("FindTokens: %v", err)
			}
			var out []string
			for _, t := range ts {
				out = append(out, t.ID)
			}
			return out
		}
		if got := ids(keysmith.TokenFilter{OwnerID: dev.ID}); !slices.Equal(got, []string{tok.ID}) {
			t.Errorf("FindTokens of the owner = %v, want only the API token %s", got, tok.ID)
		}
		if got := ids(keysmith.TokenFilter{AppID: a.ID}); !slices.Equal(got, []string{ka.ID}) {
			t.Errorf("FindTokens of app a = %v, want [%s]", got, ka.ID)
		}
		if got := ids(keysmith.TokenFilter{AppID: b.ID, OwnerID: dev.ID}); !slices.Equal(got, []string{kb.ID}) {
			t.Errorf("FindTokens of app b = %v, want [%s]", got, kb.ID)
		}
		sum, err := fx.db.SummarizeTokens(fx.ctx, dev.ID, fx.clock.Now())
		if err != nil || sum.Total != 1 || sum.ByType[keysmith.TokenAppKey] != 0 {
			t.Errorf("SummarizeTokens = %+v, %v; want 1 token and no app keys", sum, err)
		}
	})

	t.Run("UpdateRotateRevokeRecordAppKeyEventsAndKeepTheGrantsTrue", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createApp(owner, "shop")
		k := fx.createAppKey(a, keysmith.EnvProduction, "orders:read")
		scopes := []string{"orders:write"}
		got, err := fx.db.UpdateToken(fx.ctx, k.ID, keysmith.TokenUpdate{Name: ptr("renamed"), Scopes: &scopes, ScopesBefore: []string{"orders:read"}})
		if err != nil {
			t.Fatalf("UpdateToken: %v", err)
		}
		if got.Name != "renamed" || !slices.Equal(got.Scopes, scopes) || got.AppID != a.ID || got.Environment != keysmith.EnvProduction {
			t.Errorf("UpdateToken = %+v", got)
		}
		if g := fx.grants(k.ID); !slices.Equal(g, scopes) {
			t.Errorf("scope_grants after the update = %v, want %v", g, scopes)
		}
		bad := []string{"orders:read", "nobody:registered"}
		_, err = fx.db.UpdateToken(fx.ctx, k.ID, keysmith.TokenUpdate{Scopes: &bad, ScopesBefore: scopes})
		wantCode(t, "UpdateToken with an unregistered scope", err, keysmith.CodeInvalid)
		if g := fx.mustFindToken(k.ID).Scopes; !slices.Equal(g, scopes) {
			t.Errorf("scopes after a refused update = %v, want %v", g, scopes)
		}
		_, hash := keysmith.NewAppKeySecret()
		if _, err := fx.db.RotateToken(fx.ctx, k.ID, hash, fx.clock.Now().Add(time.Minute)); err != nil {
			t.Fatalf("RotateToken: %v", err)
		}
		if _, err := fx.db.RevokeToken(fx.ctx, k.ID, owner.ID); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		if g := fx.grants(k.ID); len(g) != 0 {
			t.Errorf("scope_grants of a revoked key = %v, want none", g)
		}
		want := []keysmith.EventType{keysmith.EventAppKeyCreated, keysmith.EventAppKeyUpdated, keysmith.EventAppKeyRotated,
			keysmith.EventAppKeyRevoked}
		if ev := fx.eventTypesAbout(k.ID); !slices.Equal(ev, want) {
			t.Errorf("events = %v, want %v", ev, want)
		}
	})

	t.Run("DeleteAppRevokesItsKeysAndDropsTheirGrants", func(t *testing.T) {
		fx := fx.in(t)
		a, other := fx.createApp(owner, "doomed"), fx.createApp(owner, "kept")
		k1, k2 := fx.createAppKey(a, keysmith.EnvSandbox, "orders:read"), fx.createAppKey(a, keysmith.EnvProduction)
		kept := fx.createAppKey(other, keysmith.EnvSandbox, "orders:read")
		done := fx.createAppKey(a, keysmith.EnvSandbox)
		if _, err := fx.db.RevokeToken(fx.ctx, done.ID, owner.ID); err != nil {
			t.Fatal(err)
		}
		fx.clock.Advance(time.Second)
		var err error
		changes, _ := fx.published(func() { err = fx.db.DeleteApp(fx.ctx, a.ID, owner.ID) })
		if err != nil {
			t.Fatalf("DeleteApp: %v", err)
		}
		for _, k := range []*keysmith.Token{k1, k2} {
			got := fx.mustFindToken(k.ID)
			if got.RevokedAt == nil || !got.RevokedAt.Equal(fx.clock.Now()) || got.RevokedBy != owner.ID {
				t.Errorf("key %s after DeleteApp: revoked %v by %q", k.ID, got.RevokedAt, got.RevokedBy)
			}
			if ev := fx.eventTypesAbout(k.ID); ev[len(ev)-1] != keysmith.EventAppKeyRevoked {
				t.Errorf("events of %s = %v, want app_key.revoked last", k.ID, ev)
			}
			if !slices.Contains(changes, keysmith.Change{Kind: keysmith.ChangeToken, ID: k.ID}) {
				t.Errorf("DeleteApp published %v, which lacks key %s", changes, k.ID)
			}
			if g := fx.grants(k.ID); len(g) != 0 {
				t.Errorf("scope_grants of %s = %v, want none", k.ID, g)
			}
		}
		if n := len(fx.eventTypesAbout(done.ID)); n != 2 {
			t.Errorf("the key revoked before has %d events, want 2 (created, revoked once)", n)
		}
		if got := fx.mustFindToken(kept.ID); got.RevokedAt != nil || !slices.Equal(fx.grants(kept.ID), []string{"orders:read"}) {
			t.Errorf("another application's key changed: %+v", got)
		}
	})

	t.Run("TheExpirySweepRecordsAppKeyExpired", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createApp(owner, "shop")
		k := fx.createAppKey(a, keysmith.EnvSandbox)
		fx.clock.Advance(keysmith.DefaultIdleTTL + time.Minute)
		if _, err := fx.db.RecordTokenExpiries(fx.ctx, fx.clock.Now()); err != nil {
			t.Fatalf("RecordTokenExpiries: %v", err)
		}
		want := []keysmith.EventType{keysmith.EventAppKeyCreated, keysmith.EventAppKeyExpired}
		if ev := fx.eventTypesAbout(k.ID); !slices.Equal(ev, want) {
			t.Errorf("events = %v, want %v", ev, want)
		}
	})
}
