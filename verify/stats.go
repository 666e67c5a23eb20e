package verify

import "sync/atomic"

// counters are the cache's running totals, apart from the fields the lock
// guards so that counting a hit does not write their cache line.
type counters struct {
	_                        [64]byte
	hits, negHits, misses    atomic.Uint64
	evictions, invalidations atomic.Uint64
	_                        [64]byte
}

// Stats is how the token cache is doing, for metrics. The counts are totals
// since the Verifier was made.
type Stats struct {
	// Hits counts verifications answered from a cached token entry.
	Hits uint64
	// NegativeHits counts verifications of unknown hashes answered from the
	// negative cache.
	NegativeHits uint64
	// Misses counts verifications that went to the store for the token:
	// not cached, or cached for longer than it is trusted.
	Misses uint64
	// Evictions counts token entries dropped to make room.
	Evictions uint64
	// Invalidations counts token entries dropped because a change was
	// published (every entry at once when the change feed is lost or back).
	Invalidations uint64
	// Size is the number of token entries cached (one per secret), at most
	// Capacity; Owners the number of owners cached, at most Capacity too.
	Size, Owners, Capacity int
	// FeedHealthy says whether every change reaches the cache, so that
	// entries are trusted for MaxAge rather than LostFeedMaxAge.
	FeedHealthy bool
}

// Stats returns the cache's counters and size.
func (v *Verifier) Stats() Stats {
	v.mu.RLock()
	size, owners, capacity := v.tokens.len(), v.users.len(), v.tokens.max
	v.mu.RUnlock()
	return Stats{
		Hits:          v.stats.hits.Load(),
		NegativeHits:  v.stats.negHits.Load(),
		Misses:        v.stats.misses.Load(),
		Evictions:     v.stats.evictions.Load(),
		Invalidations: v.stats.invalidations.Load(),
		Size:          size, Owners: owners, Capacity: capacity,
		FeedHealthy: v.store.ChangeFeedHealthy(),
	}
}
