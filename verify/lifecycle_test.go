package verify_test

import (
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/verify"
)

// TestIdleExpiryAcrossReplicas has two verifiers over one store, as two
// replicas are: a use on one renews the token for the other once flushed,
// even when the other has the token cached; the first EXPIRED is recorded in
// the store, and from then on both answer EXPIRED without a store read per
// request.
func TestIdleExpiryAcrossReplicas(t *testing.T) {
	f := newFixtureWith(t, verify.Options{MaxAge: 24 * time.Hour})
	other := verify.New(f.store, verify.Options{Now: f.now, MaxAge: 24 * time.Hour, NegativeTTL: negativeTTL})
	secret, h := keysmith.NewAPITokenSecret()
	raw := secret.Reveal()
	tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "idle", Type: keysmith.TokenUser, OwnerID: f.owner.ID,
		CreatedAt: f.now(), CreatedBy: f.owner.ID, IdleTTL: time.Hour}
	if err := f.db.CreateToken(f.ctx, tok, h); err != nil {
		t.Fatal(err)
	}
	check := func(v *verify.Verifier, want verify.Code) {
		t.Helper()
		r, err := v.VerifyAPIToken(f.ctx, raw, "")
		if err != nil || r.Code != want {
			t.Fatalf("VerifyAPIToken = %s, %v; want %s", r.Code, err, want)
		}
	}
	check(other, verify.Valid) // cached on the other replica
	f.clock.Advance(50 * time.Minute)
	check(f.v, verify.Valid)
	if err := f.v.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Minute) // past the other replica's view of the deadline, within the renewed one
	check(other, verify.Valid)
	f.clock.Advance(time.Hour) // an hour after the last use
	check(other, verify.Expired)
	if got, err := f.db.FindTokenByID(f.ctx, tok.ID); err != nil || got.ExpiryRecordedAt == nil {
		t.Fatalf("after EXPIRED the token's expiry is not recorded: %+v, %v", got, err)
	}
	reads, _ := f.reads()
	for range 3 {
		check(other, verify.Expired)
	}
	if after, _ := f.reads(); after != reads {
		t.Errorf("an expired token read the store %d times on 3 requests", after-reads)
	}
	check(f.v, verify.Expired) // reads the recorded expiry once
	before, _ := f.reads()
	for range 3 {
		check(f.v, verify.Expired)
	}
	if after, _ := f.reads(); after != before {
		t.Errorf("an expired token read the store %d times on 3 requests", after-before)
	}
}
