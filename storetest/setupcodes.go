package storetest

import (
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// testSetupCodes: CreateSetupCode and RedeemSetupCode, and the codes a user
// may hold at once.
func testSetupCodes(t *testing.T, fx *fixture) {
	u := fx.addUser("first@example.com")
	newCode := func(fx *fixture) (keysmith.Secret, keysmith.Hash) {
		t.Helper()
		secret, h := keysmith.NewSetupCodeSecret()
		now := fx.clock.Now()
		c := &keysmith.SetupCode{ID: keysmith.NewID("stc"), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(keysmith.SetupCodeTTL)}
		if err := fx.db.CreateSetupCode(fx.ctx, c, h); err != nil {
			t.Fatalf("CreateSetupCode: %v", err)
		}
		return secret, h
	}
	const pwHash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

	t.Run("RedeemSetsThePasswordEndsSessionsAndWorksOnce", func(t *testing.T) {
		fx := fx.in(t)
		secret, h := newCode(fx)
		_, sess := fx.addSession(u)
		got, err := fx.db.RedeemSetupCode(fx.ctx, h, pwHash, fx.clock.Now())
		if err != nil || got.ID != u.ID {
			t.Fatalf("RedeemSetupCode: %v, %v", got, err)
		}
		if _, stored, _ := fx.db.FindUserByEmail(fx.ctx, u.Email); stored != pwHash {
			t.Errorf("password hash after redeeming: %q", stored)
		}
		_, err = fx.db.FindSessionByHash(fx.ctx, sess)
		wantCode(t, "the user's session after redeeming", err, keysmith.CodeNotFound)
		_, err = fx.db.RedeemSetupCode(fx.ctx, h, pwHash, fx.clock.Now())
		wantCode(t, "RedeemSetupCode a second time", err, keysmith.CodeUnauthorized)
		for _, table := range fx.tables() {
			for _, c := range fx.cells(table) {
				if strings.Contains(c.value, secret.Reveal()[4:20]) {
					t.Errorf("%s.%s holds part of the setup code", c.table, c.column)
				}
			}
		}
		if types := fx.eventTypesAbout(u.ID); !containsType(types, keysmith.EventSetupCodeCreated) || !containsType(types, keysmith.EventSetupCodeUsed) {
			t.Errorf("events about the user: %v, want setup_code.created and setup_code.used", types)
		}
	})

	t.Run("AnExpiredOrUnknownCodeIsRefusedAndChangesNothing", func(t *testing.T) {
		fx := fx.in(t)
		_, h := newCode(fx)
		before := fx.counts()
		_, unknown := keysmith.NewSetupCodeSecret()
		_, err := fx.db.RedeemSetupCode(fx.ctx, unknown, pwHash, fx.clock.Now())
		wantCode(t, "RedeemSetupCode of an unknown code", err, keysmith.CodeUnauthorized)
		_, err = fx.db.RedeemSetupCode(fx.ctx, h, pwHash, fx.clock.Now().Add(keysmith.SetupCodeTTL))
		wantCode(t, "RedeemSetupCode an hour later", err, keysmith.CodeUnauthorized)
		if diff := cmp.Diff(before, fx.counts()); diff != "" {
			t.Errorf("refused redeems changed rows:\n%s", diff)
		}
	})

	t.Run("ANewCodeReplacesTheEarlierOne", func(t *testing.T) {
		fx := fx.in(t)
		_, first := newCode(fx)
		_, second := newCode(fx)
		_, err := fx.db.RedeemSetupCode(fx.ctx, first, pwHash, fx.clock.Now())
		wantCode(t, "RedeemSetupCode of a replaced code", err, keysmith.CodeUnauthorized)
		if _, err := fx.db.RedeemSetupCode(fx.ctx, second, pwHash, fx.clock.Now()); err != nil {
			t.Errorf("RedeemSetupCode of the newest code: %v", err)
		}
	})

	t.Run("APasswordChangeOrADeactivationVoidsTheCode", func(t *testing.T) {
		fx := fx.in(t)
		_, h := newCode(fx)
		other := "$argon2id$v=19$m=64,t=1,p=1$b3RoZXJzYWx0$b3RoZXJoYXNoaGFzaGhhc2g"
		if _, err := fx.db.UpdateUser(fx.ctx, u.ID, keysmith.UserUpdate{PasswordHash: &other}); err != nil {
			t.Fatal(err)
		}
		_, err := fx.db.RedeemSetupCode(fx.ctx, h, pwHash, fx.clock.Now())
		wantCode(t, "RedeemSetupCode after a password change", err, keysmith.CodeUnauthorized)

		_, h = newCode(fx)
		for _, st := range []keysmith.UserStatus{keysmith.UserInactive, keysmith.UserActive} {
			if _, err := fx.db.UpdateUser(fx.ctx, u.ID, keysmith.UserUpdate{Status: ptr(st)}); err != nil {
				t.Fatal(err)
			}
		}
		_, err = fx.db.RedeemSetupCode(fx.ctx, h, pwHash, fx.clock.Now())
		wantCode(t, "RedeemSetupCode after a deactivation and reactivation", err, keysmith.CodeUnauthorized)
	})

	t.Run("ConcurrentRedeemsOfOneCodeSucceedOnce", func(t *testing.T) {
		fx := fx.in(t)
		_, h := newCode(fx)
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Go(func() { _, errs[i] = fx.db.RedeemSetupCode(fx.ctx, h, pwHash, fx.clock.Now()) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch keysmith.ErrorCode(err) {
			case "":
				ok++
			case keysmith.CodeUnauthorized:
			default:
				t.Errorf("a concurrent redeem: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent redeems succeeded, want 1", ok, len(errs))
		}
	})
}

func containsType(types []keysmith.EventType, want keysmith.EventType) bool {
	for _, t := range types {
		if t == want {
			return true
		}
	}
	return false
}
