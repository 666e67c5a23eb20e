package verify_test

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/verify"
)

// The benchmarks run on the wall clock, as in production, with a real
// SQLite store behind the cache; the store is only read while warming up.
// NegativeTTL and MaxAge are long enough that no entry expires mid-run.

func newBenchFixture(b *testing.B) *fixture {
	b.Helper()
	return newFixtureWith(b, verify.Options{Now: keysmith.SystemClock, MaxAge: time.Hour, NegativeTTL: time.Hour})
}

// BenchmarkVerifyCached is the hot path: a valid token already in memory.
func BenchmarkVerifyCached(b *testing.B) {
	f := newBenchFixture(b)
	raw, _ := f.newToken(b, nil)
	f.mustBe(b, raw, verify.Valid)
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := f.v.VerifyAPIToken(f.ctx, raw, "192.0.2.1"); r.Code != verify.Valid {
			b.Fatalf("VerifyAPIToken = %s, want %s", r.Code, verify.Valid)
		}
	}
	b.StopTimer()
	f.wantReads(b, 1, 1) // the warm-up only
}

// BenchmarkVerifyCachedParallel is the hot path under concurrency: many
// requests for a handful of tokens.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	f := newBenchFixture(b)
	raws := make([]string, 8)
	for i := range raws {
		raws[i], _ = f.newToken(b, nil)
		f.mustBe(b, raws[i], verify.Valid)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if r, _ := f.v.VerifyAPIToken(f.ctx, raws[i%len(raws)], "192.0.2.1"); r.Code != verify.Valid {
				b.Errorf("VerifyAPIToken = %s, want %s", r.Code, verify.Valid)
				return
			}
		}
	})
	b.StopTimer()
	f.wantReads(b, int64(len(raws)), 1) // the warm-up only
}

// BenchmarkVerifyMalformed is garbage rejected by its form alone.
func BenchmarkVerifyMalformed(b *testing.B) {
	f := newBenchFixture(b)
	raw, _ := f.newToken(b, nil)
	bad := raw[:len(raw)-1] + "x" // wrong checksum, right length
	if bad == raw {
		bad = raw[:len(raw)-1] + "y"
	}
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := f.v.VerifyAPIToken(f.ctx, bad, "192.0.2.1"); r.Code != verify.Malformed {
			b.Fatalf("VerifyAPIToken = %s, want %s", r.Code, verify.Malformed)
		}
	}
}

// BenchmarkVerifyNegativeCached is a well-formed token that does not exist,
// presented again while it is remembered as unknown.
func BenchmarkVerifyNegativeCached(b *testing.B) {
	f := newBenchFixture(b)
	raw, _ := unknownToken()
	f.mustBe(b, raw, verify.NotFound)
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := f.v.VerifyAPIToken(f.ctx, raw, "192.0.2.1"); r.Code != verify.NotFound {
			b.Fatalf("VerifyAPIToken = %s, want %s", r.Code, verify.NotFound)
		}
	}
	b.StopTimer()
	f.wantReads(b, 1, 0) // the warm-up only
}

// benchUnknownFlood verifies b.N freshly minted, well-formed, unknown tokens
// (anyone can compute the checksum) sent from caller, and reports how many
// of them reached the store.
func benchUnknownFlood(b *testing.B, caller netip.Addr) {
	f := newBenchFixture(b)
	minted := make([]string, b.N)
	for i := range minted {
		minted[i], _ = unknownToken()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// NOT_FOUND while the budget lasts, RATE_LIMITED past it (no lookup).
		if r, _ := f.v.CheckFrom(f.ctx, minted[i], caller, caller, keysmith.GroupVerified); r.Code != verify.NotFound && r.Code != verify.RateLimited {
			b.Fatalf("CheckFrom = %s, want %s or %s", r.Code, verify.NotFound, verify.RateLimited)
		}
	}
	b.StopTimer()
	tokens, _ := f.reads()
	b.ReportMetric(float64(tokens)/float64(b.N), "lookups/op")
}

// BenchmarkVerifyUnknownFloodOneAddress is one address minting tokens: past
// its unknown_tokens budget (600 a minute) each costs a limiter check, not a
// database lookup.
func BenchmarkVerifyUnknownFloodOneAddress(b *testing.B) {
	benchUnknownFlood(b, netip.MustParseAddr("198.51.100.1"))
}

