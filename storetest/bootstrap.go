package storetest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// firstAdmin returns the unsaved user and token of a Bootstrap, created now.
func (fx *fixture) firstAdmin(email string) (*keysmith.User, *keysmith.Token, keysmith.Hash) {
	now := fx.clock.Now()
	u := &keysmith.User{ID: keysmith.NewID("usr"), Email: email, Name: "Administrator",
		Role: keysmith.RoleSuperAdmin, Type: keysmith.UserPerson, Status: keysmith.UserActive,
		CreatedAt: now, UpdatedAt: now}
	tok, _, h := fx.newToken(u)
	tok.Name = "bootstrap"
	return u, tok, h
}

// bootstrap runs Bootstrap, failing the test on error.
func (fx *fixture) bootstrap() (*keysmith.User, *keysmith.Token) {
	fx.t.Helper()
	u, tok, h := fx.firstAdmin("root@example.com")
	if err := fx.db.Bootstrap(fx.ctx, u, tok, h); err != nil {
		fx.t.Fatalf("Bootstrap: %v", err)
	}
	return u, tok
}

func testBootstrapCreatesUserAndToken(t *testing.T, fx *fixture) {
	u, tok, h := fx.firstAdmin("admin@example.com")
	if err := fx.db.Bootstrap(fx.ctx, u, tok, h); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	gotUser, err := fx.db.FindUserByID(fx.ctx, u.ID)
	if err != nil {
		t.Fatalf("FindUserByID: %v", err)
	}
	if diff := cmp.Diff(u, gotUser); diff != "" {
		t.Errorf("user (-stored +read):\n%s", diff)
	}
	gotToken, err := fx.db.FindTokenByHash(fx.ctx, h)
	if err != nil {
		t.Fatalf("FindTokenByHash: %v", err)
	}
	if diff := cmp.Diff(tok, gotToken, storedFields); diff != "" {
		t.Errorf("token (-stored +read):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"users": 1, "bootstrap": 1, "tokens": 1, "events": 2}, fx.counts()); diff != "" {
		t.Errorf("row counts (-want +got):\n%s", diff)
	}
}

func testSecondBootstrapIsConflictAndChangesNothing(t *testing.T, fx *fixture) {
	first, _ := fx.bootstrap()
	before := fx.counts()
	// Another address, so that only "already bootstrapped" can be the conflict.
	u, tok, h := fx.firstAdmin("second@example.com")
	wantCode(t, "second Bootstrap", fx.db.Bootstrap(fx.ctx, u, tok, h), keysmith.CodeConflict)
	if diff := cmp.Diff(before, fx.counts()); diff != "" {
		t.Errorf("row counts changed (-before +after):\n%s", diff)
	}
	_, err := fx.db.FindUserByID(fx.ctx, u.ID)
	wantCode(t, "FindUserByID of the refused user", err, keysmith.CodeNotFound)
	_, err = fx.db.FindTokenByHash(fx.ctx, h)
	wantCode(t, "FindTokenByHash of the refused token", err, keysmith.CodeNotFound)
	if _, err := fx.db.FindUserByID(fx.ctx, first.ID); err != nil {
		t.Errorf("FindUserByID of the first user: %v", err)
	}
}

func testConcurrentBootstrapsCreateExactlyOneUser(t *testing.T, fx *fixture) {
	const n = 8
	errs := make([]error, n)
	concurrently(n, func(i int) {
		u, tok, h := fx.firstAdmin(fmt.Sprintf("admin%d@example.com", i))
		errs[i] = fx.db.Bootstrap(fx.ctx, u, tok, h)
	})
	won := 0
	for i, err := range errs {
		switch keysmith.ErrorCode(err) {
		case "":
			won++
		case keysmith.CodeConflict:
		default:
			t.Errorf("Bootstrap %d: %v, want success or code %q", i, err, keysmith.CodeConflict)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent Bootstraps succeeded, want exactly 1", won, n)
	}
	if diff := cmp.Diff(map[string]int{"users": 1, "bootstrap": 1, "tokens": 1, "events": 2}, fx.counts()); diff != "" {
		t.Errorf("row counts (-want +got):\n%s", diff)
	}
}

func testFindUnknownUserIsNotFound(t *testing.T, fx *fixture) {
	fx.bootstrap()
	_, err := fx.db.FindUserByID(fx.ctx, keysmith.NewID("usr"))
	wantCode(t, "FindUserByID of an unknown id", err, keysmith.CodeNotFound)
}

func testBootstrapFailingHalfwayLeavesNoTrace(t *testing.T, fx *fixture) {
	u, tok, h := fx.firstAdmin("admin@example.com")
	// No such owner: the token's insert fails after the user's succeeded.
	tok.OwnerID = keysmith.NewID("usr")
	var err error
	var before, after map[string]int
	_, published := fx.published(func() {
		before = fx.counts()
		err = fx.db.Bootstrap(fx.ctx, u, tok, h)
		after = fx.counts()
	})
	if err == nil {
		t.Fatal("Bootstrap with a token whose owner does not exist succeeded")
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("row counts changed by a failed Bootstrap (-before +after):\n%s", diff)
	}
	if len(published) != 0 {
		t.Errorf("failed Bootstrap published %v, want nothing", published)
	}
	// The failed attempt did not use up the one bootstrap.
	fx.bootstrap()
}
