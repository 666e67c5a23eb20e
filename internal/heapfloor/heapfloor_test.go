package heapfloor_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/keysmith/keysmith/internal/heapfloor"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		floor, live uint64
		base, want  int
	}{
		{64 * mb, 4 * mb, 100, 1500},  // goal 4 × 16 = 64 MB
		{64 * mb, 3 * mb, 100, 2040},  // 2033, rounded up to a tenth
		{64 * mb, 64 * mb, 100, 100},  // at the floor: the runtime's own
		{64 * mb, 500 * mb, 100, 100}, // above it
		{64 * mb, 40 * mb, 100, 100},  // 60 % would do; never below base
		{64 * mb, 40 * mb, 50, 60},    // a lower GOGC is raised as far as needed
		{64 * mb, 0, 100, 100},        // not measured yet
		{64 * mb, 1, 100, 2500},       // bounded
	} {
		if got := heapfloor.Percent(c.floor, c.live, c.base); got != c.want {
			t.Errorf("Percent(%d MB, %d B, %d) = %d, want %d", c.floor/mb, c.live, c.base, got, c.want)
		}
	}
}

// TestRun: the runtime's percent is raised while the heap is small, and
// restored when Run ends.
func TestRun(t *testing.T) {
	runtime.GC() // a live-heap reading
	before := heapfloor.GCPercent()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { heapfloor.Run(ctx, 1<<40, time.Millisecond); close(done) }() // a floor no test heap reaches
	deadline := time.Now().Add(5 * time.Second)
	for {
		p := heapfloor.GCPercent()
		if p > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GC percent still %d after 5 s, want it raised above %d", p, before)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if p := heapfloor.GCPercent(); p != before {
		t.Errorf("GC percent after Run = %d, want %d restored", p, before)
	}
}
