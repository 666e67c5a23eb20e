package verify

import "sync/atomic"

// clockCache is a map of at most max entries that makes room, when full, by
// the CLOCK algorithm (second chance): every entry has a reference bit, set
// when it is read; a hand sweeps the slots as a ring, clearing the bits it
// passes, and evicts the first entry whose bit was already clear. That
// approximates least-recently-used eviction at the cost of one bit per read,
// which a reader sets with an atomic store: reads need no write lock.
//
// The owner's lock guards it: get and peek may run under a read lock,
// concurrently with each other; every other method needs the write lock.
type clockCache[K comparable, V any] struct {
	max   int
	index map[K]int // key → its slot
	slots []clockSlot[K, V]
	refs  []uint32 // reference bits, one per slot, read and set atomically by get
	free  []int    // slots emptied by remove, used before the ring grows
	hand  int
}

type clockSlot[K comparable, V any] struct {
	key K
	val V
}

// newClockCache returns an empty cache of at most size entries (at least 1).
func newClockCache[K comparable, V any](size int) *clockCache[K, V] {
	return &clockCache[K, V]{max: max(size, 1), index: map[K]int{}}
}

// get returns the value of k and marks it referenced.
func (c *clockCache[K, V]) get(k K) (V, bool) {
	i, ok := c.index[k]
	if !ok {
		var zero V
		return zero, false
	}
	// Only the first read since the hand passed writes: a hot entry's
	// cache line is not written by every reader.
	if atomic.LoadUint32(&c.refs[i]) == 0 {
		atomic.StoreUint32(&c.refs[i], 1)
	}
	return c.slots[i].val, true
}

// peek returns the value of k without marking it.
func (c *clockCache[K, V]) peek(k K) (V, bool) {
	i, ok := c.index[k]
	if !ok {
		var zero V
		return zero, false
	}
	return c.slots[i].val, true
}

// put sets k to v. When k is new and the cache is full, it first evicts an
// entry, which it returns (evicted true) for the caller to tidy up after.
// A new entry starts unreferenced: one read only once is the first to go.
func (c *clockCache[K, V]) put(k K, v V) (oldKey K, oldVal V, evicted bool) {
	if i, ok := c.index[k]; ok {
		c.slots[i].val = v
		return oldKey, oldVal, false
	}
	var i int
	switch {
	case len(c.free) > 0:
		i = c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
	case len(c.slots) < c.max:
		c.slots = append(c.slots, clockSlot[K, V]{})
		c.refs = append(c.refs, 0)
		i = len(c.slots) - 1
	default: // full: every slot holds an entry
		i = c.victim()
		oldKey, oldVal, evicted = c.slots[i].key, c.slots[i].val, true
		delete(c.index, oldKey)
	}
	c.slots[i] = clockSlot[K, V]{key: k, val: v}
	c.refs[i] = 0
	c.index[k] = i
	return oldKey, oldVal, evicted
}

// victim moves the hand to the first slot whose reference bit is clear,
// clearing the bits it passes, and returns that slot; the hand moves past
// it. It ends within two turns of the ring.
func (c *clockCache[K, V]) victim() int {
	for {
		i := c.hand
		c.hand = (c.hand + 1) % len(c.slots)
		if c.refs[i] == 0 {
			return i
		}
		c.refs[i] = 0
	}
}

// remove drops k, if present.
func (c *clockCache[K, V]) remove(k K) bool {
	i, ok := c.index[k]
	if !ok {
		return false
	}
	delete(c.index, k)
	c.slots[i] = clockSlot[K, V]{} // lets go of the value
	c.refs[i] = 0
	c.free = append(c.free, i)
	return true
}

// clear drops every entry.
func (c *clockCache[K, V]) clear() {
	clear(c.index)
	clear(c.slots)
	c.slots, c.refs, c.free, c.hand = c.slots[:0], c.refs[:0], c.free[:0], 0
}

// len returns the number of entries.
func (c *clockCache[K, V]) len() int { return len(c.index) }
