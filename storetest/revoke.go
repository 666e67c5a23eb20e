package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

func testRevokeTokenSetsRevokedAtAndBy(t *testing.T, fx *fixture) {
	owner, admin := fx.addUser("owner@example.com"), fx.addUser("admin@example.com")
	tok, _ := fx.createToken(owner)
	other, _ := fx.createToken(owner)
	fx.clock.Advance(time.Hour + 42*time.Microsecond)

	got, err := fx.db.RevokeToken(fx.ctx, tok.ID, admin.ID)
	if err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	want := *tok
	want.RevokedAt, want.RevokedBy = ptr(fx.clock.Now()), admin.ID
	if diff := cmp.Diff(&want, got, storedFields); diff != "" {
		t.Errorf("token returned by RevokeToken (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&want, fx.mustFindToken(tok.ID), storedFields); diff != "" {
		t.Errorf("token read after RevokeToken (-want +got):\n%s", diff)
	}
	if s := fx.mustFindToken(tok.ID).Status(fx.clock.Now()); s != keysmith.TokenRevoked {
		t.Errorf("status after RevokeToken = %s, want %s", s, keysmith.TokenRevoked)
	}
	if diff := cmp.Diff(other, fx.mustFindToken(other.ID), storedFields); diff != "" {
		t.Errorf("another token changed (-before +after):\n%s", diff)
	}
}

func testRevokeTokenIsIdempotent(t *testing.T, fx *fixture) {
	owner, admin := fx.addUser("owner@example.com"), fx.addUser("admin@example.com")
	tok, _ := fx.createToken(owner)
	fx.clock.Advance(time.Minute)
	first, err := fx.db.RevokeToken(fx.ctx, tok.ID, owner.ID)
	if err != nil {
		t.Fatalf("first RevokeToken: %v", err)
	}

	// Later, and by someone else: the first revocation stands.
	fx.clock.Advance(time.Hour)
	var second *keysmith.Token
	var before, after map[string]int
	_, published := fx.published(func() {
		before = fx.counts()
		second, err = fx.db.RevokeToken(fx.ctx, tok.ID, admin.ID)
		after = fx.counts()
	})
	if err != nil {
		t.Fatalf("second RevokeToken: %v, want no error", err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("row counts changed by the second RevokeToken (-before +after):\n%s", diff)
	}
	if len(published) != 0 {
		t.Errorf("second RevokeToken published %v, want nothing", published)
	}
	if diff := cmp.Diff(first, second, storedFields); diff != "" {
		t.Errorf("second RevokeToken returned (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(first, fx.mustFindToken(tok.ID), storedFields); diff != "" {
		t.Errorf("token after the second RevokeToken (-first +now):\n%s", diff)
	}
}

func testRevokeUnknownTokenIsNotFound(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	fx.createToken(owner)
	got, err := fx.db.RevokeToken(fx.ctx, keysmith.NewID("tok"), owner.ID)
	wantCode(t, "RevokeToken of an unknown id", err, keysmith.CodeNotFound)
	if got != nil {
		t.Errorf("RevokeToken of an unknown id returned %+v, want nil", got)
	}
}

func testConcurrentRevokesAllReturnTheRevokedToken(t *testing.T, fx *fixture) {
	const n = 8
	owner := fx.addUser("owner@example.com")
	revokers := make([]*keysmith.User, n)
	for i := range revokers {
		revokers[i] = fx.addUser(fmt.Sprintf("admin%d@example.com", i))
	}
	tok, _ := fx.createToken(owner)
	fx.clock.Advance(time.Minute)
	before := fx.count("events")

	got := make([]*keysmith.Token, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		got[i], errs[i] = fx.db.RevokeToken(fx.ctx, tok.ID, revokers[i].ID)
	})
	stored := fx.mustFindToken(tok.ID)
	if stored.RevokedAt == nil {
		t.Fatalf("token not revoked after %d concurrent RevokeTokens", n)
	}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("RevokeToken %d: %v", i, errs[i])
			continue
		}
		// Whoever lost the race still gets the token as it now is: revoked,
		// by the winner.
		if diff := cmp.Diff(stored, got[i], storedFields); diff != "" {
			t.Errorf("RevokeToken %d returned (-stored +returned):\n%s", i, diff)
		}
	}
	if got := fx.count("events") - before; got != 1 {
		t.Errorf("%d concurrent RevokeTokens appended %d events, want 1", n, got)
	}
}

