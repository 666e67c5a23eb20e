package oauth

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/keysmith/keysmith"
)

// Error is an OAuth error response (RFC 6749 §5.2): a registered code, a
// description safe to show, and the HTTP status.
type Error struct {
	Code        string
	Description string
	Status      int
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func oauthErr(status int, code, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: status}
}

// errInvalidClient is the one answer to every failed client
// authentication, so that it reveals nothing about which part was wrong.
var errInvalidClient = oauthErr(http.StatusUnauthorized, "invalid_client",
	"client authentication failed: unknown client, wrong or expired secret, or revoked client")

// AuthenticateClient checks a client's id and secret against the cached
// client: SHA-256 of the presented secret, compared in constant time with
// each unexpired secret's hash.
func (a *Authority) AuthenticateClient(ctx context.Context, id, secret string) (*keysmith.Client, error) {
	if id == "" && secret == "" {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client",
			"no client credentials: send client_id and client_secret by HTTP Basic or in the form body")
	}
	// Checked before any lookup: no store could hold such an id or secret,
	// and PostgreSQL would refuse to compare with one that is not text.
	if id == "" || secret == "" || len(id) > 100 || len(secret) > 200 ||
		!keysmith.ValidText(id) || !keysmith.ValidText(secret) {
		return nil, errInvalidClient
	}
	// The form (ksc_ with its checksum, or a kss_ secret issued before)
	// turns away typos and garbage before any lookup.
	h, ok := keysmith.ParseClientSecret(secret)
	if !ok {
		return nil, errInvalidClient
	}
	e, err := a.client(ctx, id)
	if err != nil {
		return nil, err
	}
	if e == nil || e.client.RevokedAt != nil {
		return nil, errInvalidClient
	}
	now := a.now()
	ok = false
	for _, s := range e.secrets {
		if h.Equal(s.Hash) && (s.ExpiresAt == nil || now.Before(*s.ExpiresAt)) {
			ok = true
		}
	}
	if !ok {
		return nil, errInvalidClient
	}
	if !e.ownerActive {
		// Said only to a caller who proved the secret.
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client",
			"the client's owner is deactivated, so the client issues no tokens until an admin activates the owner again")
	}
	return e.client, nil
}

// Issued is a new access token and what the token response says of it.
type Issued struct {
	Token  keysmith.Secret
	Record *keysmith.AccessToken
	// ExpiresIn is the lifetime in seconds; 0 for a token that never expires.
	ExpiresIn int64
}

