package storetest

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// prefixes compares netip values by value (cmp cannot see their fields).
var prefixes = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

// createZone stores a zone named name with one gateway, failing the test on
// error.
func (fx *fixture) createZone(name string) *keysmith.Zone {
	fx.t.Helper()
	now := fx.clock.Now()
	z := &keysmith.Zone{ID: keysmith.NewID("zon"), Name: name,
		Gateways: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Proxies: []netip.Prefix{},
		CreatedAt: now, UpdatedAt: now}
	if err := fx.db.CreateZone(fx.ctx, z); err != nil {
		fx.t.Fatalf("CreateZone %s: %v", name, err)
	}
	return z
}

// inZones is the policy "only from these zones".
func inZones(ids ...string) *keysmith.NetworkPolicy {
	return &keysmith.NetworkPolicy{Mode: keysmith.NetworkInZones, Zones: ids}
}

// testZones: every ZoneStore method, its error codes, and the invariant
// that no token names a zone that does not exist, even when a zone is
// deleted while a token is being pointed at it.
func testZones(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")

	t.Run("CreateZoneRoundTripsEveryField", func(t *testing.T) {
		fx := fx.in(t)
		now := fx.clock.Now()
		z := &keysmith.Zone{ID: keysmith.NewID("zon"), Name: "Büro ☃",
			Gateways:  []netip.Prefix{netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("2001:db8::/48")},
			Proxies:   []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			CreatedAt: now, UpdatedAt: now}
		want := *z
		if err := fx.db.CreateZone(fx.ctx, z); err != nil {
			t.Fatalf("CreateZone: %v", err)
		}
		got, err := fx.db.FindZoneByID(fx.ctx, z.ID)
		if err != nil {
			t.Fatalf("FindZoneByID: %v", err)
		}
		if diff := cmp.Diff(&want, got, prefixes); diff != "" {
			t.Errorf("FindZoneByID (-created +read):\n%s", diff)
		}
		fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeZone, ID: z.ID})
	})

	t.Run("CreateZoneWithATakenNameIsConflictAndChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		fx.createZone("office")
		before := fx.count("zones")
		now := fx.clock.Now()
		dup := &keysmith.Zone{ID: keysmith.NewID("zon"), Name: "office", CreatedAt: now, UpdatedAt: now}
		wantCode(t, "CreateZone with a taken name", fx.db.CreateZone(fx.ctx, dup), keysmith.CodeConflict)
		if n := fx.count("zones"); n != before {
			t.Errorf("zones: %d rows after the refused create, want %d", n, before)
		}
		_, err := fx.db.FindZoneByID(fx.ctx, dup.ID)
		wantCode(t, "FindZoneByID of the refused zone", err, keysmith.CodeNotFound)
	})

	t.Run("FindZonesListsEveryZoneByName", func(t *testing.T) {
		fx := fx.in(t)
		fx.createZone("zz last")
		fx.createZone("aa first")
		zs, err := fx.db.FindZones(fx.ctx)
		if err != nil {
			t.Fatalf("FindZones: %v", err)
		}
		var names []string
		for _, z := range zs {
			names = append(names, z.Name)
		}
		if len(names) != fx.count("zones") || !slices.IsSorted(names) || !slices.Contains(names, "zz last") {
			t.Errorf("FindZones names = %q, want every zone, by name", names)
		}
	})

	t.Run("UpdateZoneChangesWhatItNamesAndKeepsTheRest", func(t *testing.T) {
		fx := fx.in(t)
		z := fx.createZone("lab")
		fx.clock.Advance(time.Minute)
		px := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
		got, err := fx.db.UpdateZone(fx.ctx, z.ID, keysmith.ZoneUpdate{Name: ptr("lab 2"), Proxies: &px})
		if err != nil {
			t.Fatalf("UpdateZone: %v", err)
		}
		want := *z
		want.Name, want.Proxies, want.UpdatedAt = "lab 2", px, fx.clock.Now()
		if diff := cmp.Diff(&want, got, prefixes); diff != "" {
			t.Errorf("UpdateZone returned (-want +got):\n%s", diff)
		}
		read, err := fx.db.FindZoneByID(fx.ctx, z.ID)
		if err != nil {
			t.Fatalf("FindZoneByID: %v", err)
		}
		if diff := cmp.Diff(&want, read, prefixes); diff != "" {
			t.Errorf("read after UpdateZone (-want +got):\n%s", diff)
		}
	})

	t.Run("UpdateZoneToATakenNameIsConflictAndChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		fx.createZone("taken")
		z := fx.createZone("mine")
		_, err := fx.db.UpdateZone(fx.ctx, z.ID, keysmith.ZoneUpdate{Name: ptr("taken")})
		wantCode(t, "UpdateZone to a taken name", err, keysmith.CodeConflict)
		if got, err := fx.db.FindZoneByID(fx.ctx, z.ID); err != nil || got.Name != "mine" {
			t.Errorf("zone after the refused rename: %+v, %v; want its old name", got, err)
		}
	})

	t.Run("UnknownZoneIsNotFound", func(t *testing.T) {
		fx := fx.in(t)
		unknown := keysmith.NewID("zon")
		_, err := fx.db.FindZoneByID(fx.ctx, unknown)
		wantCode(t, "FindZoneByID of an unknown id", err, keysmith.CodeNotFound)
		_, err = fx.db.UpdateZone(fx.ctx, unknown, keysmith.ZoneUpdate{Name: ptr("x")})
		wantCode(t, "UpdateZone of an unknown id", err, keysmith.CodeNotFound)
		wantCode(t, "DeleteZone of an unknown id", fx.db.DeleteZone(fx.ctx, unknown), keysmith.CodeNotFound)
	})

	t.Run("DeleteZoneInUseIsConflictNamingTheTokensUntilTheyAreRevoked", func(t *testing.T) {
		fx := fx.in(t)
		z := fx.createZone("in use")
		tok, _ := fx.createToken(owner)
		if _, err := fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Network: inZones(z.ID)}); err != nil {
			t.Fatalf("UpdateToken to the zone: %v", err)
		}
		err := fx.db.DeleteZone(fx.ctx, z.ID)
		wantCode(t, "DeleteZone of a zone a token uses", err, keysmith.CodeConflict)
		if !strings.Contains(err.Error(), tok.ID) {
			t.Errorf("DeleteZone conflict %q does not name the token %s", err, tok.ID)
		}
		if _, err := fx.db.RevokeToken(fx.ctx, tok.ID, owner.ID); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		if err := fx.db.DeleteZone(fx.ctx, z.ID); err != nil {
			t.Fatalf("DeleteZone once its only token is revoked: %v", err)
		}
		_, err = fx.db.FindZoneByID(fx.ctx, z.ID)
		wantCode(t, "FindZoneByID of the deleted zone", err, keysmith.CodeNotFound)
		if got := fx.mustFindToken(tok.ID); len(got.Network.Zones) != 0 {
			t.Errorf("revoked token still names zones %v after the zone was deleted", got.Network.Zones)
		}
	})

	t.Run("UpdateTokenNamingAMissingZoneIsInvalidAndChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		tok, _ := fx.createToken(owner)
		missing := keysmith.NewID("zon")
		_, err := fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Name: ptr("renamed"), Network: inZones(missing)})
		wantCode(t, "UpdateToken naming a missing zone", err, keysmith.CodeInvalid)
		if diff := cmp.Diff(tok, fx.mustFindToken(tok.ID), storedFields); diff != "" {
			t.Errorf("token changed by the refused update (-before +after):\n%s", diff)
		}
	})

	t.Run("ConcurrentDeleteZoneAndUpdateTokenToItLeaveNoDanglingReference", func(t *testing.T) {
		fx := fx.in(t)
		for round := range 6 {
			z := fx.createZone("contested " + string(rune('a'+round)))
			tok, _ := fx.createToken(owner)
			var delErr, upErr error
			concurrently(2, func(i int) {
				if i == 0 {
					delErr = fx.db.DeleteZone(fx.ctx, z.ID)
				} else {
					_, upErr = fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Network: inZones(z.ID)})
				}
			})
			fx.checkZoneRace(round, z, tok, delErr, upErr)
		}
	})
}

