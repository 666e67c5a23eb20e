package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// newAccessToken returns an unsaved access token of client, issued now and
// expiring in ttl.
func (fx *fixture) newAccessToken(c *keysmith.Client, format keysmith.TokenFormat, ttl time.Duration) *keysmith.AccessToken {
	now := fx.clock.Now()
	return &keysmith.AccessToken{ID: keysmith.NewID("jti"), Format: format, ClientID: c.ID, AppID: c.AppID,
		Environment: c.Environment, Scope: "read write", Audience: c.Audience, IssuedAt: now, ExpiresAt: ptr(now.Add(ttl))}
}

// testAccessTokens: every AccessTokenStore method (pruning has its own
// case in expiry.go) and its error codes.
func testAccessTokens(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	c, _ := fx.createClient(owner, "")

	t.Run("CreateAccessTokenRoundTripsEveryField", func(t *testing.T) {
		fx := fx.in(t)
		at := fx.newAccessToken(c, keysmith.FormatOpaque, time.Hour)
		_, h := keysmith.NewAPITokenSecret()
		events := fx.count("events")
		if err := fx.db.CreateAccessToken(fx.ctx, at, h); err != nil {
			t.Fatalf("CreateAccessToken: %v", err)
		}
		got, err := fx.db.FindAccessTokenByHash(fx.ctx, h)
		if err != nil {
			t.Fatalf("FindAccessTokenByHash: %v", err)
		}
		if diff := cmp.Diff(at, got); diff != "" {
			t.Errorf("FindAccessTokenByHash (-created +read):\n%s", diff)
		}
		if n := fx.count("events"); n != events {
			t.Errorf("issuing an access token recorded %d events, want none", n-events)
		}
		_, unknown := keysmith.NewAPITokenSecret()
		_, err = fx.db.FindAccessTokenByHash(fx.ctx, unknown)
		wantCode(t, "FindAccessTokenByHash of an unknown hash", err, keysmith.CodeNotFound)
	})

	t.Run("AccessTokensOfAGrantKeepTheirUserAndGrantAndAJWTIsStoredWithoutHash", func(t *testing.T) {
		fx := fx.in(t)
		opaque := fx.newAccessToken(c, keysmith.FormatOpaque, time.Hour)
		opaque.UserID, opaque.GrantID = owner.ID, "cod_grant"
		_, h := keysmith.NewOpaqueAccessToken()
		if err := fx.db.CreateAccessToken(fx.ctx, opaque, h); err != nil {
			t.Fatalf("CreateAccessToken: %v", err)
		}
		got, err := fx.db.FindAccessTokenByHash(fx.ctx, h)
		if diff := cmp.Diff(opaque, got); err != nil || diff != "" {
			t.Errorf("FindAccessTokenByHash: %v (-created +read):\n%s", err, diff)
		}
		for range 2 { // two: a zero hash is no hash, not a value that must be unique
			jwt := fx.newAccessToken(c, keysmith.FormatJWT, time.Hour)
			jwt.UserID, jwt.GrantID = owner.ID, "cod_grant"
			if err := fx.db.CreateAccessToken(fx.ctx, jwt, keysmith.Hash{}); err != nil {
				t.Fatalf("CreateAccessToken of a JWT without hash: %v", err)
			}
			var hashed int
			if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*) FROM oauth_tokens WHERE id = $1 AND hash IS NOT NULL`,
				jwt.ID).Scan(&hashed); err != nil || hashed != 0 {
				t.Errorf("the JWT was stored with a hash (%d rows, %v)", hashed, err)
			}
		}
		_, err = fx.db.FindAccessTokenByHash(fx.ctx, keysmith.Hash{})
		wantCode(t, "FindAccessTokenByHash of the zero hash", err, keysmith.CodeNotFound)
	})

	t.Run("RevokeAccessTokenIsIdempotent", func(t *testing.T) {
		fx := fx.in(t)
		at := fx.newAccessToken(c, keysmith.FormatOpaque, time.Hour)
		_, h := keysmith.NewAPITokenSecret()
		if err := fx.db.CreateAccessToken(fx.ctx, at, h); err != nil {
			t.Fatal(err)
		}
		fx.clock.Advance(time.Minute)
		revokedAt := fx.clock.Now()
		if err := fx.db.RevokeAccessToken(fx.ctx, at); err != nil {
			t.Fatalf("RevokeAccessToken: %v", err)
		}
		fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeAccessToken, ID: at.ID})
		fx.clock.Advance(time.Minute)
		events := fx.count("events")
		again := *at
		again.RevokedAt = nil
		if err := fx.db.RevokeAccessToken(fx.ctx, &again); err != nil {
			t.Fatalf("second RevokeAccessToken: %v", err)
		}
		if n := fx.count("events"); n != events {
			t.Errorf("second RevokeAccessToken recorded %d events, want none", n-events)
		}
		got, err := fx.db.FindAccessTokenByHash(fx.ctx, h)
		if err != nil || got.RevokedAt == nil || !got.RevokedAt.Equal(revokedAt) ||
			again.RevokedAt == nil || !again.RevokedAt.Equal(revokedAt) {
			t.Errorf("after two revocations: stored %+v (%v), second returned %v; want both revoked at the first, %v",
				got, err, again.RevokedAt, revokedAt)
		}
	})

	t.Run("RevokingAnUnstoredJWTStoresItRevokedUntilItExpires", func(t *testing.T) {
		fx := fx.in(t)
		jwt := fx.newAccessToken(c, keysmith.FormatJWT, time.Hour)
		if err := fx.db.RevokeAccessToken(fx.ctx, jwt); err != nil {
			t.Fatalf("RevokeAccessToken of a JWT: %v", err)
		}
		ids, err := fx.db.FindRevokedAccessTokens(fx.ctx, fx.clock.Now())
		if err != nil || !slices.Contains(ids, jwt.ID) {
			t.Errorf("FindRevokedAccessTokens = %v, %v; want it to hold %s", ids, err, jwt.ID)
		}
		ids, err = fx.db.FindRevokedAccessTokens(fx.ctx, jwt.ExpiresAt.Add(time.Second))
		if err != nil || slices.Contains(ids, jwt.ID) {
			t.Errorf("FindRevokedAccessTokens after its expiry = %v, %v; want it gone", ids, err)
		}
	})
}
