package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// testSigningKeys: every SigningKeyStore method: the newest key signs,
// older ones retire, and keys retired long enough ago are pruned.
func testSigningKeys(t *testing.T, fx *fixture) {
	newKey := func() *keysmith.SigningKey {
		return &keysmith.SigningKey{ID: keysmith.NewID("kid"), Algorithm: "ES256", PublicJWK: `{"kty":"EC","crv":"P-256"}`,
			PrivateEnc: "sealed:" + keysmith.NewID("x"), CreatedAt: fx.clock.Now()}
	}
	keyIDs := func(t *testing.T) []string {
		ks, err := fx.db.FindSigningKeys(fx.ctx)
		if err != nil {
			t.Fatalf("FindSigningKeys: %v", err)
		}
		var ids []string
		for _, k := range ks {
			ids = append(ids, k.ID)
		}
		return ids
	}
	epoch := fx.clock.Now().Add(-time.Hour) // prunes nothing

	first := newKey()
	t.Run("TheFirstKeyIsStoredSigning", func(t *testing.T) {
		if err := fx.db.AddSigningKey(fx.ctx, first, epoch, false); err != nil {
			t.Fatalf("AddSigningKey: %v", err)
		}
		ks, err := fx.db.FindSigningKeys(fx.ctx)
		if err != nil || len(ks) != 1 || !cmp.Equal(first, ks[0]) {
			t.Errorf("FindSigningKeys = %+v, %v; want [%+v]", ks, err, first)
		}
		fx.in(t).watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeSigningKey, ID: first.ID})
	})

	fx.clock.Advance(time.Hour)
	second := newKey()
	t.Run("ARotationRetiresTheSigningKeyAndListsNewestFirst", func(t *testing.T) {
		if err := fx.db.AddSigningKey(fx.ctx, second, epoch, true); err != nil {
			t.Fatalf("AddSigningKey: %v", err)
		}
		ks, err := fx.db.FindSigningKeys(fx.ctx)
		if err != nil || len(ks) != 2 || ks[0].ID != second.ID || ks[0].RetiredAt != nil ||
			ks[1].ID != first.ID || ks[1].RetiredAt == nil || !ks[1].RetiredAt.Equal(second.CreatedAt) {
			t.Errorf("FindSigningKeys after a rotation = %+v, %v; want [second signing, first retired at second's creation]", ks, err)
		}
		evs, _, err := fx.db.FindEvents(fx.ctx, keysmith.EventFilter{Type: keysmith.EventSigningKeyRotated})
		if err != nil || len(evs) != 1 {
			t.Errorf("rotation events = %d, %v; want 1", len(evs), err)
		}
	})

	fx.clock.Advance(time.Hour)
	t.Run("KeysRetiredBeforeTheCutOffArePruned", func(t *testing.T) {
		third := newKey()
		// first retired an hour ago, second retires now: only first goes.
		if err := fx.db.AddSigningKey(fx.ctx, third, fx.clock.Now().Add(-time.Minute), true); err != nil {
			t.Fatalf("AddSigningKey: %v", err)
		}
		if diff := cmp.Diff([]string{third.ID, second.ID}, keyIDs(t)); diff != "" {
			t.Errorf("keys after pruning (-want +got):\n%s", diff)
		}
	})
}
