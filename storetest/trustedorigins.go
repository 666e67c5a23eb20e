package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// newTrustedOrigin is an origin not stored yet.
func (fx *fixture) newTrustedOrigin(origin string) *keysmith.TrustedOrigin {
	return &keysmith.TrustedOrigin{ID: keysmith.NewID("ori"), Origin: origin, CreatedAt: fx.clock.Now()}
}

// createTrustedOrigin stores an origin, failing the test on error.
func (fx *fixture) createTrustedOrigin(origin string) *keysmith.TrustedOrigin {
	fx.t.Helper()
	o := fx.newTrustedOrigin(origin)
	if err := fx.db.CreateTrustedOrigin(fx.ctx, o, keysmith.MaxTrustedOrigins); err != nil {
		fx.t.Fatalf("CreateTrustedOrigin %s: %v", origin, err)
	}
	return o
}

// testTrustedOrigins: every TrustedOriginStore method, its error codes and
// events, and the bound on the list under concurrent additions.
func testTrustedOrigins(t *testing.T, fx *fixture) {
	t.Run("CreateTrustedOriginRoundTripsRecordsItsEventAndPublishesAChange", func(t *testing.T) {
		fx := fx.in(t)
		o := fx.createTrustedOrigin("https://app.example.com")
		got, err := fx.db.FindTrustedOrigins(fx.ctx)
		if err != nil {
			t.Fatalf("FindTrustedOrigins: %v", err)
		}
		if i := slices.IndexFunc(got, func(g *keysmith.TrustedOrigin) bool { return g.ID == o.ID }); i < 0 {
			t.Fatalf("FindTrustedOrigins = %v, want it to hold %s", got, o.ID)
		} else if diff := cmp.Diff(o, got[i]); diff != "" {
			t.Errorf("FindTrustedOrigins (-created +read):\n%s", diff)
		}
		fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeTrustedOrigin, ID: o.ID})
		if got := fx.eventTypesAbout(o.ID); !slices.Equal(got, []keysmith.EventType{keysmith.EventTrustedOriginCreated}) {
			t.Errorf("events about the origin = %v, want [trusted_origin.created]", got)
		}
		evs := fx.eventsOf(keysmith.EventTrustedOriginCreated)
		if last := evs[len(evs)-1]; last.Details["origin"] != o.Origin || len(last.Targets) != 1 || last.Targets[0] != keysmith.TrustedOriginRef(o) {
			t.Errorf("trusted_origin.created details %v targets %v, want the origin and its ref", last.Details, last.Targets)
		}
	})

	t.Run("CreateTrustedOriginListedAlreadyIsConflictAndChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		fx.createTrustedOrigin("https://dup.example.com")
		before, events := fx.count("trusted_origins"), fx.count("events")
		dup := fx.newTrustedOrigin("https://dup.example.com")
		wantCode(t, "CreateTrustedOrigin of a listed origin", fx.db.CreateTrustedOrigin(fx.ctx, dup, keysmith.MaxTrustedOrigins), keysmith.CodeConflict)
		if n, e := fx.count("trusted_origins"), fx.count("events"); n != before || e != events {
			t.Errorf("after the refused create: %d origins, %d events; want %d, %d", n, e, before, events)
		}
	})

	t.Run("FindTrustedOriginsListsThemByOrigin", func(t *testing.T) {
		fx := fx.in(t)
		fx.createTrustedOrigin("https://zz.example.com")
		fx.createTrustedOrigin("http://localhost:3000")
		os, err := fx.db.FindTrustedOrigins(fx.ctx)
		if err != nil {
			t.Fatalf("FindTrustedOrigins: %v", err)
		}
		var names []string
		for _, o := range os {
			names = append(names, o.Origin)
		}
		if len(names) != fx.count("trusted_origins") || !slices.IsSorted(names) || !slices.Contains(names, "http://localhost:3000") {
			t.Errorf("FindTrustedOrigins = %q, want every origin, sorted", names)
		}
	})

	t.Run("DeleteTrustedOriginRemovesItRecordsItsEventAndPublishesAChange", func(t *testing.T) {
		fx := fx.in(t)
		o := fx.createTrustedOrigin("https://gone.example.com")
		if err := fx.db.DeleteTrustedOrigin(fx.ctx, o.ID); err != nil {
			t.Fatalf("DeleteTrustedOrigin: %v", err)
		}
		os, _ := fx.db.FindTrustedOrigins(fx.ctx)
		if slices.ContainsFunc(os, func(g *keysmith.TrustedOrigin) bool { return g.ID == o.ID }) {
			t.Errorf("FindTrustedOrigins still lists the deleted origin")
		}
		fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeTrustedOrigin, ID: o.ID})
		want := []keysmith.EventType{keysmith.EventTrustedOriginCreated, keysmith.EventTrustedOriginDeleted}
		if got := fx.eventTypesAbout(o.ID); !slices.Equal(got, want) {
			t.Errorf("events about the origin = %v, want %v", got, want)
		}
		// Deleted, the origin may be listed again.
		fx.createTrustedOrigin("https://gone.example.com")
	})

	t.Run("DeleteUnknownTrustedOriginIsNotFound", func(t *testing.T) {
		fx := fx.in(t)
		wantCode(t, "DeleteTrustedOrigin of an unknown id", fx.db.DeleteTrustedOrigin(fx.ctx, keysmith.NewID("ori")), keysmith.CodeNotFound)
	})

	t.Run("ConcurrentCreateTrustedOriginsNeverExceedTheBound", func(t *testing.T) {
		fx := fx.in(t)
		have := fx.count("trusted_origins")
		const extra, tries = 3, 10
		max := have + extra
		errs := make([]error, tries)
		concurrently(tries, func(i int) {
			errs[i] = fx.db.CreateTrustedOrigin(fx.ctx, fx.newTrustedOrigin(fmt.Sprintf("https://race%d.example.com", i)), max)
		})
		ok := 0
		for i, err := range errs {
			switch keysmith.ErrorCode(err) {
			case "":
				ok++
			case keysmith.CodeConflict:
			default:
				t.Errorf("addition %d: %v, want success or conflict", i, err)
			}
		}
		if n := fx.count("trusted_origins"); ok != extra || n != max {
			t.Errorf("%d concurrent additions with room for %d: %d succeeded, %d stored; want %d and %d", tries, extra, ok, n, extra, max)
		}
	})
}
