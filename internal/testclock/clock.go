// Package testclock is a clock that tests move by hand, so that every expiry
// rule is tested without sleeping.
package testclock

import (
	"sync"
	"time"
)

// Clock is a manual clock, safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	before []func(d time.Duration)
}

// New returns a clock at a fixed, microsecond-aligned instant.
func New() *Clock {
	return &Clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time; pass c.Now as a keysmith.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d, after running the functions
// registered with BeforeAdvance.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	before := c.before
	c.mu.Unlock()
	for _, f := range before {
		f(d)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d).Truncate(time.Microsecond)
}

// BeforeAdvance registers f to run, with the clock still at its old time,
// whenever the clock is about to move forward by d: what would have
// happened in the background during d (a periodic flush, say) happens
// first.
func (c *Clock) BeforeAdvance(f func(d time.Duration)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.before = append(c.before, f)
}
