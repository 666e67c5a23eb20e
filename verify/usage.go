package verify

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/keysmith/keysmith"
)

// usage batches last-use records: a verification only updates atomics on the
// cache entry (and, once per flush interval per token, queues the entry), and
// Flush writes all queued uses in one transaction.
type usage struct {
	flushMu  sync.Mutex // one flush at a time: when Flush returns, what came before is stored
	mu       sync.Mutex
	pending  map[string]*useState // token id → unflushed uses
	inflight map[string]*useState // being written by the current flush
	// flushes counts flushes that ended, bumped together with clearing
	// inflight: a load that saw neither the written use in the store nor
	// the state in inflight sees the count move, and reads again.
	flushes uint64
}

// state returns the use state of a token with unflushed uses, or nil.
func (u *usage) state(tokenID string) *useState {
	u.mu.Lock()
	defer u.mu.Unlock()
	if e := u.pending[tokenID]; e != nil {
		return e
	}
	return u.inflight[tokenID]
}

// flushCount returns the number of flushes that have ended.
func (u *usage) flushCount() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.flushes
}

// stateSince returns the unflushed use state of a token and whether a flush
// ended since the count f was taken; both under one lock, so that a use is
// either found here or was in the store before the flush ended.
func (u *usage) stateSince(tokenID string, f uint64) (*useState, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if e := u.pending[tokenID]; e != nil {
		return e, false
	}
	if e := u.inflight[tokenID]; e != nil {
		return e, false
	}
	return nil, u.flushes != f
}

func (u *usage) touch(e *useState, now time.Time, ip netip.Addr) {
	// The address is stored before the time: a flush that reads the new
	// time then also reads the new address.
	if ip.IsValid() {
		if p := e.lastIP.Load(); p == nil || *p != ip {
			addr := ip // only this copy escapes, and only when the address changes
			e.lastIP.Store(&addr)
		}
	}
	us := now.UnixMicro()
	for {
		old := e.lastUsed.Load()
		if old >= us || e.lastUsed.CompareAndSwap(old, us) {
			break
		}
	}
	if !e.dirty.Load() && e.dirty.CompareAndSwap(false, true) {
		e.first.Store(us)
		u.mu.Lock()
		u.pending[e.tokenID] = e
		u.mu.Unlock()
	}
}

func (e *useState) use() keysmith.TokenUse {
	tu := keysmith.TokenUse{TokenID: e.tokenID, At: time.UnixMicro(e.lastUsed.Load()).UTC()}
	if p := e.lastIP.Load(); p != nil {
		tu.IP = p.Unmap().String()
	}
	return tu
}

// PendingUse returns the latest use of a token seen here and not yet stored.
func (v *Verifier) PendingUse(tokenID string) (keysmith.TokenUse, bool) {
	e := v.usage.state(tokenID)
	if e == nil {
		return keysmith.TokenUse{}, false
	}
	return e.use(), true
}

// Flush writes the queued uses to the store. On failure they stay queued for
// the next flush. A Flush waits for one in progress, so when it returns every
// use seen before the call is stored (or the error says why not).
func (v *Verifier) Flush(ctx context.Context) error {
	u := &v.usage
	u.flushMu.Lock()
	defer u.flushMu.Unlock()
	u.mu.Lock()
	batch := u.pending
	u.pending, u.inflight = map[string]*useState{}, batch
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	uses := make([]keysmith.TokenUse, 0, len(batch))
	firsts := make(map[*useState]int64, len(batch))
	for _, e := range batch {
		// Clear the flag before reading, so a use that lands after the read
		// queues the entry again rather than being lost; read first before,
		// as such a use sets it anew.
		first := e.first.Load()
		e.dirty.Store(false)
		use := e.use()
		use.First = time.UnixMicro(first).UTC()
		uses = append(uses, use)
		firsts[e] = first
	}
	err := v.store.RecordTokenUses(ctx, uses)
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		for id, e := range batch {
			// The failed batch's first use still starts the chain.
			for f := firsts[e]; ; {
				cur := e.first.Load()
				if (e.dirty.Load() && cur <= f) || e.first.CompareAndSwap(cur, f) {
					break
				}
			}
			if _, ok := u.pending[id]; !ok {
				e.dirty.Store(true)
				u.pending[id] = e
			}
		}
	}
	u.inflight = nil
	u.flushes++
	return err
}

// Run flushes uses every interval until ctx ends, then once more (see
// flushAtShutdown) so that nothing seen before shutdown is lost. A failed
// periodic flush keeps its uses for the next one.
func (v *Verifier) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := v.Flush(ctx); err != nil && ctx.Err() == nil {
				v.log.Error("recording token uses failed; will retry", "err", err)
			}
		case <-ctx.Done():
			v.flushAtShutdown()
			return
		}
	}
}

// shutdownFlushAttempts bounds the last flush's attempts: a deadlock or a
// dropped connection must not lose the uses of the last second, and a
// database that stays away must not hold up the shutdown for long.
const shutdownFlushAttempts = 5

// flushAtShutdown writes the pending uses with a fresh context bounded by
// 10 s, retrying a failure after 50 ms, then 100 ms, and so on.
func (v *Verifier) flushAtShutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := v.Flush(ctx)
		if err == nil {
			return
		}
		if attempt == shutdownFlushAttempts || ctx.Err() != nil {
			v.log.Error("recording token uses at shutdown failed; the uses since the last flush are lost", "err", err, "attempts", attempt)
			return
		}
		v.log.Warn("recording token uses at shutdown failed; retrying", "err", err, "attempt", attempt)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait *= 2
	}
}