// claims are the JWT access token claims of RFC 9068, plus env and app_id.
type claims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	ID       string `json:"jti"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Env      string `json:"env"`
	AppID    string `json:"app_id,omitempty"`
}

// IssueClientCredentials issues an access token to an authenticated client
// for the requested scope (space-separated; "" means all of the client's).
func (a *Authority) IssueClientCredentials(ctx context.Context, c *keysmith.Client, scope string) (*Issued, error) {
	if !slices.Contains(c.GrantTypes, keysmith.GrantClientCredentials) {
		return nil, oauthErr(http.StatusBadRequest, "unauthorized_client", "this client may not use the client_credentials grant")
	}
	requested, err := a.grantedScopes(ctx, c, scope)
	if err != nil {
		return nil, err
	}
	out, err := a.issue(ctx, c, "", "", requested)
	if err == nil {
		a.issued[issuedClientCredentials].Add(1)
	}
	return out, err
}

// The grants counted by Issued, in the order of IssuedGrants.
const (
	issuedClientCredentials = iota
	issuedAuthorizationCode
	issuedRefreshToken
)

// IssuedGrants names the grants whose access tokens Issued counts.
var IssuedGrants = [...]string{keysmith.GrantClientCredentials, keysmith.GrantAuthorizationCode, keysmith.GrantRefreshToken}

// Issued returns how many access tokens the token endpoint (and the
// console's client tokens) issued since the Authority was made, per grant
// in the order of IssuedGrants, for metrics.
func (a *Authority) Issued() [len(IssuedGrants)]uint64 {
	var out [len(IssuedGrants)]uint64
	for i := range out {
		out[i] = a.issued[i].Load()
	}
	return out
}

// issue makes an access token for the client itself and stores it if it
// is opaque (a client's JWT is its own record until revoked).
func (a *Authority) issue(ctx context.Context, c *keysmith.Client, userID, grantID string, scopes []string) (*Issued, error) {
	out, hash, err := a.mint(ctx, c, userID, grantID, scopes)
	if err != nil {
		return nil, err
	}
	if c.TokenFormat == keysmith.FormatOpaque {
		if err := a.store.CreateAccessToken(ctx, out.Record, hash); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// maxPersonTokenTTL bounds the lifetime of an access token acting for a
// person, whatever the client's token lifetime: the grant's refresh token
// renews it, and an API that checks a JWT offline accepts it until it
// expires, however its grant was revoked.
const maxPersonTokenTTL = keysmith.DefaultAccessTokenTTL

// mint makes an access token for c with the scopes, for the client itself
// (userID "") or for a person under a grant, without storing it: the hash
// is an opaque token's (zero for a JWT). A person's tokens always expire,
// after the client's lifetime but at most maxPersonTokenTTL (an hour).
func (a *Authority) mint(ctx context.Context, c *keysmith.Client, userID, grantID string, scopes []string) (*Issued, keysmith.Hash, error) {
	now := a.now()
	t := &keysmith.AccessToken{ID: keysmith.NewID("at"), Format: c.TokenFormat, ClientID: c.ID, AppID: c.AppID,
		Environment: c.Environment, Scope: strings.Join(scopes, " "), Audience: c.Audience, IssuedAt: now,
		UserID: userID, GrantID: grantID}
	if t.Audience == "" {
		t.Audience = a.issuer
	}
	out := &Issued{Record: t}
	ttl := c.TokenTTL
	if userID != "" && ttl < 0 {
		ttl = keysmith.DefaultAccessTokenTTL
	}
	if userID != "" && ttl > maxPersonTokenTTL {
		ttl = maxPersonTokenTTL
	}
	if ttl >= 0 {
		exp := now.Add(ttl).Truncate(time.Second)
		t.ExpiresAt = &exp
		out.ExpiresIn = int64(ttl / time.Second)
	}
	if c.TokenFormat == keysmith.FormatOpaque {
		secret, hash := keysmith.NewOpaqueAccessToken()
		out.Token = secret
		return out, hash, nil
	}
	key := a.keySet(ctx).current
	if key == nil || t.ExpiresAt == nil {
		return nil, keysmith.Hash{}, keysmith.Errorf(keysmith.CodeInternal, "no signing key or no expiry for a JWT")
	}
	sub := c.ID
	if userID != "" {
		sub = userID
	}
	raw, err := jwt.Signed(key.signer).Claims(claims{Issuer: a.issuer, Subject: sub, Audience: t.Audience,
		Expiry: t.ExpiresAt.Unix(), IssuedAt: now.Unix(), ID: t.ID, ClientID: c.ID, Scope: t.Scope,
		Env: string(c.Environment), AppID: c.AppID}).Serialize()
	if err != nil {
		return nil, keysmith.Hash{}, err
	}
	out.Token = keysmith.NewSecret(raw)
	return out, keysmith.Hash{}, nil
}

// grantedScopes decides the scopes of a token: the requested ones (all
// the client's when none is), each of them the client's and granted to it
// (a registered scope given under the grant rules, or a built-in one). A
// client made before scopes were registered may name scopes it was never
// granted, even ones registered since: asking for one is invalid_scope, and
// asking for none leaves them out, until an admin (or, for a self-service
// scope, the owner) grants it with PATCH.
func (a *Authority) grantedScopes(ctx context.Context, c *keysmith.Client, scope string) ([]string, error) {
	requested := strings.Fields(scope)
	asked := len(requested) > 0
	if !asked {
		requested = c.Scopes
	} else if !c.AllowsScope(requested) {
		return nil, oauthErr(http.StatusBadRequest, "invalid_scope",
			"the requested scope is not a subset of the client's scopes ("+strings.Join(c.Scopes, " ")+")")
	}
	requested = dedupe(requested)
	grants, err := a.store.FindScopeGrants(ctx, []string{c.ID})
	if err != nil {
		return nil, err
	}
	out := requested[:0]
	for _, s := range requested {
		if _, builtin := keysmith.BuiltinScope(s); builtin || slices.Contains(grants[c.ID], s) {
			out = append(out, s)
		} else if asked {
			return nil, oauthErr(http.StatusBadRequest, "invalid_scope",
				"scope \""+s+"\" was never granted to this client (it named it before scopes were registered), so it is not issued; an admin may grant it with PATCH /v1/oauth/clients/{id}")
		}
	}
	return out, nil
}

func dedupe(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Status is the outcome of checking an access token; the values are the
// codes verify answers for API tokens.
type Status string

// The statuses.
const (
	Active    Status = "VALID"
	Malformed Status = "MALFORMED"
	NotFound  Status = "NOT_FOUND"
	Expired   Status = "EXPIRED"
	Revoked   Status = "REVOKED"
	// OwnerInactive: the client's owner is deactivated. The token is
	// active again if the owner is activated before it expires.
	OwnerInactive Status = "OWNER_INACTIVE"
)

// Check is what checking an access token found.
type Check struct {
	Status Status
	Token  *keysmith.AccessToken // nil unless the token is one of ours
}

// LooksLikeAccessToken reports whether raw presents itself as an access
// token (an opaque ksa_ token or a compact JWS; see keysmith.Claims), without
// checking it.
func LooksLikeAccessToken(raw string) bool {
	kind, _ := keysmith.Claims(raw)
	return kind == keysmith.CredentialAccessToken || kind == keysmith.CredentialJWT
}

// CheckAccessToken says whether an access token is active, from memory: a
// JWT by its signature (checked once per token, then remembered), the
// revocation set and the cached client; an opaque token from a cache by
// hash. The error is only for failures of the store.
func (a *Authority) CheckAccessToken(ctx context.Context, raw string) (Check, error) {
	t, err := a.lookup(ctx, raw)
	if err != nil || t == nil {
		st := NotFound
		if err == errMalformed {
			st, err = Malformed, nil
		}
		return Check{Status: st}, err
	}
	ch := Check{Token: t}
	a.mu.RLock()
	_, revoked := a.revoked[t.ID]
	a.mu.RUnlock()
	e, err := a.client(ctx, t.ClientID)
	if err != nil {
		return Check{}, err
	}
	personOK := true
	if t.UserID != "" {
		if personOK, err = a.personActive(ctx, t.UserID); err != nil {
			return Check{}, err
		}
	}
	switch {
	case revoked || t.RevokedAt != nil || e == nil || e.client.RevokedAt != nil:
		ch.Status = Revoked
	case t.ExpiresAt != nil && !a.now().Before(*t.ExpiresAt):
		ch.Status = Expired
	case !e.ownerActive || !personOK:
		// A token acting for a deactivated person is refused like one of
		// a deactivated owner's client (its grant was revoked with the
		// deactivation, so it stays refused).
		ch.Status = OwnerInactive
	default:
		ch.Status = Active
	}
	return ch, nil
}

var errMalformed = &Error{Code: "malformed"}

// lookup finds the record of an access token: nil if it is not ours.
func (a *Authority) lookup(ctx context.Context, raw string) (*keysmith.AccessToken, error) {
	if h, ok := keysmith.ParseOpaqueAccessToken(raw); ok {
		return a.opaqueToken(ctx, h)
	}
	if strings.Count(raw, ".") != 2 || len(raw) > 8192 {
		return nil, errMalformed
	}
	h := keysmith.HashOf(raw)
	a.mu.RLock()
	t := a.jwts[h]
	a.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	t, err := a.parseJWT(ctx, a.keySet(ctx), raw)
	if err != nil || t == nil {
		return nil, err
	}
	a.mu.Lock()
	if len(a.jwts) >= 100_000 {
		clear(a.jwts)
	}
	a.jwts[h] = t
	a.mu.Unlock()
	return t, nil
}

var algs = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256}

// parseJWT checks a JWT's form, type, key, signature and issuer; nil if it
// is not a token Keysmith signed. A kid missing from keys has the keys read
// again first (at most once a second): it may be a key another replica has
// just made.
func (a *Authority) parseJWT(ctx context.Context, keys *keySet, raw string) (*keysmith.AccessToken, error) {
	tok, err := jwt.ParseSigned(raw, algs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, errMalformed
	}
	hdr := tok.Headers[0]
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") {
		return nil, nil
	}
	if keys.byKID[hdr.KeyID] == nil {
		if fresh := a.keySetWithKID(ctx, hdr.KeyID); fresh != nil {
			keys = fresh
		}
	}
	key := keys.byKID[hdr.KeyID]
	if key == nil || key.meta.Algorithm != hdr.Algorithm {
		return nil, nil
	}
	var c claims
	if err := tok.Claims(key.public.Key, &c); err != nil || c.Issuer != a.issuer || c.ID == "" {
		return nil, nil
	}
	exp := time.Unix(c.Expiry, 0).UTC()
	t := &keysmith.AccessToken{ID: c.ID, Format: keysmith.FormatJWT, ClientID: c.ClientID, AppID: c.AppID,
		Environment: keysmith.Environment(c.Env), Scope: c.Scope, Audience: c.Audience,
		IssuedAt: time.Unix(c.IssuedAt, 0).UTC(), ExpiresAt: &exp}
	if c.Subject != c.ClientID { // a person's token (RFC 9068 §2.2: sub is the resource owner)
		t.UserID = c.Subject
	}
	return t, nil
}

// opaqueToken returns the cached record of an opaque token; nil if unknown.
func (a *Authority) opaqueToken(ctx context.Context, h keysmith.Hash) (*keysmith.AccessToken, error) {
	now := a.now()
	a.mu.RLock()
	t := a.opaque[h]
	negUntil, isNeg := a.negTok[h]
	gen := a.gen
	a.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	if isNeg && now.Before(negUntil) {
		return nil, nil
	}
	t, err := a.store.FindAccessTokenByHash(ctx, h)
	switch keysmith.ErrorCode(err) {
	case "":
	case keysmith.CodeNotFound:
		a.mu.Lock()
		if len(a.negTok) >= 100_000 {
			clear(a.negTok)
		}
		a.negTok[h] = now.Add(negativeTTL)
		a.mu.Unlock()
		return nil, nil
	default:
		return nil, err
	}
	a.mu.Lock()
	if a.gen == gen {
		if len(a.opaque) >= 100_000 {
			clear(a.opaque)
			clear(a.opIDs)
		}
		a.opaque[h] = t
		a.opIDs[t.ID] = h
	}
	a.mu.Unlock()
	return t, nil
}

// Revoke revokes an access token (RFC 7009). by is the client asking, or
// nil for an administrator. A token that is not ours, not the client's, or
// no longer active is left alone and is not an error: the answer must not
// tell a caller which tokens exist.
func (a *Authority) Revoke(ctx context.Context, raw string, by *keysmith.Client) error {
	ch, err := a.CheckAccessToken(ctx, raw)
	if err != nil || ch.Token == nil || (ch.Status != Active && ch.Status != OwnerInactive) {
		return err
	}
	if by != nil && ch.Token.ClientID != by.ID {
		return nil
	}
	t := *ch.Token
	return a.store.RevokeAccessToken(ctx, &t)
}
