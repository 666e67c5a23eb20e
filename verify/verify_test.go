package verify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/internal/testclock"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/storetest"
	"github.com/keysmith/keysmith/verify"
)

// The cache settings every test uses, stated here so that tests can step
// the clock to just before and just after them.
const (
	maxAge         = time.Minute
	lostFeedMaxAge = time.Second
	negativeTTL    = 5 * time.Second
)

// countingStore is the real store, instrumented: it counts the calls the
// verifier makes, keeps the functions it subscribes (so a test can deliver
// a change the store has no method for yet), and can be told to fail or to
// run a hook right after a read, to put a change between a read and the
// caching of its result.
type countingStore struct {
	*store.DB

	findToken, findUser, recordUses atomic.Int64
	feedDown                        atomic.Bool // ChangeFeedHealthy says false, as a lost listener's store does

	mu          sync.Mutex
	subscribers []func(keysmith.Change)
	batches     [][]keysmith.TokenUse // every RecordTokenUses call, in order
	failFind    int                   // fail this many FindTokenByHash calls
	failRecord  int                   // fail this many RecordTokenUses calls
	afterFind   func(h keysmith.Hash) // runs after the next FindTokenByHash
	afterUser   func(id string)       // runs after the next FindUserByID
	inRecord    func()                // runs inside the next RecordTokenUses, before the write
	recorded    chan struct{}         // if set, signalled after every successful RecordTokenUses
}

var errInjected = errors.New("injected store failure")

func (s *countingStore) FindTokenByHash(ctx context.Context, h keysmith.Hash) (*keysmith.Token, error) {
	s.findToken.Add(1)
	s.mu.Lock()
	fail := s.failFind > 0
	if fail {
		s.failFind--
	}
	hook := s.afterFind
	s.afterFind = nil
	s.mu.Unlock()
	if fail {
		return nil, errInjected
	}
	t, err := s.DB.FindTokenByHash(ctx, h)
	if hook != nil {
		hook(h)
	}
	return t, err
}

func (s *countingStore) FindUserByID(ctx context.Context, id string) (*keysmith.User, error) {
	s.findUser.Add(1)
	u, err := s.DB.FindUserByID(ctx, id)
	s.mu.Lock()
	hook := s.afterUser
	s.afterUser = nil
	s.mu.Unlock()
	if hook != nil {
		hook(id)
	}
	return u, err
}

func (s *countingStore) RecordTokenUses(ctx context.Context, uses []keysmith.TokenUse) error {
	s.recordUses.Add(1)
	s.mu.Lock()
	s.batches = append(s.batches, append([]keysmith.TokenUse(nil), uses...))
	fail := s.failRecord > 0
	if fail {
		s.failRecord--
	}
	hook := s.inRecord
	s.inRecord = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	if fail {
		return errInjected
	}
	if err := s.DB.RecordTokenUses(ctx, uses); err != nil {
		return err
	}
	if s.recorded != nil {
		select {
		case s.recorded <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *countingStore) ChangeFeedHealthy() bool {
	return !s.feedDown.Load() && s.DB.ChangeFeedHealthy()
}

func (s *countingStore) Subscribe(f func(keysmith.Change)) {
	s.mu.Lock()
	s.subscribers = append(s.subscribers, f)
	s.mu.Unlock()
	s.DB.Subscribe(f)
}

// lastBatch returns the uses of the latest RecordTokenUses call.
func (s *countingStore) lastBatch() []keysmith.TokenUse {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.batches) == 0 {
		return nil
	}
	return s.batches[len(s.batches)-1]
}

// fixture is a verifier over a fresh SQLite store with one active owner.
type fixture struct {
	ctx   context.Context
	clock *testclock.Clock // nil when the fixture runs on another clock
	now   keysmith.Clock
	db    *store.DB
	store *countingStore
	v     *verify.Verifier
	owner *keysmith.User
}

// newFixture builds a fixture on a manual clock with the test settings.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, verify.Options{})
}

// newFixtureWith builds a fixture with opt; its zero fields take a manual
// clock and the test settings (maxAge, negativeTTL).
func newFixtureWith(t testing.TB, opt verify.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{ctx: ctx, now: opt.Now}
	if f.now == nil {
		f.clock = testclock.New()
		f.now = f.clock.Now
	}
	log := slog.New(slog.DiscardHandler)
	db, err := store.Open(ctx, storetest.SQLite(t), store.Options{Now: f.now, Logger: log})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	f.db, f.store = db, &countingStore{DB: db}

	created := f.now()
	f.owner = &keysmith.User{ID: keysmith.NewID("usr"), Email: "owner@example.com", Name: "Owner",
		Role: keysmith.RoleSuperAdmin, Type: keysmith.UserPerson, Status: keysmith.UserActive,
		CreatedAt: created, UpdatedAt: created}
	_, h := keysmith.NewAPITokenSecret()
	boot := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "bootstrap", Type: keysmith.TokenUser,
		OwnerID: f.owner.ID, CreatedAt: created, CreatedBy: f.owner.ID}
	if err := db.Bootstrap(ctx, f.owner, boot, h); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}

	opt.Now, opt.Log = f.now, log
	if opt.MaxAge == 0 {
		opt.MaxAge = maxAge
	}
	if opt.LostFeedMaxAge == 0 {
		opt.LostFeedMaxAge = lostFeedMaxAge
	}
	if opt.NegativeTTL == 0 {
		opt.NegativeTTL = negativeTTL
	}
	f.v = verify.New(f.store, opt)
	return f
}

