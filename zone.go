package keysmith

import (
	"net/netip"
	"slices"
	"time"
)

// Zone is a named set of networks. Gateways are where a zone's traffic comes
// from; proxies are the zone's own reverse proxies, whose X-Forwarded-For
// headers Keysmith believes. Tokens refer to zones in their NetworkPolicy.
type Zone struct {
	ID        string
	Name      string
	Gateways  []netip.Prefix // masked; a single address is a /32 or /128
	Proxies   []netip.Prefix
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MaxZoneEntries bounds the gateways and the proxies of one zone.
const MaxZoneEntries = 1000

// ParsePrefixes parses a zone's list of addresses and CIDR ranges, IPv4 or
// IPv6. field names the list in errors, and every error names the bad entry.
// A range with host bits set ("10.0.0.1/8") is refused rather than silently
// widened, because it usually means a typo.
func ParsePrefixes(field string, entries []string) ([]netip.Prefix, error) {
	if len(entries) > MaxZoneEntries {
		return nil, Errorf(CodeInvalid, "%s may hold at most %d entries, got %d", field, MaxZoneEntries, len(entries))
	}
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		p, err := parsePrefix(e)
		if err != nil {
			return nil, Errorf(CodeInvalid, "%s entry %q %s", field, e, err.Message)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// MinProxyBits is the shortest prefix a trusted proxy range may have. No
// real set of reverse proxies spans more than a /8 (10.0.0.0/8, fd00::/8);
// wider ranges, or a few halves that together cover everything
// (0.0.0.0/1 + 128.0.0.0/1), would make most clients proxies.
const MinProxyBits = 8

// ParseProxies parses a list of trusted proxies like ParsePrefixes, and
// refuses a range wider than a /8 (MinProxyBits), 0.0.0.0/0 and ::/0
// included: with it (almost) every client would count as a proxy, so
// X-Forwarded-For, which the client writes itself, would decide the
// address Keysmith sees, and with it network policies, per-address limits
// and the system log's client_ip.
func ParseProxies(field string, entries []string) ([]netip.Prefix, error) {
	ps, err := ParsePrefixes(field, entries)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Bits() == 0 {
			return nil, Errorf(CodeInvalid, "%s entry %q matches every address: every client would count as a proxy and "+
				"could choose its own address by sending X-Forwarded-For; list only the addresses or ranges of your proxies", field, p.String())
		}
		if p.Bits() < MinProxyBits {
			return nil, Errorf(CodeInvalid, "%s entry %q is wider than a /%d: most clients would count as proxies and "+
				"could choose their own address by sending X-Forwarded-For; list only the addresses or ranges of your proxies", field, p.String(), MinProxyBits)
		}
	}
	return ps, nil
}

func parsePrefix(s string) (netip.Prefix, *Error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.Prefix{}, Errorf(CodeInvalid, "has an interface zone; give a plain address")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, Errorf(CodeInvalid, "is not an IP address or CIDR range (expected e.g. 203.0.113.0/24, 2001:db8::/48 or 198.51.100.7)")
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, Errorf(CodeInvalid, "is an IPv4-mapped IPv6 range; write it as IPv4")
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, Errorf(CodeInvalid, "has bits set beyond its /%d mask; did you mean %s?", p.Bits(), m)
	}
	return p, nil
}

// FormatPrefix shows a prefix as a user wrote it: a single address without
// its /32 or /128.
func FormatPrefix(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// FormatPrefixes formats a list with FormatPrefix.
func FormatPrefixes(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = FormatPrefix(p)
	}
	return out
}

// ZoneInput is what a caller supplies to create a zone, and (with nil
// meaning "unchanged") to update one.
type ZoneInput struct {
	Name     *string
	Gateways *[]string
	Proxies  *[]string
}

// ZoneUpdate is a parsed, validated change to a zone; nil fields stay.
type ZoneUpdate struct {
	Name     *string
	Gateways *[]netip.Prefix
	Proxies  *[]netip.Prefix
}

// Parse validates the input. create requires a name.
func (in ZoneInput) Parse(create bool) (ZoneUpdate, error) {
	var u ZoneUpdate
	if in.Name != nil || create {
		var name string
		if in.Name != nil {
			name = *in.Name
		}
		if err := validateName("name", name); err != nil {
			return u, err
		}
		u.Name = &name
	}
	for _, f := range []struct {
		field string
		in    *[]string
		out   **[]netip.Prefix
		parse func(string, []string) ([]netip.Prefix, error)
	}{{"gateways", in.Gateways, &u.Gateways, ParsePrefixes}, {"proxies", in.Proxies, &u.Proxies, ParseProxies}} {
		if f.in == nil {
			continue
		}
		ps, err := f.parse(f.field, *f.in)
		if err != nil {
			return u, err
		}
		*f.out = &ps
	}
	return u, nil
}

// NetworkMode says from where a token may be used.
type NetworkMode string

// The network modes.
const (
	NetworkAny          NetworkMode = "any"             // from any address
	NetworkInAnyZone    NetworkMode = "in_any_zone"     // only from an address in some zone
	NetworkInZones      NetworkMode = "in_zones"        // only from the listed zones
	NetworkNotInAnyZone NetworkMode = "not_in_any_zone" // only from addresses in no zone
	NetworkNotInZones   NetworkMode = "not_in_zones"    // only from outside the listed zones
)

// MaxPolicyZones bounds the zones one policy lists.
const MaxPolicyZones = 100

// NetworkPolicy is a token's rule about the addresses it may be used from.
// The zero value allows any address.
type NetworkPolicy struct {
	Mode  NetworkMode
	Zones []string // zone ids; only for in_zones and not_in_zones
}

// Validate checks the policy's form (not whether its zones exist: the store
// checks that in the transaction that saves it). An empty mode means any.
func (p *NetworkPolicy) Validate() error {
	switch p.Mode {
	case "":
		p.Mode = NetworkAny
		fallthrough
	case NetworkAny, NetworkInAnyZone, NetworkNotInAnyZone:
		if len(p.Zones) > 0 {
			return Errorf(CodeInvalid, "network mode %q takes no zones; use in_zones or not_in_zones to list zones", p.Mode)
		}
		p.Zones = nil
	case NetworkInZones, NetworkNotInZones:
		if len(p.Zones) == 0 {
			return Errorf(CodeInvalid, "network mode %q needs at least one zone id in zones", p.Mode)
		}
		if len(p.Zones) > MaxPolicyZones {
			return Errorf(CodeInvalid, "network zones may list at most %d zones", MaxPolicyZones)
		}
		seen := map[string]bool{}
		for _, z := range p.Zones {
			if z == "" || seen[z] {
				return Errorf(CodeInvalid, "network zones must be distinct, non-empty zone ids; got %q twice or empty", z)
			}
			seen[z] = true
		}
	default:
		return Errorf(CodeInvalid, "network mode %q is not one of any, in_any_zone, in_zones, not_in_any_zone, not_in_zones", p.Mode)
	}
	return nil
}

// ZoneLookup answers which zones an address is in. The verifier's in-memory
// index implements it.
type ZoneLookup interface {
	InAnyZone(a netip.Addr) bool
	InZone(zoneID string, a netip.Addr) bool
}

// Allows reports whether the policy lets a request from a through. An
// unknown address (the zero Addr) passes only mode any: a rule about
// networks cannot be checked without one, so it fails closed.
func (p *NetworkPolicy) Allows(a netip.Addr, z ZoneLookup) bool {
	if p.Mode == NetworkAny || p.Mode == "" {
		return true
	}
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	switch p.Mode {
	case NetworkInAnyZone:
		return z.InAnyZone(a)
	case NetworkNotInAnyZone:
		return !z.InAnyZone(a)
	case NetworkInZones:
		for _, id := range p.Zones {
			if z.InZone(id, a) {
				return true
			}
		}
		return false
	case NetworkNotInZones:
		for _, id := range p.Zones {
			if z.InZone(id, a) {
				return false
			}
		}
		return true
	}
	return false
}

// CanEditZones: org and super admins manage network zones.
func CanEditZones(u *User) bool { return u.Role == RoleSuperAdmin || u.Role == RoleOrgAdmin }

// CanSeeZones: every admin role may read zones (they name networks, not
// secrets); developers may not.
func CanSeeZones(u *User) bool { return IsAdmin(u.Role) }
