package client

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultCacheTTL is how long a Verifier trusts a valid answer by default,
// and so the longest a revoked credential may still be admitted.
const DefaultCacheTTL = 5 * time.Second

// DefaultCacheSize is how many valid answers a Verifier keeps by default.
const DefaultCacheSize = 10_000

// maxCredential bounds the credential a Verifier sends to Keysmith; longer
// is refused as invalid without a call (no Keysmith credential comes
// close).
const maxCredential = 4096

// VerifierOptions configure a Verifier; the zero value is usable.
type VerifierOptions struct {
	// Header names a header read for the credential before
	// Authorization: Bearer, such as "X-API-Key"; "" for Bearer only.
	Header string
	// ClientIP answers the address of the request's client, sent to
	// Keysmith as verify's ip so that network policies are checked
	// against it; nil means RemoteIP, which suits a server that clients
	// reach directly (behind a proxy, read the address your proxy
	// forwards). Anything but one IPv4 or IPv6 address, "" included, is
	// refused with 503: checking a policy against another address (this
	// server's) could admit what it refuses.
	ClientIP func(*http.Request) string
	// CacheTTL is how long a valid answer is reused, DefaultCacheTTL when
	// 0. It is the revocation delay: a credential revoked, disabled or
	// stripped of a scope at Keysmith may still be admitted for this long
	// by a Verifier that admitted it just before. A negative CacheTTL
	// turns the cache off: every request asks Keysmith.
	CacheTTL time.Duration
	// CacheSize bounds the valid answers kept, DefaultCacheSize when 0;
	// the least recently used go first.
	CacheSize int
	// Log receives the reasons Keysmith could not be asked (the request
	// was refused with 503 either way); nil: slog.Default().
	Log *slog.Logger
	// Now is the clock of the cache; nil: time.Now.
	Now func() time.Time
}

// Verifier is net/http middleware that admits a request only when Keysmith
// says its credential is valid and meets the route's requirement. It is
// safe for concurrent use; make one per process and share it.
//
// Answers follow Keysmith's forward auth: 401 with WWW-Authenticate:
// Bearer error="invalid_token" and {"error":"unauthorized"} for a missing or
// refused credential; 403 {"error":"forbidden"} (with error=
// "insufficient_scope" for a scope, permission or environment refusal) and
// 429 {"error":"rate_limited"} with Retry-After as verify says. It fails
// closed: when Keysmith cannot be reached or answers anything unexpected,
// the request is refused with 503 {"error":"temporarily_unavailable"}.
//
// Valid answers are cached (see VerifierOptions.CacheTTL and CacheSize),
// keyed by a SHA-256 of the credential, the client address and the
// requirement; refusals are never cached, so a fixed credential is
// admitted at once. A cached answer also ends at the credential's expiry.
// Identical requests that miss the cache while one of them asks Keysmith
// wait for its answer rather than each making a call.
//
// Keysmith counts only the requests it is asked about, so the Verifier
// keeps the rate limit itself for the rest: a cached answer admits at most
// as many requests as its rate limit had left, and the next answer in the
// same window has those taken off what it says is left (none left: 429).
// Each process counts only its own cache, so N processes caching the same
// credential may together admit up to N times what was left; turn the
// cache off (CacheTTL < 0) where every request must be counted by
// Keysmith.
type Verifier struct {
	client   *Client
	opts     VerifierOptions
	cache    *validCache // nil when off
	now      func() time.Time
	log      *slog.Logger
	cacheTTL time.Duration
	mu       sync.Mutex
	flights  map[cacheKey]*flight // the calls under way, by key
}

// NewVerifier returns a Verifier asking Keysmith through c. c needs no
// token: verify takes none.
func NewVerifier(c *Client, opts VerifierOptions) *Verifier {
	if opts.ClientIP == nil {
		opts.ClientIP = RemoteIP
	}
	v := &Verifier{client: c, opts: opts, now: opts.Now, log: opts.Log, cacheTTL: opts.CacheTTL,
		flights: make(map[cacheKey]*flight)}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	if v.cacheTTL == 0 {
		v.cacheTTL = DefaultCacheTTL
	}
	if v.cacheTTL > 0 {
		size := opts.CacheSize
		if size <= 0 {
			size = DefaultCacheSize
		}
		v.cache = newValidCache(size)
	}
	return v
}

