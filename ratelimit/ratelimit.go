// Package ratelimit counts requests against limits per key and window with
// the generic cell rate algorithm (GCRA): each key keeps one number, the
// theoretical arrival time of its next request, so a check is one read and
// one write, and a burst of up to the whole limit is allowed at once, after
// which requests are admitted at limit/window. Local keeps the counters in
// this process; package redis keeps them in Redis for several replicas.
package ratelimit

import (
	"context"
	"math"
	"time"
)

// Result is the outcome of a check.
type Result struct {
	Allowed   bool
	Limit     int
	Remaining int // requests that would still be allowed right now
	// Reset is how long until the whole limit is available again.
	Reset time.Duration
	// RetryAfter is how long until the next request would be allowed;
	// zero when one would be allowed now.
	RetryAfter time.Duration
}

// Limiter checks keys against limits. Every method is safe for concurrent
// use; an error means the counters could not be reached.
type Limiter interface {
	// Allow counts one request for key unless that would exceed limit
	// requests per window.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (Result, error)
	// Peek reports the state of key without counting anything. Allowed
	// says whether one more request would be allowed.
	Peek(ctx context.Context, key string, limit int, window time.Duration) (Result, error)
	// Refund gives back one request that Allow counted for key, for a
	// budget taken before knowing whether the request should count (see
	// PerAddress). It never takes the key past its full limit.
	Refund(ctx context.Context, key string, limit int, window time.Duration) error
}

// GCRA is the algorithm on one key. The key stores tat, the theoretical
// arrival time of its next request, and interval, the emission interval
// (window/limit) tat was counted in; both are in microseconds (tat since the
// epoch) and 0 for a new key. now is the time in microseconds since the
// epoch; cost is 1 to count a request, 0 to peek and -1 to give one back
// (Refund). It returns the result and the tat and interval to store
// (unchanged when nothing is counted).
//
// When the limit has changed since the key was written, tat is rescaled so
// that the requests already used in the window stay used: raising a limit
// lets a token on at once, lowering it does not forgive what was spent. The
// Lua script in package redis is the same arithmetic; keep them in step.
func GCRA(tat, interval, now float64, limit int, window time.Duration, cost int) (Result, float64, float64) {
	w := float64(window.Microseconds())
	newInterval := w / float64(limit)
	if tat < now {
		tat = now
	}
	if interval > 0 && interval != newInterval {
		tat = now + (tat-now)/interval*newInterval
	}
	interval = newInterval
	r := Result{Limit: limit}
	if cost < 0 { // a refund: back by one interval, never past "full"
		r.Allowed = true
		return r, max(now, tat+float64(cost)*interval), interval
	}
	newTAT := tat + float64(cost)*interval
	allowAt := newTAT - w
	if cost > 0 && now < allowAt {
		r.RetryAfter = micros(allowAt - now)
		r.Reset = micros(tat - now)
		return r, tat, interval
	}
	// After a lowered limit, more can be spent than the window holds:
	// nothing remains (never less), and the next request fits when tat has
	// come back to one interval within the window, which is never later
	// than Reset.
	r.Remaining = max(0, int(math.Floor((now+w-newTAT)/interval+1e-6)))
	r.Reset = micros(newTAT - now)
	r.Allowed = cost > 0 || r.Remaining > 0
	if cost == 0 && r.Remaining == 0 {
		r.RetryAfter = micros(tat + interval - w - now)
	}
	return r, newTAT, interval
}

func micros(us float64) time.Duration {
	if us <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(us)) * time.Microsecond
}

// Seconds rounds d up to whole seconds, as the RateLimit-Reset and
// Retry-After headers count.
func Seconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}