// checkZoneRace checks the outcome of a DeleteZone racing an UpdateToken
// that points the token at the zone: exactly one wins, the loser fails with
// its documented code, and the token names the zone only if it exists.
func (fx *fixture) checkZoneRace(round int, z *keysmith.Zone, tok *keysmith.Token, delErr, upErr error) {
	t := fx.t
	t.Helper()
	switch {
	case delErr == nil && keysmith.ErrorCode(upErr) == keysmith.CodeInvalid:
	case keysmith.ErrorCode(delErr) == keysmith.CodeConflict && upErr == nil:
	default:
		t.Fatalf("round %d: DeleteZone: %v; UpdateToken: %v; want (nil, invalid) or (conflict, nil)", round, delErr, upErr)
	}
	got := fx.mustFindToken(tok.ID)
	_, findErr := fx.db.FindZoneByID(fx.ctx, z.ID)
	if delErr == nil {
		wantCode(t, "FindZoneByID of the deleted zone", findErr, keysmith.CodeNotFound)
		if got.Network.Mode != keysmith.NetworkAny || len(got.Network.Zones) != 0 {
			t.Errorf("round %d: the refused update changed the token's network to %+v", round, got.Network)
		}
	} else if findErr != nil || len(got.Network.Zones) != 1 || got.Network.Zones[0] != z.ID {
		t.Errorf("round %d: zone kept (%v) but the token names %v, want [%s]", round, findErr, got.Network.Zones, z.ID)
	}
	var dangling int
	if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*) FROM token_zones
		WHERE zone_id NOT IN (SELECT id FROM zones)`).Scan(&dangling); err != nil {
		t.Fatal(err)
	}
	if dangling != 0 {
		t.Errorf("round %d: %d token_zones rows name a zone that does not exist", round, dangling)
	}
}
