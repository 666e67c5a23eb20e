package store_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/storetest"
	"github.com/keysmith/keysmith/verify"
)

// feedFixture is a PostgreSQL store with a verifier over it (an hour's
// trust while the feed is healthy) and one active owner.
type feedFixture struct {
	ctx   context.Context
	db    *store.DB
	v     *verify.Verifier
	owner *keysmith.User
}

func newFeedFixture(t *testing.T, dsn string, opt store.Options) *feedFixture {
	t.Helper()
	ctx := t.Context()
	opt.Logger = slog.New(slog.DiscardHandler)
	db, err := store.Open(ctx, dsn, opt)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now()
	owner := &keysmith.User{ID: keysmith.NewID("usr"), Email: "owner@example.com", Name: "Owner",
		Role: keysmith.RoleSuperAdmin, Type: keysmith.UserPerson, Status: keysmith.UserActive,
		CreatedAt: now, UpdatedAt: now}
	_, h := keysmith.NewAPITokenSecret()
	boot := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "bootstrap", Type: keysmith.TokenUser,
		OwnerID: owner.ID, CreatedAt: now, CreatedBy: owner.ID}
	if err := db.Bootstrap(ctx, owner, boot, h); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	return &feedFixture{ctx: ctx, db: db, v: verify.New(db, verify.Options{Log: opt.Logger}), owner: owner}
}

// cachedToken creates a token and verifies it once, so that the verifier
// holds it; it returns the plaintext and the token's id.
func (f *feedFixture) cachedToken(t *testing.T) (string, string) {
	t.Helper()
	secret, h := keysmith.NewAPITokenSecret()
	tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "watched", Type: keysmith.TokenUser,
		OwnerID: f.owner.ID, CreatedAt: time.Now(), CreatedBy: f.owner.ID}
	if err := f.db.CreateToken(f.ctx, tok, h); err != nil {
		t.Fatalf("create token: %v", err)
	}
	f.want(t, secret.Reveal(), verify.Valid)
	return secret.Reveal(), tok.ID
}

// want verifies raw and checks the code.
func (f *feedFixture) want(t *testing.T, raw string, code verify.Code) {
	t.Helper()
	r, err := f.v.VerifyAPIToken(f.ctx, raw, "")
	if err != nil {
		t.Fatalf("VerifyAPIToken: %v", err)
	}
	if r.Code != code {
		t.Fatalf("VerifyAPIToken = %s, want %s", r.Code, code)
	}
}

