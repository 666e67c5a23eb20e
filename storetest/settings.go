package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// testSettings: the SettingsStore methods: defaults until set, the stored
// limits over the defaults after, on every replica, and a published change.
func testSettings(t *testing.T, fx *fixture) {
	got, err := fx.db.RateLimits(fx.ctx)
	if err != nil {
		t.Fatalf("RateLimits: %v", err)
	}
	if diff := cmp.Diff(keysmith.DefaultRateLimits(), got); diff != "" {
		t.Errorf("RateLimits of a new database (-defaults +got):\n%s", diff)
	}
	other := fx.open()              // another replica on the same database
	for _, n := range []int{7, 9} { // the first inserts the row, the second updates it
		if err := fx.db.SetRateLimits(fx.ctx, keysmith.RateLimits{keysmith.GroupZones: n}); err != nil {
			t.Fatalf("SetRateLimits: %v", err)
		}
	}
	want := keysmith.DefaultRateLimits()
	want[keysmith.GroupZones] = 9
	for name, db := range map[string]interface {
		RateLimits(ctx context.Context) (keysmith.RateLimits, error)
	}{"this replica": fx.db, "another replica": other} {
		got, err := db.RateLimits(fx.ctx)
		if err != nil {
			t.Fatalf("RateLimits on %s: %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("RateLimits on %s after SetRateLimits (-want +got):\n%s", name, diff)
		}
	}
	fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeSettings, ID: "rate_limits"})
	evs, _, err := fx.db.FindEvents(fx.ctx, keysmith.EventFilter{Type: keysmith.EventRateLimitsUpdated})
	if err != nil || len(evs) != 2 {
		t.Errorf("rate limit events = %d, %v; want 2", len(evs), err)
	}
}
