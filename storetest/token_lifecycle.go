package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// testTokenLifecycle: UpdateToken, RotateToken and SummarizeTokens, with
// their error codes.
func testTokenLifecycle(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")

	t.Run("UpdateTokenAppliesOnlyTheFieldsItNames", func(t *testing.T) {
		fx := fx.in(t)
		tok, _ := fx.createToken(owner)
		z := fx.createZone("office")
		fx.clock.Advance(time.Minute)
		meta := json.RawMessage(`{"team":"ops"}`)
		got, err := fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Name: ptr("renamed"), Enabled: ptr(false),
			Meta: &meta, Network: inZones(z.ID), RateLimitPercent: ptr(9)})
		if err != nil {
			t.Fatalf("UpdateToken: %v", err)
		}
		want := *tok
		want.Name, want.DisabledAt, want.Meta, want.RateLimitPercent = "renamed", ptr(fx.clock.Now()), meta, 9
		want.Network = *inZones(z.ID)
		if diff := cmp.Diff(&want, got, storedFields); diff != "" {
			t.Errorf("UpdateToken returned (-want +got):\n%s", diff)
		}
		fx.clock.Advance(time.Minute)
		got, err = fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Enabled: ptr(true)})
		if err != nil {
			t.Fatalf("UpdateToken enabling: %v", err)
		}
		want.DisabledAt = nil
		if diff := cmp.Diff(&want, got, storedFields); diff != "" {
			t.Errorf("UpdateToken enabling returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(&want, fx.mustFindToken(tok.ID), storedFields); diff != "" {
			t.Errorf("read after UpdateToken (-want +got):\n%s", diff)
		}
		fx.watch.changes.wait(t, tokenChange(tok.ID))
	})

	t.Run("UpdateTokenScopesStoresOnlyRegisteredOnes", func(t *testing.T) {
		fx := fx.in(t)
		tok, _ := fx.createToken(owner)
		now := fx.clock.Now()
		api := &keysmith.API{ID: keysmith.NewID("api"), Name: "orders", Identifier: "https://" + keysmith.NewID("api") + ".example",
			Scopes: []keysmith.Scope{{Name: "st:read"}, {Name: "st:write"}}, CreatedAt: now, UpdatedAt: now}
		if err := fx.db.CreateAPI(fx.ctx, api); err != nil {
			t.Fatalf("CreateAPI: %v", err)
		}
		_, err := fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Name: ptr("x"), Scopes: &[]string{"st:read", "nope"}})
		if keysmith.ErrorCode(err) != keysmith.CodeInvalid {
			t.Fatalf("UpdateToken with an unregistered scope = %v, want CodeInvalid", err)
		}
		if got := fx.mustFindToken(tok.ID); got.Name == "x" || len(got.Scopes) != 0 {
			t.Errorf("a refused update changed the token: %+v", got)
		}
		_, err = fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Scopes: &[]string{"st:write"}, ScopesBefore: []string{"st:read"}})
		if keysmith.ErrorCode(err) != keysmith.CodeConflict {
			t.Fatalf("UpdateToken from scopes the token no longer has = %v, want CodeConflict: a change made meanwhile would be undone", err)
		}
		got, err := fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Scopes: &[]string{"st:write", "openid"}})
		if err != nil {
			t.Fatalf("UpdateToken: %v", err)
		}
		if diff := cmp.Diff([]string{"st:write", "openid"}, got.Scopes); diff != "" {
			t.Errorf("scopes (-want +got):\n%s", diff)
		}
		if got, err = fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Scopes: &[]string{}, ScopesBefore: []string{"st:write", "openid"}}); err != nil || got.Scopes != nil {
			t.Errorf("UpdateToken removing every scope = %v, %v", got.Scopes, err)
		}
	})

	t.Run("RotateTokenKeepsThePreviousSecretUntilTheGraceEnds", func(t *testing.T) {
		fx := fx.in(t)
		tok, oldHash := fx.createToken(owner)
		fx.clock.Advance(time.Minute)
		_, newHash := keysmith.NewAPITokenSecret()
		grace := fx.clock.Now().Add(time.Hour)
		got, err := fx.db.RotateToken(fx.ctx, tok.ID, newHash, grace)
		if err != nil {
			t.Fatalf("RotateToken: %v", err)
		}
		want := *tok
		want.RotatedAt, want.PrevSecretExpiresAt = ptr(fx.clock.Now()), ptr(grace)
		if diff := cmp.Diff(&want, got, storedFields); diff != "" {
			t.Errorf("RotateToken returned (-want +got):\n%s", diff)
		}
		byNew, err := fx.db.FindTokenByHash(fx.ctx, newHash)
		if err != nil || byNew.ID != tok.ID || byNew.ViaPreviousSecret {
			t.Errorf("FindTokenByHash of the new secret = %+v, %v; want the token, not via the previous secret", byNew, err)
		}
		byOld, err := fx.db.FindTokenByHash(fx.ctx, oldHash)
		if err != nil || byOld.ID != tok.ID || !byOld.ViaPreviousSecret {
			t.Errorf("FindTokenByHash of the old secret = %+v, %v; want the token via the previous secret", byOld, err)
		}
	})

	t.Run("ARevokedTokenCannotBeUpdatedOrRotatedAndAnUnknownOneIsNotFound", func(t *testing.T) {
		fx := fx.in(t)
		tok, _ := fx.createToken(owner)
		if _, err := fx.db.RevokeToken(fx.ctx, tok.ID, owner.ID); err != nil {
			t.Fatal(err)
		}
		_, h := keysmith.NewAPITokenSecret()
		later := fx.clock.Now().Add(time.Hour)
		_, err := fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Name: ptr("x")})
		wantCode(t, "UpdateToken of a revoked token", err, keysmith.CodeConflict)
		_, err = fx.db.RotateToken(fx.ctx, tok.ID, h, later)
		wantCode(t, "RotateToken of a revoked token", err, keysmith.CodeConflict)
		_, err = fx.db.FindTokenByHash(fx.ctx, h)
		wantCode(t, "FindTokenByHash of the refused rotation's secret", err, keysmith.CodeNotFound)
		unknown := keysmith.NewID("tok")
		_, err = fx.db.UpdateToken(fx.ctx, unknown, keysmith.TokenUpdate{Name: ptr("x")})
		wantCode(t, "UpdateToken of an unknown id", err, keysmith.CodeNotFound)
		_, err = fx.db.RotateToken(fx.ctx, unknown, h, later)
		wantCode(t, "RotateToken of an unknown id", err, keysmith.CodeNotFound)
	})

	t.Run("SummarizeTokensAgreesWithEachTokensStatusAndColour", func(t *testing.T) {
		fx := fx.in(t)
		counted := fx.addUser("counted@example.com")
		fx.summaryWorld(counted)
		fx.clock.Advance(time.Minute)
		now := fx.clock.Now()
		for _, ownerID := range []string{counted.ID, ""} {
			got, err := fx.db.SummarizeTokens(fx.ctx, ownerID, now)
			if err != nil {
				t.Fatalf("SummarizeTokens(%q): %v", ownerID, err)
			}
			if diff := cmp.Diff(fx.summaryOf(ownerID, now), got); diff != "" {
				t.Errorf("SummarizeTokens(%q) (-from each token +summary):\n%s", ownerID, diff)
			}
			for k, n := range got.ByStatus {
				if n == 0 {
					t.Errorf("SummarizeTokens(%q): no %s token; the world should hold every status", ownerID, k)
				}
			}
			for k, n := range got.ByColor {
				if n == 0 {
					t.Errorf("SummarizeTokens(%q): no %s token; the world should hold every colour", ownerID, k)
				}
			}
		}
	})
}

