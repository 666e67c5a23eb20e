package keymanager

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/ratelimit"
	"github.com/keysmith/keysmith/verify"
)

// Source is what the Verifier reads: the key managers, the Keysmith
// clients registered at them, and the changes that make either stale. The
// store implements it.
type Source interface {
	FindKeyManagers(ctx context.Context) ([]*keysmith.KeyManager, error)
	// FindClientByExternalID returns the client registered through
	// Keysmith at manager keyManagerID under the manager's client id;
	// CodeNotFound if none.
	FindClientByExternalID(ctx context.Context, keyManagerID, externalClientID string) (*keysmith.Client, error)
	// FindUserByID returns a user (a mapped client's owner); CodeNotFound
	// if none.
	FindUserByID(ctx context.Context, id string) (*keysmith.User, error)
	Subscribe(f func(keysmith.Change))
}

// Result is what checking a token of an external key manager found. The
// fields beyond Code are set when the token was issued by a known manager
// and its signature (or the manager's introspection) vouches for it.
type Result struct {
	Code         verify.Code
	KeyManagerID string
	// ClientID is the manager's client id (client_id, cid or azp).
	ClientID string
	// KeysmithClientID, AppID and Environment come from the Keysmith client
	// registered at the manager under ClientID; empty when there is none.
	KeysmithClientID string
	AppID            string
	Environment      keysmith.Environment
	// Scopes are the token's scopes, narrowed to the Keysmith client's
	// when there is one: a manager's policy never widens what Keysmith
	// granted.
	Scopes    []string
	Subject   string
	ExpiresAt *time.Time
	IssuedAt  *time.Time
	JTI       string
	// RateLimit is the caller's budget of introspection calls when it
	// was used up (Code RateLimited); nil otherwise.
	RateLimit *ratelimit.Result
}

// Valid reports whether the token may be used.
func (r Result) Valid() bool { return r.Code == verify.Valid }

// VerifierOptions tune a Verifier; the zero value gives the defaults.
type VerifierOptions struct {
	Now keysmith.Clock
	Log *slog.Logger
	// Limiter and Limits bound the introspection calls per source address
	// (the caller's budget of unknown-token lookups, the same key verify
	// counts its database lookups against). Default: in process, with the
	// default limits.
	Limiter ratelimit.Limiter
	Limits  func(ctx context.Context) (keysmith.RateLimits, error)
	// KeysMaxAge is how long a fetched key set is used before it is read
	// again. Default 1 hour.
	KeysMaxAge time.Duration
	// MinRefetch is the least time between two reads of one manager's
	// key set for an unknown kid. Default 1 minute.
	MinRefetch time.Duration
	// Leeway tolerates clock skew in exp, nbf and iat. Default 30 s.
	Leeway time.Duration
	// CacheSize bounds each of the caches (verified JWTs, introspection
	// answers, client mappings); a full cache is emptied. Default 10 000.
	CacheSize int
	// Issuer is Keysmith's own issuer: a JWT claiming it is Keysmith's,
	// never an external manager's, and is not looked at here (whatever
	// manager may have been configured with that issuer).
	Issuer string
}

// MaxTokenLen bounds a token Keysmith will look at.
const MaxTokenLen = 8192

// managerTrust is how long the list of managers is used without being read
// again: a safety net for changes the change feed did not carry.
const managerTrust = 30 * time.Second

// clientTrust and clientNegTrust are how long a client mapping, and the
// absence of one, are trusted (ChangeOAuthClient drops them sooner).
const (
	clientTrust    = 10 * time.Minute
	clientNegTrust = time.Minute
)

// ownerTrust is how long a mapped client's owner's status is trusted
// (ChangeUser drops it sooner).
const ownerTrust = 30 * time.Second

