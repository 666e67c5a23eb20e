package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keysmith/keysmith"
)

// testLastActiveSuperAdminIsKept: demoting or deactivating the last active
// super admin is CodeConflict and changes nothing, also when two super
// admins are demoted at once.
func testLastActiveSuperAdminIsKept(t *testing.T, fx *fixture) {
	u, boot, h := fx.firstAdmin("admin@example.com")
	if err := fx.db.Bootstrap(fx.ctx, u, boot, h); err != nil {
		t.Fatal(err)
	}
	org, inactive := keysmith.RoleOrgAdmin, keysmith.UserInactive
	for _, up := range []keysmith.UserUpdate{{Role: &org}, {Status: &inactive}} {
		if _, err := fx.db.UpdateUser(fx.ctx, u.ID, up); keysmith.ErrorCode(err) != keysmith.CodeConflict {
			t.Errorf("UpdateUser(%+v) of the last super admin: %v, want conflict", up, err)
		}
	}
	now := fx.clock.Now()
	second := &keysmith.User{ID: keysmith.NewID("usr"), Email: "second@example.com", Name: "Second", Role: keysmith.RoleSuperAdmin,
		Type: keysmith.UserPerson, Status: keysmith.UserActive, CreatedAt: now, UpdatedAt: now}
	if err := fx.db.CreateUser(fx.ctx, second, ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []string{u.ID, second.ID} {
		wg.Go(func() { _, errs[i] = fx.db.UpdateUser(fx.ctx, id, keysmith.UserUpdate{Role: &org}) })
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Errorf("two concurrent demotions of the two super admins: %v, %v; want exactly one to succeed", errs[0], errs[1])
	}
}

// testNoPlaintextPasswordOrSessionSecretIsStored: passwords are stored
// only as the hash the service gives, session secrets only as SHA-256.
func testNoPlaintextPasswordOrSessionSecretIsStored(t *testing.T, fx *fixture) {
	u, boot, h := fx.firstAdmin("admin@example.com")
	if err := fx.db.Bootstrap(fx.ctx, u, boot, h); err != nil {
		t.Fatal(err)
	}
	now := fx.clock.Now()
	secret, sh := keysmith.NewSessionSecret()
	s := &keysmith.Session{ID: keysmith.NewID("ses"), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(keysmith.DefaultSessionTTL)}
	if err := fx.db.CreateSession(fx.ctx, s, sh); err != nil {
		t.Fatal(err)
	}
	hash := "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
	if _, err := fx.db.UpdateUser(fx.ctx, u.ID, keysmith.UserUpdate{PasswordHash: &hash}); err != nil {
		t.Fatal(err)
	}
	got, err := fx.db.FindSessionByHash(fx.ctx, sh)
	if keysmith.ErrorCode(err) != keysmith.CodeNotFound {
		t.Errorf("a password change leaves the session: %+v, %v", got, err)
	}
	if err := fx.db.CreateSession(fx.ctx, s, sh); err != nil {
		t.Fatal(err)
	}
	if _, stored, err := fx.db.FindUserByEmail(fx.ctx, "admin@example.com"); err != nil || stored != hash {
		t.Errorf("FindUserByEmail: hash %q, %v", stored, err)
	}
	for _, table := range fx.tables() {
		for _, c := range fx.cells(table) {
			for _, n := range needles(secret.Reveal()) {
				if strings.Contains(c.value, n) {
					t.Errorf("%s.%s holds %q, part of a session secret", c.table, c.column, n)
					break
				}
			}
			if c.value == hash && !(c.table == "users" && c.column == "password_hash") {
				t.Errorf("%s.%s holds the password hash", c.table, c.column)
			}
		}
	}
}

// testUsers: the UserStore methods' round trips, filters and error codes
// (the last super admin has its own case).
func testUsers(t *testing.T, fx *fixture) {
	newUser := func(email string, role keysmith.Role) *keysmith.User {
		now := fx.clock.Now()
		return &keysmith.User{ID: keysmith.NewID("usr"), Email: email, Name: "Name of " + email, Role: role,
			Type: keysmith.UserPerson, Status: keysmith.UserActive, CreatedAt: now, UpdatedAt: now}
	}

	t.Run("CreateUserRoundTripsWithItsPasswordHash", func(t *testing.T) {
		fx := fx.in(t)
		u := newUser("carol@example.com", keysmith.RoleDeveloper)
		if err := fx.db.CreateUser(fx.ctx, u, "$argon2id$stand-in"); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		byID, err := fx.db.FindUserByID(fx.ctx, u.ID)
		if err != nil || !cmp.Equal(u, byID) {
			t.Errorf("FindUserByID = %+v, %v; want %+v", byID, err, u)
		}
		byEmail, hash, err := fx.db.FindUserByEmail(fx.ctx, u.Email)
		if err != nil || !cmp.Equal(u, byEmail) || hash != "$argon2id$stand-in" {
			t.Errorf("FindUserByEmail = %+v, %q, %v; want the user and the hash", byEmail, hash, err)
		}
		_, _, err = fx.db.FindUserByEmail(fx.ctx, "nobody@example.com")
		wantCode(t, "FindUserByEmail of an unknown address", err, keysmith.CodeNotFound)
	})

	t.Run("ATakenEmailAddressIsConflict", func(t *testing.T) {
		fx := fx.in(t)
		first, second := newUser("dave@example.com", keysmith.RoleDeveloper), newUser("erin@example.com", keysmith.RoleDeveloper)
		for _, u := range []*keysmith.User{first, second} {
			if err := fx.db.CreateUser(fx.ctx, u, ""); err != nil {
				t.Fatal(err)
			}
		}
		wantCode(t, "CreateUser with a taken address", fx.db.CreateUser(fx.ctx, newUser("dave@example.com", keysmith.RoleDeveloper), ""),
			keysmith.CodeConflict)
		_, err := fx.db.UpdateUser(fx.ctx, second.ID, keysmith.UserUpdate{Email: ptr("dave@example.com")})
		wantCode(t, "UpdateUser to a taken address", err, keysmith.CodeConflict)
		if got, err := fx.db.FindUserByID(fx.ctx, second.ID); err != nil || got.Email != "erin@example.com" {
			t.Errorf("user after the refused change: %+v, %v", got, err)
		}
	})

	t.Run("FindUsersFiltersAndPagesNewestFirst", func(t *testing.T) {
		fx := fx.in(t)
		var made []*keysmith.User
		for i, role := range []keysmith.Role{keysmith.RoleReadOnlyAdmin, keysmith.RoleReadOnlyAdmin, keysmith.RoleDeveloper} {
			fx.clock.Advance(time.Second)
			u := newUser(fmt.Sprintf("pager%d@example.com", i), role)
			if err := fx.db.CreateUser(fx.ctx, u, ""); err != nil {
				t.Fatal(err)
			}
			made = append(made, u)
		}
		page, next, err := fx.db.FindUsers(fx.ctx, keysmith.UserFilter{Query: "PAGER", Role: keysmith.RoleReadOnlyAdmin, Page: keysmith.Page{Limit: 1}})
		if err != nil || len(page) != 1 || page[0].ID != made[1].ID || next == "" {
			t.Fatalf("FindUsers first page = %d users, next %q, %v; want the newer read-only admin and a cursor", len(page), next, err)
		}
		page, next, err = fx.db.FindUsers(fx.ctx, keysmith.UserFilter{Query: "PAGER", Role: keysmith.RoleReadOnlyAdmin, Page: keysmith.Page{Limit: 1, Cursor: next}})
		if err != nil || len(page) != 1 || page[0].ID != made[0].ID || next != "" {
			t.Errorf("FindUsers last page = %d users, next %q, %v; want the older read-only admin and no cursor", len(page), next, err)
		}
		_, _, err = fx.db.FindUsers(fx.ctx, keysmith.UserFilter{Page: keysmith.Page{Cursor: "garbage"}})
		wantCode(t, "FindUsers with a garbage cursor", err, keysmith.CodeInvalid)
	})

	t.Run("UpdateUserOfAnUnknownUserIsNotFound", func(t *testing.T) {
		fx := fx.in(t)
		_, err := fx.db.UpdateUser(fx.ctx, keysmith.NewID("usr"), keysmith.UserUpdate{Name: ptr("x")})
		wantCode(t, "UpdateUser of an unknown id", err, keysmith.CodeNotFound)
	})
}
