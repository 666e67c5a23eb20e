// Package verify answers "is this credential good, and whose is it?" from
// memory. It is the hot path: an API gateway asks it once per request. Token
// records and their owners are cached by hash and by id; the store's change
// notifications drop entries the moment a change commits (on this replica, and
// on others where the engine can push), unknown hashes are remembered briefly,
// and uses are recorded in batches rather than with a write per request.
//
// The cache holds at most Options.CacheSize token entries (one per secret)
// and as many owners; when full, CLOCK eviction (clock.go) drops entries not
// read since the hand last passed. While the store's change feed is healthy
// an entry is trusted for MaxAge (an hour), so a token used once in ten
// minutes answers from memory; when the feed is lost the cache is emptied
// and entries are trusted for LostFeedMaxAge (a second) until it is back.
// An entry costs about 950 bytes of heap, its owner shared with others
// (BenchmarkCacheMemory, 2026-12-02): a full cache of the default size
// takes about 95 MB.
package verify

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/ratelimit"
)

// Code is the outcome of a verification.
type Code string

// The verification codes.
const (
	Valid         Code = "VALID"
	Malformed     Code = "MALFORMED"
	NotFound      Code = "NOT_FOUND"
	Expired       Code = "EXPIRED"
	Revoked       Code = "REVOKED"
	Disabled      Code = "DISABLED"
	OwnerInactive Code = "OWNER_INACTIVE"
)

// Result is what a verification found. Token and Owner are shared, read-only
// snapshots: callers must not modify them.
type Result struct {
	Code  Code
	Token *keysmith.Token // nil unless the token is known
	Owner *keysmith.User  // nil unless the token is known
	// RateLimit is the token's standing in the group Check counted it
	// against; nil when nothing was checked.
	RateLimit *ratelimit.Result
}

// Valid reports whether the credential may be used.
func (r Result) Valid() bool { return r.Code == Valid }

// Store is what the verifier reads from and writes uses to.
type Store interface {
	FindTokenByHash(ctx context.Context, h keysmith.Hash) (*keysmith.Token, error)
	FindUserByID(ctx context.Context, id string) (*keysmith.User, error)
	RecordTokenUses(ctx context.Context, uses []keysmith.TokenUse) error
	RecordTokenExpiry(ctx context.Context, id string, now time.Time) error
	Subscribe(f func(keysmith.Change))
	ChangeFeedHealthy() bool
	FindZones(ctx context.Context) ([]*keysmith.Zone, error)
	FindTrustedOrigins(ctx context.Context) ([]*keysmith.TrustedOrigin, error)
	RateLimits(ctx context.Context) (keysmith.RateLimits, error)
}

// Options tune a Verifier; the zero value gives the defaults.
type Options struct {
	Now keysmith.Clock
	Log *slog.Logger
	// MaxAge bounds how long an entry is trusted without being read again
	// while the store's change feed is healthy: a safety net for changes
	// made behind the store's back. Default 1 hour.
	MaxAge time.Duration
	// LostFeedMaxAge is MaxAge while the change feed is lost (a PostgreSQL
	// listener that is not connected): how long a change committed on
	// another replica may take to show here then. Default 1 s.
	LostFeedMaxAge time.Duration
	// CacheSize bounds the cached token entries (one per secret) and,
	// separately, the cached owners. Default DefaultCacheSize.
	CacheSize int
	// NegativeTTL is how long an unknown hash is remembered. Default 5 s.
	NegativeTTL time.Duration
	// MaxNegative bounds the negative cache; when full it is emptied, so a
	// flood of random tokens costs memory no more than this. Default 100 000.
	MaxNegative int
	// Limiter counts tokens' requests. Default: in process, on Now.
	Limiter ratelimit.Limiter
	// TrustedProxies are proxies whose X-Forwarded-For is believed besides
	// those listed in zones.
	TrustedProxies []netip.Prefix
}

// DefaultCacheSize is the default Options.CacheSize.
const DefaultCacheSize = 100_000

