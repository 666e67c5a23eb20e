package verify_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/verify"
)

// benchSetup opens a real SQLite store with an admin token (network any)
// and a token allowed only from one zone of several, both at the default
// share of a verified maximum too high to be reached.
func benchSetup(b *testing.B) (v *verify.Verifier, plain, zoned string) {
	b.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), store.Options{Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	svc := &keysmith.Service{Store: db, Now: keysmith.SystemClock}
	u, _, secret, err := svc.Bootstrap(ctx, "admin@localhost")
	if err != nil {
		b.Fatal(err)
	}
	p := keysmith.Principal{User: u}
	if _, err := svc.SetRateLimits(ctx, p, keysmith.RateLimits{keysmith.GroupVerified: keysmith.MaxRateLimit}); err != nil {
		b.Fatal(err)
	}
	var zone *keysmith.Zone
	for i, gw := range [][]string{{"10.0.0.0/8", "2001:db8::/32"}, {"192.0.2.0/24", "198.51.100.7", "203.0.113.0/25"}, {"172.16.0.0/12"}} {
		name, gws := "zone"+string(rune('a'+i)), gw
		z, err := svc.CreateZone(ctx, p, keysmith.ZoneInput{Name: &name, Gateways: &gws})
		if err != nil {
			b.Fatal(err)
		}
		if i == 1 {
			zone = z
		}
	}
	t, zsecret, err := svc.CreateToken(ctx, p, keysmith.CreateTokenInput{Name: "zoned",
		Network: &keysmith.NetworkPolicy{Mode: keysmith.NetworkInZones, Zones: []string{zone.ID}}})
	if err != nil || t == nil {
		b.Fatal(err)
	}
	return verify.New(db, verify.Options{Log: log}), secret.Reveal(), zsecret.Reveal()
}

func benchCheck(b *testing.B, v *verify.Verifier, token string, addr netip.Addr) {
	ctx := context.Background()
	if r, err := v.Check(ctx, token, addr, keysmith.GroupVerified); err != nil || !r.Valid() {
		b.Fatalf("%v %v", r.Code, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r, _ := v.Check(ctx, token, addr, keysmith.GroupVerified); !r.Valid() {
				b.Errorf("code %s", r.Code)
				return
			}
		}
	})
}

// BenchmarkVerifyPlain is a token with network policy any: the cache lookup,
// the status rules and the rate-limit count.
func BenchmarkVerifyPlain(b *testing.B) {
	v, plain, _ := benchSetup(b)
	benchCheck(b, v, plain, netip.MustParseAddr("192.0.2.10"))
}

// BenchmarkVerifyZoned adds the zone lookup of an in_zones policy.
func BenchmarkVerifyZoned(b *testing.B) {
	v, _, zoned := benchSetup(b)
	benchCheck(b, v, zoned, netip.MustParseAddr("192.0.2.10"))
}

// BenchmarkVerifyZonedIPv6Miss looks up an IPv6 address outside the zone
// through the not-found path of the index.
func BenchmarkVerifyZonedIPv6Miss(b *testing.B) {
	v, _, zoned := benchSetup(b)
	ctx := context.Background()
	addr := netip.MustParseAddr("2001:db9::1")
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := v.Check(ctx, zoned, addr, keysmith.GroupVerified); r.Code != verify.IPForbidden {
			b.Fatalf("code %s", r.Code)
		}
	}
}

// BenchmarkVerifyCheckPermissions is BenchmarkVerifyCachedPermissions on
// the path POST /v1/verify takes (Check, with the count against the
// verified rate limit): plain, and with the 3-term permission query
// "a AND (b OR c)" parsed through the cache and checked, on one token.
func BenchmarkVerifyCheckPermissions(b *testing.B) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), store.Options{Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	svc := &keysmith.Service{Store: db, Now: keysmith.SystemClock}
	u, _, _, err := svc.Bootstrap(ctx, "admin@localhost")
	if err != nil {
		b.Fatal(err)
	}
	p := keysmith.Principal{User: u}
	if _, err := svc.SetRateLimits(ctx, p, keysmith.RateLimits{keysmith.GroupVerified: keysmith.MaxRateLimit}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	if err := db.CreateAPI(ctx, &keysmith.API{ID: keysmith.NewID("api"), Name: "bench", Identifier: "https://bench.example",
		Scopes: []keysmith.Scope{{Name: "a"}, {Name: "b"}, {Name: "c"}}, CreatedAt: now, UpdatedAt: now}); err != nil {
		b.Fatal(err)
	}
	_, secret, err := svc.CreateToken(ctx, p, keysmith.CreateTokenInput{Name: "scoped", Scopes: []string{"a", "c"}})
	if err != nil {
		b.Fatal(err)
	}
	v, raw, addr := verify.New(db, verify.Options{Log: log}), secret.Reveal(), netip.MustParseAddr("192.0.2.10")
	if r, err := v.Check(ctx, raw, addr, keysmith.GroupVerified); err != nil || !r.Valid() {
		b.Fatalf("%v %v", r.Code, err)
	}
	q := "a AND (b OR c)"
	plain := func(b *testing.B) {
		if r, _ := v.Check(ctx, raw, addr, keysmith.GroupVerified); !r.Valid() {
			b.Fatalf("code %s", r.Code)
		}
	}
	query := func(b *testing.B) {
		need, err := v.ParseRequirement(nil, &q, "")
		if err != nil {
			b.Fatal(err)
		}
		r, _ := v.Check(ctx, raw, addr, keysmith.GroupVerified)
		if code, _ := need.Check(r.Token.Scopes, r.Token.Environment); !r.Valid() || code != verify.Valid {
			b.Fatalf("code %s, requirement %s", r.Code, code)
		}
	}
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			plain(b)
		}
	})
	b.Run("query", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			query(b)
		}
	})
	// interleaved alternates blocks of both, so that drift in the machine's
	// load and the garbage of one run fall on both alike; ratio is plain
	// ns/op over query ns/op (the target: at least 0.95).
	b.Run("interleaved", func(b *testing.B) {
		const block = 200
		var inPlain, inQuery time.Duration
		for b.Loop() {
			start := time.Now()
			for range block {
				plain(b)
			}
			mid := time.Now()
			for range block {
				query(b)
			}
			inPlain, inQuery = inPlain+mid.Sub(start), inQuery+time.Since(mid)
		}
		n := float64(b.N * block)
		b.ReportMetric(float64(inPlain.Nanoseconds())/n, "plain-ns/op")
		b.ReportMetric(float64(inQuery.Nanoseconds())/n, "query-ns/op")
		b.ReportMetric(float64(inPlain)/float64(inQuery), "ratio")
	})
}
