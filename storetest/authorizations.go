package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// newCode returns an unsaved authorization code of client for user, issued
// now, with its secret and hash.
func (fx *fixture) newCode(c *keysmith.Client, u *keysmith.User) (*keysmith.AuthorizationCode, keysmith.Secret, keysmith.Hash) {
	secret, h := keysmith.NewAuthorizationCode()
	now := fx.clock.Now()
	return &keysmith.AuthorizationCode{ID: keysmith.NewID("cod"), ClientID: c.ID, UserID: u.ID,
		RedirectURI: "https://app.example.com/callback", Scope: "read write", Challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		ChallengeMethod: "S256", Nonce: "n-0S6_WzA2Mj", AuthTime: now.Add(-time.Minute), CreatedAt: now,
		ExpiresAt: now.Add(keysmith.AuthorizationCodeTTL)}, secret, h
}

// createCode stores a new code, failing the test on error.
func (fx *fixture) createCode(c *keysmith.Client, u *keysmith.User) (*keysmith.AuthorizationCode, keysmith.Hash) {
	fx.t.Helper()
	code, _, h := fx.newCode(c, u)
	if err := fx.db.CreateAuthorizationCode(fx.ctx, code, h); err != nil {
		fx.t.Fatalf("CreateAuthorizationCode: %v", err)
	}
	return code, h
}

// newRefreshToken returns an unsaved refresh token of the grant, issued now.
func (fx *fixture) newRefreshToken(grantID string, c *keysmith.Client, u *keysmith.User) (*keysmith.RefreshToken, keysmith.Secret, keysmith.Hash) {
	secret, h := keysmith.NewRefreshToken()
	now := fx.clock.Now()
	return &keysmith.RefreshToken{ID: keysmith.NewID("rtk"), GrantID: grantID, ClientID: c.ID, UserID: u.ID,
		Scope: "read", AuthTime: now.Add(-time.Minute), CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour),
		IdleExpiresAt: now.Add(7 * 24 * time.Hour)}, secret, h
}

// grant is what a code's exchange issued: a refresh token and access
// tokens (an opaque one, stored under its hash, and a JWT, stored without).
type grant struct {
	id      string
	refresh *keysmith.RefreshToken
	hash    keysmith.Hash // the refresh token's
	opaque  *keysmith.AccessToken
	opaqueH keysmith.Hash
	jwt     *keysmith.AccessToken
}

// createGrant stores a grant of client for user, failing the test on error.
func (fx *fixture) createGrant(c *keysmith.Client, u *keysmith.User) *grant {
	fx.t.Helper()
	g := &grant{id: keysmith.NewID("cod")}
	g.refresh, _, g.hash = fx.newRefreshToken(g.id, c, u)
	if err := fx.db.CreateRefreshToken(fx.ctx, g.refresh, g.hash); err != nil {
		fx.t.Fatalf("CreateRefreshToken: %v", err)
	}
	g.opaque = fx.newAccessToken(c, keysmith.FormatOpaque, time.Hour)
	g.jwt = fx.newAccessToken(c, keysmith.FormatJWT, time.Hour)
	_, g.opaqueH = keysmith.NewOpaqueAccessToken()
	for _, at := range []struct {
		t *keysmith.AccessToken
		h keysmith.Hash
	}{{g.opaque, g.opaqueH}, {g.jwt, keysmith.Hash{}}} {
		at.t.UserID, at.t.GrantID = u.ID, g.id
		if err := fx.db.CreateAccessToken(fx.ctx, at.t, at.h); err != nil {
			fx.t.Fatalf("CreateAccessToken: %v", err)
		}
	}
	return g
}

// accessChanges are the changes revoking the grant's access tokens publishes.
func (g *grant) accessChanges() []keysmith.Change {
	return []keysmith.Change{{Kind: keysmith.ChangeAccessToken, ID: g.opaque.ID}, {Kind: keysmith.ChangeAccessToken, ID: g.jwt.ID}}
}

