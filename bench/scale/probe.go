package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/keysmith/keysmith/bench/internal/load"
)

// probeInterval is how often the write-stall probe writes.
const probeInterval = 500 * time.Millisecond

// probeResult is what the write-stall probe saw.
type probeResult struct {
	Duration time.Duration
	Writes   int
	Max      time.Duration
	P99      time.Duration
	P50      time.Duration
	Failed   int            // non-2xx answers and transport errors
	Errors   map[string]int // their messages, clipped
	// Slow lists the writes over slowWrite: how long, and when after the
	// probe began (maintenance runs every few seconds from the start).
	Slow []string
}

// slowWrite is the write time over which the probe reports each write.
const slowWrite = 50 * time.Millisecond

// runProbe creates a token of its own, then renames it every probeInterval
// for d, each PATCH in its own goroutine so that a stalled write does not
// delay the next: the latencies are those of writes arriving at a steady
// rate, whatever the server is busy with.
func runProbe(ctx context.Context, api *apiClient, d time.Duration) (*probeResult, error) {
	var tok struct {
		ID string `json:"id"`
	}
	if err := api.call(ctx, http.MethodPost, "/v1/tokens", map[string]any{"name": "bench-scale probe"}, &tok); err != nil {
		return nil, fmt.Errorf("creating the probe's token: %w", err)
	}
	res := &probeResult{Duration: d, Errors: map[string]int{}}
	var mu sync.Mutex
	var lats []time.Duration
	var wg sync.WaitGroup
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	start := time.Now()
	end := start.Add(d)
	for i := 0; time.Now().Before(end); i++ {
		wg.Go(func() {
			t0 := time.Now()
			status, body, err := api.do(ctx, http.MethodPatch, "/v1/tokens/"+tok.ID, map[string]any{"name": fmt.Sprintf("bench-scale probe %d", i)})
			lat := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			lats = append(lats, lat)
			if lat > slowWrite {
				res.Slow = append(res.Slow, fmt.Sprintf("%s at +%s", lat.Round(time.Millisecond), t0.Sub(start).Round(100*time.Millisecond)))
			}
			switch {
			case err != nil:
				res.Failed++
				res.Errors[err.Error()]++
			case status/100 != 2:
				res.Failed++
				res.Errors[load.StatusError(status, body).Error()]++
			}
		})
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	wg.Wait()
	slices.Sort(lats)
	res.Writes = len(lats)
	if n := len(lats); n > 0 {
		res.Max, res.P50, res.P99 = lats[n-1], lats[rank(n, 50)], lats[rank(n, 99)]
	}
	return res, nil
}

// rank is the index of the p-th percentile of n sorted values, by nearest
// rank.
func rank(n int, p float64) int {
	r := int(float64(n)*p/100+0.999999) - 1
	return min(max(r, 0), n-1)
}
