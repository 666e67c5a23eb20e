package storetest

import (
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/store"
)

// watcher sees what the fixture's store publishes, and can wait until every
// delivery of what was committed so far has arrived.
type watcher struct {
	changes *recorder
	// On engines that push changes between replicas, a second store on the
	// same database makes the marker changes that catchUp waits for.
	replica *store.DB
}

// catchUp returns once everything committed before it was called has been
// delivered to the fixture's store. The store publishes its own changes
// before the write returns; what it hears from the database (PostgreSQL's
// LISTEN/NOTIFY) arrives later, in commit order. So catchUp commits a
// marker token through another replica and waits for it: whatever the
// database had to say before it has arrived by then. It returns the
// marker's change, or ok false where the engine does not push or nothing
// can have been committed yet.
func (fx *fixture) catchUp() (marker keysmith.Change, ok bool) {
	fx.t.Helper()
	w := fx.watch
	if fx.db.Engine() != "postgres" {
		return keysmith.Change{}, false
	}
	// Every change so far involves a user; with none there is nothing to
	// wait for, and the marker needs an owner.
	var owner keysmith.User
	err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT id FROM users ORDER BY id LIMIT 1`).Scan(&owner.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return keysmith.Change{}, false
	} else if err != nil {
		fx.t.Fatalf("find an owner for the marker token: %v", err)
	}
	if w.replica == nil {
		w.replica = fx.open()
	}
	tok, _, h := fx.newToken(&owner)
	tok.Name = "marker"
	if err := w.replica.CreateToken(fx.ctx, tok, h); err != nil {
		fx.t.Fatalf("create marker token on a second store: %v", err)
	}
	marker = tokenChange(tok.ID)
	w.changes.wait(fx.t, marker)
	return marker, true
}

// published runs do and returns what the fixture's store published before
// do returned (sync) and in all, including deliveries through the database
// that arrived later. The marker tokens catchUp adds are made outside do.
func (fx *fixture) published(do func()) (sync, all []keysmith.Change) {
	fx.t.Helper()
	w := fx.watch
	fx.catchUp()
	n := len(w.changes.got())
	do()
	sync = w.changes.got()[n:]
	marker, ok := fx.catchUp()
	for _, c := range w.changes.got()[n:] {
		if !ok || c != marker {
			all = append(all, c)
		}
	}
	return sync, all
}

func testCommittedChangeIsPublished(t *testing.T, fx *fixture) {
	var admin *keysmith.User
	var toRevoke *keysmith.Token
	tests := []struct {
		name string
		do   func(t *testing.T, fx *fixture) []keysmith.Change // makes a change, says what it should publish
	}{
		{"Bootstrap", func(t *testing.T, fx *fixture) []keysmith.Change {
			u, tok := fx.bootstrap()
			admin, toRevoke = u, tok
			return []keysmith.Change{{Kind: keysmith.ChangeUser, ID: u.ID}, tokenChange(tok.ID)}
		}},
		{"CreateToken", func(t *testing.T, fx *fixture) []keysmith.Change {
			tok, _ := fx.createToken(admin)
			return []keysmith.Change{tokenChange(tok.ID)}
		}},
		{"RevokeToken", func(t *testing.T, fx *fixture) []keysmith.Change {
			if _, err := fx.db.RevokeToken(fx.ctx, toRevoke.ID, admin.ID); err != nil {
				t.Fatalf("RevokeToken: %v", err)
			}
			return []keysmith.Change{tokenChange(toRevoke.ID)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := fx.in(t)
			var want []keysmith.Change
			sync, all := fx.published(func() { want = tt.do(t, fx) })
			// Caches in this process must have dropped the record by the
			// time the write returns, before its caller answers anyone.
			for _, c := range want {
				if !slices.Contains(sync, c) {
					t.Errorf("change %+v not published by the time the write returned; published %v", c, sync)
				}
			}
			// Nothing else is published, and nothing twice: the store skips
			// the echo of its own changes through the database, each of
			// which would drop cache entries again for nothing.
			for _, c := range all {
				if !slices.Contains(want, c) {
					t.Errorf("published %+v, want only %v", c, want)
				}
			}
			for _, c := range want {
				if n := count(all, c); n != 1 {
					t.Errorf("change %+v published %d times, want once", c, n)
				}
			}
		})
	}
}

func testFailedChangePublishesNothing(t *testing.T, fx *fixture) {
	for _, tt := range fx.failedChangeCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			fx := fx.in(t)
			_, all := fx.published(func() { tt.do(t, fx) })
			if len(all) != 0 {
				t.Errorf("published %v, want nothing", all)
			}
		})
	}
}

// failedChange is a write that must fail, or (revoking a revoked token)
// succeed without changing anything.
type failedChange struct {
	name string
	do   func(t *testing.T, fx *fixture)
}

// failedChanges are the writes that must leave no trace: no rows, no event,
// no publication. orig is a token with hash origHash; revoked is revoked.
func failedChanges(orig *keysmith.Token, origHash keysmith.Hash, revoked *keysmith.Token) []failedChange {
	owner := &keysmith.User{ID: orig.OwnerID}
	return []failedChange{
		{"CreateTokenWithDuplicateID", func(t *testing.T, fx *fixture) {
			tok, _, h := fx.newToken(owner)
			tok.ID = orig.ID
			wantCode(t, "CreateToken", fx.db.CreateToken(fx.ctx, tok, h), keysmith.CodeConflict)
		}},
		{"CreateTokenWithDuplicateHash", func(t *testing.T, fx *fixture) {
			tok, _, _ := fx.newToken(owner)
			wantCode(t, "CreateToken", fx.db.CreateToken(fx.ctx, tok, origHash), keysmith.CodeConflict)
		}},
		{"SecondBootstrap", func(t *testing.T, fx *fixture) {
			u, tok, h := fx.firstAdmin("again@example.com")
			wantCode(t, "Bootstrap", fx.db.Bootstrap(fx.ctx, u, tok, h), keysmith.CodeConflict)
		}},
		{"RevokeUnknownToken", func(t *testing.T, fx *fixture) {
			_, err := fx.db.RevokeToken(fx.ctx, keysmith.NewID("tok"), owner.ID)
			wantCode(t, "RevokeToken", err, keysmith.CodeNotFound)
		}},
		{"RevokeRevokedToken", func(t *testing.T, fx *fixture) {
			fx.clock.Advance(time.Minute)
			if _, err := fx.db.RevokeToken(fx.ctx, revoked.ID, owner.ID); err != nil {
				t.Fatalf("RevokeToken of a revoked token: %v", err)
			}
		}},
		{"RecordTokenUses", func(t *testing.T, fx *fixture) {
			use := keysmith.TokenUse{TokenID: orig.ID, At: fx.clock.Now().Add(time.Second), IP: "192.0.2.9"}
			if err := fx.db.RecordTokenUses(fx.ctx, []keysmith.TokenUse{use}); err != nil {
				t.Fatalf("RecordTokenUses: %v", err)
			}
			fx.clock.Advance(time.Minute)
		}},
	}
}

func testRecordTokenUsesIsNotAChange(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	tok, _ := fx.createToken(owner)
	var before, after map[string]int
	_, all := fx.published(func() {
		before = fx.counts()
		use := keysmith.TokenUse{TokenID: tok.ID, At: fx.clock.Now().Add(time.Second), IP: "192.0.2.9"}
		if err := fx.db.RecordTokenUses(fx.ctx, []keysmith.TokenUse{use}); err != nil {
			t.Fatalf("RecordTokenUses: %v", err)
		}
		after = fx.counts()
	})
	if before["events"] != after["events"] {
		t.Errorf("RecordTokenUses appended %d events, want none: a use is not a change", after["events"]-before["events"])
	}
	if len(all) != 0 {
		t.Errorf("RecordTokenUses published %v, want nothing: a use is not a change", all)
	}
}

func testChangeOnAnotherReplicaIsDelivered(t *testing.T, fx *fixture) {
	if fx.db.Engine() == "sqlite" {
		t.Skip("SQLite: one process owns the file, so there is no other replica to hear from")
	}
	changes := fx.watch.changes
	other := fx.open() // a second replica on the same database
	owner := fx.addUser("owner@example.com")

	tok, _, h := fx.newToken(owner)
	if err := other.CreateToken(fx.ctx, tok, h); err != nil {
		t.Fatalf("CreateToken on the other replica: %v", err)
	}
	changes.wait(t, tokenChange(tok.ID))

	n := len(changes.got())
	if _, err := other.RevokeToken(fx.ctx, tok.ID, owner.ID); err != nil {
		t.Fatalf("RevokeToken on the other replica: %v", err)
	}
	changes.waitFrom(t, n, tokenChange(tok.ID))
}

func testReplicaHearsChangesAsSoonAsOpenReturns(t *testing.T, fx *fixture) {
	if fx.db.Engine() == "sqlite" {
		t.Skip("SQLite: one process owns the file, so there is no other replica to hear from")
	}
	owner := fx.addUser("owner@example.com")
	// A cache subscribes right after Open and then loads what it serves; a
	// change committed elsewhere from then on must reach it. Several
	// replicas, because a listener that is not ready yet loses the race
	// only most of the time.
	for range 3 {
		replica := fx.open()
		changes := newRecorder(replica)
		tok, _ := fx.createToken(owner)
		changes.wait(t, tokenChange(tok.ID))
	}
}

// count returns how many times c occurs in cs.
func count(cs []keysmith.Change, c keysmith.Change) int {
	n := 0
	for _, x := range cs {
		if x == c {
			n++
		}
	}
	return n
}

// Caches trust what they hold for long only while every change reaches
// them: on an open store whose database answers, the feed is healthy.
// (Its loss is tested through the real server: app/feedloss_test.go.)
func testChangeFeedIsHealthyOnceOpen(t *testing.T, fx *fixture) {
	if !fx.db.ChangeFeedHealthy() {
		t.Errorf("ChangeFeedHealthy = false on a freshly opened %s store, want true", fx.db.Engine())
	}
}
