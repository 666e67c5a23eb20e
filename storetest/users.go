package storetest

import (
	"strings"
	"sync"
	"testing"

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