// Verifier is the in-memory view of credentials. It is safe for concurrent use.
type Verifier struct {
	store   Store
	now     keysmith.Clock
	log     *slog.Logger
	maxAge  time.Duration
	lostAge time.Duration
	negTTL  time.Duration
	maxNeg  int

	mu     sync.RWMutex
	gen    uint64 // bumped by every invalidation; loads that straddle one are not cached
	tokens *clockCache[keysmith.Hash, *entry]
	ids    map[string][]keysmith.Hash // the cached secrets of a token: a rotated one has two
	users  *clockCache[string, *userEntry]
	neg    map[keysmith.Hash]time.Time // unknown hash → forget after
	stats  counters

	// Zones, rate limits and trusted origins are read without the lock; a change drops them
	// (under the lock, bumping the generation) and the next request loads.
	zones      atomic.Pointer[zoneCache]
	zoneGen    uint64
	limits     atomic.Pointer[limitsCache]
	limitsGen  uint64
	origins    atomic.Pointer[originsCache]
	originsGen uint64
	limiter    ratelimit.Limiter
	trusted    []netip.Prefix

	usage usage

	queries queryCache // parsed permission queries (see ParseRequirement)

	expiryMu sync.Mutex
	expiring map[keysmith.Hash]*expiryCall // one idle-expiry declaration per secret at a time
}

// expiryCall is a declaration of a token's idle expiry in progress; the
// requests that find it wait for its outcome instead of writing again.
type expiryCall struct {
	done  chan struct{}
	entry *entry
	err   error
}

type entry struct {
	token    *keysmith.Token
	loadedAt time.Time
	*useState

	verifiedKey string // the limiter key of the token's verified share
}

// useState is a token's latest use known here. The entries of a token's
// current and previous secret share one, so a use of either renews it.
type useState struct {
	tokenID  string
	lastUsed atomic.Int64 // unix µs of the latest use known here
	lastIP   atomic.Pointer[netip.Addr]
	dirty    atomic.Bool // queued for the next flush
	// first is the earliest use queued for the next flush. Every use since
	// was accepted within the idle TTL of the one before, so the store may
	// take the latest use as a renewal if first was within its deadline.
	first atomic.Int64
}

type userEntry struct {
	user     *keysmith.User
	loadedAt time.Time
}

