package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// createGroup stores a group, failing the test on error.
func (fx *fixture) createGroup(name string) *keysmith.Group {
	fx.t.Helper()
	now := fx.clock.Now()
	g := &keysmith.Group{ID: keysmith.NewID("grp"), Name: name, Description: "the " + name, CreatedAt: now, UpdatedAt: now}
	if err := fx.db.CreateGroup(fx.ctx, g); err != nil {
		fx.t.Fatalf("CreateGroup %s: %v", name, err)
	}
	return g
}

// groupsOf returns the ids of the groups of user id.
func (fx *fixture) groupsOf(id string) []string {
	fx.t.Helper()
	ids, err := fx.db.FindGroupIDsOfUser(fx.ctx, id)
	if err != nil {
		fx.t.Fatalf("FindGroupIDsOfUser: %v", err)
	}
	return ids
}

// testGroups: every GroupStore method and its error codes.
func testGroups(t *testing.T, fx *fixture) {
	alice := fx.addUser("alice@example.com")

	t.Run("CreateGroupRoundTripsEveryField", func(t *testing.T) {
		fx := fx.in(t)
		g := fx.createGroup("Ops ☃")
		got, err := fx.db.FindGroupByID(fx.ctx, g.ID)
		if err != nil {
			t.Fatalf("FindGroupByID: %v", err)
		}
		if diff := cmp.Diff(g, got); diff != "" {
			t.Errorf("FindGroupByID (-created +read):\n%s", diff)
		}
	})

	t.Run("GroupNamesAreUniqueRegardlessOfCase", func(t *testing.T) {
		fx := fx.in(t)
		fx.createGroup("Payments")
		other := fx.createGroup("Billing")
		now := fx.clock.Now()
		dup := &keysmith.Group{ID: keysmith.NewID("grp"), Name: "PAYMENTS", CreatedAt: now, UpdatedAt: now}
		wantCode(t, "CreateGroup with a taken name", fx.db.CreateGroup(fx.ctx, dup), keysmith.CodeConflict)
		_, err := fx.db.UpdateGroup(fx.ctx, other.ID, keysmith.GroupInput{Name: ptr("payments")})
		wantCode(t, "UpdateGroup to a taken name", err, keysmith.CodeConflict)
		if got, err := fx.db.FindGroupByID(fx.ctx, other.ID); err != nil || got.Name != "Billing" {
			t.Errorf("group after the refused rename: %+v, %v", got, err)
		}
	})

	t.Run("FindGroupsFiltersByNameNewestFirst", func(t *testing.T) {
		fx := fx.in(t)
		fx.clock.Advance(time.Second)
		older := fx.createGroup("Team Red")
		fx.clock.Advance(time.Second)
		newer := fx.createGroup("team reddish")
		got, next, err := fx.db.FindGroups(fx.ctx, keysmith.GroupFilter{Query: "M RED"})
		if err != nil || next != "" || len(got) != 2 || got[0].ID != newer.ID || got[1].ID != older.ID {
			t.Errorf("FindGroups %q = %d groups, next %q, %v; want [newer, older]", "M RED", len(got), next, err)
		}
		_, _, err = fx.db.FindGroups(fx.ctx, keysmith.GroupFilter{Page: keysmith.Page{Cursor: "garbage"}})
		wantCode(t, "FindGroups with a garbage cursor", err, keysmith.CodeInvalid)
	})

	t.Run("UpdateGroupChangesWhatItNames", func(t *testing.T) {
		fx := fx.in(t)
		g := fx.createGroup("Before")
		fx.clock.Advance(time.Minute)
		got, err := fx.db.UpdateGroup(fx.ctx, g.ID, keysmith.GroupInput{Name: ptr("After")})
		if err != nil {
			t.Fatalf("UpdateGroup: %v", err)
		}
		want := *g
		want.Name, want.UpdatedAt = "After", fx.clock.Now()
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("UpdateGroup returned (-want +got):\n%s", diff)
		}
		if read, err := fx.db.FindGroupByID(fx.ctx, g.ID); err != nil || !cmp.Equal(&want, read) {
			t.Errorf("read after UpdateGroup: %+v, %v; want %+v", read, err, &want)
		}
	})

	t.Run("MembersAreAddedAndRemovedOnceAndGoWithTheGroup", func(t *testing.T) {
		fx := fx.in(t)
		bob := fx.addUser("bob@example.com")
		g, h := fx.createGroup("Members"), fx.createGroup("Others")
		for range 2 { // the second addition changes nothing
			if err := fx.db.AddGroupMember(fx.ctx, g.ID, bob.ID); err != nil {
				t.Fatalf("AddGroupMember: %v", err)
			}
		}
		if err := fx.db.AddGroupMember(fx.ctx, h.ID, bob.ID); err != nil {
			t.Fatal(err)
		}
		if got, want := fx.groupsOf(bob.ID), sortedIDs(g.ID, h.ID); !cmp.Equal(got, want) {
			t.Errorf("FindGroupIDsOfUser = %v, want %v", got, want)
		}
		events := fx.count("events")
		for range 2 { // removing a non-member changes nothing
			if err := fx.db.RemoveGroupMember(fx.ctx, h.ID, bob.ID); err != nil {
				t.Fatalf("RemoveGroupMember: %v", err)
			}
		}
		if n := fx.count("events") - events; n != 1 {
			t.Errorf("removing a member twice recorded %d events, want 1", n)
		}
		if err := fx.db.DeleteGroup(fx.ctx, g.ID); err != nil {
			t.Fatalf("DeleteGroup: %v", err)
		}
		_, err := fx.db.FindGroupByID(fx.ctx, g.ID)
		wantCode(t, "FindGroupByID of a deleted group", err, keysmith.CodeNotFound)
		if got := fx.groupsOf(bob.ID); len(got) != 0 {
			t.Errorf("FindGroupIDsOfUser after the deletions = %v, want none", got)
		}
		fx.watch.changes.wait(t, keysmith.Change{Kind: keysmith.ChangeUser, ID: bob.ID})
	})

	t.Run("UnknownGroupOrUserIsNotFound", func(t *testing.T) {
		fx := fx.in(t)
		g := fx.createGroup("Known")
		unknown := keysmith.NewID("grp")
		_, err := fx.db.FindGroupByID(fx.ctx, unknown)
		wantCode(t, "FindGroupByID of an unknown id", err, keysmith.CodeNotFound)
		_, err = fx.db.UpdateGroup(fx.ctx, unknown, keysmith.GroupInput{Name: ptr("x")})
		wantCode(t, "UpdateGroup of an unknown id", err, keysmith.CodeNotFound)
		wantCode(t, "DeleteGroup of an unknown id", fx.db.DeleteGroup(fx.ctx, unknown), keysmith.CodeNotFound)
		wantCode(t, "AddGroupMember to an unknown group", fx.db.AddGroupMember(fx.ctx, unknown, alice.ID), keysmith.CodeNotFound)
		wantCode(t, "AddGroupMember of an unknown user", fx.db.AddGroupMember(fx.ctx, g.ID, keysmith.NewID("usr")), keysmith.CodeNotFound)
		wantCode(t, "RemoveGroupMember from an unknown group", fx.db.RemoveGroupMember(fx.ctx, unknown, alice.ID), keysmith.CodeNotFound)
		if got := fx.groupsOf(keysmith.NewID("usr")); len(got) != 0 {
			t.Errorf("FindGroupIDsOfUser of an unknown user = %v, want none", got)
		}
	})
}

// sortedIDs returns ids in ascending order.
func sortedIDs(ids ...string) []string {
	return slices.Sorted(slices.Values(ids))
}
