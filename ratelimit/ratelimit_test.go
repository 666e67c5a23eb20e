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

// Counted is a Limiter like the one it wraps, and counts refusals per
// group, a group it was not given as "other".
func TestCountedCountsRefusalsPerGroup(t *testing.T) {
	clock := testclock.New()
	ratelimittest.Contract(t, ratelimit.NewCounted(ratelimit.NewLocal(clock.Now), nil), clock.Advance)

	c := ratelimit.NewCounted(ratelimit.NewLocal(clock.Now), []string{"verified", "failed_sign_ins"})
	ctx := context.Background()
	for _, key := range []string{"tok:verified:tok_1", "tok:verified:tok_1", "tok:verified:tok_1",
		"addr:failed_sign_ins:192.0.2.1", "addr:failed_sign_ins:192.0.2.1", "x:tok_1:verified", "nonsense"} {
		if _, err := c.Allow(ctx, key, 1, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]uint64{}
	c.Refused(func(g string, n uint64) { got[g] = n })
	want := map[string]uint64{"verified": 2, "failed_sign_ins": 1, "other": 0}
	for g, n := range want {
		if got[g] != n {
			t.Errorf("refused in %s: %d, want %d (all: %v)", g, got[g], n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("groups %v, want exactly %v", got, want)
	}
}
