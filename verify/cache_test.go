package verify_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/verify"
)

func TestBoundedCache(t *testing.T) {
	t.Run("ManyTokensThroughATinyCacheAreAllAnsweredRight", func(t *testing.T) {
		const size = 3
		f := newFixtureWith(t, verify.Options{CacheSize: size})
		raws := make([]string, 20)
		want := make([]verify.Code, 20)
		for i := range raws {
			var tok *keysmith.Token
			raws[i], tok = f.newToken(t, nil)
			want[i] = verify.Valid
			if i%4 == 0 {
				f.revoke(t, tok.ID)
				want[i] = verify.Revoked
			}
		}
		for range 3 {
			for i, raw := range raws {
				if r := f.verify(t, raw, ""); r.Code != want[i] {
					t.Fatalf("token %d: %s, want %s", i, r.Code, want[i])
				}
			}
		}
		st := f.v.Stats()
		if st.Size > size || st.Owners > size || st.Evictions == 0 {
			t.Errorf("Stats = %+v, want at most %d entries and owners, and evictions", st, size)
		}
	})

	t.Run("AnEvictedEntryLosesNoUnflushedUse", func(t *testing.T) {
		f := newFixtureWith(t, verify.Options{CacheSize: 1})
		rawA, a := f.newToken(t, nil)
		rawB, b := f.newToken(t, nil)
		f.clock.Advance(time.Second)
		f.verify(t, rawA, "192.0.2.1")
		f.clock.Advance(time.Second)
		useB := keysmith.TokenUse{TokenID: b.ID, At: f.now(), IP: "192.0.2.2"}
		f.verify(t, rawB, useB.IP) // evicts A, whose use is not yet stored
		if st := f.v.Stats(); st.Evictions != 1 || st.Size != 1 {
			t.Fatalf("Stats = %+v, want one eviction and one entry", st)
		}
		f.clock.Advance(time.Second)
		useA := keysmith.TokenUse{TokenID: a.ID, At: f.now(), IP: "192.0.2.3"}
		f.verify(t, rawA, useA.IP) // read again: the unflushed use is found and kept
		if err := f.v.Flush(f.ctx); err != nil {
			t.Fatal(err)
		}
		wantUses(t, f.store.lastBatch(), useA, useB)
		wantStoredUse(t, f.storedToken(t, a.ID), useA)
	})

	t.Run("BothSecretsOfARotatedTokenShareUsesThroughEvictions", func(t *testing.T) {
		f := newFixtureWith(t, verify.Options{CacheSize: 1})
		oldRaw, tok := f.newToken(t, nil)
		newSecret, newHash := keysmith.NewAPITokenSecret()
		if _, err := f.db.RotateToken(f.ctx, tok.ID, newHash, f.now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		otherRaw, _ := f.newToken(t, nil)
		var last keysmith.TokenUse
		for i, raw := range []string{newSecret.Reveal(), oldRaw, otherRaw, newSecret.Reveal(), oldRaw} {
			f.clock.Advance(time.Second)
			ip := fmt.Sprintf("192.0.2.%d", i+1)
			if r := f.verify(t, raw, ip); !r.Valid() {
				t.Fatalf("secret %d: %s", i, r.Code)
			}
			if raw != otherRaw {
				last = keysmith.TokenUse{TokenID: tok.ID, At: f.now(), IP: ip}
			}
			if u, ok := f.v.PendingUse(tok.ID); !ok || u != last {
				t.Fatalf("after secret %d: PendingUse = %+v, %v; want %+v (one state for both secrets)", i, u, ok, last)
			}
		}
		if err := f.v.Flush(f.ctx); err != nil {
			t.Fatal(err)
		}
		wantStoredUse(t, f.storedToken(t, tok.ID), last)
	})

	t.Run("HitsAndMissesAreCounted", func(t *testing.T) {
		f := newFixture(t)
		raw, _ := f.newToken(t, nil)
		unknown, _ := unknownToken()
		f.mustBe(t, raw, verify.Valid)
		f.mustBe(t, raw, verify.Valid)
		f.mustBe(t, unknown, verify.NotFound)
		f.mustBe(t, unknown, verify.NotFound)
		f.clock.Advance(maxAge)
		f.mustBe(t, raw, verify.Valid)
		st := f.v.Stats()
		if st.Hits != 1 || st.NegativeHits != 1 || st.Misses != 3 || !st.FeedHealthy {
			t.Errorf("Stats = %+v, want 1 hit, 1 negative hit, 3 misses (two loads and a reload) and a healthy feed", st)
		}
	})
}

// While the change feed is lost, a change on another replica cannot reach
// the cache: it drops everything at the loss and trusts entries only for
// LostFeedMaxAge until the feed is back (ChangeAll), then for MaxAge.
func TestLostChangeFeed(t *testing.T) {
	f := newFixture(t)
	raw, tok := f.newToken(t, nil)
	f.mustBe(t, raw, verify.Valid)
	f.wantReads(t, 1, 1)

	f.store.feedDown.Store(true)
	f.publish(keysmith.Change{Kind: keysmith.ChangeFeedLost})
	if st := f.v.Stats(); st.Size != 0 || st.FeedHealthy {
		t.Fatalf("after the loss: Stats = %+v, want nothing cached and the feed lost", st)
	}
	f.mustBe(t, raw, verify.Valid)
	f.wantReads(t, 2, 2)
	// Revoked behind the cache's back, as on a replica it cannot hear.
	if _, err := f.db.SQL().ExecContext(f.ctx, `UPDATE tokens SET revoked_at = $1 WHERE id = $2`,
		f.now().UnixMicro(), tok.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(lostFeedMaxAge - time.Microsecond)
	f.mustBe(t, raw, verify.Valid)
	f.clock.Advance(time.Microsecond)
	f.mustBe(t, raw, verify.Revoked)

	f.store.feedDown.Store(false)
	f.publish(keysmith.Change{Kind: keysmith.ChangeAll})
	other, _ := f.newToken(t, nil)
	f.mustBe(t, other, verify.Valid)
	tokens, users := f.reads()
	f.clock.Advance(maxAge - time.Microsecond) // far past LostFeedMaxAge
	f.mustBe(t, other, verify.Valid)
	f.wantReads(t, tokens, users)
}
