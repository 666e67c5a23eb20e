package verify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
)

// addOriginBehindTheStore inserts an origin with SQL, as an operator would:
// nothing is published, so only a reload of the list can see it.
func (f *fixture) addOriginBehindTheStore(t *testing.T, origin string) {
	t.Helper()
	if _, err := f.db.SQL().ExecContext(f.ctx, `INSERT INTO trusted_origins (id, origin, created_at) VALUES ($1, $2, 0)`,
		keysmith.NewID("ori"), origin); err != nil {
		t.Fatalf("insert origin: %v", err)
	}
}

func (f *fixture) trusts(t *testing.T, origin string) bool {
	t.Helper()
	ok, err := f.v.TrustsOrigin(f.ctx, origin)
	if err != nil {
		t.Fatalf("TrustsOrigin: %v", err)
	}
	return ok
}

// TestTrustsOrigin: the trusted origins are read once and then answered
// from memory, and every change the store publishes (or a lost feed, or the
// trust age) drops them.
func TestTrustsOrigin(t *testing.T) {
	t.Run("AnsweredFromMemoryUntilAChangeIsPublished", func(t *testing.T) {
		f := newFixture(t)
		o := &keysmith.TrustedOrigin{ID: keysmith.NewID("ori"), Origin: "https://a.example.com", CreatedAt: f.now()}
		if err := f.db.CreateTrustedOrigin(f.ctx, o, keysmith.MaxTrustedOrigins); err != nil {
			t.Fatal(err)
		}
		if !f.trusts(t, "https://a.example.com") || f.trusts(t, "https://A.example.com") || f.trusts(t, "https://b.example.com") {
			t.Fatal("want exactly https://a.example.com trusted")
		}
		f.addOriginBehindTheStore(t, "https://b.example.com")
		if f.trusts(t, "https://b.example.com") {
			t.Error("an origin added behind the store's back is trusted at once: the list is read per request")
		}
		f.publish(keysmith.Change{Kind: keysmith.ChangeTrustedOrigin, ID: "x"})
		if !f.trusts(t, "https://b.example.com") {
			t.Error("the list was not read again after a ChangeTrustedOrigin")
		}
		if err := f.db.DeleteTrustedOrigin(f.ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if f.trusts(t, "https://a.example.com") {
			t.Error("a deleted origin is still trusted")
		}
	})

	t.Run("ChangeAllAndALostFeedDropTheList", func(t *testing.T) {
		f := newFixture(t)
		for _, kind := range []keysmith.ChangeKind{keysmith.ChangeAll, keysmith.ChangeFeedLost, "a_kind_from_a_newer_replica"} {
			origin := "https://" + strings.ReplaceAll(string(kind), "_", "-") + ".example.com"
			f.trusts(t, origin) // caches a list without it
			f.addOriginBehindTheStore(t, origin)
			f.publish(keysmith.Change{Kind: kind})
			if !f.trusts(t, origin) {
				t.Errorf("%s: the list was not read again", kind)
			}
		}
	})

	t.Run("WhileTheFeedIsLostTheListIsTrustedOnlyBriefly", func(t *testing.T) {
		f := newFixture(t)
		f.store.feedDown.Store(true)
		f.trusts(t, "https://d.example.com")
		f.addOriginBehindTheStore(t, "https://d.example.com")
		if f.trusts(t, "https://d.example.com") {
			t.Fatal("read again before the lost-feed age")
		}
		f.clock.Advance(lostFeedMaxAge + time.Millisecond)
		if !f.trusts(t, "https://d.example.com") {
			t.Error("not read again after the lost-feed age")
		}
	})
}
