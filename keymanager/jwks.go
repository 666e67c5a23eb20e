package keymanager

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/verify"
)

var b64 = base64.RawURLEncoding

// jwtAlgs are the signature algorithms accepted from key managers: the
// asymmetric ones only. "none" and the HMAC algorithms are never accepted
// (a public key set cannot vouch for them), which go-jose enforces by
// refusing any algorithm not listed here before looking at a key.
var jwtAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// keySet is a manager's published keys as last fetched. Fetches are
// serialised by mu, so concurrent misses share one; readers use the
// current set without waiting.
type keySet struct {
	mu          sync.Mutex
	set         atomic.Pointer[jose.JSONWebKeySet]
	fetchedAt   atomic.Int64 // unix µs of the last successful fetch
	attemptedAt atomic.Int64 // unix µs of the last fetch, successful or not
}

// jwtClaims are the claims Keysmith reads from an external access token.
type jwtClaims struct {
	jwt.Claims
	ClientID string      `json:"client_id"` // RFC 9068
	CID      string      `json:"cid"`       // Okta
	AZP      string      `json:"azp"`       // Keycloak, OpenID Connect
	Scope    spaceOrList `json:"scope"`
	SCP      spaceOrList `json:"scp"` // Okta
}

// verifyJWT checks a JWT whose unverified iss is iss: routed to the
// manager with that issuer (none: NOT_FOUND, and no call), then its
// signature against the manager's key set, its issuer, audience and
// times. A verified token is remembered by hash until the managers change.
func (v *Verifier) verifyJWT(ctx context.Context, set *managerSet, raw, iss string, now time.Time) (Result, error) {
	m := set.byIssuer[iss]
	switch {
	case m == nil:
		return Result{Code: verify.NotFound}, nil
	case !m.Enabled:
		return Result{Code: verify.Disabled, KeyManagerID: m.ID}, nil
	}
	h := keysmith.HashOf(raw)
	v.mu.Lock()
	info := v.jwts[h]
	gen := v.gen
	v.mu.Unlock()
	if info == nil || info.managerID != m.ID {
		var code verify.Code
		info, code = v.checkJWT(ctx, m, raw, now)
		if info == nil {
			return Result{Code: code, KeyManagerID: m.ID}, nil
		}
		v.mu.Lock()
		if v.gen == gen {
			if len(v.jwts) >= v.size {
				clear(v.jwts)
			}
			v.jwts[h] = info
		}
		v.mu.Unlock()
	}
	return v.finish(ctx, set, info, now)
}

// checkJWT verifies raw's signature and claims for manager m; nil and the
// code to answer when they do not hold. An expired token is answered
// EXPIRED only once its signature is known good.
func (v *Verifier) checkJWT(ctx context.Context, m *keysmith.KeyManager, raw string, now time.Time) (*tokenInfo, verify.Code) {
	tok, err := jwt.ParseSigned(raw, jwtAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, verify.Malformed
	}
	hdr := tok.Headers[0]
	key := v.key(ctx, m, hdr.KeyID, hdr.Algorithm, now)
	if key == nil {
		return nil, verify.NotFound
	}
	var c jwtClaims
	if err := tok.Claims(key, &c); err != nil {
		return nil, verify.NotFound
	}
	if c.Issuer != m.Issuer || !c.Audience.Contains(m.ExpectedAudience()) || c.Expiry == nil {
		return nil, verify.NotFound
	}
	if c.NotBefore != nil && c.NotBefore.Time().After(now.Add(v.leeway)) {
		return nil, verify.NotFound
	}
	if c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(v.leeway)) {
		return nil, verify.NotFound
	}
	info := &tokenInfo{managerID: m.ID, clientID: firstNonEmpty(c.ClientID, c.CID, c.AZP),
		scopes: c.Scope, subject: c.Subject, jti: c.ID, exp: c.Expiry.Time().UTC()}
	if len(info.scopes) == 0 {
		info.scopes = c.SCP
	}
	if info.scopes == nil {
		info.scopes = []string{}
	}
	if c.IssuedAt != nil {
		info.iat = c.IssuedAt.Time().UTC()
	}
	return info, ""
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// key returns the public key of manager m with kid for alg, fetching the
// manager's key set when none is held, when it is older than KeysMaxAge,
// or when it lacks kid (at most once per MinRefetch); nil if there is none.
func (v *Verifier) key(ctx context.Context, m *keysmith.KeyManager, kid, alg string, now time.Time) any {
	ks := v.keySetOf(m.ID)
	set := ks.set.Load()
	if set != nil && now.UnixMicro()-ks.fetchedAt.Load() < v.keysAge.Microseconds() {
		if k := pick(set, kid, alg); k != nil {
			return k
		}
	}
	set = v.fetch(ctx, ks, m, set, now)
	if set == nil {
		return nil
	}
	return pick(set, kid, alg)
}

// keySetOf returns manager id's key set, made empty on first use.
func (v *Verifier) keySetOf(id string) *keySet {
	v.mu.Lock()
	defer v.mu.Unlock()
	ks := v.keys[id]
	if ks == nil {
		ks = &keySet{}
		v.keys[id] = ks
	}
	return ks
}

// fetch reads m's key set unless another request did since seen was
// current, or a read was attempted less than MinRefetch ago; it returns
// the set to use (the old one when the read fails).
func (v *Verifier) fetch(ctx context.Context, ks *keySet, m *keysmith.KeyManager, seen *jose.JSONWebKeySet, now time.Time) *jose.JSONWebKeySet {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	cur := ks.set.Load()
	if cur != seen { // another request fetched while this one waited
		return cur
	}
	if last := ks.attemptedAt.Load(); last != 0 && now.UnixMicro()-last < v.refetch.Microseconds() {
		return cur
	}
	ks.attemptedAt.Store(now.UnixMicro())
	var fresh jose.JSONWebKeySet
	if err := v.http.GetJSON(ctx, m.JWKSURI, &fresh); err != nil {
		v.log.WarnContext(ctx, "reading a key manager's key set failed", "key_manager", m.ID, "err", err)
		return cur
	}
	ks.set.Store(&fresh)
	ks.fetchedAt.Store(now.UnixMicro())
	// Tokens verified with a key the manager no longer publishes must not
	// outlive it in memory: verify them again.
	v.mu.Lock()
	clear(v.jwts)
	v.mu.Unlock()
	return &fresh
}

// pick returns the public signing key with kid that can check alg: an
// RSA, EC or Ed25519 public key, never a symmetric one. Without kid, the
// set's only signing key.
func pick(set *jose.JSONWebKeySet, kid, alg string) any {
	var cands []jose.JSONWebKey
	if kid != "" {
		cands = set.Key(kid)
	} else {
		cands = slices.Clone(set.Keys)
	}
	cands = slices.DeleteFunc(cands, func(k jose.JSONWebKey) bool {
		return k.Use == "enc" || (k.Algorithm != "" && k.Algorithm != alg) || publicKey(k) == nil
	})
	if len(cands) != 1 {
		return nil
	}
	return publicKey(cands[0])
}

func publicKey(k jose.JSONWebKey) any {
	switch p := k.Key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return p
	}
	return nil
}
