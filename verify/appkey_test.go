package verify_test

import (
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/verify"
)

// storeRecord stores a record of type typ under h, as an app key of a new
// application of the owner when typ is app_key.
func (f *fixture) storeRecord(t testing.TB, h keysmith.Hash, typ keysmith.TokenType) *keysmith.Token {
	t.Helper()
	tok := &keysmith.Token{ID: keysmith.NewID("key"), Name: "test", Type: typ,
		OwnerID: f.owner.ID, CreatedAt: f.now(), CreatedBy: f.owner.ID}
	if typ == keysmith.TokenAppKey {
		a := &keysmith.App{ID: keysmith.NewID("app"), Name: "shop", OwnerID: f.owner.ID, CreatedAt: f.now(), UpdatedAt: f.now()}
		if err := f.db.CreateApp(f.ctx, a); err != nil {
			t.Fatal(err)
		}
		tok.AppID, tok.Environment = a.ID, keysmith.EnvSandbox
	}
	if err := f.db.CreateToken(f.ctx, tok, h); err != nil {
		t.Fatalf("create token: %v", err)
	}
	return tok
}

func TestVerifyAppKeys(t *testing.T) {
	t.Run("AnAppKeyIsVerifiedLikeAToken", func(t *testing.T) {
		f := newFixture(t)
		secret, h := keysmith.NewAppKeySecret()
		k := f.storeRecord(t, h, keysmith.TokenAppKey)
		r := f.mustBe(t, secret.Reveal(), verify.Valid)
		if r.Token.ID != k.ID || r.Token.AppID != k.AppID || r.Token.Environment != keysmith.EnvSandbox {
			t.Errorf("result = %+v, want key %s of %s", r.Token, k.ID, k.AppID)
		}
		f.revoke(t, k.ID)
		f.mustBe(t, secret.Reveal(), verify.Revoked)
	})

	t.Run("ARecordOfTheOtherKindIsNotFound", func(t *testing.T) {
		f := newFixture(t)
		// A key's secret naming an API token's record, and the other way
		// round: the prefix is hashed, so only a broken record could do it.
		keySecret, kh := keysmith.NewAppKeySecret()
		f.storeRecord(t, kh, keysmith.TokenUser)
		tokSecret, th := keysmith.NewAPITokenSecret()
		f.storeRecord(t, th, keysmith.TokenAppKey)
		for _, raw := range []string{keySecret.Reveal(), tokSecret.Reveal()} {
			if r := f.mustBe(t, raw, verify.NotFound); r.Token != nil || r.Owner != nil {
				t.Errorf("result = %+v, want no token", r)
			}
		}
	})

	t.Run("AMalformedKeyNeverReachesTheStore", func(t *testing.T) {
		f := newFixture(t)
		secret, _ := keysmith.NewAppKeySecret()
		raw := secret.Reveal()
		for _, in := range []string{"ksk_", raw[:len(raw)-1], raw + "x", "ksk_" + raw[3:], "ksk_" + raw[5:]} {
			f.mustBe(t, in, verify.Malformed)
		}
		f.wantReads(t, 0, 0)
	})
}