// Requirement is what a route requires of a credential beyond validity;
// the zero value requires nothing more.
type Requirement struct {
	// Scopes are all required.
	Scopes []string
	// Permissions is a permission query (see VerifyRequest).
	Permissions string
	// Environment is "sandbox" or "production".
	Environment string
}

// key is the requirement as part of a cache key: its JSON, which tells
// any two requirements apart and holds no NUL byte.
func (r Requirement) key() string {
	b, _ := json.Marshal(r) // strings and a list of them always encode
	return string(b)
}

// Middleware protects a handler, requiring every one of scopes (none: a
// valid credential suffices).
func (v *Verifier) Middleware(scopes ...string) func(http.Handler) http.Handler {
	return v.Require(Requirement{Scopes: scopes})
}

// Require protects a handler with a requirement. The handler finds the
// verified identity with IdentityFrom.
func (v *Verifier) Require(need Requirement) func(http.Handler) http.Handler {
	if len(need.Scopes) == 0 {
		need.Scopes = nil // Keysmith refuses an empty list: nil requires none
	}
	needKey := need.key()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, ok := v.check(w, r, need, needKey)
			if !ok {
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
		})
	}
}

// check answers the identity of r's credential, or writes the refusal and
// answers false.
func (v *Verifier) check(w http.ResponseWriter, r *http.Request, need Requirement, needKey string) (*VerifyResult, bool) {
	raw := v.credential(r)
	if raw == "" || len(raw) > maxCredential || !utf8.ValidString(raw) || strings.ContainsRune(raw, 0) {
		refuse(w, http.StatusUnauthorized, "unauthorized", `Bearer error="invalid_token"`)
		return nil, false
	}
	var ip string
	if v.opts.ClientIP != nil {
		ip = v.opts.ClientIP(r)
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			// Checking the policy against another address could admit
			// what it refuses: refuse instead.
			v.log.WarnContext(r.Context(), "keysmith: ClientIP answered no single IP address; refusing the request", "ip", truncate(ip, 64))
			refuse(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
			return nil, false
		}
		ip = a.Unmap().String() // one form per address, in the cache key too
	}
	var k cacheKey
	if v.cache != nil {
		k = newCacheKey(raw, ip, needKey)
		if res, ok := v.cache.take(k, v.now()); ok {
			return res, true
		}
	}
	res, admitted, err := v.ask(r.Context(), k, VerifyRequest{Token: raw, IP: ip, Scopes: need.Scopes,
		Permissions: need.Permissions, Environment: need.Environment})
	if err != nil {
		v.unavailable(w, r, err)
		return nil, false
	}
	if admitted {
		return res, true
	}
	switch res.Code {
	case CodeRateLimited:
		reset := 1
		if res.RateLimit != nil && res.RateLimit.Reset > 0 {
			reset = res.RateLimit.Reset
		}
		w.Header().Set("Retry-After", strconv.Itoa(reset))
		refuse(w, http.StatusTooManyRequests, "rate_limited", "")
	case CodeInsufficientPermissions, CodeWrongEnvironment:
		refuse(w, http.StatusForbidden, "forbidden", `Bearer error="insufficient_scope"`)
	case CodeIPForbidden:
		refuse(w, http.StatusForbidden, "forbidden", "")
	default: // every other code, known or not, and valid with another code
		refuse(w, http.StatusUnauthorized, "unauthorized", `Bearer error="invalid_token"`)
	}
	return nil, false
}

// flight is a verify call that identical requests arriving meanwhile wait
// for instead of making their own.
type flight struct {
	done     chan struct{}
	res      *VerifyResult
	admitted bool
	err      error
}