// BenchmarkVerifyUnknownFloodUnbounded is the same flood with no caller
// address, as every request was before the budget: each token is a lookup.
func BenchmarkVerifyUnknownFloodUnbounded(b *testing.B) {
	benchUnknownFlood(b, netip.Addr{})
}

// BenchmarkCacheMemory measures the heap one cached token costs: it fills
// the cache with distinct tokens (stored as the API stores them, with a name
// and an empty meta object, one owner) and reports the heap held per entry
// once their uses are flushed (B/entry), the figure behind --verify-cache's
// help. Run it once: go test -run '^$' -bench CacheMemory -benchtime 1x ./verify/
func BenchmarkCacheMemory(b *testing.B) {
	const entries = 20_000
	for b.Loop() {
		f := newFixtureWith(b, verify.Options{Now: keysmith.SystemClock, MaxAge: time.Hour, CacheSize: entries})
		raws := seedTokens(b, f, entries)
		heap := func() uint64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.HeapAlloc
		}
		before := heap()
		for _, raw := range raws {
			if r, _ := f.v.VerifyAPIToken(f.ctx, raw, "192.0.2.1"); r.Code != verify.Valid {
				b.Fatalf("VerifyAPIToken = %s, want %s", r.Code, verify.Valid)
			}
		}
		if err := f.v.Flush(f.ctx); err != nil {
			b.Fatal(err)
		}
		after := heap()
		if st := f.v.Stats(); st.Size != entries {
			b.Fatalf("%d entries cached, want %d", st.Size, entries)
		}
		b.ReportMetric(float64(after-before)/entries, "B/entry")
		runtime.KeepAlive(raws)
		runtime.KeepAlive(f.v)
	}
}

// seedTokens stores n tokens of the fixture's owner in one transaction, as
// the store's CreateToken would (without their events), and returns their
// plaintexts.
func seedTokens(b *testing.B, f *fixture, n int) []string {
	b.Helper()
	tx, err := f.db.SQL().BeginTx(f.ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(f.ctx, `INSERT INTO tokens (id, hash, name, type, owner_id, created_at, created_by,
		idle_ttl, meta, name_lower, agent_id, network_mode, rate_limit_percent)
		VALUES ($1, $2, $3, 'user', $4, $5, $4, $6, '{}', $3, '', 'any', $7)`)
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	raws := make([]string, n)
	for i := range raws {
		secret, h := keysmith.NewAPITokenSecret()
		raws[i] = secret.Reveal()
		if _, err := stmt.ExecContext(f.ctx, keysmith.NewID("tok"), h.String(), fmt.Sprintf("deploy-%d", i), f.owner.ID,
			f.now().UnixMicro(), keysmith.DefaultIdleTTL.Microseconds(), keysmith.DefaultRateLimitPercent); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return raws
}

// BenchmarkVerifyCachedPermissions compares, in one run on one token, the
// hot path (plain) with the same verify carrying the 3-term permission
// query "a AND (b OR c)" (query): the cached parse and the check. The
// issue's target: plain ns/op ÷ query ns/op ≥ 0.95.
func BenchmarkVerifyCachedPermissions(b *testing.B) {
	f := newBenchFixture(b)
	raw := f.scopedToken(b, "a", "c")
	f.mustBe(b, raw, verify.Valid)
	q := "a AND (b OR c)"
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r, _ := f.v.VerifyAPIToken(f.ctx, raw, "192.0.2.1"); r.Code != verify.Valid {
				b.Fatalf("VerifyAPIToken = %s, want %s", r.Code, verify.Valid)
			}
		}
	})
	b.Run("query", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req, err := f.v.ParseRequirement(nil, &q, "")
			if err != nil {
				b.Fatal(err)
			}
			r, _ := f.v.VerifyAPIToken(f.ctx, raw, "192.0.2.1")
			if code, _ := req.Check(r.Token.Scopes, r.Token.Environment); r.Code != verify.Valid || code != verify.Valid {
				b.Fatalf("VerifyAPIToken = %s, Check = %s, want %s", r.Code, code, verify.Valid)
			}
		}
	})
}
