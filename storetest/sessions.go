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
