package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

func testCreateTokenRoundTripsEveryField(t *testing.T, fx *fixture) {
	admin := fx.addUser("admin@example.com")
	service := fx.addUser("ci@example.com")
	now := fx.clock.Now()
	odd := now.Add(-123_456_789 * time.Microsecond) // every microsecond digit set
	tests := []struct {
		name string
		edit func(tok *keysmith.Token)
	}{
		{"WithoutExpiry", func(tok *keysmith.Token) {}},
		{"WithExpiry", func(tok *keysmith.Token) { tok.ExpiresAt = ptr(now.Add(90*24*time.Hour + 654_321*time.Microsecond)) }},
		{"TimesAtMicrosecondPrecision", func(tok *keysmith.Token) {
			tok.CreatedAt, tok.ExpiresAt = odd, ptr(odd.Add(time.Microsecond))
		}},
		{"TimesInAnotherZone", func(tok *keysmith.Token) {
			zone := time.FixedZone("UTC+5:30", 5*3600+1800)
			tok.CreatedAt, tok.ExpiresAt = odd.In(zone), ptr(now.Add(time.Hour).In(zone))
		}},
		{"ServiceTokenCreatedByAnotherUser", func(tok *keysmith.Token) {
			tok.Type, tok.OwnerID, tok.CreatedBy = keysmith.TokenService, service.ID, admin.ID
		}},
		{"OwnIdleTTLMetaAndRateLimit", func(tok *keysmith.Token) {
			tok.IdleTTL, tok.Meta, tok.RateLimitPercent = 90*time.Minute, json.RawMessage(`{"team":"payments"}`), 7
		}},
		{"AgentTokenWithUnicodeName", func(tok *keysmith.Token) {
			tok.Type, tok.Name = keysmith.TokenAgent, "Déploiement ☃ — prod «β» 日本"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := fx.in(t)
			tok, _, h := fx.newToken(admin)
			tt.edit(tok)
			want := *tok
			if err := fx.db.CreateToken(fx.ctx, tok, h); err != nil {
				t.Fatalf("CreateToken: %v", err)
			}
			byID, err := fx.db.FindTokenByID(fx.ctx, tok.ID)
			if err != nil {
				t.Fatalf("FindTokenByID: %v", err)
			}
			if diff := cmp.Diff(&want, byID, storedFields); diff != "" {
				t.Errorf("FindTokenByID (-created +read):\n%s", diff)
			}
			byHash, err := fx.db.FindTokenByHash(fx.ctx, h)
			if err != nil {
				t.Fatalf("FindTokenByHash: %v", err)
			}
			if diff := cmp.Diff(&want, byHash, storedFields); diff != "" {
				t.Errorf("FindTokenByHash (-created +read):\n%s", diff)
			}
			owner := admin
			if tok.OwnerID == service.ID {
				owner = service
			}
			if o := (keysmith.TokenOwner{ID: owner.ID, Email: owner.Email, Role: owner.Role}); byID.Owner != o {
				t.Errorf("FindTokenByID: Owner = %+v, want %+v", byID.Owner, o)
			}
			if (byID.ExpiresAt == nil) != (want.ExpiresAt == nil) {
				t.Errorf("ExpiresAt = %v, want %v", byID.ExpiresAt, want.ExpiresAt)
			}
		})
	}
}

func testFindUnknownTokenIsNotFound(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	fx.createToken(owner) // so that "not found" is not just "empty"
	_, err := fx.db.FindTokenByID(fx.ctx, keysmith.NewID("tok"))
	wantCode(t, "FindTokenByID of an unknown id", err, keysmith.CodeNotFound)
	_, err = fx.db.FindTokenByID(fx.ctx, "")
	wantCode(t, "FindTokenByID of the empty id", err, keysmith.CodeNotFound)
	_, unknown := keysmith.NewAPITokenSecret()
	_, err = fx.db.FindTokenByHash(fx.ctx, unknown)
	wantCode(t, "FindTokenByHash of an unknown hash", err, keysmith.CodeNotFound)
	_, err = fx.db.FindTokenByHash(fx.ctx, keysmith.Hash{})
	wantCode(t, "FindTokenByHash of the zero hash", err, keysmith.CodeNotFound)
}