// summaryWorld gives owner a token of every status and colour.
func (fx *fixture) summaryWorld(owner *keysmith.User) {
	fx.t.Helper()
	now := fx.clock.Now()
	fx.createToken(owner)            // gray
	used, _ := fx.createToken(owner) // green
	if err := fx.db.RecordTokenUses(fx.ctx, []keysmith.TokenUse{{TokenID: used.ID, At: now, IP: "192.0.2.1"}}); err != nil {
		fx.t.Fatal(err)
	}
	soon, _, h := fx.newToken(owner) // red
	soon.ExpiresAt = ptr(now.Add(24 * time.Hour))
	fx.mustCreate(fx.ctx, soon, h)
	gone, _, h := fx.newToken(owner) // expired
	gone.CreatedAt, gone.ExpiresAt = now.Add(-2*time.Hour), ptr(now.Add(-time.Hour))
	fx.mustCreate(fx.ctx, gone, h)
	service, _, h := fx.newToken(owner)
	service.Type = keysmith.TokenService
	fx.mustCreate(fx.ctx, service, h)
	revoked, _ := fx.createToken(owner)
	if _, err := fx.db.RevokeToken(fx.ctx, revoked.ID, owner.ID); err != nil {
		fx.t.Fatal(err)
	}
	disabled, _ := fx.createToken(owner)
	if _, err := fx.db.UpdateToken(fx.ctx, disabled.ID, keysmith.TokenUpdate{Enabled: ptr(false)}); err != nil {
		fx.t.Fatal(err)
	}
	a := fx.createAgent(owner, keysmith.AgentDaemon) // its token becomes suspicious (yellow)
	fx.activate(owner, a)
	if _, err := fx.db.DeactivateAgent(fx.ctx, a.ID, owner.ID); err != nil {
		fx.t.Fatal(err)
	}
	fx.activate(owner, fx.createAgent(owner, keysmith.AgentCI)) // an active agent's token
}

// summaryOf counts the tokens of ownerID ("" for all) from each token's own
// Status and Color at now.
func (fx *fixture) summaryOf(ownerID string, now time.Time) *keysmith.TokenSummary {
	fx.t.Helper()
	s := keysmith.NewTokenSummary()
	toks, _, err := fx.db.FindTokens(fx.ctx, keysmith.TokenFilter{OwnerID: ownerID, Page: keysmith.Page{Limit: keysmith.MaxPageSize}})
	if err != nil {
		fx.t.Fatalf("FindTokens: %v", err)
	}
	for _, t := range toks {
		s.Total++
		s.ByType[t.Type]++
		s.ByStatus[t.Status(now)]++
		if c := t.Color(now); c != "" {
			s.ByColor[c]++
		}
	}
	return s
}
