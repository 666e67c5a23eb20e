// Package heapfloor keeps the garbage collector from running more often
// than a heap of a given size would make it run.
//
// Go collects when the heap has grown by GOGC percent (100) of what the
// last collection left live. Keysmith's live heap is small (a few MB: the
// console's templates, the caches) and its hot path allocates a little per
// request, so at tens of thousands of verifications a second it collected
// about forty times a second, each time scanning the whole live heap: a
// tenth of a core, and 0.1 of the ratio to a bare handler (BENCHMARKS.md).
// A floor on the heap goal makes collections that much rarer while the heap
// is small, and changes nothing once the live heap is above the floor.
//
// It is the runtime's own GOGC, raised while the live heap is small: Run
// reads the live heap (runtime/metrics) and sets the GC percent so that the
// next goal is at least the floor, never below the percent it found. The
// cost is memory: up to the floor (64 MB by default in serve) before a
// collection, at most. An operator who sets GOGC in the environment keeps
// it: serve does not start Run then.
package heapfloor

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// maxPercent bounds the percent Run sets (a goal at most 26 times the live
// heap), so that a live heap that jumps between two adjustments cannot put
// the next goal far beyond the floor.
const maxPercent = 2500

// Run adjusts the GC percent after every collection (and every interval)
// until ctx ends, and then restores the percent it found.
func Run(ctx context.Context, floor uint64, every time.Duration) {
	base := GCPercent()
	if base < 0 {
		return // collection is off: nothing to raise
	}
	defer debug.SetGCPercent(base)
	t := time.NewTicker(every)
	defer t.Stop()
	collected := make(chan struct{}, 1)
	afterEachGC(ctx, collected)
	last := base
	for {
		if p := Percent(floor, LiveHeap(), base); p != last {
			debug.SetGCPercent(p)
			last = p
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-collected:
		}
	}
}

// afterEachGC signals c after every collection until ctx ends: an object
// with a finalizer, made again by its finalizer, which runs once the
// collector has found it unreachable.
func afterEachGC(ctx context.Context, c chan<- struct{}) {
	type sentinel struct {
		_ *int // holds a pointer: not a tiny allocation, whose finalizer may never run
		_ [16]byte
	}
	var arm func()
	arm = func() {
		runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
			if ctx.Err() != nil {
				return
			}
			select {
			case c <- struct{}{}:
			default:
			}
			arm()
		})
	}
	arm()
}

// Percent is the GC percent that puts the next heap goal, live × (1 +
// percent/100), at floor or above, and never below base.
func Percent(floor, live uint64, base int) int {
	if live == 0 || live >= floor {
		return base
	}
	// In integers, rounded up, then up to a tenth so that small moves of
	// the live heap do not change the setting every interval.
	p := ((floor-live)*100 + live - 1) / live
	p = (p + 9) / 10 * 10
	if p > maxPercent {
		p = maxPercent
	}
	return max(base, int(p))
}

// LiveHeap is the heap the last collection left live, in bytes.
func LiveHeap() uint64 { return readUint("/gc/heap/live:bytes") }

// GCPercent is the runtime's GC percent now (GOGC; negative when off).
func GCPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	v := s[0].Value.Uint64()
	if v > math.MaxInt32 { // off reads as a huge number
		return -1
	}
	return int(v)
}

func readUint(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
