package ratelimit

import (
	"context"
	"net/netip"
	"time"
)

// PerAddress limits failures per source address: failed sign-ins, failed
// client authentication at the token endpoint. The pattern is:
//
//	if r, _ := pa.Check(ctx, addr, limit); !r.Allowed { answer 429 }
//	... authenticate ...
//	if failed { pa.Fail(ctx, addr, limit) }
//
// so successful attempts cost nothing, and an address that has failed limit
// times in a window is refused before its credentials are even looked at.
// IPv6 addresses are counted per /64, because one host usually holds a
// whole /64.
type PerAddress struct {
	Limiter Limiter
	Group   string // key prefix, e.g. "failed_sign_ins"
	Window  time.Duration
}

// Check reports whether addr may try again, without counting.
func (p *PerAddress) Check(ctx context.Context, addr netip.Addr, limit int) (Result, error) {
	return p.Limiter.Peek(ctx, p.key(addr), limit, p.Window)
}

// Fail counts one failure from addr.
func (p *PerAddress) Fail(ctx context.Context, addr netip.Addr, limit int) (Result, error) {
	return p.Limiter.Allow(ctx, p.key(addr), limit, p.Window)
}

func (p *PerAddress) key(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		pf, _ := a.Prefix(64)
		return "addr:" + p.Group + ":" + pf.String()
	}
	return "addr:" + p.Group + ":" + a.String()
}
