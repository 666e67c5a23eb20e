package ratelimit_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/keysmith/keysmith/internal/testclock"
	"github.com/keysmith/keysmith/ratelimit"
	"github.com/keysmith/keysmith/ratelimit/ratelimittest"
)

// Contract checks any Limiter on the clock that drives it. Package redis
// runs it against Redis.
func TestLocal(t *testing.T) {
	clock := testclock.New()
	ratelimittest.Contract(t, ratelimit.NewLocal(clock.Now), clock.Advance)
}

func TestPerAddressReservesBeforeAndReleasesSuccesses(t *testing.T) {
	clock := testclock.New()
	pa := &ratelimit.PerAddress{Limiter: ratelimit.NewLocal(clock.Now), Group: "failed_sign_ins", Window: time.Minute}
	ctx := context.Background()
	a := netip.MustParseAddr("192.0.2.1")
	for range 5 { // successes: reserved, then released
		if r, _ := pa.Reserve(ctx, a, 3); !r.Allowed {
			t.Fatal("released attempts used up the limit")
		}
		pa.Release(ctx, a, 3)
	}
	for i := range 3 {
		if r, _ := pa.Reserve(ctx, a, 3); !r.Allowed {
			t.Fatalf("attempt %d of 3 refused", i+1)
		}
	}
	if r, _ := pa.Reserve(ctx, a, 3); r.Allowed || r.RetryAfter <= 0 || r.Remaining != 0 {
		t.Errorf("after 3 failures of 3: %+v, want refused with a retry time", r)
	}
	if r, _ := pa.Reserve(ctx, netip.MustParseAddr("192.0.2.2"), 3); !r.Allowed {
		t.Error("another address is refused")
	}
	// One IPv6 host holds a /64: its addresses share one count.
	for range 3 {
		pa.Reserve(ctx, netip.MustParseAddr("2001:db8::1"), 3)
	}
	if r, _ := pa.Reserve(ctx, netip.MustParseAddr("2001:db8::ffff"), 3); r.Allowed {
		t.Error("an address in the same /64 is not refused")
	}
	clock.Advance(20 * time.Second)
	if r, _ := pa.Reserve(ctx, a, 3); !r.Allowed {
		t.Errorf("a third of the window later: %+v, want one more try", r)
	}
	// A release never takes an address past its full budget.
	b := netip.MustParseAddr("192.0.2.3")
	for range 5 {
		pa.Release(ctx, b, 3)
	}
	for range 3 {
		pa.Reserve(ctx, b, 3)
	}
	if r, _ := pa.Reserve(ctx, b, 3); r.Allowed {
		t.Error("releases before any reservation widened the budget")
	}
}