// Verifier checks access tokens issued by enabled external key managers:
// JWTs against the manager's key set, opaque tokens at its introspection
// endpoint. It is safe for concurrent use.
type Verifier struct {
	src     Source
	sealer  keysmith.Sealer
	http    *HTTP
	now     keysmith.Clock
	log     *slog.Logger
	limiter ratelimit.Limiter
	limits  func(ctx context.Context) (keysmith.RateLimits, error)
	keysAge time.Duration
	refetch time.Duration
	leeway  time.Duration
	size    int
	issuer  string

	mu       sync.Mutex
	gen      uint64 // bumped by every change of managers
	clientGn uint64 // bumped by every change of clients
	managers atomic.Pointer[managerSet]
	keys     map[string]*keySet // by manager id
	jwts     map[keysmith.Hash]*tokenInfo
	intros   map[keysmith.Hash]*introEntry
	calls    map[keysmith.Hash]*introCall
	clients  map[clientKey]*clientEntry
	owners   map[string]*ownerEntry
	ownerGn  uint64 // bumped by every change of users
}

type ownerEntry struct {
	active   bool
	loadedAt time.Time
}

// managerSet is a snapshot of the managers, by issuer.
type managerSet struct {
	byIssuer map[string]*keysmith.KeyManager // enabled first when two share one
	byID     map[string]*keysmith.KeyManager
	// intro: enabled, with introspection credentials and an opaque token
	// prefix, longest prefix first.
	intro    []*keysmith.KeyManager
	loadedAt time.Time
}

// introspector returns the one manager an opaque token may be sent to:
// the enabled manager with introspection whose opaque_token_prefix raw
// starts with, the longest; nil when none.
func (s *managerSet) introspector(raw string) *keysmith.KeyManager {
	for _, m := range s.intro {
		if strings.HasPrefix(raw, m.OpaqueTokenPrefix) {
			return m
		}
	}
	return nil
}

// tokenInfo is what a token says, once its signature (or its manager's
// introspection) vouched for it; cached by the token's hash.
type tokenInfo struct {
	managerID string
	clientID  string
	scopes    []string
	subject   string
	jti       string
	exp       time.Time // zero: the answer named none (introspection only)
	iat       time.Time
}

type clientKey struct{ manager, client string }

type clientEntry struct {
	client   *keysmith.Client // nil: none
	loadedAt time.Time
}

// NewVerifier returns a Verifier reading src, opening introspection secrets
// with sealer and calling out through h, subscribed to src's changes.
func NewVerifier(src Source, sealer keysmith.Sealer, h *HTTP, opt VerifierOptions) *Verifier {
	if opt.Now == nil {
		opt.Now = keysmith.SystemClock
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Limiter == nil {
		opt.Limiter = ratelimit.NewLocal(opt.Now)
	}
	if opt.Limits == nil {
		opt.Limits = func(context.Context) (keysmith.RateLimits, error) { return keysmith.DefaultRateLimits(), nil }
	}
	if opt.KeysMaxAge <= 0 {
		opt.KeysMaxAge = time.Hour
	}
	if opt.MinRefetch <= 0 {
		opt.MinRefetch = time.Minute
	}
	if opt.Leeway <= 0 {
		opt.Leeway = 30 * time.Second
	}
	if opt.CacheSize <= 0 {
		opt.CacheSize = 10_000
	}
	v := &Verifier{src: src, sealer: sealer, http: h, now: opt.Now, log: opt.Log,
		limiter: opt.Limiter, limits: opt.Limits, keysAge: opt.KeysMaxAge, refetch: opt.MinRefetch,
		leeway: opt.Leeway, size: opt.CacheSize, issuer: strings.TrimRight(opt.Issuer, "/"), owners: map[string]*ownerEntry{},
		keys: map[string]*keySet{}, jwts: map[keysmith.Hash]*tokenInfo{}, intros: map[keysmith.Hash]*introEntry{},
		calls: map[keysmith.Hash]*introCall{}, clients: map[clientKey]*clientEntry{}}
	src.Subscribe(v.invalidate)
	return v
}

// invalidate drops what a committed change made stale. A change of a
// manager drops every manager and what was learned through them (key sets,
// verified tokens, introspection answers), so that a disabled or deleted
// manager's tokens are refused from the next request on. A change of a
// client drops the client mappings. Anything else the verifier does not
// know, a lost change feed included, drops everything.
func (v *Verifier) invalidate(c keysmith.Change) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch c.Kind {
	case keysmith.ChangeOAuthClient:
		v.clientGn++
		clear(v.clients)
		return
	case keysmith.ChangeUser:
		v.ownerGn++
		clear(v.owners)
		return
	case keysmith.ChangeToken, keysmith.ChangeZone, keysmith.ChangeSettings,
		keysmith.ChangeTrustedOrigin, keysmith.ChangeAccessToken, keysmith.ChangeSigningKey:
		return // Keysmith's own credentials: not ours
	case keysmith.ChangeKeyManager:
	default: // ChangeAll, ChangeFeedLost, a kind of a newer version
		v.clientGn++
		clear(v.clients)
		v.ownerGn++
		clear(v.owners)
	}
	v.gen++
	v.managers.Store(nil)
	clear(v.keys)
	clear(v.jwts)
	clear(v.intros)
}