func testRecordTokenUsesStoresLastUse(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	a, _ := fx.createToken(owner)
	b, _ := fx.createToken(owner)
	untouched, _ := fx.createToken(owner)
	at := fx.clock.Now().Add(90*time.Second + 7*time.Microsecond)
	err := fx.db.RecordTokenUses(fx.ctx, []keysmith.TokenUse{
		{TokenID: a.ID, At: at, IP: "203.0.113.7"},
		{TokenID: b.ID, At: at.Add(time.Second), IP: "2001:db8::1"},
	})
	if err != nil {
		t.Fatalf("RecordTokenUses: %v", err)
	}
	wantA, wantB := *a, *b
	wantA.LastUsedAt, wantA.LastUsedIP = ptr(at), "203.0.113.7"
	wantB.LastUsedAt, wantB.LastUsedIP = ptr(at.Add(time.Second)), "2001:db8::1"
	for _, want := range []*keysmith.Token{&wantA, &wantB, untouched} {
		if diff := cmp.Diff(want, fx.mustFindToken(want.ID), storedFields); diff != "" {
			t.Errorf("token %s after RecordTokenUses (-want +got):\n%s", want.ID, diff)
		}
	}
	if err := fx.db.RecordTokenUses(fx.ctx, nil); err != nil {
		t.Errorf("RecordTokenUses of no uses: %v", err)
	}
}

func testRecordTokenUsesKeepsTheNewestUse(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	tok, _ := fx.createToken(owner)
	now := fx.clock.Now()
	newer := keysmith.TokenUse{TokenID: tok.ID, At: now.Add(time.Minute), IP: "198.51.100.2"}
	older := keysmith.TokenUse{TokenID: tok.ID, At: now.Add(time.Second), IP: "198.51.100.1"}
	tests := []struct {
		name    string
		batches [][]keysmith.TokenUse
	}{
		{"OlderBatchAfterNewer", [][]keysmith.TokenUse{{newer}, {older}}},
		{"OlderAfterNewerInOneBatch", [][]keysmith.TokenUse{{newer, older}}},
		{"NewerAfterOlder", [][]keysmith.TokenUse{{older}, {newer}}},
		{"SameTimeAgain", [][]keysmith.TokenUse{{newer}, {{TokenID: tok.ID, At: newer.At, IP: newer.IP}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := fx.in(t)
			if _, err := fx.db.SQL().ExecContext(fx.ctx, `UPDATE tokens SET last_used_at = NULL, last_used_ip = '' WHERE id = $1`, tok.ID); err != nil {
				t.Fatal(err)
			}
			for _, batch := range tt.batches {
				if err := fx.db.RecordTokenUses(fx.ctx, batch); err != nil {
					t.Fatalf("RecordTokenUses: %v", err)
				}
			}
			got := fx.mustFindToken(tok.ID)
			if got.LastUsedAt == nil || !got.LastUsedAt.Equal(newer.At) || got.LastUsedIP != newer.IP {
				t.Errorf("last use %v from %q, want %v from %q", got.LastUsedAt, got.LastUsedIP, newer.At, newer.IP)
			}
		})
	}
}

func testRecordTokenUsesIgnoresUnknownTokens(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	tok, _ := fx.createToken(owner)
	at := fx.clock.Now().Add(time.Minute)
	err := fx.db.RecordTokenUses(fx.ctx, []keysmith.TokenUse{
		{TokenID: keysmith.NewID("tok"), At: at, IP: "192.0.2.1"},
		{TokenID: tok.ID, At: at, IP: "192.0.2.2"},
		{TokenID: "", At: at, IP: "192.0.2.3"},
	})
	if err != nil {
		t.Fatalf("RecordTokenUses with unknown tokens: %v, want no error", err)
	}
	got := fx.mustFindToken(tok.ID)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(at) || got.LastUsedIP != "192.0.2.2" {
		t.Errorf("known token's last use %v from %q, want %v from 192.0.2.2", got.LastUsedAt, got.LastUsedIP, at)
	}
	if n := fx.count("tokens"); n != 1 {
		t.Errorf("%d tokens after RecordTokenUses, want 1", n)
	}
}