// New returns a Verifier over store and subscribes it to the store's changes.
func New(store Store, opt Options) *Verifier {
	if opt.Now == nil {
		opt.Now = keysmith.SystemClock
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.MaxAge == 0 {
		opt.MaxAge = time.Hour
	}
	if opt.LostFeedMaxAge == 0 {
		opt.LostFeedMaxAge = time.Second
	}
	if opt.CacheSize <= 0 {
		opt.CacheSize = DefaultCacheSize
	}
	if opt.NegativeTTL == 0 {
		opt.NegativeTTL = 5 * time.Second
	}
	if opt.MaxNegative == 0 {
		opt.MaxNegative = 100_000
	}
	if opt.Limiter == nil {
		opt.Limiter = ratelimit.NewLocal(opt.Now)
	}
	v := &Verifier{
		store: store, now: opt.Now, log: opt.Log,
		maxAge: opt.MaxAge, lostAge: opt.LostFeedMaxAge, negTTL: opt.NegativeTTL, maxNeg: opt.MaxNegative,
		tokens: newClockCache[keysmith.Hash, *entry](opt.CacheSize),
		ids:    map[string][]keysmith.Hash{},
		users:  newClockCache[string, *userEntry](opt.CacheSize),
		neg:    map[keysmith.Hash]time.Time{},
		usage:  usage{pending: map[string]*useState{}},

		expiring: map[keysmith.Hash]*expiryCall{},

		limiter: opt.Limiter,
		trusted: opt.TrustedProxies,
	}
	store.Subscribe(v.invalidate)
	return v
}

// VerifyAPIToken checks a presented API token (or app API key) and its
// network policy. ip is
// the address the caller saw the request come from, recorded as the token's
// last-used address ("" if unknown). A valid result counts as a use of the
// token, but not against any rate limit (see Check). The error is only for
// failures of the store; every verdict is a Result.
func (v *Verifier) VerifyAPIToken(ctx context.Context, raw, ip string) (Result, error) {
	addr, _ := netip.ParseAddr(ip)
	now := v.now()
	r, e, err := v.verify(ctx, raw, addr, netip.Addr{}, now)
	if r.Valid() {
		v.usage.touch(e.useState, now, addr)
	}
	return r, err
}

// verify checks the token's form, record, owner and network policy. caller
// is the address the request came from, whose lookups of unknown tokens are
// bounded (the zero Addr: not bounded).
//
// A secret whose hash memory knows needs no check of its form: only a
// well-formed secret hashes to a stored one. So the checksum and alphabet
// are checked only on the way to the store, and a cached token costs one
// hash, one read lock and the clock (BenchmarkVerifyCached).
func (v *Verifier) verify(ctx context.Context, raw string, addr, caller netip.Addr, now time.Time) (Result, *entry, error) {
	h, form, ok := parse(raw)
	if !ok {
		return Result{Code: Malformed}, nil, nil
	}
	e, owner := v.cached(h, now)
	if e == nil || owner == nil {
		if !form.Matches(raw) {
			return Result{Code: Malformed}, nil, nil
		}
		var err error
		if e, err = v.token(ctx, h, caller, now); err != nil || e == nil {
			if ob, ok := err.(*overBudget); ok {
				return Result{Code: RateLimited, RateLimit: &ob.rl}, nil, nil
			}
			return Result{Code: NotFound}, nil, err
		}
		owner = nil // read below, once the entry is final
	}
	if !wants(form, e.token) {
		return Result{Code: NotFound}, nil, nil
	}
	if e.onlyIdleExpired(now) {
		// Another replica may have renewed the token: the store decides,
		// and records the expiry unless it was renewed, so that EXPIRED is
		// final (no use flushed later revives the token).
		var err error
		if e, err = v.declareIdleExpiry(ctx, h, e, now); err != nil || e == nil {
			return Result{Code: NotFound}, nil, err
		}
		owner = nil
	}
	t := e.token
	if owner == nil {
		var err error
		if owner, err = v.user(ctx, t.OwnerID, now); err != nil {
			return Result{}, nil, err
		}
	}
	r := Result{Token: t, Owner: owner}
	switch {
	case t.RevokedAt != nil,
		t.ViaPreviousSecret && (t.PrevSecretExpiresAt == nil || !now.Before(*t.PrevSecretExpiresAt)):
		r.Code = Revoked
	case t.ExpiryRecordedAt != nil, t.ExpiresAt != nil && !now.Before(*t.ExpiresAt), e.idleExpired(now):
		r.Code = Expired
	case t.DisabledAt != nil:
		r.Code = Disabled
	case owner == nil || owner.Status != keysmith.UserActive:
		r.Code = OwnerInactive
	default:
		r.Code = Valid
		if t.Network.Mode != keysmith.NetworkAny && t.Network.Mode != "" {
			zones, err := v.zonesAt(ctx, now)
			if err != nil {
				return Result{}, nil, err
			}
			if !t.Network.Allows(addr, zones) {
				r.Code = IPForbidden
			}
		}
	}
	return r, e, nil
}

// parse reads which form a presented credential claims by its prefix and
// length, API token or app API key, and hashes it; the rest of the form
// (alphabet, checksum) is the caller's to check, with form.Matches, before
// anything but memory is asked about it. ok is false for anything else.
func parse(raw string) (keysmith.Hash, keysmith.CredentialForm, bool) {
	for _, f := range [...]keysmith.CredentialForm{keysmith.APITokenForm, keysmith.AppKeyForm} {
		if len(raw) == f.Len() && strings.HasPrefix(raw, f.Prefix) {
			return keysmith.HashOf(raw), f, true
		}
	}
	return keysmith.Hash{}, keysmith.CredentialForm{}, false
}

// wants reports whether a secret of form may name t: a key's secret only
// an app key, a token's only a token of another type. The prefix is part
// of what is hashed, so a mismatch cannot happen by chance; the check keeps
// the two kinds apart even if a record's type and secret disagreed.
func wants(form keysmith.CredentialForm, t *keysmith.Token) bool {
	if form.Kind == keysmith.CredentialAppKey {
		return isAppKey(t)
	}
	return isAPIToken(t)
}

func isAPIToken(t *keysmith.Token) bool { return t.Type != keysmith.TokenAppKey }
func isAppKey(t *keysmith.Token) bool   { return t.Type == keysmith.TokenAppKey }

func (e *entry) idleExpired(now time.Time) bool {
	last := max(e.lastUsed.Load(), e.token.CreatedAt.UnixMicro())
	return now.UnixMicro() >= last+e.token.IdleTTL.Microseconds()
}

// onlyIdleExpired reports whether the token would be answered EXPIRED at
// now for its idle expiry alone, not yet recorded: the one verdict that a
// use on another replica could still overturn.
func (e *entry) onlyIdleExpired(now time.Time) bool {
	t := e.token
	return t.RevokedAt == nil && t.ExpiryRecordedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt)) &&
		!(t.ViaPreviousSecret && (t.PrevSecretExpiresAt == nil || !now.Before(*t.PrevSecretExpiresAt))) &&
		e.idleExpired(now)
}

