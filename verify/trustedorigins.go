package verify

import (
	"context"
	"time"
)

// originsCache is the set of trusted origins as last loaded: every API
// request with an Origin header is matched against it, so it is read from
// memory, without the lock, and dropped by a ChangeTrustedOrigin (or a
// lost change feed) like the zones.
type originsCache struct {
	set      map[string]struct{}
	loadedAt time.Time
}

// TrustsOrigin reports whether origin (an Origin header as the browser sent
// it) is a trusted origin, loading the list after a change. Browsers send
// origins in the normalised form the store keeps (keysmith.ParseOrigin), so
// the match is exact.
func (v *Verifier) TrustsOrigin(ctx context.Context, origin string) (bool, error) {
	now := v.now()
	c := v.origins.Load()
	if c == nil || now.Sub(c.loadedAt) >= v.trustAge() {
		var err error
		if c, err = v.loadOrigins(ctx, now); err != nil {
			return false, err
		}
	}
	_, ok := c.set[origin]
	return ok, nil
}

func (v *Verifier) loadOrigins(ctx context.Context, now time.Time) (*originsCache, error) {
	v.mu.RLock()
	gen := v.originsGen
	v.mu.RUnlock()
	os, err := v.store.FindTrustedOrigins(ctx)
	if err != nil {
		return nil, err
	}
	c := &originsCache{set: make(map[string]struct{}, len(os)), loadedAt: now}
	for _, o := range os {
		c.set[o.Origin] = struct{}{}
	}
	v.mu.Lock()
	if v.originsGen == gen { // no change committed while loading
		v.origins.Store(c)
	}
	v.mu.Unlock()
	return c, nil
}
