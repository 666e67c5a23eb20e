// Package memlimit slows down guessing within one process: it counts
// failures per key and makes each failure beyond a free allowance double the
// wait before the next attempt. It implements keysmith.FailureLimiter; a
// deployment of several replicas swaps in a shared implementation.
package memlimit

import (
	"context"
	"sync"
	"time"

	"github.com/keysmith/keysmith"
)

// Policy says how failures turn into waiting.
type Policy struct {
	// Free is how many failures cost nothing.
	Free int
	// Base is the wait after the first failure beyond Free; it doubles with
	// each further failure, up to Max.
	Base, Max time.Duration
	// Forget is how long after its last failure a key starts over.
	Forget time.Duration
	// MaxKeys bounds memory: when full, forgotten keys are dropped, and if
	// that is not enough, all keys (an attacker spreading over more keys
	// than this gains a fresh allowance, but memory stays bounded).
	MaxKeys int
}

// Account is the default policy per account: 5 free failures, then 1 s,
// 2 s, 4 s … up to 15 minutes between attempts; forgotten after an hour.
var Account = Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour, MaxKeys: 100_000}

// Limiter is an in-memory keysmith.FailureLimiter, safe for concurrent use.
type Limiter struct {
	p    Policy
	mu   sync.Mutex
	keys map[string]*state
}

type state struct {
	failures int
	last     time.Time
	prev     time.Time // last before the latest attempt, for Release
}

var _ keysmith.FailureLimiter = (*Limiter)(nil)

// New returns a Limiter with policy p.
func New(p Policy) *Limiter { return &Limiter{p: p, keys: map[string]*state{}} }

// delay is the wait after n failures.
func (l *Limiter) delay(n int) time.Duration {
	if n <= l.p.Free {
		return 0
	}
	d := l.p.Base
	for i := l.p.Free + 1; i < n && d < l.p.Max; i++ {
		d *= 2
	}
	return min(d, l.p.Max)
}

// Wait returns how long an attempt for key must wait from now, counting
// nothing.
func (l *Limiter) Wait(_ context.Context, key string, now time.Time) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wait(key, now), nil
}

// Attempt returns the wait for key when there is one, and otherwise counts
// a failure for key at now (see keysmith.FailureLimiter), in one step.
func (l *Limiter) Attempt(_ context.Context, key string, now time.Time) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.wait(key, now); d > 0 {
		return d, nil
	}
	l.fail(key, now)
	return 0, nil
}

func (l *Limiter) wait(key string, now time.Time) time.Duration {
	s := l.keys[key]
	if s == nil {
		return 0
	}
	if now.Sub(s.last) >= l.p.Forget {
		delete(l.keys, key)
		return 0
	}
	return max(0, s.last.Add(l.delay(s.failures)).Sub(now))
}

func (l *Limiter) fail(key string, now time.Time) {
	s := l.keys[key]
	if s != nil && now.Sub(s.last) >= l.p.Forget {
		s = nil
	}
	if s == nil {
		if l.p.MaxKeys > 0 && len(l.keys) >= l.p.MaxKeys {
			l.prune(now)
		}
		s = &state{}
		l.keys[key] = s
	}
	s.failures++
	s.prev, s.last = s.last, now
}

// Release takes back the latest attempt counted for key.
func (l *Limiter) Release(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.keys[key]
	if s == nil {
		return nil
	}
	if s.failures--; s.failures <= 0 {
		delete(l.keys, key)
		return nil
	}
	if !s.prev.IsZero() {
		s.last = s.prev
	}
	return nil
}

// Reset forgets key.
func (l *Limiter) Reset(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
	return nil
}

func (l *Limiter) prune(now time.Time) {
	for k, s := range l.keys {
		if now.Sub(s.last) >= l.p.Forget {
			delete(l.keys, k)
		}
	}
	if len(l.keys) >= l.p.MaxKeys {
		clear(l.keys)
	}
}