// declareIdleExpiry asks the store to record the idle expiry of the token
// of h (it does unless a stored use renewed the token) and reads the token
// again: the fresh entry is either expired for good or renewed. Concurrent
// requests for one secret share one declaration; nil if the token is gone.
func (v *Verifier) declareIdleExpiry(ctx context.Context, h keysmith.Hash, e *entry, now time.Time) (*entry, error) {
	v.expiryMu.Lock()
	c := v.expiring[h]
	if c != nil {
		v.expiryMu.Unlock()
		select {
		case <-c.done:
			return c.entry, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c = &expiryCall{done: make(chan struct{})}
	v.expiring[h] = c
	v.expiryMu.Unlock()
	defer func() {
		v.expiryMu.Lock()
		delete(v.expiring, h)
		v.expiryMu.Unlock()
		close(c.done)
	}()
	if c.err = v.store.RecordTokenExpiry(ctx, e.token.ID, now); c.err != nil {
		return nil, c.err
	}
	c.entry, c.err = v.load(ctx, h, now, e)
	return c.entry, c.err
}

// cached returns the entry for h and its owner when memory holds both and
// may still trust them, under one read lock; nils otherwise.
func (v *Verifier) cached(h keysmith.Hash, now time.Time) (*entry, *keysmith.User) {
	trust := v.trustAge()
	v.mu.RLock()
	e, _ := v.tokens.get(h)
	var ue *userEntry
	if e != nil {
		ue, _ = v.users.get(e.token.OwnerID)
	}
	v.mu.RUnlock()
	if e == nil || ue == nil || now.Sub(e.loadedAt) >= trust || now.Sub(ue.loadedAt) >= trust {
		return nil, nil
	}
	v.stats.hits.Add(1)
	return e, ue.user
}

// token returns the cached entry for h, loading it on a miss; nil if there is
// no such token. A hash in neither cache costs a lookup, which is bounded
// per caller (see lookup).
func (v *Verifier) token(ctx context.Context, h keysmith.Hash, caller netip.Addr, now time.Time) (*entry, error) {
	v.mu.RLock()
	e, _ := v.tokens.get(h)
	negUntil, isNeg := v.neg[h]
	v.mu.RUnlock()
	if e != nil && now.Sub(e.loadedAt) < v.trustAge() {
		v.stats.hits.Add(1)
		return e, nil
	}
	if e == nil && isNeg && now.Before(negUntil) {
		v.stats.negHits.Add(1)
		return nil, nil
	}
	v.stats.misses.Add(1)
	if e == nil && caller.IsValid() {
		return v.lookup(ctx, h, caller, now)
	}
	return v.load(ctx, h, now, e)
}

// lookup loads a hash that neither cache knows, for a request from caller.
// The checksum is public, so anyone can mint well-formed tokens that are
// all unknown, each a database lookup: every lookup takes a unit of the
// caller's unknown_tokens budget first, given back when the token exists,
// so only misses count, and a burst counts like a sequence. Past the budget
// the caller is answered from the caches only: a token neither cache knows
// is RATE_LIMITED (an overBudget error carrying the budget's standing), not
// NOT_FOUND, because it may be a real token this replica has not cached;
// the answer stays true and the cost stays bounded.
func (v *Verifier) lookup(ctx context.Context, h keysmith.Hash, caller netip.Addr, now time.Time) (*entry, error) {
	limits, err := v.limitsAt(ctx, now)
	if err != nil {
		return nil, err
	}
	limit := limits[keysmith.GroupUnknownTokens]
	pa := &ratelimit.PerAddress{Limiter: v.limiter, Group: string(keysmith.GroupUnknownTokens), Window: keysmith.RateLimitWindow}
	res, err := pa.Reserve(ctx, caller, limit)
	if err != nil {
		return nil, err
	}
	if !res.Allowed {
		return nil, &overBudget{res}
	}
	e, err := v.load(ctx, h, now, nil)
	if e != nil || err != nil {
		if rerr := pa.Release(context.WithoutCancel(ctx), caller, limit); rerr != nil {
			v.log.WarnContext(ctx, "giving back an unknown-token lookup failed", "err", rerr)
		}
	}
	return e, err
}

// overBudget says that the caller has used its budget of lookups of
// unknown tokens (GroupUnknownTokens); rl is where the budget stands.
type overBudget struct{ rl ratelimit.Result }

func (e *overBudget) Error() string { return "the caller's budget of unknown-token lookups is used up" }

// load reads the token of h from the store and caches it, replacing the
// stale entry e (nil if none); nil if there is no such token.
func (v *Verifier) load(ctx context.Context, h keysmith.Hash, now time.Time, e *entry) (*entry, error) {
	for attempt := 0; ; attempt++ {
		fresh, retry, err := v.loadOnce(ctx, h, now, e, attempt < 3)
		if !retry {
			return fresh, err
		}
	}
}

// loadOnce is one attempt of load. retry is true when a flush ended between
// the store read and the check for unflushed uses: the read may lack a use
// that is no longer held in memory either, so it must be done again.
func (v *Verifier) loadOnce(ctx context.Context, h keysmith.Hash, now time.Time, e *entry, mayRetry bool) (_ *entry, retry bool, _ error) {
	v.mu.RLock()
	gen := v.gen
	v.mu.RUnlock()
	flushes := v.usage.flushCount()
	t, err := v.store.FindTokenByHash(ctx, h)
	switch keysmith.ErrorCode(err) {
	case "":
	case keysmith.CodeNotFound:
		v.mu.Lock()
		if v.gen == gen {
			// A stale entry whose token is gone must go too: the negative
			// entry is only consulted when there is none.
			if cur, _ := v.tokens.peek(h); e != nil && cur == e {
				v.forget(e.token.ID)
			}
			if len(v.neg) >= v.maxNeg {
				clear(v.neg)
			}
			v.neg[h] = now.Add(v.negTTL)
		}
		v.mu.Unlock()
		return nil, false, nil
	default:
		return nil, false, err
	}
	slim(t)
	fresh := &entry{token: t, loadedAt: now, verifiedKey: "tok:" + string(keysmith.GroupVerified) + ":" + t.ID}
	v.mu.Lock()
	defer v.mu.Unlock()
	// Share the use state of the token's other cached secret, or of an
	// unflushed one, or of the stale entry: a use this replica has seen
	// but not yet flushed must not be lost, and both secrets of a rotated
	// token renew the same token.
	st, flushed := v.usage.stateSince(t.ID, flushes)
	fresh.useState = st
	for _, oh := range v.ids[t.ID] {
		if o, _ := v.tokens.peek(oh); fresh.useState == nil && o != nil {
			fresh.useState = o.useState
		}
	}
	if fresh.useState == nil && e != nil && e.token.ID == t.ID {
		fresh.useState = e.useState
	}
	if fresh.useState == nil {
		if flushed && mayRetry {
			return nil, true, nil
		}
		fresh.useState = &useState{tokenID: t.ID}
	}
	if t.LastUsedAt != nil && t.LastUsedAt.UnixMicro() > fresh.lastUsed.Load() {
		if a, err := netip.ParseAddr(t.LastUsedIP); err == nil {
			fresh.lastIP.Store(&a)
		}
		fresh.lastUsed.Store(t.LastUsedAt.UnixMicro())
	}
	if v.gen == gen { // no invalidation raced with the load
		if old, _ := v.tokens.peek(h); old != nil && old.token.ID != t.ID {
			v.forget(old.token.ID)
		}
		v.cache(h, fresh)
		delete(v.neg, h)
	}
	return fresh, false, nil
}

// cache stores e under h, evicting another entry if the cache is full. An
// evicted entry is forgotten like an invalidated one: its unflushed uses
// stay queued (usage.pending holds its useState), a reload finds them
// there (stateSince), and the token's other cached secret, if any, keeps
// the shared useState for a reload of this one. v.mu must be held.
func (v *Verifier) cache(h keysmith.Hash, e *entry) {
	oh, old, evicted := v.tokens.put(h, e)
	if evicted {
		v.stats.evictions.Add(1)
		v.unlink(old.token.ID, oh)
	}
	if !slices.Contains(v.ids[e.token.ID], h) {
		v.ids[e.token.ID] = append(v.ids[e.token.ID], h)
	}
}

// unlink drops h from the cached secrets of token id. v.mu must be held.
func (v *Verifier) unlink(id string, h keysmith.Hash) {
	hs := slices.DeleteFunc(v.ids[id], func(x keysmith.Hash) bool { return x == h })
	if len(hs) == 0 {
		delete(v.ids, id)
	} else {
		v.ids[id] = hs
	}
}

// slim makes a token about to be cached share equal strings instead of
// holding the copies the driver scanned: its creator is mostly its owner,
// and its type and network mode are one of a few constants. Strings are
// immutable, so nothing a reader sees changes.
func slim(t *keysmith.Token) {
	if t.CreatedBy == t.OwnerID {
		t.CreatedBy = t.OwnerID
	}
	for _, k := range []keysmith.TokenType{keysmith.TokenUser, keysmith.TokenService, keysmith.TokenAgent, keysmith.TokenAppKey} {
		if t.Type == k {
			t.Type = k
		}
	}
	for _, m := range []keysmith.NetworkMode{keysmith.NetworkAny, keysmith.NetworkInAnyZone, keysmith.NetworkInZones,
		keysmith.NetworkNotInAnyZone, keysmith.NetworkNotInZones} {
		if t.Network.Mode == m {
			t.Network.Mode = m
		}
	}
}

// forget drops every cached secret of a token. v.mu must be held.
func (v *Verifier) forget(id string) {
	for _, h := range v.ids[id] {
		if v.tokens.remove(h) {
			v.stats.invalidations.Add(1)
		}
	}
	delete(v.ids, id)
}

// trustAge is how long an entry is served without being read again: long
// while every change reaches the cache, short while changes may be missed.
func (v *Verifier) trustAge() time.Duration {
	if v.store.ChangeFeedHealthy() {
		return v.maxAge
	}
	return v.lostAge
}

// user returns the cached owner, loading it on a miss; nil if there is none.
func (v *Verifier) user(ctx context.Context, id string, now time.Time) (*keysmith.User, error) {
	v.mu.RLock()
	ue, _ := v.users.get(id)
	gen := v.gen
	v.mu.RUnlock()
	if ue != nil && now.Sub(ue.loadedAt) < v.trustAge() {
		return ue.user, nil
	}
	u, err := v.store.FindUserByID(ctx, id)
	switch keysmith.ErrorCode(err) {
	case "":
	case keysmith.CodeNotFound:
		return nil, nil
	default:
		return nil, err
	}
	v.mu.Lock()
	if v.gen == gen {
		v.users.put(id, &userEntry{user: u, loadedAt: now})
	}
	v.mu.Unlock()
	return u, nil
}

// invalidate drops what a committed change made stale. Kinds that other
// caches own (OAuth clients, access tokens, signing keys) leave it alone. A
// lost change feed drops everything, as its return does (ChangeAll): what
// is cached may go stale unheard, and what is loaded until the feed is back
// is trusted only briefly (trustAge). A kind it does not know (see
// keysmith.ChangeKind.Known) counts as ChangeAll.
func (v *Verifier) invalidate(c keysmith.Change) {
	if !c.Kind.Known() {
		c.Kind = keysmith.ChangeAll
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	switch c.Kind {
	case keysmith.ChangeToken:
		v.forget(c.ID)
	case keysmith.ChangeUser:
		v.users.remove(c.ID)
	case keysmith.ChangeZone:
		v.zoneGen++
		v.zones.Store(nil)
	case keysmith.ChangeSettings:
		v.limitsGen++
		v.limits.Store(nil)
	case keysmith.ChangeTrustedOrigin:
		v.originsGen++
		v.origins.Store(nil)
	case keysmith.ChangeAll, keysmith.ChangeFeedLost:
		v.zoneGen++
		v.zones.Store(nil)
		v.originsGen++
		v.origins.Store(nil)
		v.limitsGen++
		v.limits.Store(nil)
		v.stats.invalidations.Add(uint64(v.tokens.len()))
		v.tokens.clear()
		clear(v.ids)
		v.users.clear()
		clear(v.neg)
	}
}
