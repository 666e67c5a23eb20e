package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// testSessions: every SessionStore method, and the sessions a user's
// deactivation ends.
func testSessions(t *testing.T, fx *fixture) {
	u := fx.addUser("alice@example.com")
	newSession := func() (*keysmith.Session, keysmith.Hash) {
		now := fx.clock.Now()
		_, h := keysmith.NewSessionSecret()
		return &keysmith.Session{ID: keysmith.NewID("ses"), UserID: u.ID, CreatedAt: now,
			ExpiresAt: now.Add(keysmith.DefaultSessionTTL), ClientIP: "192.0.2.1", UserAgent: "Agent/1.0 «β»"}, h
	}

	t.Run("CreateSessionRoundTripsEveryField", func(t *testing.T) {
		fx := fx.in(t)
		s, h := newSession()
		if err := fx.db.CreateSession(fx.ctx, s, h); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		got, err := fx.db.FindSessionByHash(fx.ctx, h)
		if err != nil {
			t.Fatalf("FindSessionByHash: %v", err)
		}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Errorf("FindSessionByHash (-created +read):\n%s", diff)
		}
		_, unknown := keysmith.NewSessionSecret()
		_, err = fx.db.FindSessionByHash(fx.ctx, unknown)
		wantCode(t, "FindSessionByHash of an unknown hash", err, keysmith.CodeNotFound)
	})

	t.Run("DeleteSessionEndsItOnceAndAMissingOneChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		s, h := newSession()
		if err := fx.db.CreateSession(fx.ctx, s, h); err != nil {
			t.Fatal(err)
		}
		if err := fx.db.DeleteSession(fx.ctx, s); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		_, err := fx.db.FindSessionByHash(fx.ctx, h)
		wantCode(t, "FindSessionByHash of an ended session", err, keysmith.CodeNotFound)
		before := fx.counts()
		if err := fx.db.DeleteSession(fx.ctx, s); err != nil {
			t.Errorf("DeleteSession of a missing session: %v, want nil", err)
		}
		if diff := cmp.Diff(before, fx.counts()); diff != "" {
			t.Errorf("deleting a missing session changed rows (-before +after):\n%s", diff)
		}
	})

	t.Run("FindSessionsOfUserListsOnlyTheirLiveSessionsNewestFirst", func(t *testing.T) {
		fx := fx.in(t)
		u := fx.addUser("lister@example.com")
		other := fx.addUser("other@example.com")
		fx.addSession(other)
		first, _ := fx.addSession(u)
		fx.clock.Advance(time.Minute)
		second, _ := fx.addSession(u)
		got, err := fx.db.FindSessionsOfUser(fx.ctx, u.ID, fx.clock.Now())
		if err != nil {
			t.Fatalf("FindSessionsOfUser: %v", err)
		}
		if len(got) != 2 || got[0].ID != second.ID || got[1].ID != first.ID {
			t.Errorf("FindSessionsOfUser: %+v, want the two sessions, newest first", got)
		}
		got, _ = fx.db.FindSessionsOfUser(fx.ctx, u.ID, first.ExpiresAt)
		if len(got) != 1 || got[0].ID != second.ID {
			t.Errorf("FindSessionsOfUser once the first expired: %+v, want the second only", got)
		}
	})

	t.Run("DeleteSessionsOfUserEndsAllOfTheirsAndRecordsOneEvent", func(t *testing.T) {
		fx := fx.in(t)
		u := fx.addUser("leaver@example.com")
		other := fx.addUser("someone@example.com")
		_, kept := fx.addSession(other)
		fx.addSession(u)
		fx.addSession(u)
		n, err := fx.db.DeleteSessionsOfUser(fx.ctx, u.ID)
		if err != nil || n != 2 {
			t.Fatalf("DeleteSessionsOfUser: %d, %v; want 2", n, err)
		}
		if got, _ := fx.db.FindSessionsOfUser(fx.ctx, u.ID, fx.clock.Now()); len(got) != 0 {
			t.Errorf("sessions left: %+v", got)
		}
		if _, err := fx.db.FindSessionByHash(fx.ctx, kept); err != nil {
			t.Errorf("another user's session: %v", err)
		}
		ended := 0
		for _, typ := range fx.eventTypesAbout(u.ID) {
			if typ == keysmith.EventUserSessionsEnded {
				ended++
			}
		}
		if ended != 1 {
			t.Errorf("%d user.sessions_ended events, want 1", ended)
		}
		before := fx.counts()
		if n, err := fx.db.DeleteSessionsOfUser(fx.ctx, u.ID); err != nil || n != 0 {
			t.Errorf("DeleteSessionsOfUser without sessions: %d, %v", n, err)
		}
		if diff := cmp.Diff(before, fx.counts()); diff != "" {
			t.Errorf("ending no sessions changed rows (-before +after):\n%s", diff)
		}
	})

	t.Run("DeactivatingAUserEndsTheirSessions", func(t *testing.T) {
		fx := fx.in(t)
		s, h := newSession()
		if err := fx.db.CreateSession(fx.ctx, s, h); err != nil {
			t.Fatal(err)
		}
		fx.clock.Advance(time.Minute)
		if _, err := fx.db.UpdateUser(fx.ctx, u.ID, keysmith.UserUpdate{Status: ptr(keysmith.UserInactive)}); err != nil {
			t.Fatalf("UpdateUser to inactive: %v", err)
		}
		_, err := fx.db.FindSessionByHash(fx.ctx, h)
		wantCode(t, "FindSessionByHash after deactivation", err, keysmith.CodeNotFound)
	})
}

// addSession stores a live session of u and returns it with its hash.
func (fx *fixture) addSession(u *keysmith.User) (*keysmith.Session, keysmith.Hash) {
	fx.t.Helper()
	now := fx.clock.Now()
	_, h := keysmith.NewSessionSecret()
	s := &keysmith.Session{ID: keysmith.NewID("ses"), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(keysmith.DefaultSessionTTL)}
	if err := fx.db.CreateSession(fx.ctx, s, h); err != nil {
		fx.t.Fatal(err)
	}
	return s, h
}
