package app_test

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// TestChangeListener runs replicas whose connections to PostgreSQL pass
// through a proxy that can let the change listener's connection die
// silently: it stays open, but nothing passes either way, as when a route
// or a firewall's state is lost.
func TestChangeListener(t *testing.T) {
	dsn := storetest.Postgres(t)
	a := apptest.Start(t, dsn, app.Config{})
	proxy := startPGProxy(t, dsn)

	t.Run("ASilentlyDeadListenerIsNoticedAndCachesAreDropped", func(t *testing.T) {
		var logs logBuffer
		b := apptest.StartReplica(t, a, app.Config{DB: proxy.dsn, ChangeListenerCheck: 100 * time.Millisecond,
			Log: slog.New(slog.NewTextHandler(&logs, nil))})
		heard := make(chan keysmith.Change, 100)
		b.App.Store.Subscribe(func(c keysmith.Change) {
			select {
			case heard <- c:
			default:
			}
		})
		id, secret := newToken(t, a, a.AdminToken, "watched")
		// B hears of the creation first, so that nothing it hears later
		// drops the token from its cache.
		for created := (keysmith.Change{Kind: keysmith.ChangeToken, ID: id}); ; {
			select {
			case c := <-heard:
				if c != created {
					continue
				}
			case <-time.After(5 * time.Second):
				t.Fatal("B did not hear of the token's creation within 5 s")
			}
			break
		}
		if code := verifyCode(t, b, secret); code != "VALID" { // cached on B
			t.Fatalf("B before the revocation: %s", code)
		}
		proxy.freezeListeners()
		a.Do("DELETE", "/v1/tokens/"+id, a.AdminToken, nil).Want(t, http.StatusNoContent)
		waitLong(t, "replica B to notice its dead listener and drop the revoked token", func() bool {
			return verifyCode(t, b, secret) == "REVOKED"
		})
		if n := b.App.Store.ChangeListenerFailures(); n == 0 {
			t.Error("ChangeListenerFailures = 0 after a dead listener, want at least 1")
		}
		// The loss drops every cache at once; the reconnection follows.
		for _, line := range []string{"change listener lost its connection", "change listener reconnected"} {
			waitLong(t, "B to log "+line, func() bool { return strings.Contains(logs.String(), line) })
		}
	})

	t.Run("AJWTWithAnUnknownKidReloadsTheSigningKeys", func(t *testing.T) {
		// Replicas share the issuer; C checks its listener every 15 s.
		c := apptest.StartReplica(t, a, app.Config{DB: proxy.dsn, Issuer: a.App.Config.Issuer})
		appID := a.Do("POST", "/v1/apps", a.AdminToken, map[string]any{"name": "rotating"}).Want(t, http.StatusCreated).String("app_id")
		cl := newClient(t, a, a.AdminToken, map[string]any{"app_id": appID, "grant_types": []string{"client_credentials"}})
		if code := verifyCode(t, c, accessToken(t, a, cl)); code != "VALID" {
			t.Fatalf("C, a JWT of the current key: %s", code)
		}
		proxy.freezeListeners() // C will not hear of the rotation
		if _, err := a.App.OAuth.Rotate(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
		fresh := accessToken(t, a, cl)
		if code := verifyCode(t, c, fresh); code != "VALID" {
			t.Fatalf("C, a JWT of the key rotated on A that C has not heard of: %s, want VALID", code)
		}
		// Made-up kids read the keys at most once a second.
		c.Clock.Advance(time.Second)
		before := c.App.OAuth.UnknownKIDReloads()
		for range 3 {
			if code := verifyCode(t, c, forgedKID(t, fresh)); code != "NOT_FOUND" {
				t.Errorf("a JWT with a made-up kid: %s, want NOT_FOUND", code)
			}
		}
		if n := c.App.OAuth.UnknownKIDReloads() - before; n != 1 {
			t.Errorf("3 JWTs with unknown kids in one second read the keys %d times, want 1", n)
		}
	})
}

// forgedKID returns jwt with its header's kid replaced (the signature no
// longer matches, which does not matter: the kid is looked up first).
func forgedKID(t *testing.T, jwt string) string {
	t.Helper()
	header, rest, _ := strings.Cut(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		t.Fatal(err)
	}
	forged := bytes.Replace(raw, []byte(`"kid":"`), []byte(`"kid":"made-up-`), 1)
	return base64.RawURLEncoding.EncodeToString(forged) + "." + rest
}

// waitLong polls cond for up to 10 s: a dead listener is noticed within two
// of its check intervals, then it reconnects.
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling an HTTP answer; nothing to wait on
	}
}

// pgProxy forwards TCP connections to PostgreSQL. It recognises the
// connections that sent LISTEN and can freeze them: they stay open, but
// from then on nothing passes in either direction.
type pgProxy struct {
	dsn    string // the database's DSN, through the proxy
	ln     net.Listener
	target string
	done   chan struct{}

	mu    sync.Mutex
	conns []*proxied
	// refusing closes every connection that sends LISTEN, so that a change
	// listener cannot reconnect through the proxy.
	refusing atomic.Bool
}

type proxied struct {
	client, server net.Conn
	listening      atomic.Bool // it sent LISTEN
	frozen         atomic.Bool
}

func startPGProxy(t *testing.T, dsn string) *pgProxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: u.Host, done: make(chan struct{})}
	u.Host = ln.Addr().String()
	p.dsn = u.String()
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *pgProxy) accept() {
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
		pc := &proxied{client: c, server: s}
		p.mu.Lock()
		p.conns = append(p.conns, pc)
		p.mu.Unlock()
		go p.pipe(pc, c, s, true)
		go p.pipe(pc, s, c, false)
	}
}

// pipe copies src to dst until either closes; once pc is frozen, what
// arrives is held back until the proxy closes.
func (p *pgProxy) pipe(pc *proxied, src, dst net.Conn, fromClient bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if fromClient && bytes.Contains(buf[:n], []byte("LISTEN ")) {
				pc.listening.Store(true)
				if p.refusing.Load() {
					src.Close()
					dst.Close()
					return
				}
			}
			if pc.frozen.Load() {
				<-p.done
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// freezeListeners freezes every open connection that sent LISTEN.
func (p *pgProxy) freezeListeners() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.conns {
		if pc.listening.Load() {
			pc.frozen.Store(true)
		}
	}
}

func (p *pgProxy) close() {
	close(p.done)
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.conns {
		pc.client.Close()
		pc.server.Close()
	}
}
