package verify

import (
	"context"
	"net/netip"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/ratelimit"
)

// The codes of the network and rate checks.
const (
	IPForbidden Code = "IP_FORBIDDEN"
	RateLimited Code = "RATE_LIMITED"
)

type limitsCache struct {
	limits   keysmith.RateLimits
	loadedAt time.Time
}

// Limits returns the rate limits in force, loading them after a change.
func (v *Verifier) Limits(ctx context.Context) (keysmith.RateLimits, error) {
	return v.limitsAt(ctx, v.now())
}

func (v *Verifier) limitsAt(ctx context.Context, now time.Time) (keysmith.RateLimits, error) {
	if c := v.limits.Load(); c != nil && now.Sub(c.loadedAt) < v.trustAge() {
		return c.limits, nil
	}
	v.mu.RLock()
	gen := v.limitsGen
	v.mu.RUnlock()
	l, err := v.store.RateLimits(ctx)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if v.limitsGen == gen {
		v.limits.Store(&limitsCache{limits: l, loadedAt: now})
	}
	v.mu.Unlock()
	return l, nil
}

// Limiter is where the verifier counts.
func (v *Verifier) Limiter() ratelimit.Limiter { return v.limiter }

// Check verifies a presented API token used from addr (the zero Addr when
// unknown) and applies its network policy. When group is not empty, a
// request that passes counts against the token's share of that group, and
// RateLimit says where the token stands; for a known token that fails, the
// share is only read. The error is only for failures of the store or the
// limiter. Lookups of unknown tokens are not bounded: requests from outside
// use CheckFrom.
func (v *Verifier) Check(ctx context.Context, raw string, addr netip.Addr, group keysmith.APIGroup) (Result, error) {
	return v.CheckFrom(ctx, raw, addr, netip.Addr{}, group)
}

// CheckFrom is Check for a request sent from caller (which differs from addr
// when a gateway verifies a token its client used at addr). Tokens that
// neither cache knows cost a lookup from caller's unknown_tokens budget
// (keysmith.GroupUnknownTokens, per address, IPv6 per /64), given back when
// the token exists; past it, caller gets RATE_LIMITED for them without one
// (with the budget's standing in RateLimit).
func (v *Verifier) CheckFrom(ctx context.Context, raw string, addr, caller netip.Addr, group keysmith.APIGroup) (Result, error) {
	now := v.now()
	r, e, err := v.verify(ctx, raw, addr, caller, now)
	if err != nil || r.Token == nil {
		return r, err
	}
	if group == "" {
		if r.Valid() {
			v.usage.touch(e.useState, now, addr)
		}
		return r, nil
	}
	limits, err := v.limitsAt(ctx, now)
	if err != nil {
		return Result{}, err
	}
	limit := keysmith.Share(limits[group], r.Token.RateLimitPercent)
	key := e.keyFor(group)
	var rl ratelimit.Result
	if r.Valid() {
		rl, err = v.limiter.Allow(ctx, key, limit, keysmith.RateLimitWindow)
		if err == nil && !rl.Allowed {
			r.Code = RateLimited
		}
	} else {
		rl, err = v.limiter.Peek(ctx, key, limit, keysmith.RateLimitWindow)
	}
	if err != nil {
		return Result{}, err
	}
	r.RateLimit = &rl
	if r.Code == Valid {
		v.usage.touch(e.useState, now, addr)
	}
	return r, nil
}

// keyFor is the limiter key of the token's share of group. The verified key
// is built once per cache entry, so the hot path does not allocate it.
func (e *entry) keyFor(group keysmith.APIGroup) string {
	if group == keysmith.GroupVerified {
		return e.verifiedKey
	}
	return "tok:" + string(group) + ":" + e.token.ID
}
