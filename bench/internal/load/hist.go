package load

import (
	"math"
	"math/bits"
	"time"
)

// Histogram counts latencies in log-linear buckets, as HDR histograms do:
// exact below 256 ns, and above that within 1/128 (under 0.8 %) of the true
// value. Its size is fixed, so a worker records without allocating however
// long the run, and merging workers is adding arrays.
type Histogram struct {
	counts [histBuckets]int64
	n      int64
}

// Bucket layout: values below 2*histSub get a bucket each; above, every
// power of two is split into histSub buckets.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits                       // buckets per power of two
	histBuckets = 2*histSub + (63-histSubBits-1)*histSub // up to the largest int64
)

// record adds one latency.
func (h *Histogram) record(d time.Duration) {
	h.counts[histIndex(d)]++
	h.n++
}

// merge adds o's counts to h.
func (h *Histogram) merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// Percentile returns the p-th percentile (0 < p ≤ 100) by nearest rank, as
// the middle of its bucket, or 0 if nothing was recorded.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(p/100*float64(h.n))), 1)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return histMid(i)
		}
	}
	return histMid(histBuckets - 1) // unreachable while n matches the counts
}

// histIndex returns the bucket of d.
func histIndex(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1 // v>>shift is in [histSub, 2*histSub)
	return 2*histSub + (shift-1)*histSub + int(v>>shift) - histSub
}

// histMid returns the middle of bucket i: exact for the small buckets.
func histMid(i int) time.Duration {
	if i < 2*histSub {
		return time.Duration(i)
	}
	shift := (i-2*histSub)/histSub + 1
	low := uint64(histSub+(i-2*histSub)%histSub) << shift
	return time.Duration(low + (uint64(1)<<shift)/2)
}