// newToken stores a token of the owner that expires at expires (nil: never)
// and returns its plaintext and record.
func (f *fixture) newToken(t testing.TB, expires *time.Time) (string, *keysmith.Token) {
	t.Helper()
	secret, h := keysmith.NewAPITokenSecret()
	return secret.Reveal(), f.storeToken(t, h, expires)
}

// storeToken stores a token of the owner under h.
func (f *fixture) storeToken(t testing.TB, h keysmith.Hash, expires *time.Time) *keysmith.Token {
	t.Helper()
	tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "test", Type: keysmith.TokenUser,
		OwnerID: f.owner.ID, CreatedAt: f.now(), CreatedBy: f.owner.ID, ExpiresAt: expires}
	if err := f.db.CreateToken(f.ctx, tok, h); err != nil {
		t.Fatalf("create token: %v", err)
	}
	return tok
}

// revoke revokes a token through the store, which publishes the change.
func (f *fixture) revoke(t testing.TB, id string) {
	t.Helper()
	if _, err := f.db.RevokeToken(f.ctx, id, f.owner.ID); err != nil {
		t.Fatalf("revoke token: %v", err)
	}
}

// unknownToken returns a well-formed token that is not stored, and its hash.
func unknownToken() (string, keysmith.Hash) {
	s, h := keysmith.NewAPITokenSecret()
	return s.Reveal(), h
}

// storedToken reads a token back from the store.
func (f *fixture) storedToken(t testing.TB, id string) *keysmith.Token {
	t.Helper()
	tok, err := f.db.FindTokenByID(f.ctx, id)
	if err != nil {
		t.Fatalf("find token: %v", err)
	}
	return tok
}

// verify checks raw and fails the test on a store error.
func (f *fixture) verify(t testing.TB, raw, ip string) verify.Result {
	t.Helper()
	r, err := f.v.VerifyAPIToken(f.ctx, raw, ip)
	if err != nil {
		t.Fatalf("VerifyAPIToken: %v", err)
	}
	return r
}

// mustBe checks the code of a verification.
func (f *fixture) mustBe(t testing.TB, raw string, want verify.Code) verify.Result {
	t.Helper()
	r := f.verify(t, raw, "")
	if r.Code != want {
		t.Fatalf("VerifyAPIToken = %s, want %s", r.Code, want)
	}
	return r
}

// reads returns how many times the verifier has read tokens and users.
func (f *fixture) reads() (tokens, users int64) {
	return f.store.findToken.Load(), f.store.findUser.Load()
}

// wantReads checks the number of store reads so far.
func (f *fixture) wantReads(t testing.TB, tokens, users int64) {
	t.Helper()
	if gt, gu := f.reads(); gt != tokens || gu != users {
		t.Fatalf("store reads: FindTokenByHash %d, FindUserByID %d; want %d, %d", gt, gu, tokens, users)
	}
}

// publish delivers a change to the verifier the way the store does after a
// commit, for changes the store has no method for yet.
func (f *fixture) publish(c keysmith.Change) {
	f.store.mu.Lock()
	subs := slices.Clone(f.store.subscribers)
	f.store.mu.Unlock()
	for _, s := range subs {
		s(c)
	}
}

// setOwnerStatus changes the owner's row behind the store's back, as an
// operator or a future store method would; nothing is published.
func (f *fixture) setOwnerStatus(t testing.TB, status keysmith.UserStatus) {
	t.Helper()
	if _, err := f.db.SQL().ExecContext(f.ctx, `UPDATE users SET status = $1 WHERE id = $2`, status, f.owner.ID); err != nil {
		t.Fatalf("update user: %v", err)
	}
}

