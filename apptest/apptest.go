// Package apptest starts real Keysmith servers for tests: the same wiring as
// "keysmith serve" (package app), on a fresh database, listening on
// 127.0.0.1:0, with a JSON client for its API.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/internal/testclock"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/password"
)

// Server is a running Keysmith server.
type Server struct {
	App   *app.App
	URL   string
	Clock *testclock.Clock
	// AdminToken is the API token of the first super admin.
	AdminToken string
	AdminID    string
	t          testing.TB
	client     *http.Client
	stop       func()
}

// Start opens a server on dsn with a manual clock, bootstraps the first super
// admin (admin@localhost) and stops the server when the test ends. cfg may
// set anything but DB, Addr and Now. Addr is the address it listens on, so
// an issuer left unset is decided as serve decides it: the stored one, or
// on first start http:// and that address.
func Start(t testing.TB, dsn string, cfg app.Config) *Server {
	t.Helper()
	return start(t, dsn, cfg, nil)
}

// StartReplica starts a second server on the database of first, as another
// replica would run: it does not bootstrap, and its AdminToken and AdminID
// are first's. It has a clock of its own, set to first's time. cfg may set
// anything but Addr and Now; its DB, if set, must reach first's database
// (through a proxy, say).
//
// Moving a server's clock by at least its UsageFlushInterval first flushes
// the server's pending uses, as its background flush would have in that
// time; a test that wants a replica to hold its uses back (as a paused one
// would) gives it a long UsageFlushInterval and calls Verifier.Flush itself.
func StartReplica(t testing.TB, first *Server, cfg app.Config) *Server {
	t.Helper()
	dsn := cfg.DB
	if dsn == "" {
		dsn = first.App.Config.DB
	}
	return start(t, dsn, cfg, first)
}

func start(t testing.TB, dsn string, cfg app.Config, first *Server) *Server {
	t.Helper()
	clock := testclock.New()
	if first != nil {
		clock.Advance(first.Clock.Now().Sub(clock.Now()))
	}
	cfg.DB, cfg.Now = dsn, clock.Now
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Password == (password.Params{}) {
		cfg.Password = password.Fast // the format and code path, not the cost
	}
	if cfg.UsageFlushInterval == 0 {
		cfg.UsageFlushInterval = 50 * time.Millisecond
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = ln.Addr().String()
	if cfg.MasterKey == "" && first != nil {
		cfg.MasterKey = first.App.Config.MasterKey // replicas share the key
	}
	if cfg.MasterKey == "" && strings.HasPrefix(dsn, "postgres") {
		cfg.MasterKey = oauth.NewMasterKey().Encode() // SQLite tests use the key file
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg)
	if err != nil {
		ln.Close()
		cancel()
		t.Fatalf("open app: %v", err)
	}
	var adminToken, adminID string
	if first != nil {
		adminToken, adminID = first.AdminToken, first.AdminID
	} else {
		u, _, secret, err := a.Service.Bootstrap(ctx, "admin@localhost")
		if err != nil {
			t.Fatalf("bootstrap: %v", err)
		}
		adminToken, adminID = secret.Reveal(), u.ID
	}
	// A replica flushes its uses every UsageFlushInterval: when the test
	// moves the clock by that much, the flush happens first, as it would
	// have in that time (a use flushed only after a jump past its token's
	// idle deadline would be refused as late).
	flushEvery := a.Config.UsageFlushInterval
	clock.BeforeAdvance(func(d time.Duration) {
		if d >= flushEvery {
			if err := a.Verifier.Flush(context.Background()); err != nil {
				t.Errorf("flush uses before moving the clock: %v", err)
			}
		}
	})
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	client := &http.Client{Timeout: 10 * time.Second}
	s := &Server{App: a, URL: "http://" + ln.Addr().String(), Clock: clock,
		AdminToken: adminToken, AdminID: adminID, t: t, client: client}
	s.stop = sync.OnceFunc(func() {
		// Connections the client dialled but never used (it dials one per
		// concurrent request) look new to the server, and a shutdown waits
		// 5 s before it counts a new connection as idle: close them first.
		client.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	t.Cleanup(func() {
		s.stop()
		a.Close()
	})
	return s
}

// Restart stops s and starts a new server on its database, as restarting
// the process would: it does not bootstrap, keeps s's AdminToken, AdminID,
// master key and time, and listens on a new address. cfg as for Start.
func Restart(t testing.TB, s *Server, cfg app.Config) *Server {
	t.Helper()
	s.stop()
	return start(t, s.App.Config.DB, cfg, s)
}

// Stop shuts the server down as SIGTERM does (in-flight requests finish,
// pending uses are written) and returns when it has. The store stays open
// for the test to inspect until the test ends.
func (s *Server) Stop() { s.stop() }

// Response is a decoded API answer.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any // the JSON object answered, if any
	Raw    []byte
}

// Do sends a request with an optional Bearer token and body (marshalled to
// JSON unless it is already a string or []byte) and decodes the answer.
func (s *Server) Do(method, path, token string, body any) Response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.Send(req)
}

// Send sends a prepared request and decodes the answer.
func (s *Server) Send(req *http.Request) Response {
	s.t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := checkOpenAPI(req, resp.StatusCode, resp.Header, raw); err != nil {
		s.t.Errorf("%s %s: the answer (%d) departs from the OpenAPI document: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, raw)
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			s.t.Fatalf("%s %s: answer is not JSON: %v\n%s", req.Method, req.URL.Path, err, raw)
		}
	}
	return r
}

// Want fails the test unless the response has the status.
func (r Response) Want(t testing.TB, status int) Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Raw)
	}
	return r
}