// ask asks Keysmith about req, whose cache key is k, and answers whether
// the request is admitted, with the result (a refusal's says why). With
// the cache on, a request that finds the same question already asked
// waits for that answer: a refusal is shared, and an admission is taken
// from the cache the asker filled (spending one of its uses, so the rate
// limit still counts each request); when it cannot be, or the call
// failed, the request asks for itself.
func (v *Verifier) ask(ctx context.Context, k cacheKey, req VerifyRequest) (*VerifyResult, bool, error) {
	if v.cache == nil {
		return v.verify(ctx, k, req)
	}
	v.mu.Lock()
	if f, ok := v.flights[k]; ok {
		v.mu.Unlock()
		if testHookFlightWait != nil {
			testHookFlightWait()
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if f.err == nil && !f.admitted {
			return f.res, false, nil // a refusal holds for all
		}
		if f.err == nil && f.admitted {
			if res, ok := v.cache.take(k, v.now()); ok {
				return res, true, nil
			}
		}
		return v.verify(ctx, k, req)
	}
	f := &flight{done: make(chan struct{})}
	v.flights[k] = f
	v.mu.Unlock()
	f.res, f.admitted, f.err = v.verify(ctx, k, req)
	v.mu.Lock()
	delete(v.flights, k)
	v.mu.Unlock()
	close(f.done)
	return f.res, f.admitted, f.err
}

// testHookFlightWait, when set (by tests), is called as a request starts
// waiting for another's call.
var testHookFlightWait func()

// verify asks Keysmith about req and caches a valid answer under k.
func (v *Verifier) verify(ctx context.Context, k cacheKey, req VerifyRequest) (*VerifyResult, bool, error) {
	res, err := v.client.Verify(ctx, req)
	if err != nil {
		return nil, false, err
	}
	if !res.Valid || res.Code != CodeValid {
		return res, false, nil
	}
	if !v.remember(k, res) {
		// The requests admitted from the cache used up what was left.
		return &VerifyResult{Code: CodeRateLimited, RateLimit: res.RateLimit}, false, nil
	}
	return res, true, nil
}

// remember caches a valid answer for the TTL, or until the credential
// expires if sooner. It reports false when the requests admitted from the
// cache in the answer's rate-limit window leave nothing for this one.
func (v *Verifier) remember(k cacheKey, res *VerifyResult) bool {
	if v.cache == nil {
		return true
	}
	now := v.now()
	until := now.Add(v.cacheTTL)
	if res.ExpiresAt != nil && res.ExpiresAt.Before(until) {
		until = *res.ExpiresAt
	}
	return v.cache.put(k, res, now, until)
}

// unavailable refuses a request Keysmith did not answer as expected.
func (v *Verifier) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusTooManyRequests {
		// Keysmith limits this server (too many unknown credentials
		// from it, say): the client may try later.
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter/time.Second)))
		}
		refuse(w, http.StatusTooManyRequests, "rate_limited", "")
		return
	}
	if r.Context().Err() == nil {
		v.log.WarnContext(r.Context(), "keysmith: verify failed; refusing the request", "err", err)
	}
	refuse(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
}

// credential is the request's credential: the configured header's when
// set and present, else a Bearer token.
func (v *Verifier) credential(r *http.Request) string {
	if v.opts.Header != "" {
		if c := strings.TrimSpace(r.Header.Get(v.opts.Header)); c != "" {
			return c
		}
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// refuse writes a JSON error answer with status.
func refuse(w http.ResponseWriter, status int, code, authenticate string) {
	h := w.Header()
	if authenticate != "" {
		h.Set("WWW-Authenticate", authenticate)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code})
}

type identityKey struct{}

// IdentityFrom answers the verified identity of a request admitted by a
// Verifier (the credential's id, type, owner, app, environment, scopes
// and meta, as Keysmith answered). The result may be shared with other
// requests: read it, do not change it.
func IdentityFrom(ctx context.Context) (*VerifyResult, bool) {
	id, ok := ctx.Value(identityKey{}).(*VerifyResult)
	return id, ok
}

// truncate cuts s to at most n bytes, for the log.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// RemoteIP answers the address of the request's direct peer (its
// RemoteAddr without the port), for VerifierOptions.ClientIP.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}
