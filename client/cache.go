package client

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// cacheKey is the SHA-256 of a credential with the requirement and client
// address it was checked for: the cache never holds a raw secret.
type cacheKey [sha256.Size]byte

// newCacheKey hashes credential, ip and the requirement's key, each ended
// by a NUL byte (which none of them may contain) so no two combinations run
// together.
func newCacheKey(credential, ip, requirement string) cacheKey {
	h := sha256.New()
	for _, s := range []string{credential, ip, requirement} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// cacheEntry is a valid answer, reused until admitUntil for at most uses
// more requests (-1: no count, Keysmith gave no rate limit).
//
// Keysmith does not count the requests admitted from the cache. spent
// counts them in the rate-limit window that ends at windowEnd, and the
// entry is kept until then (keepUntil) so that the next answer's remaining
// can be reduced by them.
type cacheEntry struct {
	key        cacheKey
	result     *VerifyResult
	admitUntil time.Time
	keepUntil  time.Time
	windowEnd  time.Time
	uses       int
	spent      int
}

// validCache holds valid answers, at most size of them, least recently
// used evicted first.
type validCache struct {
	mu    sync.Mutex
	size  int
	byKey map[cacheKey]*list.Element
	lru   *list.List // of *cacheEntry, most recently used at the front
}

func newValidCache(size int) *validCache {
	return &validCache{size: size, byKey: make(map[cacheKey]*list.Element), lru: list.New()}
}

// take answers the cached result for k if it may still admit a request at
// now, spending one of its uses.
func (c *validCache) take(k cacheKey, now time.Time) (*VerifyResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.keepUntil) {
		c.remove(el)
		return nil, false
	}
	if !now.Before(e.admitUntil) || e.uses == 0 {
		return nil, false
	}
	if e.uses > 0 {
		e.uses--
		e.spent++
	}
	c.lru.MoveToFront(el)
	return e.result, true
}

// put stores a valid answer Keysmith just gave for k, reusable until
// admitUntil. rl is its rate limit (nil: none). It reports false when the
// requests admitted from the cache earlier in the same window leave
// nothing for this one: the caller refuses it as rate limited.
func (c *validCache) put(k cacheKey, r *VerifyResult, now, admitUntil time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &cacheEntry{key: k, result: r, admitUntil: admitUntil, uses: -1, windowEnd: admitUntil}
	if rl := r.RateLimit; rl != nil {
		e.windowEnd = now.Add(time.Duration(rl.Reset) * time.Second)
		if el, ok := c.byKey[k]; ok {
			if old := el.Value.(*cacheEntry); now.Before(old.windowEnd) {
				e.spent, e.windowEnd = old.spent, old.windowEnd
			}
		}
		if e.uses = rl.Remaining - e.spent; e.uses < 0 {
			e.uses = 0
			return false
		}
	}
	e.keepUntil = admitUntil
	if e.windowEnd.After(e.keepUntil) {
		e.keepUntil = e.windowEnd
	}
	if el, ok := c.byKey[k]; ok {
		c.remove(el)
	}
	if !now.Before(e.keepUntil) {
		return true
	}
	for c.lru.Len() >= c.size {
		c.remove(c.lru.Back())
	}
	c.byKey[k] = c.lru.PushFront(e)
	return true
}

func (c *validCache) remove(el *list.Element) {
	delete(c.byKey, el.Value.(*cacheEntry).key)
	c.lru.Remove(el)
}

// len is the number of entries, expired ones included.
func (c *validCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