// String returns a string field of the body ("" if absent).
func (r Response) String(field string) string {
	s, _ := r.Body[field].(string)
	return s
}

// AddUser stores an active person of role directly in the database (as a
// seed, not through the users API) and an API token for them, and returns
// the user's id and the token. email "" makes one up from the id.
func (s *Server) AddUser(role keysmith.Role, email string) (id, token string) {
	s.t.Helper()
	id = keysmith.NewID("usr")
	if email == "" {
		email = strings.ToLower(id) + "@example.com"
	}
	now := s.Clock.Now()
	_, err := s.App.Store.SQL().Exec(`INSERT INTO users (id, email, name, role, type, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 'person', 'active', $5, $5)`, id, email, string(role), string(role), now.UnixMicro())
	if err != nil {
		s.t.Fatal(err)
	}
	secret, hash := keysmith.NewAPITokenSecret()
	tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "seeded token", Type: keysmith.TokenUser, OwnerID: id,
		CreatedAt: now, CreatedBy: id, Network: keysmith.NetworkPolicy{Mode: keysmith.NetworkAny},
		RateLimitPercent: keysmith.DefaultRateLimitPercent}
	if err := s.App.Store.CreateToken(context.Background(), tok, hash); err != nil {
		s.t.Fatal(err)
	}
	return id, secret.Reveal()
}

// AddAPI registers an API with scopes directly in the store (as a seed,
// not through the APIs API) and returns it. Its name and identifier are
// made up from its id.
func (s *Server) AddAPI(scopes ...keysmith.Scope) *keysmith.API {
	s.t.Helper()
	now := s.Clock.Now()
	id := keysmith.NewID("api")
	a := &keysmith.API{ID: id, Name: "api " + id, Identifier: "https://" + strings.ToLower(id) + ".example",
		Scopes: scopes, CreatedAt: now, UpdatedAt: now}
	if err := s.App.Store.CreateAPI(context.Background(), a); err != nil {
		s.t.Fatal(err)
	}
	return a
}

// WantField fails the test unless the body's field is the string want.
func (r Response) WantField(t testing.TB, field, want string) Response {
	t.Helper()
	if got := r.String(field); got != want {
		t.Fatalf("%s = %q, want %q; body: %s", field, got, want, r.Raw)
	}
	return r
}

// jsonDecoder decodes numbers as json.Number, as a schema validator wants
// them.
func jsonDecoder(raw []byte) *json.Decoder {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return d
}