// managerSet returns the managers, reading them when no snapshot is
// trusted.
func (v *Verifier) managerSet(ctx context.Context, now time.Time) (*managerSet, error) {
	if s := v.managers.Load(); s != nil && now.Sub(s.loadedAt) < managerTrust {
		return s, nil
	}
	v.mu.Lock()
	gen := v.gen
	v.mu.Unlock()
	ms, err := v.src.FindKeyManagers(ctx)
	if err != nil {
		return nil, err
	}
	s := &managerSet{byIssuer: map[string]*keysmith.KeyManager{}, byID: map[string]*keysmith.KeyManager{}, loadedAt: now}
	for _, m := range ms {
		s.byID[m.ID] = m
		if old := s.byIssuer[m.Issuer]; old == nil || !old.Enabled {
			s.byIssuer[m.Issuer] = m
		}
		if m.Enabled && m.IntrospectionEndpoint != "" && m.IntrospectionClientID != "" && m.OpaqueTokenPrefix != "" {
			s.intro = append(s.intro, m)
		}
	}
	// Longest prefix first; the store keeps enabled managers' prefixes
	// apart, the id orders any that slipped through.
	slices.SortStableFunc(s.intro, func(a, b *keysmith.KeyManager) int {
		if d := len(b.OpaqueTokenPrefix) - len(a.OpaqueTokenPrefix); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	v.mu.Lock()
	if v.gen == gen { // no change raced with the read
		v.managers.Store(s)
	}
	v.mu.Unlock()
	return s, nil
}

// Verify checks raw, a token presented by a request from caller (whose
// introspection calls are bounded; the zero Addr is not bounded): a JWT
// by its issuer's key set (never one claiming Keysmith's own issuer),
// anything else at the introspection endpoint of the one enabled manager
// whose opaque_token_prefix it starts with. A token no enabled manager
// could have issued costs no outbound call, any other at most one. The error is only for failures of
// the store or the limiter; every verdict is a Result.
func (v *Verifier) Verify(ctx context.Context, raw string, caller netip.Addr) (Result, error) {
	if raw == "" || len(raw) > MaxTokenLen {
		return Result{Code: verify.Malformed}, nil
	}
	now := v.now()
	set, err := v.managerSet(ctx, now)
	if err != nil {
		return Result{}, err
	}
	if strings.Count(raw, ".") == 2 {
		if iss, ok := UnverifiedIssuer(raw); ok {
			if v.issuer != "" && strings.TrimRight(iss, "/") == v.issuer {
				return Result{Code: verify.NotFound}, nil // Keysmith's own: never another's
			}
			return v.verifyJWT(ctx, set, raw, iss, now)
		}
	}
	return v.introspect(ctx, set, raw, caller, now)
}

// UnverifiedIssuer reads the iss claim of a compact JWS without checking
// anything: only to choose whose keys to check it with.
func UnverifiedIssuer(raw string) (string, bool) {
	_, rest, ok := strings.Cut(raw, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || len(raw) > MaxTokenLen {
		return "", false
	}
	b, err := b64.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return "", false
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil || c.Iss == "" {
		return "", false
	}
	return c.Iss, true
}

// finish turns what a token says into the answer: the Keysmith client it
// maps to (a revoked one makes it REVOKED, a deactivated owner
// OWNER_INACTIVE), its app and environment, and the scopes narrowed to the
// client's. A token of a client not registered through Keysmith is
// NOT_FOUND unless its manager accepts unregistered clients.
func (v *Verifier) finish(ctx context.Context, set *managerSet, info *tokenInfo, now time.Time) (Result, error) {
	m := set.byID[info.managerID]
	if m == nil {
		return Result{Code: verify.NotFound}, nil
	}
	var c *keysmith.Client
	if info.clientID != "" {
		var err error
		if c, err = v.client(ctx, info.managerID, info.clientID, now); err != nil {
			return Result{}, err
		}
	}
	if c == nil && !m.AcceptUnregisteredClients {
		return Result{Code: verify.NotFound, KeyManagerID: m.ID}, nil
	}
	r := Result{Code: verify.Valid, KeyManagerID: info.managerID, ClientID: info.clientID, Scopes: info.scopes,
		Subject: info.subject, JTI: info.jti}
	if !info.exp.IsZero() {
		exp := info.exp
		r.ExpiresAt = &exp
		if !now.Before(exp.Add(v.leeway)) {
			r.Code = verify.Expired
			return r, nil
		}
	}
	if !info.iat.IsZero() {
		iat := info.iat
		r.IssuedAt = &iat
	}
	if c == nil {
		return r, nil // accepted unregistered: the scopes as issued, no app
	}
	r.KeysmithClientID, r.AppID, r.Environment = c.ID, c.AppID, c.Environment
	r.Scopes = intersect(info.scopes, c.Scopes)
	if c.RevokedAt != nil {
		r.Code = verify.Revoked
		return r, nil
	}
	active, err := v.ownerActive(ctx, c.OwnerID, now)
	if err != nil {
		return Result{}, err
	}
	if !active {
		r.Code = verify.OwnerInactive
	}
	return r, nil
}

// ownerActive reports whether the user id (a mapped client's owner) is
// active, from a bounded cache dropped on every change of users; a user
// that does not exist is not.
func (v *Verifier) ownerActive(ctx context.Context, id string, now time.Time) (bool, error) {
	v.mu.Lock()
	e := v.owners[id]
	gen := v.ownerGn
	v.mu.Unlock()
	if e != nil && now.Sub(e.loadedAt) < ownerTrust {
		return e.active, nil
	}
	u, err := v.src.FindUserByID(ctx, id)
	switch keysmith.ErrorCode(err) {
	case "":
	case keysmith.CodeNotFound:
		u, err = nil, nil
	default:
		return false, err
	}
	active := u != nil && u.Status == keysmith.UserActive
	v.mu.Lock()
	if v.ownerGn == gen {
		if len(v.owners) >= v.size {
			clear(v.owners)
		}
		v.owners[id] = &ownerEntry{active: active, loadedAt: now}
	}
	v.mu.Unlock()
	return active, nil
}

// intersect is the scopes of have that want also holds, in have's order.
func intersect(have, want []string) []string {
	out := make([]string, 0, len(have))
	for _, s := range have {
		if slices.Contains(want, s) {
			out = append(out, s)
		}
	}
	return out
}

// client returns the Keysmith client registered at manager under the
// manager's client id, from a bounded cache that remembers absences too;
// nil when there is none.
func (v *Verifier) client(ctx context.Context, manager, id string, now time.Time) (*keysmith.Client, error) {
	k := clientKey{manager, id}
	v.mu.Lock()
	e := v.clients[k]
	gen := v.clientGn
	v.mu.Unlock()
	if e != nil && (e.client != nil && now.Sub(e.loadedAt) < clientTrust || e.client == nil && now.Sub(e.loadedAt) < clientNegTrust) {
		return e.client, nil
	}
	c, err := v.src.FindClientByExternalID(ctx, manager, id)
	switch keysmith.ErrorCode(err) {
	case "":
	case keysmith.CodeNotFound:
		c, err = nil, nil
	default:
		return nil, err
	}
	v.mu.Lock()
	if v.clientGn == gen {
		if len(v.clients) >= v.size {
			clear(v.clients)
		}
		v.clients[k] = &clientEntry{client: c, loadedAt: now}
	}
	v.mu.Unlock()
	return c, nil
}

// spaceOrList is a scope claim: one space-separated string (RFC 9068
// scope) or a list of strings (Okta's scp).
type spaceOrList []string

func (s *spaceOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = strings.Fields(one)
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}