// grantRevoked reports whether the grant's refresh token and both access tokens
// are revoked, failing the test if only some are.
func (fx *fixture) grantRevoked(g *grant) bool {
	fx.t.Helper()
	rt, err := fx.db.FindRefreshTokenByHash(fx.ctx, g.hash)
	if err != nil {
		fx.t.Fatalf("FindRefreshTokenByHash: %v", err)
	}
	at, err := fx.db.FindAccessTokenByHash(fx.ctx, g.opaqueH)
	if err != nil {
		fx.t.Fatalf("FindAccessTokenByHash: %v", err)
	}
	ids, err := fx.db.FindRevokedAccessTokens(fx.ctx, fx.clock.Now())
	if err != nil {
		fx.t.Fatalf("FindRevokedAccessTokens: %v", err)
	}
	states := []bool{rt.RevokedAt != nil, at.RevokedAt != nil, slices.Contains(ids, at.ID), slices.Contains(ids, g.jwt.ID)}
	if slices.Contains(states, !states[0]) {
		fx.t.Fatalf("grant %s half revoked: refresh, opaque, revoked ids hold opaque, JWT = %v", g.id, states)
	}
	return states[0]
}

// eventsOf returns the recorded events of a type, in order.
func (fx *fixture) eventsOf(typ keysmith.EventType) []keysmith.Event {
	fx.t.Helper()
	var out []keysmith.Event
	for _, r := range fx.events() {
		if r.Type == string(typ) {
			out = append(out, r.event(fx.t))
		}
	}
	return out
}

