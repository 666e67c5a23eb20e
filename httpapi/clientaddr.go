package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// resolveClientAddr finds the client's address: the connection's remote
// address, unless that is a trusted proxy (listed in some zone's proxies or
// in --trusted-proxies). Then X-Forwarded-For is read from the right, each
// hop taken as the client while the hop before it is trusted, and the walk
// stops at the first untrusted hop (or an entry that is not an address), so
// a client cannot choose its address by sending the header itself: whatever
// it wrote sits left of what the trusted proxies appended.
func (s *Server) resolveClientAddr(r *http.Request) netip.Addr {
	addr := remoteAddr(r)
	xff := r.Header["X-Forwarded-For"]
	if !addr.IsValid() || len(xff) == 0 {
		return addr
	}
	zones, err := s.Verifier.Zones(r.Context())
	if err != nil {
		s.Log.WarnContext(r.Context(), "cannot read network zones; ignoring X-Forwarded-For", "err", err)
		return addr
	}
	for i := len(xff) - 1; i >= 0; i-- {
		hops := strings.Split(xff[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			if !zones.IsProxy(addr) {
				return addr
			}
			hop, ok := parseHop(hops[j])
			if !ok {
				return addr
			}
			addr = hop
		}
	}
	return addr
}

func remoteAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a port
// ("192.0.2.1:443", "[2001:db8::1]:443").
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// ipString shows an address for logs and events ("" if unknown).
func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
