package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/keysmith/keysmith"
)

// IDTokenTTL is the lifetime of an ID token: it tells the client who signed
// in, and is not meant to be kept.
const IDTokenTTL = time.Hour

// idClaims are an ID token's claims (OpenID Connect Core §2, §5.1).
type idClaims struct {
	Issuer        string `json:"iss"`
	Subject       string `json:"sub"`
	Audience      string `json:"aud"`
	Expiry        int64  `json:"exp"`
	IssuedAt      int64  `json:"iat"`
	AuthTime      int64  `json:"auth_time"`
	Nonce         string `json:"nonce,omitempty"`
	AtHash        string `json:"at_hash,omitempty"`
	Azp           string `json:"azp"`
	Name          string `json:"name,omitempty"`
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
}

// idToken signs an ID token for u, with the profile and email claims their
// scopes allow. There is no acr: Keysmith has one way to sign in (a
// password), so a level of assurance would say nothing.
func (a *Authority) idToken(ctx context.Context, c *keysmith.Client, u *keysmith.User, scopes []string, authTime time.Time, nonce, accessToken string) (string, error) {
	key := a.keySet(ctx).current
	if key == nil || key.idSigner == nil {
		return "", keysmith.Errorf(keysmith.CodeInternal, "no signing key")
	}
	now := a.now()
	cl := idClaims{Issuer: a.issuer, Subject: u.ID, Audience: c.ID, Expiry: now.Add(IDTokenTTL).Unix(),
		IssuedAt: now.Unix(), AuthTime: authTime.Unix(), Nonce: nonce, Azp: c.ID,
		AtHash: halfHash(key.meta.Algorithm, accessToken)}
	profile(&cl, u, scopes)
	return jwt.Signed(key.idSigner).Claims(cl).Serialize()
}

// profile adds the claims of the profile and email scopes.
func profile(cl *idClaims, u *keysmith.User, scopes []string) {
	if slices.Contains(scopes, "profile") {
		cl.Name = u.Name
	}
	if slices.Contains(scopes, "email") {
		cl.Email = u.Email
		// Keysmith does not prove that a person receives mail there: an
		// admin typed the address.
		f := false
		cl.EmailVerified = &f
	}
}

// halfHash is at_hash (OpenID Connect Core §3.1.3.6): the left half of the
// hash of the access token, with the hash of the signing algorithm
// (SHA-512 for EdDSA with Ed25519).
func halfHash(alg, token string) string {
	var h hash.Hash = sha256.New()
	if alg == string(jose.EdDSA) {
		h = sha512.New()
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// IDTokenHint reads an id_token_hint (OpenID Connect RP-Initiated Logout
// §2): the client (aud) and person (sub) of an ID token Keysmith signed,
// expired or not; ok false if it is not one.
func (a *Authority) IDTokenHint(ctx context.Context, raw string) (clientID, userID string, ok bool) {
	if len(raw) > 8192 || strings.Count(raw, ".") != 2 {
		return "", "", false
	}
	tok, err := jwt.ParseSigned(raw, algs)
	if err != nil || len(tok.Headers) != 1 {
		return "", "", false
	}
	hdr := tok.Headers[0]
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); typ != "JWT" {
		return "", "", false
	}
	key := a.keySet(ctx).byKID[hdr.KeyID]
	if key == nil || key.meta.Algorithm != hdr.Algorithm {
		return "", "", false
	}
	var cl idClaims
	if err := tok.Claims(key.public.Key, &cl); err != nil || cl.Issuer != a.issuer || cl.Audience == "" {
		return "", "", false
	}
	return cl.Audience, cl.Subject, true
}

// UserInfo answers the userinfo endpoint (OpenID Connect Core §5.3) for an
// access token: active, acting for a person, with the openid scope.
func (a *Authority) UserInfo(ctx context.Context, raw string) (map[string]any, error) {
	ch, err := a.CheckAccessToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	if ch.Status != Active || ch.Token.UserID == "" {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_token", "the access token is not active or does not act for a person")
	}
	scopes := strings.Fields(ch.Token.Scope)
	if !slices.Contains(scopes, "openid") {
		return nil, oauthErr(http.StatusForbidden, "insufficient_scope", "the access token lacks the openid scope")
	}
	u, err := a.person(ctx, ch.Token.UserID)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_token", "the person is gone")
	}
	var cl idClaims
	profile(&cl, u, scopes)
	out := map[string]any{"sub": u.ID}
	if cl.Name != "" {
		out["name"] = cl.Name
	}
	if cl.Email != "" {
		out["email"], out["email_verified"] = cl.Email, false
	}
	return out, nil
}
