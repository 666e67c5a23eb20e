package verify

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/keysmith/keysmith"
)

// ZoneIndex answers, for an address, which zones it is in and whether it is
// a trusted proxy, by binary search over sorted, merged address ranges built
// once per change from the parsed prefixes: no string work and no allocation
// per request. It is immutable; a zone change builds a new one.
type ZoneIndex struct {
	any     ranges            // union of every zone's gateways
	zones   map[string]ranges // zone id → its gateways
	proxies ranges            // every zone's proxies and the trusted proxies
}

// ranges is a sorted list of disjoint, non-adjacent closed address ranges.
type ranges []addrRange

type addrRange struct{ first, last netip.Addr }

var _ keysmith.ZoneLookup = (*ZoneIndex)(nil)

// NewZoneIndex indexes zones; trusted are proxies trusted beyond any zone's
// (--trusted-proxies).
func NewZoneIndex(zones []*keysmith.Zone, trusted []netip.Prefix) *ZoneIndex {
	x := &ZoneIndex{zones: make(map[string]ranges, len(zones))}
	var all, proxies []netip.Prefix
	proxies = append(proxies, trusted...)
	for _, z := range zones {
		x.zones[z.ID] = makeRanges(z.Gateways)
		all = append(all, z.Gateways...)
		proxies = append(proxies, z.Proxies...)
	}
	x.any, x.proxies = makeRanges(all), makeRanges(proxies)
	return x
}

// InAnyZone reports whether a is among some zone's gateways.
func (x *ZoneIndex) InAnyZone(a netip.Addr) bool { return x.any.contains(a.Unmap()) }

// InZone reports whether a is among the zone's gateways; false for an
// unknown zone.
func (x *ZoneIndex) InZone(id string, a netip.Addr) bool { return x.zones[id].contains(a.Unmap()) }

// IsProxy reports whether a is a proxy whose X-Forwarded-For is believed.
func (x *ZoneIndex) IsProxy(a netip.Addr) bool { return x.proxies.contains(a.Unmap()) }

func makeRanges(ps []netip.Prefix) ranges {
	rs := make(ranges, 0, len(ps))
	for _, p := range ps {
		p = p.Masked()
		rs = append(rs, addrRange{p.Addr(), lastAddr(p)})
	}
	slices.SortFunc(rs, func(a, b addrRange) int { return cmp.Or(a.first.Compare(b.first), a.last.Compare(b.last)) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].first.BitLen() == r.first.BitLen() {
			prev := &out[n-1]
			if next := prev.last.Next(); r.first.Compare(prev.last) <= 0 || (next.IsValid() && next == r.first) {
				if r.last.Compare(prev.last) > 0 {
					prev.last = r.last
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr()
	b := a.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	return last
}

func (rs ranges) contains(a netip.Addr) bool {
	// The last range starting at or before a is the only one that can hold it.
	i, found := slices.BinarySearchFunc(rs, a, func(r addrRange, a netip.Addr) int { return r.first.Compare(a) })
	if found {
		return true
	}
	return i > 0 && a.Compare(rs[i-1].last) <= 0 && a.BitLen() == rs[i-1].last.BitLen()
}

type zoneCache struct {
	index    *ZoneIndex
	loadedAt time.Time
}

// Zones returns the current zone index, loading it after a change.
func (v *Verifier) Zones(ctx context.Context) (*ZoneIndex, error) { return v.zonesAt(ctx, v.now()) }

func (v *Verifier) zonesAt(ctx context.Context, now time.Time) (*ZoneIndex, error) {
	if c := v.zones.Load(); c != nil && now.Sub(c.loadedAt) < v.trustAge() {
		return c.index, nil
	}
	v.mu.RLock()
	gen := v.zoneGen
	v.mu.RUnlock()
	zs, err := v.store.FindZones(ctx)
	if err != nil {
		return nil, err
	}
	c := &zoneCache{index: NewZoneIndex(zs, v.trusted), loadedAt: now}
	v.mu.Lock()
	if v.zoneGen == gen { // no change committed while loading
		v.zones.Store(c)
	}
	v.mu.Unlock()
	return c.index, nil
}