func testCreateDuplicateTokenIsConflict(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	tests := []struct {
		name string
		dup  func(orig *keysmith.Token, origHash keysmith.Hash) (*keysmith.Token, keysmith.Hash)
	}{
		{"SameID", func(orig *keysmith.Token, _ keysmith.Hash) (*keysmith.Token, keysmith.Hash) {
			tok, _, h := fx.newToken(owner)
			tok.ID = orig.ID
			return tok, h
		}},
		{"SameHash", func(_ *keysmith.Token, origHash keysmith.Hash) (*keysmith.Token, keysmith.Hash) {
			tok, _, _ := fx.newToken(owner)
			return tok, origHash
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := fx.in(t)
			orig, origHash := fx.createToken(owner)
			fx.clock.Advance(time.Second)
			dup, dupHash := tt.dup(orig, origHash)
			dup.Name = "the duplicate"
			before := fx.counts()

			wantCode(t, "CreateToken of a duplicate", fx.db.CreateToken(fx.ctx, dup, dupHash), keysmith.CodeConflict)

			if diff := cmp.Diff(before, fx.counts()); diff != "" {
				t.Errorf("row counts changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(orig, fx.mustFindToken(orig.ID), storedFields); diff != "" {
				t.Errorf("original by id (-created +read):\n%s", diff)
			}
			byHash, err := fx.db.FindTokenByHash(fx.ctx, origHash)
			if err != nil {
				t.Fatalf("FindTokenByHash of the original: %v", err)
			}
			if diff := cmp.Diff(orig, byHash, storedFields); diff != "" {
				t.Errorf("original by hash (-created +read):\n%s", diff)
			}
			if dupHash != origHash {
				_, err := fx.db.FindTokenByHash(fx.ctx, dupHash)
				wantCode(t, "FindTokenByHash of the refused token", err, keysmith.CodeNotFound)
			}
		})
	}
}

// testConcurrentCreatorsAreAllKeptAfterReopening is issue 22's load in
// small: many creators at once (on SQLite their writes commit in groups),
// one of them failing on every round with a duplicate; every token whose
// creation was acknowledged is there once the database is reopened, no
// failed one is, and the events of all of them extend one chain.
func testConcurrentCreatorsAreAllKeptAfterReopening(t *testing.T, fx *fixture) {
	const creators, each = 32, 4
	owner := fx.addUser("owner@example.com")
	taken, takenHash := fx.createToken(owner)
	created := make([][]string, creators)
	errs := make([]error, creators)
	concurrently(creators, func(i int) {
		for range each {
			if i == 0 { // a duplicate: conflict, and nothing of it kept
				dup, _, _ := fx.newToken(owner)
				if err := fx.db.CreateToken(fx.ctx, dup, takenHash); keysmith.ErrorCode(err) != keysmith.CodeConflict {
					errs[i] = fmt.Errorf("duplicate hash: got %v, want conflict", err)
					return
				}
				continue
			}
			tok, _, h := fx.newToken(owner)
			if err := fx.db.CreateToken(fx.ctx, tok, h); err != nil {
				errs[i] = err
				return
			}
			created[i] = append(created[i], tok.ID)
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("creator %d: %v", i, err)
		}
	}
	fx.closeDB()
	again := fx.in(t)
	again.db = fx.open()
	want := map[string]bool{taken.ID: true}
	for _, ids := range created {
		for _, id := range ids {
			want[id] = true
			if _, err := again.db.FindTokenByID(fx.ctx, id); err != nil {
				t.Errorf("acknowledged token %s after reopening: %v", id, err)
			}
		}
	}
	var n int
	if err := again.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Errorf("%d tokens stored, want the %d acknowledged", n, len(want))
	}
	log := again.events()
	if len(log) != len(want) {
		t.Errorf("%d events, want one per token (%d)", len(log), len(want))
	}
	checkChain(t, log)
}
