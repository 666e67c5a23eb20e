// Package ratelimittest is the contract every rate limiter keeps, as a test
// suite run against each implementation (in process here, Redis in package
// redis).
package ratelimittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith/ratelimit"
)

// Contract is the behaviour every Limiter keeps, as a test to run against
// each implementation. advance moves the limiter's clock.
func Contract(t *testing.T, l ratelimit.Limiter, advance func(time.Duration)) {
	ctx := context.Background()
	key := func() string {
		var b [8]byte
		rand.Read(b[:])
		return "contract:" + hex.EncodeToString(b[:])
	}
	t.Run("AllowsTheLimitAtOnceThenRefuses", func(t *testing.T) {
		k := key()
		for i := range 10 {
			r, err := l.Allow(ctx, k, 10, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Allowed || r.Limit != 10 || r.Remaining != 9-i {
				t.Fatalf("request %d: %+v, want allowed with %d remaining", i+1, r, 9-i)
			}
		}
		r, err := l.Allow(ctx, k, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed || r.Remaining != 0 || r.RetryAfter != 6*time.Second || r.Reset != time.Minute {
			t.Errorf("11th request: %+v, want refused, retry after 6s, reset in 1m", r)
		}
	})
	t.Run("RefillsAtLimitPerWindow", func(t *testing.T) {
		k := key()
		for range 10 {
			l.Allow(ctx, k, 10, time.Minute)
		}
		advance(6 * time.Second)
		if r, _ := l.Allow(ctx, k, 10, time.Minute); !r.Allowed {
			t.Errorf("one interval later: %+v, want allowed", r)
		}
		if r, _ := l.Allow(ctx, k, 10, time.Minute); r.Allowed {
			t.Errorf("second request one interval later: %+v, want refused", r)
		}
		advance(time.Minute)
		if r, _ := l.Peek(ctx, k, 10, time.Minute); !r.Allowed || r.Remaining != 10 {
			t.Errorf("a window later: %+v, want the whole limit", r)
		}
	})
	t.Run("PeekCountsNothing", func(t *testing.T) {
		k := key()
		for range 20 {
			if r, _ := l.Peek(ctx, k, 2, time.Minute); !r.Allowed || r.Remaining != 2 {
				t.Fatalf("peek: %+v", r)
			}
		}
		l.Allow(ctx, k, 2, time.Minute)
		l.Allow(ctx, k, 2, time.Minute)
		if r, _ := l.Peek(ctx, k, 2, time.Minute); r.Allowed || r.RetryAfter != 30*time.Second {
			t.Errorf("peek when used up: %+v, want refused, retry after 30s", r)
		}
	})
	t.Run("ConcurrentRequestsStayWithinTheLimit", func(t *testing.T) {
		k := key()
		var mu sync.Mutex
		allowed := 0
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 25 {
					r, err := l.Allow(ctx, k, 50, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if r.Allowed {
						mu.Lock()
						allowed++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if allowed != 50 {
			t.Errorf("%d of 200 concurrent requests allowed, want exactly the limit, 50", allowed)
		}
	})
	t.Run("KeysAreIndependent", func(t *testing.T) {
		a, b := key(), key()
		l.Allow(ctx, a, 1, time.Minute)
		if r, _ := l.Allow(ctx, b, 1, time.Minute); !r.Allowed {
			t.Error("a used-up key refuses another")
		}
	})
	changes(t, l, key)
}

// changes is the part of the contract about giving back and lowered limits.
func changes(t *testing.T, l ratelimit.Limiter, key func() string) {
	ctx := context.Background()
	t.Run("RefundGivesBackOneRequestAndNoMore", func(t *testing.T) {
		k := key()
		for range 2 {
			l.Allow(ctx, k, 2, time.Minute)
		}
		if err := l.Refund(ctx, k, 2, time.Minute); err != nil {
			t.Fatal(err)
		}
		if r, _ := l.Allow(ctx, k, 2, time.Minute); !r.Allowed {
			t.Errorf("after a refund: %+v, want one more allowed", r)
		}
		if r, _ := l.Allow(ctx, k, 2, time.Minute); r.Allowed {
			t.Errorf("a refund gave back more than one: %+v", r)
		}
		fresh := key()
		for range 3 {
			if err := l.Refund(ctx, fresh, 2, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if r, _ := l.Peek(ctx, fresh, 2, time.Minute); r.Remaining != 2 {
			t.Errorf("refunds of an unused key: %+v, want the limit, 2, and no more", r)
		}
	})
	t.Run("LoweredLimitReportsNothingRemainingAndARetryWithinTheReset", func(t *testing.T) {
		k := key()
		for range 20 {
			l.Allow(ctx, k, 20, time.Minute)
		}
		// 20 used at 30 s each under a limit of 2: 600 s to be whole again.
		for _, check := range []func() (ratelimit.Result, error){
			func() (ratelimit.Result, error) { return l.Peek(ctx, k, 2, time.Minute) },
			func() (ratelimit.Result, error) { return l.Allow(ctx, k, 2, time.Minute) },
		} {
			r, err := check()
			if err != nil {
				t.Fatal(err)
			}
			if r.Allowed || r.Remaining != 0 || r.Reset != 600*time.Second || r.RetryAfter != 570*time.Second {
				t.Errorf("over a lowered limit: %+v, want refused, 0 remaining, retry after 570s, reset in 600s", r)
			}
		}
	})
}
