// Package verify answers "is this credential good, and whose is it?" from
// memory. It is the hot path: an API gateway asks it once per request. Token
// records and their owners are cached by hash and by id; the store's change
// notifications drop entries the moment a change commits (on this replica, and
// on others where the engine can push), unknown hashes are remembered briefly,
// and uses are recorded in batches rather than with a write per request.
package verify

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keysmith/keysmith"
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
	OwnerInactive Code = "OWNER_INACTIVE"
)

// Result is what a verification found. Token and Owner are shared, read-only
// snapshots: callers must not modify them.
type Result struct {
	Code  Code
	Token *keysmith.Token // nil unless the token is known
	Owner *keysmith.User  // nil unless the token is known
}

// Valid reports whether the credential may be used.
func (r Result) Valid() bool { return r.Code == Valid }

// Store is what the verifier reads from and writes uses to.
type Store interface {
	FindTokenByHash(ctx context.Context, h keysmith.Hash) (*keysmith.Token, error)
	FindUserByID(ctx context.Context, id string) (*keysmith.User, error)
	RecordTokenUses(ctx context.Context, uses []keysmith.TokenUse) error
	Subscribe(f func(keysmith.Change))
}

// Options tune a Verifier; the zero value gives the defaults.
type Options struct {
	Now keysmith.Clock
	Log *slog.Logger
	// MaxAge bounds how long an entry is trusted without being read again, a
	// safety net for changes whose notification was lost. Default 1 minute.
	MaxAge time.Duration
	// NegativeTTL is how long an unknown hash is remembered. Default 5 s.
	NegativeTTL time.Duration
	// MaxNegative bounds the negative cache; when full it is emptied, so a
	// flood of random tokens costs memory no more than this. Default 100 000.
	MaxNegative int
}

// Verifier is the in-memory view of credentials. It is safe for concurrent use.
type Verifier struct {
	store  Store
	now    keysmith.Clock
	log    *slog.Logger
	maxAge time.Duration
	negTTL time.Duration
	maxNeg int

	mu     sync.RWMutex
	gen    uint64 // bumped by every invalidation; loads that straddle one are not cached
	tokens map[keysmith.Hash]*entry
	ids    map[string]keysmith.Hash
	users  map[string]*userEntry
	neg    map[keysmith.Hash]time.Time // unknown hash → forget after

	usage usage
}

type entry struct {
	token    *keysmith.Token
	loadedAt time.Time
	lastUsed atomic.Int64 // unix µs of the latest use known here
	lastIP   atomic.Pointer[string]
	dirty    atomic.Bool // queued for the next flush
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
		opt.MaxAge = time.Minute
	}
	if opt.NegativeTTL == 0 {
		opt.NegativeTTL = 5 * time.Second
	}
	if opt.MaxNegative == 0 {
		opt.MaxNegative = 100_000
	}
	v := &Verifier{
		store: store, now: opt.Now, log: opt.Log,
		maxAge: opt.MaxAge, negTTL: opt.NegativeTTL, maxNeg: opt.MaxNegative,
		tokens: map[keysmith.Hash]*entry{},
		ids:    map[string]keysmith.Hash{},
		users:  map[string]*userEntry{},
		neg:    map[keysmith.Hash]time.Time{},
		usage:  usage{pending: map[string]*entry{}},
	}
	store.Subscribe(v.invalidate)
	return v
}

// VerifyAPIToken checks a presented API token. ip is the address the caller
// saw the request come from, recorded as the token's last-used address ("" if
// unknown). A valid result counts as a use of the token. The error is only for
// failures of the store; every verdict is a Result.
func (v *Verifier) VerifyAPIToken(ctx context.Context, raw, ip string) (Result, error) {
	h, ok := keysmith.ParseAPIToken(raw)
	if !ok {
		return Result{Code: Malformed}, nil
	}
	now := v.now()
	e, err := v.token(ctx, h, now)
	if err != nil || e == nil {
		return Result{Code: NotFound}, err
	}
	t := e.token
	owner, err := v.user(ctx, t.OwnerID, now)
	if err != nil {
		return Result{}, err
	}
	r := Result{Token: t, Owner: owner}
	switch {
	case t.Status(now) == keysmith.TokenRevoked:
		r.Code = Revoked
	case t.Status(now) == keysmith.TokenExpired:
		r.Code = Expired
	case owner == nil || owner.Status != keysmith.UserActive:
		r.Code = OwnerInactive
	default:
		r.Code = Valid
		v.usage.touch(e, now, ip)
	}
	return r, nil
}

// token returns the cached entry for h, loading it on a miss; nil if there is
// no such token.
func (v *Verifier) token(ctx context.Context, h keysmith.Hash, now time.Time) (*entry, error) {
	v.mu.RLock()
	e := v.tokens[h]
	negUntil, isNeg := v.neg[h]
	gen := v.gen
	v.mu.RUnlock()
	if e != nil && now.Sub(e.loadedAt) < v.maxAge {
		return e, nil
	}
	if e == nil && isNeg && now.Before(negUntil) {
		return nil, nil
	}
	t, err := v.store.FindTokenByHash(ctx, h)
	switch keysmith.ErrorCode(err) {
	case "":
	case keysmith.CodeNotFound:
		v.mu.Lock()
		if v.gen == gen {
			// A stale entry whose token is gone must go too: the negative
			// entry is only consulted when there is none.
			if e != nil && v.tokens[h] == e {
				delete(v.tokens, h)
				delete(v.ids, e.token.ID)
			}
			if len(v.neg) >= v.maxNeg {
				clear(v.neg)
			}
			v.neg[h] = now.Add(v.negTTL)
		}
		v.mu.Unlock()
		return nil, nil
	default:
		return nil, err
	}
	fresh := &entry{token: t, loadedAt: now}
	if t.LastUsedAt != nil {
		fresh.lastUsed.Store(t.LastUsedAt.UnixMicro())
		if t.LastUsedIP != "" {
			fresh.lastIP.Store(&t.LastUsedIP)
		}
	}
	if e != nil && e.lastUsed.Load() > fresh.lastUsed.Load() {
		// Carry over a use this replica has seen but not yet flushed.
		fresh.lastIP.Store(e.lastIP.Load())
		fresh.lastUsed.Store(e.lastUsed.Load())
	}
	v.mu.Lock()
	if v.gen == gen { // no invalidation raced with the load
		v.tokens[h] = fresh
		v.ids[t.ID] = h
		delete(v.neg, h)
	}
	v.mu.Unlock()
	return fresh, nil
}

// user returns the cached owner, loading it on a miss; nil if there is none.
func (v *Verifier) user(ctx context.Context, id string, now time.Time) (*keysmith.User, error) {
	v.mu.RLock()
	ue := v.users[id]
	gen := v.gen
	v.mu.RUnlock()
	if ue != nil && now.Sub(ue.loadedAt) < v.maxAge {
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
		v.users[id] = &userEntry{user: u, loadedAt: now}
	}
	v.mu.Unlock()
	return u, nil
}

// invalidate drops what a committed change made stale.
func (v *Verifier) invalidate(c keysmith.Change) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	switch c.Kind {
	case keysmith.ChangeToken:
		if h, ok := v.ids[c.ID]; ok {
			delete(v.tokens, h)
			delete(v.ids, c.ID)
		}
	case keysmith.ChangeUser:
		delete(v.users, c.ID)
	default:
		clear(v.tokens)
		clear(v.ids)
		clear(v.users)
		clear(v.neg)
	}
}
