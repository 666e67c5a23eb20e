package verify

import (
	"context"
	"sync"
	"time"

	"github.com/keysmith/keysmith"
)

// usage batches last-use records: a verification only updates atomics on the
// cache entry (and, once per flush interval per token, queues the entry), and
// Flush writes all queued uses in one transaction.
type usage struct {
	mu       sync.Mutex
	pending  map[string]*entry // token id → entry with unflushed uses
	inflight map[string]*entry // being written by the current flush
}

func (u *usage) touch(e *entry, now time.Time, ip string) {
	// The address is stored before the time: a flush that reads the new
	// time then also reads the new address.
	if ip != "" {
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
		u.mu.Lock()
		u.pending[e.token.ID] = e
		u.mu.Unlock()
	}
}

func (e *entry) use() keysmith.TokenUse {
	tu := keysmith.TokenUse{TokenID: e.token.ID, At: time.UnixMicro(e.lastUsed.Load()).UTC()}
	if p := e.lastIP.Load(); p != nil {
		tu.IP = *p
	}
	return tu
}

// PendingUse returns the latest use of a token seen here and not yet stored.
func (v *Verifier) PendingUse(tokenID string) (keysmith.TokenUse, bool) {
	v.usage.mu.Lock()
	e := v.usage.pending[tokenID]
	if e == nil {
		e = v.usage.inflight[tokenID]
	}
	v.usage.mu.Unlock()
	if e == nil {
		return keysmith.TokenUse{}, false
	}
	return e.use(), true
}

// Flush writes the queued uses to the store. On failure they stay queued for
// the next flush.
func (v *Verifier) Flush(ctx context.Context) error {
	u := &v.usage
	u.mu.Lock()
	batch := u.pending
	u.pending, u.inflight = map[string]*entry{}, batch
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	uses := make([]keysmith.TokenUse, 0, len(batch))
	for _, e := range batch {
		// Clear the flag before reading, so a use that lands after the read
		// queues the entry again rather than being lost.
		e.dirty.Store(false)
		uses = append(uses, e.use())
	}
	err := v.store.RecordTokenUses(ctx, uses)
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		for id, e := range batch {
			if _, ok := u.pending[id]; !ok {
				e.dirty.Store(true)
				u.pending[id] = e
			}
		}
	}
	u.inflight = nil
	return err
}

// Run flushes uses every interval until ctx ends, then once more (with a
// fresh context, bounded by 10 s) so that nothing seen before shutdown is lost.
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
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := v.Flush(fctx); err != nil {
				v.log.Error("recording token uses at shutdown failed", "err", err)
			}
			return
		}
	}
}