// wantGrantEvents checks that the oauth_grant.revoked events recorded
// since before (a count of them) are one for each grant, in any order, with
// the reason.
func (fx *fixture) wantGrantEvents(before int, reason string, clientOf map[string]string, grantIDs ...string) {
	fx.t.Helper()
	evs := fx.eventsOf(keysmith.EventGrantRevoked)[before:]
	if len(evs) != len(grantIDs) {
		fx.t.Fatalf("recorded %d oauth_grant.revoked events, want %d (%v): %+v", len(evs), len(grantIDs), grantIDs, evs)
	}
	var got, want []string
	for i, ev := range evs {
		if len(ev.Targets) != 1 {
			fx.t.Fatalf("event %d targets %v, want the grant", i, ev.Targets)
		}
		id := ev.Targets[0].ID
		got = append(got, id)
		if diff := cmp.Diff(map[string]any{"reason": reason, "client_id": clientOf[id]}, ev.Details); diff != "" {
			fx.t.Errorf("event %d details (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(keysmith.GrantRef(id, clientOf[id]), ev.Targets[0]); diff != "" {
			fx.t.Errorf("event %d target (-want +got):\n%s", i, diff)
		}
	}
	want = slices.Sorted(slices.Values(grantIDs))
	slices.Sort(got)
	if !slices.Equal(got, want) {
		fx.t.Errorf("oauth_grant.revoked of grants %v, want %v", got, want)
	}
}

// testAuthorizations: every AuthorizationStore method but pruning (its own
// case) and its error codes, with concurrent redemptions and rotations.
func testAuthorizations(t *testing.T, fx *fixture) {
	alice, bob := fx.addUser("alice@example.com"), fx.addUser("bob@example.com")
	c, _ := fx.createClient(alice, "")
	other, _ := fx.createClient(alice, "")
	clientOf := func(gs map[*grant]*keysmith.Client) map[string]string {
		out := map[string]string{}
		for g, c := range gs {
			out[g.id] = c.ID
		}
		return out
	}

	t.Run("AuthorizationCodeRedeemsOnceThenConflictsReturningIt", func(t *testing.T) {
		fx := fx.in(t)
		events := fx.count("events")
		code, h := fx.createCode(c, alice)
		fx.clock.Advance(time.Second)
		usedAt := fx.clock.Now()
		got, err := fx.db.RedeemAuthorizationCode(fx.ctx, h, usedAt, keysmith.GrantTokens{})
		if err != nil {
			t.Fatalf("RedeemAuthorizationCode: %v", err)
		}
		want := *code
		want.UsedAt = &usedAt
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("RedeemAuthorizationCode (-want +got):\n%s", diff)
		}
		fx.clock.Advance(time.Second)
		got, err = fx.db.RedeemAuthorizationCode(fx.ctx, h, fx.clock.Now(), keysmith.GrantTokens{})
		wantCode(t, "second RedeemAuthorizationCode", err, keysmith.CodeConflict)
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("second RedeemAuthorizationCode returned (-want +got), want the code as first used:\n%s", diff)
		}
		_, unknown := keysmith.NewAuthorizationCode()
		_, err = fx.db.RedeemAuthorizationCode(fx.ctx, unknown, fx.clock.Now(), keysmith.GrantTokens{})
		wantCode(t, "RedeemAuthorizationCode of an unknown code", err, keysmith.CodeNotFound)
		if n := fx.count("events"); n != events {
			t.Errorf("issuing and redeeming a code recorded %d events, want none", n-events)
		}
	})

	t.Run("RedeemStoresTheExchangesTokensWithTheSpentCode", func(t *testing.T) {
		fx := fx.in(t)
		code, h := fx.createCode(c, alice)
		now := fx.clock.Now()
		issued := func() keysmith.GrantTokens {
			at := &keysmith.AccessToken{ID: keysmith.NewID("at"), Format: keysmith.FormatOpaque, ClientID: c.ID,
				Environment: c.Environment, Scope: "openid", Audience: "https://issuer.example", IssuedAt: now,
				ExpiresAt: ptrTime(now.Add(time.Hour)), UserID: alice.ID, GrantID: code.ID}
			rt := &keysmith.RefreshToken{ID: keysmith.NewID("rt"), GrantID: code.ID, ClientID: c.ID, UserID: alice.ID,
				Scope: "openid", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}
			_, ah := keysmith.NewOpaqueAccessToken()
			_, rh := keysmith.NewRefreshToken()
			return keysmith.GrantTokens{Access: at, AccessHash: ah, Refresh: rt, RefreshHash: rh}
		}
		first, second := issued(), issued()
		if _, err := fx.db.RedeemAuthorizationCode(fx.ctx, h, now, first); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.db.FindAccessTokenByHash(fx.ctx, first.AccessHash); err != nil {
			t.Errorf("the exchange's access token: %v", err)
		}
		if _, err := fx.db.FindRefreshTokenByHash(fx.ctx, first.RefreshHash); err != nil {
			t.Errorf("the exchange's refresh token: %v", err)
		}
		_, err := fx.db.RedeemAuthorizationCode(fx.ctx, h, now, second)
		wantCode(t, "second RedeemAuthorizationCode", err, keysmith.CodeConflict)
		if _, err := fx.db.FindAccessTokenByHash(fx.ctx, second.AccessHash); keysmith.ErrorCode(err) != keysmith.CodeNotFound {
			t.Errorf("a refused redemption stored its access token: %v", err)
		}
		if _, err := fx.db.FindRefreshTokenByHash(fx.ctx, second.RefreshHash); keysmith.ErrorCode(err) != keysmith.CodeNotFound {
			t.Errorf("a refused redemption stored its refresh token: %v", err)
		}
		if got, err := fx.db.FindAuthorizationCodeByHash(fx.ctx, h); err != nil || got.UsedAt == nil {
			t.Errorf("FindAuthorizationCodeByHash after redemption = %+v, %v", got, err)
		}
	})

	t.Run("AnExpiredCodeIsRedeemedForTheCallerToRefuse", func(t *testing.T) {
		fx := fx.in(t)
		code, h := fx.createCode(c, alice)
		fx.clock.Advance(keysmith.AuthorizationCodeTTL + time.Second)
		got, err := fx.db.RedeemAuthorizationCode(fx.ctx, h, fx.clock.Now(), keysmith.GrantTokens{})
		if err != nil || got.ID != code.ID || got.UsedAt == nil || !got.ExpiresAt.Before(fx.clock.Now()) {
			t.Fatalf("RedeemAuthorizationCode of an expired code = %+v, %v; want it, used, its expiry past", got, err)
		}
	})

	t.Run("OfConcurrentRedeemersExactlyOneWins", func(t *testing.T) {
		fx := fx.in(t)
		code, h := fx.createCode(c, alice)
		const n = 20
		errs := make([]error, n)
		got := make([]*keysmith.AuthorizationCode, n)
		concurrently(n, func(i int) {
			got[i], errs[i] = fx.db.RedeemAuthorizationCode(fx.ctx, h, fx.clock.Now(), keysmith.GrantTokens{})
		})
		won := 0
		for i, err := range errs {
			switch keysmith.ErrorCode(err) {
			case "":
				won++
			case keysmith.CodeConflict:
			default:
				t.Errorf("redeemer %d: %v, want success or conflict", i, err)
			}
			if got[i] == nil || got[i].ID != code.ID {
				t.Errorf("redeemer %d got %+v (%v), want the code", i, got[i], err)
			}
		}
		if won != 1 {
			t.Errorf("%d of %d concurrent redeemers succeeded, want exactly 1", won, n)
		}
	})

	t.Run("SaveConsentAddsScopesInOrderAndRecordsWhatItAdded", func(t *testing.T) {
		fx := fx.in(t)
		ctx, a := audited(fx.ctx, alice)
		first := fx.clock.Now()
		before := len(fx.eventsOf(keysmith.EventConsentGranted))
		if err := fx.db.SaveConsent(ctx, &keysmith.Consent{UserID: alice.ID, ClientID: c.ID, Scopes: []string{"write"},
			CreatedAt: first, UpdatedAt: first}); err != nil {
			t.Fatalf("SaveConsent: %v", err)
		}
		fx.clock.Advance(time.Minute)
		second := fx.clock.Now()
		cs := &keysmith.Consent{UserID: alice.ID, ClientID: c.ID, Scopes: []string{"read", "write", "read"},
			CreatedAt: second, UpdatedAt: second}
		if err := fx.db.SaveConsent(ctx, cs); err != nil {
			t.Fatalf("second SaveConsent: %v", err)
		}
		want := &keysmith.Consent{UserID: alice.ID, ClientID: c.ID, Scopes: []string{"write", "read"}, CreatedAt: first,
			UpdatedAt: second}
		if diff := cmp.Diff(want, cs); diff != "" {
			t.Errorf("SaveConsent left its argument (-want +got):\n%s", diff)
		}
		got, err := fx.db.FindConsent(fx.ctx, alice.ID, c.ID)
		if diff := cmp.Diff(want, got); err != nil || diff != "" {
			t.Errorf("FindConsent: %v (-want +got):\n%s", err, diff)
		}
		evs := fx.eventsOf(keysmith.EventConsentGranted)[before:]
		if len(evs) != 2 {
			t.Fatalf("recorded %d oauth_consent.granted events, want 2", len(evs))
		}
		for i, scopes := range []string{"[write]", "[read]"} {
			if s := fmt.Sprint(evs[i].Details["scopes"]); s != scopes || evs[i].Actor != a.Actor ||
				!cmp.Equal(evs[i].Targets, []keysmith.Ref{keysmith.ConsentRef(want), keysmith.ClientRef(c)}) {
				t.Errorf("event %d: scopes %s, actor %v, targets %v; want %s by %v of the consent and client",
					i, s, evs[i].Actor, evs[i].Targets, scopes, a.Actor)
			}
		}

		fx.clock.Advance(time.Minute)
		third := fx.clock.Now()
		if err := fx.db.SaveConsent(ctx, &keysmith.Consent{UserID: alice.ID, ClientID: c.ID, Scopes: []string{"read"},
			CreatedAt: third, UpdatedAt: third}); err != nil {
			t.Fatalf("third SaveConsent: %v", err)
		}
		if n := len(fx.eventsOf(keysmith.EventConsentGranted)) - before; n != 2 {
			t.Errorf("a consent adding nothing recorded an event (%d in all, want 2)", n)
		}
		want.UpdatedAt = third
		got, err = fx.db.FindConsent(fx.ctx, alice.ID, c.ID)
		if diff := cmp.Diff(want, got); err != nil || diff != "" {
			t.Errorf("FindConsent after a consent adding nothing: %v (-want +got):\n%s", err, diff)
		}
	})

	t.Run("FindConsentsListsNewestFirst", func(t *testing.T) {
		fx := fx.in(t)
		fx.clock.Advance(time.Minute)
		now := fx.clock.Now()
		for _, cl := range []*keysmith.Client{c, other} {
			fx.clock.Advance(time.Second)
			now = fx.clock.Now()
			if err := fx.db.SaveConsent(fx.ctx, &keysmith.Consent{UserID: bob.ID, ClientID: cl.ID, Scopes: []string{"read"},
				CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatalf("SaveConsent: %v", err)
			}
		}
		got, err := fx.db.FindConsents(fx.ctx, bob.ID)
		if err != nil || len(got) != 2 || got[0].ClientID != other.ID || got[1].ClientID != c.ID {
			t.Errorf("FindConsents = %+v, %v; want the consent to %s, then to %s", got, err, other.ID, c.ID)
		}
		carol := fx.addUser("carol@example.com")
		got, err = fx.db.FindConsents(fx.ctx, carol.ID)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("FindConsents of a user without consents = %#v, %v; want an empty list", got, err)
		}
		_, err = fx.db.FindConsent(fx.ctx, carol.ID, c.ID)
		wantCode(t, "FindConsent of a user without consent", err, keysmith.CodeNotFound)
		err = fx.db.SaveConsent(fx.ctx, &keysmith.Consent{UserID: carol.ID, ClientID: "cli_unknown", Scopes: []string{"read"},
			CreatedAt: now, UpdatedAt: now})
		wantCode(t, "SaveConsent to an unknown client", err, keysmith.CodeNotFound)
	})

	t.Run("RefreshTokenRotatesOnce", func(t *testing.T) {
		fx := fx.in(t)
		g := fx.createGrant(c, alice)
		got, err := fx.db.FindRefreshTokenByHash(fx.ctx, g.hash)
		if diff := cmp.Diff(g.refresh, got); err != nil || diff != "" {
			t.Fatalf("FindRefreshTokenByHash: %v (-created +read):\n%s", err, diff)
		}
		fx.clock.Advance(time.Minute)
		next, _, nextH := fx.newRefreshToken(g.id, c, alice)
		if err := fx.db.RotateRefreshToken(fx.ctx, g.refresh.ID, keysmith.GrantTokens{Refresh: next, RefreshHash: nextH}); err != nil {
			t.Fatalf("RotateRefreshToken: %v", err)
		}
		old, err := fx.db.FindRefreshTokenByHash(fx.ctx, g.hash)
		if err != nil || old.UsedAt == nil || !old.UsedAt.Equal(next.CreatedAt) || old.RevokedAt != nil {
			t.Errorf("rotated token = %+v, %v; want used at %v", old, err, next.CreatedAt)
		}
		got, err = fx.db.FindRefreshTokenByHash(fx.ctx, nextH)
		if diff := cmp.Diff(next, got); err != nil || diff != "" {
			t.Errorf("FindRefreshTokenByHash of the successor: %v (-created +read):\n%s", err, diff)
		}
		again, _, againH := fx.newRefreshToken(g.id, c, alice)
		err = fx.db.RotateRefreshToken(fx.ctx, g.refresh.ID, keysmith.GrantTokens{Refresh: again, RefreshHash: againH})
		wantCode(t, "second RotateRefreshToken of one token", err, keysmith.CodeConflict)
		if _, err := fx.db.FindRefreshTokenByHash(fx.ctx, againH); keysmith.ErrorCode(err) != keysmith.CodeNotFound {
			t.Errorf("a refused rotation stored its successor (FindRefreshTokenByHash: %v)", err)
		}
		stranger, _, strangerH := fx.newRefreshToken("cod_other", c, alice)
		err = fx.db.RotateRefreshToken(fx.ctx, next.ID, keysmith.GrantTokens{Refresh: stranger, RefreshHash: strangerH})
		wantCode(t, "RotateRefreshToken to a token of another grant", err, keysmith.CodeInvalid)
		_, unknown := keysmith.NewRefreshToken()
		_, err = fx.db.FindRefreshTokenByHash(fx.ctx, unknown)
		wantCode(t, "FindRefreshTokenByHash of an unknown token", err, keysmith.CodeNotFound)
	})

	t.Run("OfConcurrentRotationsExactlyOneWins", func(t *testing.T) {
		fx := fx.in(t)
		g := fx.createGrant(c, alice)
		const n = 20
		errs := make([]error, n)
		concurrently(n, func(i int) {
			next, _, h := fx.newRefreshToken(g.id, c, alice)
			errs[i] = fx.db.RotateRefreshToken(fx.ctx, g.refresh.ID, keysmith.GrantTokens{Refresh: next, RefreshHash: h})
		})
		won := 0
		for i, err := range errs {
			switch keysmith.ErrorCode(err) {
			case "":
				won++
			case keysmith.CodeConflict:
			default:
				t.Errorf("rotation %d: %v, want success or conflict", i, err)
			}
		}
		var live int
		if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*) FROM oauth_refresh_tokens
			WHERE grant_id = $1 AND used_at IS NULL`, g.id).Scan(&live); err != nil {
			t.Fatal(err)
		}
		if won != 1 || live != 1 {
			t.Errorf("%d of %d concurrent rotations succeeded leaving %d live tokens, want 1 and 1", won, n, live)
		}
	})

	t.Run("RevokeGrantRevokesItsTokensOnlyOnce", func(t *testing.T) {
		fx := fx.in(t)
		ctx, a := audited(fx.ctx, alice)
		g, sibling := fx.createGrant(c, alice), fx.createGrant(c, alice)
		cc := fx.newAccessToken(c, keysmith.FormatJWT, time.Hour) // client_credentials: no grant
		if err := fx.db.CreateAccessToken(fx.ctx, cc, keysmith.Hash{}); err != nil {
			t.Fatalf("CreateAccessToken: %v", err)
		}
		// The grant's live token is the successor of a rotation.
		fx.clock.Advance(time.Minute)
		next, _, nextH := fx.newRefreshToken(g.id, c, alice)
		if err := fx.db.RotateRefreshToken(fx.ctx, g.refresh.ID, keysmith.GrantTokens{Refresh: next, RefreshHash: nextH}); err != nil {
			t.Fatalf("RotateRefreshToken: %v", err)
		}
		before := len(fx.eventsOf(keysmith.EventGrantRevoked))
		sync, all := fx.published(func() {
			if err := fx.db.RevokeGrant(ctx, g.id, c.ID, keysmith.GrantRevokedRefreshReused); err != nil {
				t.Fatalf("RevokeGrant: %v", err)
			}
		})
		want := g.accessChanges()
		for _, ch := range want {
			if !slices.Contains(sync, ch) || count(all, ch) != 1 {
				t.Errorf("change %+v published %d times (%d by the time RevokeGrant returned), want once", ch, count(all, ch), count(sync, ch))
			}
		}
		for _, ch := range all {
			if !slices.Contains(want, ch) {
				t.Errorf("published %+v, want only %v", ch, want)
			}
		}
		rt, err := fx.db.FindRefreshTokenByHash(fx.ctx, nextH)
		if err != nil || rt.RevokedAt == nil {
			t.Errorf("the grant's live refresh token after RevokeGrant = %+v, %v; want it revoked", rt, err)
		}
		after, _, afterH := fx.newRefreshToken(g.id, c, alice)
		if err := fx.db.RotateRefreshToken(fx.ctx, next.ID, keysmith.GrantTokens{Refresh: after, RefreshHash: afterH}); keysmith.ErrorCode(err) != keysmith.CodeConflict {
			t.Errorf("RotateRefreshToken of a revoked token: %v, want conflict", err)
		}
		at, err := fx.db.FindAccessTokenByHash(fx.ctx, g.opaqueH)
		if err != nil || at.RevokedAt == nil || at.UserID != alice.ID || at.GrantID != g.id {
			t.Errorf("the grant's opaque access token = %+v, %v; want it revoked, of alice and the grant", at, err)
		}
		ids, err := fx.db.FindRevokedAccessTokens(fx.ctx, fx.clock.Now())
		if err != nil || !slices.Contains(ids, g.jwt.ID) || slices.Contains(ids, cc.ID) {
			t.Errorf("FindRevokedAccessTokens = %v, %v; want the grant's JWT %s and not the client's own %s", ids, err, g.jwt.ID, cc.ID)
		}
		if fx.grantRevoked(sibling) {
			t.Errorf("RevokeGrant revoked another grant of the same user and client")
		}
		fx.wantGrantEvents(before, keysmith.GrantRevokedRefreshReused, clientOf(map[*grant]*keysmith.Client{g: c}), g.id)
		if ev := fx.eventsOf(keysmith.EventGrantRevoked)[before]; ev.Actor != a.Actor {
			t.Errorf("oauth_grant.revoked by %v, want %v", ev.Actor, a.Actor)
		}

		var recorded int
		_, all = fx.published(func() {
			events := fx.count("events")
			if err := fx.db.RevokeGrant(ctx, g.id, c.ID, keysmith.GrantRevokedCodeReused); err != nil {
				t.Fatalf("second RevokeGrant: %v", err)
			}
			recorded = fx.count("events") - events
		})
		if recorded != 0 || len(all) != 0 {
			t.Errorf("second RevokeGrant recorded %d events and published %v, want nothing", recorded, all)
		}
	})

	t.Run("RevokeConsentRevokesTheGrantsOfThatClient", func(t *testing.T) {
		fx := fx.in(t)
		dave := fx.addUser("dave@example.com")
		now := fx.clock.Now()
		for _, cl := range []*keysmith.Client{c, other} {
			if err := fx.db.SaveConsent(fx.ctx, &keysmith.Consent{UserID: dave.ID, ClientID: cl.ID, Scopes: []string{"read"},
				CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatalf("SaveConsent: %v", err)
			}
		}
		g1, g2, kept := fx.createGrant(c, dave), fx.createGrant(c, dave), fx.createGrant(other, dave)
		alices := fx.createGrant(c, alice)
		before, consentEvents := len(fx.eventsOf(keysmith.EventGrantRevoked)), len(fx.eventsOf(keysmith.EventConsentRevoked))
		_, all := fx.published(func() {
			if err := fx.db.RevokeConsent(fx.ctx, dave.ID, c.ID); err != nil {
				t.Fatalf("RevokeConsent: %v", err)
			}
		})
		if !fx.grantRevoked(g1) || !fx.grantRevoked(g2) || fx.grantRevoked(kept) || fx.grantRevoked(alices) {
			t.Errorf("after RevokeConsent: revoked %v %v, kept %v %v; want the grants with the client revoked, others kept",
				fx.grantRevoked(g1), fx.grantRevoked(g2), !fx.grantRevoked(kept), !fx.grantRevoked(alices))
		}
		for _, ch := range append(g1.accessChanges(), g2.accessChanges()...) {
			if count(all, ch) != 1 {
				t.Errorf("change %+v published %d times, want once", ch, count(all, ch))
			}
		}
		_, err := fx.db.FindConsent(fx.ctx, dave.ID, c.ID)
		wantCode(t, "FindConsent after RevokeConsent", err, keysmith.CodeNotFound)
		if _, err := fx.db.FindConsent(fx.ctx, dave.ID, other.ID); err != nil {
			t.Errorf("FindConsent of the consent to another client: %v", err)
		}
		evs := fx.eventsOf(keysmith.EventConsentRevoked)[consentEvents:]
		ref := keysmith.ConsentRef(&keysmith.Consent{UserID: dave.ID, ClientID: c.ID})
		if len(evs) != 1 || !cmp.Equal(evs[0].Targets, []keysmith.Ref{ref, keysmith.ClientRef(c)}) {
			t.Errorf("oauth_consent.revoked events %+v; want one, of the consent and the client", evs)
		}
		fx.wantGrantEvents(before, keysmith.GrantRevokedConsent, clientOf(map[*grant]*keysmith.Client{g1: c, g2: c}), g1.id, g2.id)
		err = fx.db.RevokeConsent(fx.ctx, dave.ID, c.ID)
		wantCode(t, "second RevokeConsent", err, keysmith.CodeNotFound)
	})

	t.Run("DeactivationRevokesEveryGrantOfTheUser", func(t *testing.T) {
		fx := fx.in(t)
		erin := fx.addUser("erin@example.com")
		g1, g2, alices := fx.createGrant(c, erin), fx.createGrant(other, erin), fx.createGrant(c, alice)
		before := len(fx.eventsOf(keysmith.EventGrantRevoked))
		_, all := fx.published(func() {
			if _, err := fx.db.UpdateUser(fx.ctx, erin.ID, keysmith.UserUpdate{Status: ptr(keysmith.UserInactive)}); err != nil {
				t.Fatalf("UpdateUser deactivating: %v", err)
			}
		})
		var deactivated int64
		for _, r := range fx.events() {
			if ev := r.event(t); ev.Type == keysmith.EventUserDeactivated && len(ev.Targets) > 0 && ev.Targets[0].ID == erin.ID {
				deactivated = r.Seq
			}
		}
		if !fx.grantRevoked(g1) || !fx.grantRevoked(g2) || fx.grantRevoked(alices) {
			t.Errorf("after deactivation: the user's grants revoked %v %v, another's %v; want true true false",
				fx.grantRevoked(g1), fx.grantRevoked(g2), fx.grantRevoked(alices))
		}
		for _, ch := range append(g1.accessChanges(), g2.accessChanges()...) {
			if count(all, ch) != 1 {
				t.Errorf("change %+v published %d times, want once", ch, count(all, ch))
			}
		}
		fx.wantGrantEvents(before, keysmith.GrantRevokedUser, clientOf(map[*grant]*keysmith.Client{g1: c, g2: other}), g1.id, g2.id)
		for _, ev := range fx.eventsOf(keysmith.EventGrantRevoked)[before:] {
			if deactivated == 0 || ev.Seq <= deactivated {
				t.Errorf("oauth_grant.revoked (seq %d) not recorded after user.deactivated (seq %d)", ev.Seq, deactivated)
			}
		}

		events := fx.count("events")
		if err := fx.db.RevokeUserGrants(fx.ctx, erin.ID); err != nil {
			t.Fatalf("RevokeUserGrants after deactivation: %v", err)
		}
		if n := fx.count("events"); n != events {
			t.Errorf("RevokeUserGrants of a user without live grants recorded %d events, want none", n-events)
		}
	})

	t.Run("RevokeUserGrantsRevokesEveryGrantOfTheUserOnly", func(t *testing.T) {
		fx := fx.in(t)
		frank := fx.addUser("frank@example.com")
		g1, g2, alices := fx.createGrant(c, frank), fx.createGrant(other, frank), fx.createGrant(other, alice)
		before := len(fx.eventsOf(keysmith.EventGrantRevoked))
		if err := fx.db.RevokeUserGrants(fx.ctx, frank.ID); err != nil {
			t.Fatalf("RevokeUserGrants: %v", err)
		}
		if !fx.grantRevoked(g1) || !fx.grantRevoked(g2) || fx.grantRevoked(alices) {
			t.Errorf("after RevokeUserGrants: the user's grants revoked %v %v, another's %v; want true true false",
				fx.grantRevoked(g1), fx.grantRevoked(g2), fx.grantRevoked(alices))
		}
		if n := len(fx.eventsOf(keysmith.EventGrantRevoked)) - before; n != 2 {
			t.Errorf("RevokeUserGrants recorded %d oauth_grant.revoked events, want 2", n)
		}
	})
}

// testPruneAuthorizationsDeletesOnlyExpiredCodesAndRefreshTokens: codes
// past their expiry, refresh tokens past their grant's end or idle expiry
// are deleted, in batches; the rest stays.
func testPruneAuthorizationsDeletesOnlyExpiredCodesAndRefreshTokens(t *testing.T, fx *fixture) {
	alice := fx.addUser("alice@example.com")
	c, _ := fx.createClient(alice, "")
	start := fx.clock.Now()
	var expiredCodes, liveCodes []keysmith.Hash
	for i := range 2*testBatch + 1 {
		_, h := fx.createCode(c, alice)
		expiredCodes = append(expiredCodes, h)
		if i < 2 {
			fx.clock.Advance(time.Second)
		}
	}
	var expired, live []keysmith.Hash
	for i := range 2*testBatch + 1 {
		rt, _, h := fx.newRefreshToken(keysmith.NewID("cod"), c, alice)
		if i%2 == 0 {
			rt.ExpiresAt = start.Add(time.Minute) // the grant ended
		} else {
			rt.IdleExpiresAt = start.Add(time.Minute) // unused too long
		}
		if err := fx.db.CreateRefreshToken(fx.ctx, rt, h); err != nil {
			t.Fatalf("CreateRefreshToken: %v", err)
		}
		expired = append(expired, h)
	}
	fx.clock.Advance(time.Hour)
	for range 3 {
		_, h := fx.createCode(c, alice)
		liveCodes = append(liveCodes, h)
		rt, _, rh := fx.newRefreshToken(keysmith.NewID("cod"), c, alice)
		if err := fx.db.CreateRefreshToken(fx.ctx, rt, rh); err != nil {
			t.Fatalf("CreateRefreshToken: %v", err)
		}
		live = append(live, rh)
	}
	events := fx.count("events")
	want := int64(len(expiredCodes) + len(expired))
	n, err := fx.db.PruneAuthorizations(fx.ctx, fx.clock.Now())
	if err != nil || n != want {
		t.Fatalf("PruneAuthorizations = %d, %v; want %d", n, err, want)
	}
	for _, h := range expired {
		if _, err := fx.db.FindRefreshTokenByHash(fx.ctx, h); keysmith.ErrorCode(err) != keysmith.CodeNotFound {
			t.Errorf("an expired refresh token is still there: %v", err)
		}
	}
	for _, h := range expiredCodes {
		if _, err := fx.db.RedeemAuthorizationCode(fx.ctx, h, fx.clock.Now(), keysmith.GrantTokens{}); keysmith.ErrorCode(err) != keysmith.CodeNotFound {
			t.Errorf("an expired code is still there: %v", err)
		}
	}
	for _, h := range live {
		if _, err := fx.db.FindRefreshTokenByHash(fx.ctx, h); err != nil {
			t.Errorf("a live refresh token was pruned: %v", err)
		}
	}
	for _, h := range liveCodes {
		if _, err := fx.db.RedeemAuthorizationCode(fx.ctx, h, fx.clock.Now(), keysmith.GrantTokens{}); err != nil {
			t.Errorf("a live code was pruned: %v", err)
		}
	}
	if n := fx.count("events"); n != events {
		t.Errorf("pruning recorded %d events, want none", n-events)
	}
	if n, err := fx.db.PruneAuthorizations(fx.ctx, fx.clock.Now()); err != nil || n != 0 {
		t.Errorf("second PruneAuthorizations = %d, %v; want 0", n, err)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
