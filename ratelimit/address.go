package ratelimit

import (
	"context"
	"net/netip"
	"time"
)

// PerAddress limits failures per source address: failed sign-ins, failed
// client authentication at the OAuth endpoints. An attempt reserves one unit
// of its address's budget before the credentials are looked at, and gives it
// back when they turn out right (or were never checked):
//
//	r, _ := pa.Reserve(ctx, addr, limit)
//	if !r.Allowed { answer 429 }
//	... authenticate ...
//	if !failed { pa.Release(ctx, addr, limit) }
//
// Reserving first is what makes a burst count like a sequence: attempts sent
// at once each take their unit before any credential is checked, so no more
// than limit of them reach the check, while a success still costs nothing.
// IPv6 addresses are counted per /64, because one host usually holds a
// whole /64.
type PerAddress struct {
	Limiter Limiter
	Group   string // key prefix, e.g. "failed_sign_ins"
	Window  time.Duration
}

// Reserve counts one attempt from addr unless its budget is used up.
func (p *PerAddress) Reserve(ctx context.Context, addr netip.Addr, limit int) (Result, error) {
	return p.Limiter.Allow(ctx, p.key(addr), limit, p.Window)
}

// Release gives back a unit that Reserve took, for an attempt that did not
// fail.
func (p *PerAddress) Release(ctx context.Context, addr netip.Addr, limit int) error {
	return p.Limiter.Refund(ctx, p.key(addr), limit, p.Window)
}

func (p *PerAddress) key(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		pf, _ := a.Prefix(64)
		return "addr:" + p.Group + ":" + pf.String()
	}
	return "addr:" + p.Group + ":" + a.String()
}