// revokeRaw revokes a token in a transaction of its own, behind the store's
// back, sending payloads as notices on the change channel, as another
// replica (of any version) would. hold runs before the commit.
func (f *feedFixture) revokeRaw(t *testing.T, id string, payloads []string, hold func()) {
	t.Helper()
	tx, err := f.db.SQL().BeginTx(f.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(f.ctx, `UPDATE tokens SET revoked_at = $1 WHERE id = $2`, time.Now().UnixMicro(), id); err != nil {
		t.Fatal(err)
	}
	for _, p := range payloads {
		if _, err := tx.ExecContext(f.ctx, `SELECT pg_notify('keysmith_changes', $1)`, p); err != nil {
			t.Fatal(err)
		}
	}
	if hold != nil {
		hold()
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// wantRevokedSoon polls the verifier until it says REVOKED, for up to
// 100 ms: a notice arrives within milliseconds of its commit.
func (f *feedFixture) wantRevokedSoon(t *testing.T, raw string) {
	t.Helper()
	deadline := time.Now().Add(100 * time.Millisecond)
	for {
		r, err := f.v.VerifyAPIToken(f.ctx, raw, "")
		if err != nil {
			t.Fatalf("VerifyAPIToken: %v", err)
		}
		if r.Code == verify.Revoked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("VerifyAPIToken = %s 100 ms after the revocation committed, want REVOKED", r.Code)
		}
		time.Sleep(5 * time.Millisecond) // polling the cache; nothing to wait on
	}
}

// An older replica sends "kind:id"; a newer one may send kinds this version
// does not know. Both must drop what the cache holds.
func TestNoticesOfOtherVersionsAreHeard(t *testing.T) {
	f := newFeedFixture(t, storetest.Postgres(t), store.Options{})
	t.Run("OldForm", func(t *testing.T) {
		raw, id := f.cachedToken(t)
		f.revokeRaw(t, id, []string{"token:" + id}, nil)
		f.wantRevokedSoon(t, raw)
	})
	t.Run("UnknownKind", func(t *testing.T) {
		raw, id := f.cachedToken(t)
		f.revokeRaw(t, id, []string{"0123456789abcdef:1:token_v9:" + id}, nil)
		f.wantRevokedSoon(t, raw)
	})
}

// A commit that fails may become visible a moment after the store published
// its changes; a verification between re-reads the old row, and the echo of
// the commit, the one notice left, must drop it.
func TestEchoOfAFailedCommitIsHeard(t *testing.T) {
	f := newFeedFixture(t, storetest.Postgres(t), store.Options{})
	raw, id := f.cachedToken(t)
	txn := store.FailedCommit(f.db)
	payload := store.Origin(f.db) + ":" + strconv.FormatUint(txn, 10) + ":token:" + id
	f.revokeRaw(t, id, []string{payload}, func() {
		// The store published the change at the failed commit; the
		// verifier then read the old row again, and holds it.
		f.want(t, raw, verify.Valid)
	})
	f.wantRevokedSoon(t, raw)
}

// A listener whose connection answers but hears no notices (LISTEN lost, a
// pooler in transaction mode) must count as lost within two checks.
func TestDeafListenerIsLost(t *testing.T) {
	const check = 250 * time.Millisecond
	proxy := startDeafProxy(t, storetest.Postgres(t))
	db, err := store.Open(t.Context(), proxy.dsn, store.Options{ListenerCheck: check, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	lost := make(chan struct{}, 1)
	db.Subscribe(func(c keysmith.Change) {
		if c.Kind == keysmith.ChangeFeedLost {
			select {
			case lost <- struct{}{}:
			default:
			}
		}
	})
	// Quiet for several checks, the listener stays healthy on its heartbeats.
	time.Sleep(4 * check)
	select {
	case <-lost:
		t.Fatal("ChangeFeedLost published while the listener heard every notice")
	default:
	}
	if !db.ChangeFeedHealthy() {
		t.Fatal("ChangeFeedHealthy = false before the listener went deaf")
	}
	proxy.deaf.Store(true)
	deafened := time.Now()
	select {
	case <-lost:
	case <-time.After(2*check + 250*time.Millisecond): // a little slack for a loaded machine
		t.Fatalf("no ChangeFeedLost within %s of the listener going deaf", time.Since(deafened))
	}
	if db.ChangeFeedHealthy() {
		t.Error("ChangeFeedHealthy = true after ChangeFeedLost")
	}
}

// deafProxy forwards TCP connections to PostgreSQL and, once deaf, drops
// every notification the server sends: connections stay up and answer,
// but hear nothing.
type deafProxy struct {
	dsn    string
	target string
	ln     net.Listener
	deaf   atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

func startDeafProxy(t *testing.T, dsn string) *deafProxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &deafProxy{target: u.Host, ln: ln}
	u.Host = ln.Addr().String()
	p.dsn = u.String()
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *deafProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() {
			io.Copy(s, c)
			s.Close()
			c.Close()
		}()
		go p.fromServer(s, c)
	}
}

// fromServer copies the server's messages (a type byte, then a length that
// counts itself) to the client, dropping notifications ('A') while deaf.
func (p *deafProxy) fromServer(s, c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(s)
	for {
		head := make([]byte, 5)
		if _, err := io.ReadFull(r, head); err != nil {
			return
		}
		msg := make([]byte, 1+binary.BigEndian.Uint32(head[1:]))
		copy(msg, head)
		if _, err := io.ReadFull(r, msg[5:]); err != nil {
			return
		}
		if msg[0] == 'A' && p.deaf.Load() {
			continue
		}
		if _, err := c.Write(msg); err != nil {
			return
		}
	}
}

func (p *deafProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}
