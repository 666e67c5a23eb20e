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

// cacheEntry is a valid answer, good until expires for at most uses more
// requests (-1: no count; Keysmith gave no rate limit).
type cacheEntry struct {
	key     cacheKey
	result  *VerifyResult
	expires time.Time
	uses    int
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

// take answers the cached result for k if it is still good at now,
// spending one of its uses.
func (c *validCache) take(k cacheKey, now time.Time) (*VerifyResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) || e.uses == 0 {
		c.remove(el)
		return nil, false
	}
	if e.uses > 0 {
		e.uses--
	}
	c.lru.MoveToFront(el)
	return e.result, true
}

// put stores a valid result for k until expires, for uses more requests.
func (c *validCache) put(k cacheKey, r *VerifyResult, expires time.Time, uses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok {
		c.remove(el)
	}
	for c.lru.Len() >= c.size {
		c.remove(c.lru.Back())
	}
	c.byKey[k] = c.lru.PushFront(&cacheEntry{key: k, result: r, expires: expires, uses: uses})
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
