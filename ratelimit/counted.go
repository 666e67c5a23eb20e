package ratelimit

import (
	"context"
	"strings"
	"sync/atomic"
	"time"
)

// Counted is a Limiter that counts its refusals per group, for metrics.
// Keys name their group as their second field ("tok:verified:tok_…",
// "addr:failed_sign_ins:…"); a group not in the list given to NewCounted
// counts as "other", so that the counts stay a fixed, small set whatever a
// key holds. Counting costs one check per Allow and an atomic add per
// refusal.
type Counted struct {
	Limiter
	groups  []string
	refused []atomic.Uint64 // per group, then "other"
}

// NewCounted wraps l, counting refusals for groups.
func NewCounted(l Limiter, groups []string) *Counted {
	return &Counted{Limiter: l, groups: groups, refused: make([]atomic.Uint64, len(groups)+1)}
}

// Allow is the wrapped Limiter's Allow, counting a refusal.
func (c *Counted) Allow(ctx context.Context, key string, limit int, window time.Duration) (Result, error) {
	r, err := c.Limiter.Allow(ctx, key, limit, window)
	if err == nil && !r.Allowed {
		c.refused[c.groupIndex(key)].Add(1)
	}
	return r, err
}

func (c *Counted) groupIndex(key string) int {
	_, rest, _ := strings.Cut(key, ":")
	g, _, _ := strings.Cut(rest, ":")
	for i, name := range c.groups {
		if name == g {
			return i
		}
	}
	return len(c.groups)
}

// Refused calls f with each group's refusals since c was made, "other"
// last.
func (c *Counted) Refused(f func(group string, n uint64)) {
	for i, g := range c.groups {
		f(g, c.refused[i].Load())
	}
	f("other", c.refused[len(c.groups)].Load())
}
