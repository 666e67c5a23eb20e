package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Local keeps counters in this process's memory: exact for one replica, and
// the fallback when Redis cannot be reached. It is sharded so that checks of
// different keys rarely wait for each other.
type Local struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [64]localShard
}

// cell is one key's state, as GCRA keeps it.
type cell struct{ tat, interval float64 }

type localShard struct {
	mu     sync.Mutex
	tat    map[string]cell
	writes int
}

// NewLocal returns an in-process limiter on the clock now (nil: time.Now).
func NewLocal(now func() time.Time) *Local {
	if now == nil {
		now = time.Now
	}
	l := &Local{now: now, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].tat = map[string]cell{}
	}
	return l
}

// Allow counts one request for key unless it would exceed the limit.
func (l *Local) Allow(_ context.Context, key string, limit int, window time.Duration) (Result, error) {
	return l.check(key, limit, window, 1), nil
}

// Peek reports the state of key without counting.
func (l *Local) Peek(_ context.Context, key string, limit int, window time.Duration) (Result, error) {
	return l.check(key, limit, window, 0), nil
}

// Refund gives back one request counted for key.
func (l *Local) Refund(_ context.Context, key string, limit int, window time.Duration) error {
	l.check(key, limit, window, -1)
	return nil
}

func (l *Local) check(key string, limit int, window time.Duration, cost int) Result {
	now := float64(l.now().UnixMicro())
	s := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.tat[key]
	r, tat, interval := GCRA(old.tat, old.interval, now, limit, window, cost)
	if cost < 0 && ok {
		s.tat[key] = cell{tat, interval}
	}
	if cost > 0 && r.Allowed {
		if !ok {
			s.writes++
			if s.writes >= 4096 { // forget keys whose counters are back to full
				s.writes = 0
				for k, t := range s.tat {
					if t.tat <= now {
						delete(s.tat, k)
					}
				}
			}
		}
		s.tat[key] = cell{tat, interval}
	}
	return r
}
