package keysmith_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/verify"
)

func TestParsePrefixes(t *testing.T) {
	got, err := keysmith.ParsePrefixes("gateways", []string{"203.0.113.0/24", "2001:db8::/48", "198.51.100.7", "2001:db8:1::1", "::ffff:192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"203.0.113.0/24", "2001:db8::/48", "198.51.100.7", "2001:db8:1::1", "192.0.2.1"}
	if f := keysmith.FormatPrefixes(got); strings.Join(f, " ") != strings.Join(want, " ") {
		t.Errorf("parsed %v, want %v", f, want)
	}
	for _, bad := range []string{"", "example.com", "10.0.0.0/33", "10.0.0.1/8", "fe80::1%eth0", "1.2.3.4/", "::ffff:10.0.0.0/104"} {
		_, err := keysmith.ParsePrefixes("proxies", []string{"10.0.0.0/8", bad})
		if keysmith.ErrorCode(err) != keysmith.CodeInvalid || !strings.Contains(err.Error(), `proxies entry "`+bad+`"`) {
			t.Errorf("%q: err %v, want invalid naming the entry", bad, err)
		}
	}
}

func TestNetworkPolicy(t *testing.T) {
	zones := []*keysmith.Zone{
		{ID: "office", Gateways: mustPrefixes(t, "203.0.113.0/24", "2001:db8::/48")},
		{ID: "dc", Gateways: mustPrefixes(t, "198.51.100.7")},
	}
	idx := verify.NewZoneIndex(zones, nil)
	office, dc, outside, unknown := "203.0.113.9", "198.51.100.7", "192.0.2.1", ""
	cases := []struct {
		policy keysmith.NetworkPolicy
		allow  []string
		deny   []string
	}{
		{keysmith.NetworkPolicy{Mode: keysmith.NetworkAny}, []string{office, dc, outside, unknown}, nil},
		{keysmith.NetworkPolicy{Mode: keysmith.NetworkInAnyZone}, []string{office, dc, "2001:db8::5"}, []string{outside, unknown}},
		{keysmith.NetworkPolicy{Mode: keysmith.NetworkInZones, Zones: []string{"dc"}}, []string{dc}, []string{office, outside, unknown}},
		{keysmith.NetworkPolicy{Mode: keysmith.NetworkNotInAnyZone}, []string{outside, "2001:db9::1"}, []string{office, dc, unknown}},
		{keysmith.NetworkPolicy{Mode: keysmith.NetworkNotInZones, Zones: []string{"dc"}}, []string{office, outside}, []string{dc, unknown}},
	}
	for _, c := range cases {
		for _, ip := range c.allow {
			a, _ := netip.ParseAddr(ip)
			if !c.policy.Allows(a, idx) {
				t.Errorf("%v refuses %q, want allowed", c.policy, ip)
			}
		}
		for _, ip := range c.deny {
			a, _ := netip.ParseAddr(ip)
			if c.policy.Allows(a, idx) {
				t.Errorf("%v allows %q, want refused", c.policy, ip)
			}
		}
	}
	for _, bad := range []keysmith.NetworkPolicy{
		{Mode: "everywhere"},
		{Mode: keysmith.NetworkAny, Zones: []string{"dc"}},
		{Mode: keysmith.NetworkInZones},
		{Mode: keysmith.NetworkNotInZones, Zones: []string{"dc", "dc"}},
	} {
		if err := bad.Validate(); keysmith.ErrorCode(err) != keysmith.CodeInvalid {
			t.Errorf("Validate(%v) = %v, want invalid", bad, err)
		}
	}
}

func TestZoneIndexMergesRanges(t *testing.T) {
	idx := verify.NewZoneIndex([]*keysmith.Zone{
		{ID: "a", Gateways: mustPrefixes(t, "10.0.0.0/24", "10.0.1.0/24", "10.0.0.128/25", "10.0.3.4", "::/0")},
	}, mustPrefixes(t, "127.0.0.1"))
	for ip, want := range map[string]bool{
		"10.0.0.0": true, "10.0.1.255": true, "10.0.2.0": false, "10.0.3.4": true, "10.0.3.5": false,
		"9.255.255.255": false, "2001:db8::1": true, "::ffff:10.0.0.1": true,
	} {
		if got := idx.InZone("a", netip.MustParseAddr(ip)); got != want {
			t.Errorf("InZone(a, %s) = %v, want %v", ip, got, want)
		}
	}
	if idx.InZone("b", netip.MustParseAddr("10.0.0.1")) {
		t.Error("an unknown zone contains an address")
	}
	if !idx.IsProxy(netip.MustParseAddr("127.0.0.1")) || idx.IsProxy(netip.MustParseAddr("127.0.0.2")) {
		t.Error("trusted proxies are not indexed")
	}
}

func mustPrefixes(t *testing.T, s ...string) []netip.Prefix {
	t.Helper()
	ps, err := keysmith.ParsePrefixes("test", s)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}
