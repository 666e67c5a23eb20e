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

func TestPerAddressCountsFailuresOnly(t *testing.T) {
	clock := testclock.New()
	pa := &ratelimit.PerAddress{Limiter: ratelimit.NewLocal(clock.Now), Group: "failed_sign_ins", Window: time.Minute}
	ctx := context.Background()
	a := netip.MustParseAddr("192.0.2.1")
	for range 5 {
		if r, _ := pa.Check(ctx, a, 3); !r.Allowed {
			t.Fatal("checks alone used up the limit")
		}
	}
	for range 3 {
		pa.Fail(ctx, a, 3)
	}
	if r, _ := pa.Check(ctx, a, 3); r.Allowed || r.RetryAfter <= 0 {
		t.Errorf("after 3 failures of 3: %+v, want refused with a retry time", r)
	}
	if r, _ := pa.Check(ctx, netip.MustParseAddr("192.0.2.2"), 3); !r.Allowed {
		t.Error("another address is refused")
	}
	// One IPv6 host holds a /64: its addresses share one count.
	for range 3 {
		pa.Fail(ctx, netip.MustParseAddr("2001:db8::1"), 3)
	}
	if r, _ := pa.Check(ctx, netip.MustParseAddr("2001:db8::ffff"), 3); r.Allowed {
		t.Error("an address in the same /64 is not refused")
	}
	clock.Advance(20 * time.Second)
	if r, _ := pa.Check(ctx, a, 3); !r.Allowed {
		t.Errorf("a third of the window later: %+v, want one more try", r)
	}
}