func TestVerify(t *testing.T) {
	t.Run("ValidTokenIsValid", func(t *testing.T) {
		f := newFixture(t)
		raw, tok := f.newToken(t, nil)
		r := f.mustBe(t, raw, verify.Valid)
		if !r.Valid() || r.Token == nil || r.Token.ID != tok.ID || r.Owner == nil || r.Owner.ID != f.owner.ID {
			t.Errorf("result = %+v, want valid with token %s and owner %s", r, tok.ID, f.owner.ID)
		}
	})

	t.Run("CachedTokenDoesNotTouchTheStore", func(t *testing.T) {
		f := newFixture(t)
		raw, _ := f.newToken(t, nil)
		f.mustBe(t, raw, verify.Valid)
		f.wantReads(t, 1, 1)
		for range 100 {
			f.clock.Advance((maxAge - time.Microsecond) / 100)
			f.mustBe(t, raw, verify.Valid)
		}
		f.wantReads(t, 1, 1)
	})

	t.Run("MalformedTokenNeverReachesTheStore", func(t *testing.T) {
		f := newFixture(t)
		raw, _ := f.newToken(t, nil)
		flipped := []byte(raw)
		flipped[10] ^= 'a' ^ 'b' // one character of the random part
		for _, in := range []string{"", "ks_", "Bearer " + raw, raw + "x", raw[:len(raw)-1],
			"gh_" + raw[3:], string(flipped), "ks_" + string(make([]byte, 38))} {
			r := f.verify(t, in, "203.0.113.9")
			if r.Code != verify.Malformed || r.Token != nil || r.Owner != nil {
				t.Errorf("VerifyAPIToken(%q) = %+v, want %s with no token", in, r, verify.Malformed)
			}
		}
		f.wantReads(t, 0, 0)
	})

	t.Run("UnknownHashIsCachedBriefly", func(t *testing.T) {
		f := newFixture(t)
		raw, _ := unknownToken()
		f.mustBe(t, raw, verify.NotFound)
		f.mustBe(t, raw, verify.NotFound)
		f.wantReads(t, 1, 0)
		f.clock.Advance(negativeTTL - time.Microsecond)
		f.mustBe(t, raw, verify.NotFound)
		f.wantReads(t, 1, 0)
		f.clock.Advance(time.Microsecond)
		f.mustBe(t, raw, verify.NotFound)
		f.wantReads(t, 2, 0)
	})

	t.Run("NegativeCacheIsEmptiedWhenFull", func(t *testing.T) {
		f := newFixtureWith(t, verify.Options{MaxNegative: 2})
		a, _ := unknownToken()
		b, _ := unknownToken()
		c, _ := unknownToken()
		for _, raw := range []string{a, b, a, b} {
			f.mustBe(t, raw, verify.NotFound)
		}
		f.wantReads(t, 2, 0)
		f.mustBe(t, c, verify.NotFound) // full: forgets a and b
		f.mustBe(t, a, verify.NotFound)
		f.wantReads(t, 4, 0)
	})

	t.Run("UnknownTokensFromOneCallerCostAtMostItsBudgetOfLookups", func(t *testing.T) {
		f := newFixture(t)
		if err := f.db.SetRateLimits(f.ctx, keysmith.RateLimits{keysmith.GroupUnknownTokens: 3}); err != nil {
			t.Fatal(err)
		}
		caller, other := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
		check := func(raw string, from netip.Addr) verify.Code {
			t.Helper()
			r, err := f.v.CheckFrom(f.ctx, raw, netip.Addr{}, from, "")
			if err != nil {
				t.Fatal(err)
			}
			return r.Code
		}
		cached, _ := f.newToken(t, nil)
		if c := check(cached, caller); c != verify.Valid { // a hit: gives its unit back
			t.Fatalf("real token: %s", c)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[verify.Code]int{}
		for range 20 { // at once: reserved before the lookup, so a burst counts like a sequence
			wg.Go(func() {
				raw, _ := unknownToken()
				c := check(raw, caller)
				mu.Lock()
				codes[c]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if codes[verify.NotFound] != 3 || codes[verify.RateLimited] != 17 {
			t.Errorf("20 unknown tokens at once with a budget of 3: %v, want 3 NOT_FOUND and 17 RATE_LIMITED", codes)
		}
		f.wantReads(t, 1+3, 1)
		if c := check(cached, caller); c != verify.Valid {
			t.Errorf("a cached token over the budget: %s, want VALID from the cache", c)
		}
		uncached, _ := f.newToken(t, nil)
		if c := check(uncached, caller); c != verify.RateLimited {
			t.Errorf("an uncached token over the budget: %s, want RATE_LIMITED without a lookup (it may be real)", c)
		}
		f.wantReads(t, 1+3, 1)
		if c := check(uncached, other); c != verify.Valid {
			t.Errorf("the same token from another address: %s", c)
		}
		f.clock.Advance(20 * time.Second) // one unit back
		raw, _ := unknownToken()
		check(raw, caller)
		f.wantReads(t, 1+3+1+1, 1)
	})

	t.Run("RevokedTokenIsRejectedAtOnce", func(t *testing.T) {
		f := newFixture(t)
		raw, tok := f.newToken(t, nil)
		f.mustBe(t, raw, verify.Valid)
		f.revoke(t, tok.ID) // the clock does not move
		r := f.mustBe(t, raw, verify.Revoked)
		if r.Token.RevokedAt == nil || r.Token.RevokedBy != f.owner.ID {
			t.Errorf("revoked result token = %+v, want RevokedAt and RevokedBy set", r.Token)
		}
		f.wantReads(t, 2, 1)
		f.mustBe(t, raw, verify.Revoked) // and the verdict is cached
		f.wantReads(t, 2, 1)
	})

	t.Run("ChangeToAnotherTokenKeepsThisOneCached", func(t *testing.T) {
		f := newFixture(t)
		raw, _ := f.newToken(t, nil)
		_, other := f.newToken(t, nil)
		f.mustBe(t, raw, verify.Valid)
		f.revoke(t, other.ID)
		f.newToken(t, nil)
		f.mustBe(t, raw, verify.Valid)
		f.wantReads(t, 1, 1)
	})

	t.Run("EntriesAreReloadedAfterMaxAge", func(t *testing.T) {
		f := newFixture(t)
		raw, tok := f.newToken(t, nil)
		f.mustBe(t, raw, verify.Valid)
		// Revoke in SQL, so that no notification is sent: MaxAge is the
		// safety net for a notification that was lost.
		if _, err := f.db.SQL().ExecContext(f.ctx, `UPDATE tokens SET revoked_at = $1 WHERE id = $2`,
			f.now().UnixMicro(), tok.ID); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(maxAge - time.Microsecond)
		f.mustBe(t, raw, verify.Valid)
		f.wantReads(t, 1, 1)
		f.clock.Advance(time.Microsecond)
		f.mustBe(t, raw, verify.Revoked)
		f.wantReads(t, 2, 2)
	})

	t.Run("TokenDeletedWithoutNotificationIsThenCachedAsUnknown", func(t *testing.T) {
		f := newFixture(t)
		raw, tok := f.newToken(t, nil)
		f.mustBe(t, raw, verify.Valid)
		if _, err := f.db.SQL().ExecContext(f.ctx, `DELETE FROM tokens WHERE id = $1`, tok.ID); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(maxAge)
		f.mustBe(t, raw, verify.NotFound)
		f.mustBe(t, raw, verify.NotFound)
		f.wantReads(t, 2, 1)
	})

	t.Run("ExpiredTokenIsExpired", func(t *testing.T) {
		f := newFixture(t)
		expires := f.now().Add(30 * time.Second) // within MaxAge: no reload is needed
		raw, _ := f.newToken(t, &expires)
		f.mustBe(t, raw, verify.Valid)
		f.clock.Advance(30*time.Second - time.Microsecond)
		f.mustBe(t, raw, verify.Valid)
		f.clock.Advance(time.Microsecond)
		f.mustBe(t, raw, verify.Expired)
		f.wantReads(t, 1, 1)
		f.clock.Advance(24 * time.Hour)
		f.mustBe(t, raw, verify.Expired)
	})

	t.Run("DeactivatedOwnerIsRejectedOnceTheChangeIsPublished", func(t *testing.T) {
		f := newFixture(t)
		raw, _ := f.newToken(t, nil)
		f.mustBe(t, raw, verify.Valid)
		f.setOwnerStatus(t, keysmith.UserInactive)
		// Until the store announces the change, the cached owner stands.
		f.mustBe(t, raw, verify.Valid)
		f.publish(keysmith.Change{Kind: keysmith.ChangeUser, ID: f.owner.ID})
		r := f.mustBe(t, raw, verify.OwnerInactive)
		if r.Owner == nil || r.Owner.Status != keysmith.UserInactive {
			t.Errorf("result owner = %+v, want the inactive owner", r.Owner)
		}
		f.wantReads(t, 1, 2) // the token stayed cached; only the owner was read again

		f.setOwnerStatus(t, keysmith.UserActive)
		f.publish(keysmith.Change{Kind: keysmith.ChangeUser, ID: f.owner.ID})
		f.mustBe(t, raw, verify.Valid)
	})

	t.Run("ChangeAllDropsEverything", func(t *testing.T) {
		f := newFixture(t)
		raw, _ := f.newToken(t, nil)
		unknown, _ := unknownToken()
		f.mustBe(t, raw, verify.Valid)
		f.mustBe(t, unknown, verify.NotFound)
		f.wantReads(t, 2, 1)
		f.publish(keysmith.Change{Kind: keysmith.ChangeAll})
		f.mustBe(t, raw, verify.Valid)
		f.mustBe(t, unknown, verify.NotFound)
		f.wantReads(t, 4, 2)
	})

	// A load that straddles an invalidation may answer its own request with
	// what it read, but must not be cached: the next request reads again.
	t.Run("LoadThatRacesARevocationIsNotCached", func(t *testing.T) {
		f := newFixture(t)
		raw, tok := f.newToken(t, nil)
		f.store.afterFind = func(keysmith.Hash) { f.revoke(t, tok.ID) }
		f.mustBe(t, raw, verify.Valid) // read before the revocation committed
		f.mustBe(t, raw, verify.Revoked)
	})

	t.Run("OwnerLoadThatRacesADeactivationIsNotCached", func(t *testing.T) {
		f := newFixture(t)
		raw, _ := f.newToken(t, nil)
		f.store.afterUser = func(id string) {
			f.setOwnerStatus(t, keysmith.UserInactive)
			f.publish(keysmith.Change{Kind: keysmith.ChangeUser, ID: id})
		}
		f.mustBe(t, raw, verify.Valid)
		f.mustBe(t, raw, verify.OwnerInactive)
	})

	t.Run("MissThatRacesACreationIsNotCached", func(t *testing.T) {
		f := newFixture(t)
		raw, h := unknownToken()
		f.store.afterFind = func(keysmith.Hash) { f.storeToken(t, h, nil) }
		f.mustBe(t, raw, verify.NotFound)
		f.mustBe(t, raw, verify.Valid) // well within NegativeTTL
	})

	t.Run("StoreFailureIsAnErrorNotAVerdict", func(t *testing.T) {
		f := newFixture(t)
		raw, _ := f.newToken(t, nil)
		f.store.failFind = 1
		r, err := f.v.VerifyAPIToken(f.ctx, raw, "")
		if !errors.Is(err, errInjected) || r.Valid() {
			t.Fatalf("VerifyAPIToken with a failing store = %+v, %v; want not valid and the store's error", r, err)
		}
		f.mustBe(t, raw, verify.Valid) // the failure was not cached as "unknown"
	})
}

func TestUsage(t *testing.T) {
	t.Run("NoStoreWritePerVerify", func(t *testing.T) {
		f := newFixture(t)
		raw, tok := f.newToken(t, nil)
		var last keysmith.TokenUse
		for i := range 100 {
			f.clock.Advance(100 * time.Millisecond)
			last = keysmith.TokenUse{TokenID: tok.ID, At: f.now(), IP: fmt.Sprintf("192.0.2.%d", i)}
			if r := f.verify(t, raw, last.IP); !r.Valid() {
				t.Fatalf("VerifyAPIToken = %s, want %s", r.Code, verify.Valid)
			}
		}
		if n := f.store.recordUses.Load(); n != 0 {
			t.Fatalf("RecordTokenUses called %d times before Flush, want 0", n)
		}
		if got := f.storedToken(t, tok.ID); got.LastUsedAt != nil {
			t.Fatalf("stored LastUsedAt = %v before Flush, want none", got.LastUsedAt)
		}

		if err := f.v.Flush(f.ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if n := f.store.recordUses.Load(); n != 1 {
			t.Fatalf("RecordTokenUses called %d times by Flush, want 1", n)
		}
		wantUses(t, f.store.lastBatch(), last)
		wantStoredUse(t, f.storedToken(t, tok.ID), last)

		if err := f.v.Flush(f.ctx); err != nil || f.store.recordUses.Load() != 1 {
			t.Errorf("Flush with nothing new = %v after %d writes; want nil and no write", err, f.store.recordUses.Load())
		}
	})

	t.Run("OneWriteForAllTokensUsedSinceTheLastFlush", func(t *testing.T) {
		f := newFixture(t)
		var want []keysmith.TokenUse
		for i := range 3 {
			raw, tok := f.newToken(t, nil)
			f.clock.Advance(time.Second)
			ip := fmt.Sprintf("198.51.100.%d", i)
			f.verify(t, raw, ip)
			want = append(want, keysmith.TokenUse{TokenID: tok.ID, At: f.now(), IP: ip})
		}
		if err := f.v.Flush(f.ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if n := f.store.recordUses.Load(); n != 1 {
			t.Fatalf("RecordTokenUses called %d times, want 1", n)
		}
		wantUses(t, f.store.lastBatch(), want...)
	})

	t.Run("PendingUseIsVisibleBeforeFlush", func(t *testing.T) {
		f := newFixture(t)
		raw, tok := f.newToken(t, nil)
		if u, ok := f.v.PendingUse(tok.ID); ok {
			t.Fatalf("PendingUse before any use = %+v, true; want false", u)
		}
		f.clock.Advance(time.Second)
		want := keysmith.TokenUse{TokenID: tok.ID, At: f.now(), IP: "2001:db8::1"}
		f.verify(t, raw, want.IP)
		if u, ok := f.v.PendingUse(tok.ID); !ok || u != want {
			t.Fatalf("PendingUse = %+v, %v; want %+v, true", u, ok, want)
		}

		// The service shows it on reads although the store has none yet.
		svc := &keysmith.Service{Store: f.db, Now: f.now, Usage: f.v}
		got, err := svc.FindTokenByID(f.ctx, keysmith.Principal{User: f.owner}, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantStoredUse(t, got, want)
		if stored := f.storedToken(t, tok.ID); stored.LastUsedAt != nil {
			t.Fatalf("stored LastUsedAt = %v before Flush, want none", stored.LastUsedAt)
		}

		if err := f.v.Flush(f.ctx); err != nil {
			t.Fatal(err)
		}
		if u, ok := f.v.PendingUse(tok.ID); ok {
			t.Errorf("PendingUse after Flush = %+v, true; want false", u)
		}
		wantStoredUse(t, f.storedToken(t, tok.ID), want)
	})

	t.Run("FailedFlushKeepsUsesForNextFlush", func(t *testing.T) {
		f := newFixture(t)
		rawA, a := f.newToken(t, nil)
		rawB, b := f.newToken(t, nil)
		f.clock.Advance(time.Second)
		useA := keysmith.TokenUse{TokenID: a.ID, At: f.now(), IP: "192.0.2.1"}
		f.verify(t, rawA, useA.IP)
		f.verify(t, rawB, "192.0.2.1")

		f.store.failRecord = 1
		if err := f.v.Flush(f.ctx); !errors.Is(err, errInjected) {
			t.Fatalf("Flush with a failing store = %v, want the store's error", err)
		}
		if u, ok := f.v.PendingUse(a.ID); !ok || u != useA {
			t.Fatalf("PendingUse after a failed flush = %+v, %v; want %+v, true", u, ok, useA)
		}

		f.clock.Advance(time.Second)
		useB := keysmith.TokenUse{TokenID: b.ID, At: f.now(), IP: "192.0.2.2"}
		f.verify(t, rawB, useB.IP)
		if err := f.v.Flush(f.ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		wantUses(t, f.store.lastBatch(), useA, useB)
		wantStoredUse(t, f.storedToken(t, a.ID), useA)
		wantStoredUse(t, f.storedToken(t, b.ID), useB)
		if _, ok := f.v.PendingUse(a.ID); ok {
			t.Errorf("PendingUse after a successful retry = true, want false")
		}
	})

	t.Run("UseDuringAFlushIsWrittenByTheNextFlush", func(t *testing.T) {
		f := newFixture(t)
		raw, tok := f.newToken(t, nil)
		f.clock.Advance(time.Second)
		first := keysmith.TokenUse{TokenID: tok.ID, At: f.now(), IP: "192.0.2.1"}
		f.verify(t, raw, first.IP)
		second := keysmith.TokenUse{TokenID: tok.ID, At: first.At.Add(time.Second), IP: "192.0.2.2"}
		f.store.inRecord = func() {
			// The batch has been taken; this use arrives before it is written.
			if u, ok := f.v.PendingUse(tok.ID); !ok || u != first {
				t.Errorf("PendingUse while flushing = %+v, %v; want %+v, true", u, ok, first)
			}
			f.clock.Advance(time.Second)
			f.verify(t, raw, second.IP)
		}
		if err := f.v.Flush(f.ctx); err != nil {
			t.Fatal(err)
		}
		wantUses(t, f.store.lastBatch(), first)
		if u, ok := f.v.PendingUse(tok.ID); !ok || u != second {
			t.Fatalf("PendingUse after the flush = %+v, %v; want %+v, true", u, ok, second)
		}
		if err := f.v.Flush(f.ctx); err != nil {
			t.Fatal(err)
		}
		wantUses(t, f.store.lastBatch(), second)
		wantStoredUse(t, f.storedToken(t, tok.ID), second)
	})

	t.Run("RejectedVerificationsAreNotUses", func(t *testing.T) {
		f := newFixture(t)
		expires := f.now().Add(time.Second)
		rawExpired, expired := f.newToken(t, &expires)
		rawRevoked, revoked := f.newToken(t, nil)
		f.revoke(t, revoked.ID)
		f.clock.Advance(time.Second)
		unknown, _ := unknownToken()
		for _, raw := range []string{rawExpired, rawRevoked, unknown, "ks_nope"} {
			if r := f.verify(t, raw, "192.0.2.1"); r.Valid() {
				t.Fatalf("VerifyAPIToken(%q) valid, want rejected", raw)
			}
		}
		for _, id := range []string{expired.ID, revoked.ID} {
			if u, ok := f.v.PendingUse(id); ok {
				t.Errorf("PendingUse(%s) = %+v after a rejected verification, want none", id, u)
			}
		}
		if err := f.v.Flush(f.ctx); err != nil || f.store.recordUses.Load() != 0 {
			t.Errorf("Flush = %v with %d writes, want nil and none", err, f.store.recordUses.Load())
		}
	})

	t.Run("UseSurvivesAReload", func(t *testing.T) {
		f := newFixture(t)
		raw, tok := f.newToken(t, nil)
		f.verify(t, raw, "192.0.2.1")
		f.clock.Advance(maxAge) // the next verification reads the token again
		want := keysmith.TokenUse{TokenID: tok.ID, At: f.now(), IP: "192.0.2.2"}
		f.verify(t, raw, want.IP)
		f.wantReads(t, 2, 2)
		if err := f.v.Flush(f.ctx); err != nil {
			t.Fatal(err)
		}
		wantUses(t, f.store.lastBatch(), want)
	})

	t.Run("UseBeforeRevocationIsStillRecorded", func(t *testing.T) {
		f := newFixture(t)
		raw, tok := f.newToken(t, nil)
		f.clock.Advance(time.Second)
		want := keysmith.TokenUse{TokenID: tok.ID, At: f.now(), IP: "192.0.2.1"}
		f.verify(t, raw, want.IP)
		f.revoke(t, tok.ID) // drops the cache entry that holds the use
		f.mustBe(t, raw, verify.Revoked)
		if err := f.v.Flush(f.ctx); err != nil {
			t.Fatal(err)
		}
		wantStoredUse(t, f.storedToken(t, tok.ID), want)
	})

	t.Run("RunFlushesAtShutdown", func(t *testing.T) {
		f := newFixture(t)
		raw, tok := f.newToken(t, nil)
		ctx, cancel := context.WithCancel(f.ctx)
		done := make(chan struct{})
		go func() { defer close(done); f.v.Run(ctx, time.Hour) }() // the ticker never fires
		f.clock.Advance(time.Second)
		want := keysmith.TokenUse{TokenID: tok.ID, At: f.now(), IP: "192.0.2.1"}
		f.verify(t, raw, want.IP)
		cancel()
		<-done
		if n := f.store.recordUses.Load(); n != 1 {
			t.Fatalf("RecordTokenUses called %d times, want 1 (at shutdown)", n)
		}
		wantStoredUse(t, f.storedToken(t, tok.ID), want)
	})

	t.Run("RunRetriesAFailedFlushAtShutdown", func(t *testing.T) {
		f := newFixture(t)
		f.store.failRecord = 2 // as a deadlock victim or a dropped connection fails
		raw, tok := f.newToken(t, nil)
		ctx, cancel := context.WithCancel(f.ctx)
		done := make(chan struct{})
		go func() { defer close(done); f.v.Run(ctx, time.Hour) }()
		want := keysmith.TokenUse{TokenID: tok.ID, At: f.now(), IP: "192.0.2.1"}
		f.verify(t, raw, want.IP)
		cancel()
		<-done
		if n := f.store.recordUses.Load(); n != 3 {
			t.Errorf("RecordTokenUses called %d times at shutdown, want 3 (two failures, then success)", n)
		}
		wantStoredUse(t, f.storedToken(t, tok.ID), want)
	})

	t.Run("RunFlushesEveryInterval", func(t *testing.T) {
		f := newFixture(t)
		f.store.recorded = make(chan struct{}, 1)
		raw, tok := f.newToken(t, nil)
		ctx, cancel := context.WithCancel(f.ctx)
		done := make(chan struct{})
		go func() { defer close(done); f.v.Run(ctx, time.Millisecond) }()
		defer func() { cancel(); <-done }() // before the store closes
		f.verify(t, raw, "192.0.2.1")
		select {
		case <-f.store.recorded:
		case <-time.After(10 * time.Second):
			t.Fatal("no flush within 10 s with a 1 ms interval")
		}
		if got := f.storedToken(t, tok.ID); got.LastUsedAt == nil {
			t.Errorf("stored LastUsedAt = nil after a periodic flush")
		}
	})
}

// TestVerifyConcurrentWithRevocation runs verifications, flushes, cache
// invalidations and clock steps beside revocations (go test -race). No
// verification that starts after RevokeToken has returned may say Valid.
func TestVerifyConcurrentWithRevocation(t *testing.T) {
	for _, size := range []int{0, 3} { // the default, and one that evicts all the time
		t.Run(fmt.Sprintf("CacheSize%d", size), func(t *testing.T) {
			testVerifyConcurrentWithRevocation(t, newFixtureWith(t, verify.Options{CacheSize: size}))
		})
	}
}

func testVerifyConcurrentWithRevocation(t *testing.T, f *fixture) {
	const tokens = 20
	raws := make([]string, tokens)
	toks := make([]*keysmith.Token, tokens)
	for i := range tokens {
		raws[i], toks[i] = f.newToken(t, nil)
	}
	var revoked [tokens]atomic.Bool // set once RevokeToken has returned
	stop := make(chan struct{})
	var wg sync.WaitGroup

	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := g; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				i := n % tokens
				wasRevoked := revoked[i].Load()
				r, err := f.v.VerifyAPIToken(f.ctx, raws[i], fmt.Sprintf("192.0.2.%d", g))
				switch {
				case err != nil:
					t.Errorf("VerifyAPIToken: %v", err)
					return
				case wasRevoked && r.Code != verify.Revoked:
					t.Errorf("token %d: %s after its revocation returned, want %s", i, r.Code, verify.Revoked)
					return
				case r.Code != verify.Valid && r.Code != verify.Revoked:
					t.Errorf("token %d: %s, want %s or %s", i, r.Code, verify.Valid, verify.Revoked)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // flushes, reads pending uses, drops caches, moves time
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := f.v.Flush(f.ctx); err != nil {
				t.Errorf("Flush: %v", err)
				return
			}
			f.v.PendingUse(toks[n%tokens].ID)
			switch n % 3 {
			case 0:
				f.publish(keysmith.Change{Kind: keysmith.ChangeUser, ID: f.owner.ID})
			case 1:
				f.publish(keysmith.Change{Kind: keysmith.ChangeAll})
			case 2:
				f.clock.Advance(maxAge / 4)
			}
		}
	}()

	for i := 0; i < tokens; i += 2 {
		f.revoke(t, toks[i].ID)
		revoked[i].Store(true)
	}
	close(stop)
	wg.Wait()

	for i := range tokens {
		want := verify.Valid
		if i%2 == 0 {
			want = verify.Revoked
		}
		if r := f.verify(t, raws[i], ""); r.Code != want {
			t.Errorf("token %d after the run: %s, want %s", i, r.Code, want)
		}
	}
	if err := f.v.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
}

// wantUses compares a batch of uses with want, in any order.
func wantUses(t *testing.T, got []keysmith.TokenUse, want ...keysmith.TokenUse) {
	t.Helper()
	byID := map[string]keysmith.TokenUse{}
	for _, u := range got {
		byID[u.TokenID] = u
	}
	if len(got) != len(want) || len(byID) != len(want) {
		t.Fatalf("uses written = %+v, want %+v", got, want)
	}
	for _, w := range want {
		if g, ok := byID[w.TokenID]; !ok || !g.At.Equal(w.At) || g.IP != w.IP {
			t.Fatalf("uses written = %+v, want %+v", got, want)
		}
	}
}

// wantStoredUse checks a token's last use as read back.
func wantStoredUse(t *testing.T, got *keysmith.Token, want keysmith.TokenUse) {
	t.Helper()
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(want.At) || got.LastUsedIP != want.IP {
		t.Fatalf("token %s last use = %v from %q, want %v from %q", got.ID, got.LastUsedAt, got.LastUsedIP, want.At, want.IP)
	}
}

// A reload that reads the store just before a flush commits, and looks for
// unflushed uses just after the flush let go of them, must not lose the use:
// here that use is all that keeps the token from being idle-expired.
func TestReloadThatRacesAFlushKeepsTheUse(t *testing.T) {
	f := newFixture(t)
	raw, tok := f.newToken(t, nil)
	idle := f.storedToken(t, tok.ID).IdleTTL
	if idle <= 0 {
		t.Fatalf("token has no idle TTL")
	}
	f.mustBe(t, raw, verify.Valid)
	if err := f.v.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(idle - 5*time.Second)
	f.mustBe(t, raw, verify.Valid) // renews; not yet flushed
	f.publish(keysmith.Change{Kind: keysmith.ChangeAll})
	// Past the first use's deadline, within the second's, and soon enough
	// after the first deadline (keysmith.IdleSettle) for the store to take
	// the second use.
	f.clock.Advance(6 * time.Second)
	f.store.afterFind = func(keysmith.Hash) {
		if err := f.v.Flush(f.ctx); err != nil {
			t.Error(err)
		}
	}
	f.mustBe(t, raw, verify.Valid)
}

func TestOtherCachesChangesLeaveTokensCached(t *testing.T) {
	f := newFixture(t)
	raw, _ := f.newToken(t, nil)
	f.mustBe(t, raw, verify.Valid)
	tokens, users := f.reads()
	for _, k := range []keysmith.ChangeKind{keysmith.ChangeOAuthClient, keysmith.ChangeAccessToken, keysmith.ChangeSigningKey} {
		f.publish(keysmith.Change{Kind: k, ID: "x"})
	}
	f.mustBe(t, raw, verify.Valid)
	f.wantReads(t, tokens, users)
}

// A kind this version does not know (a newer replica's) may be about
// anything the verifier caches: it drops everything, as for ChangeAll.
func TestUnknownChangeKindDropsEverything(t *testing.T) {
	f := newFixture(t)
	raw, _ := f.newToken(t, nil)
	f.mustBe(t, raw, verify.Valid)
	f.wantReads(t, 1, 1)
	f.publish(keysmith.Change{Kind: "token_v9", ID: "x"})
	f.mustBe(t, raw, verify.Valid)
	f.wantReads(t, 2, 2)
}
