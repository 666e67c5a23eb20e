package main_test

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/redis/redistest"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/storetest"
)

// bin is the keysmith binary built once for these tests: they run it as a
// user would.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keysmith-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "keysmith")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var tokenRE = regexp.MustCompile(`ks_[0-9A-Za-z]{38}`)

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is a running keysmith serve process.
type server struct {
	cmd    *exec.Cmd
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan error
}

// startServe runs "keysmith serve" in dir with args and waits until it
// answers /healthz.
func startServe(t *testing.T, dir string, env []string, args ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	s := &server{cmd: cmd, url: "http://" + addr, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("keysmith serve did not become healthy; stderr:\n%s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// token waits briefly for the first-start token on stdout; "" if none.
// serve prints it before it listens, so a healthy server has written it.
func (s *server) token() string {
	for range 50 {
		if m := tokenRE.FindString(s.stdout.String()); m != "" {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ""
}

// stop sends SIGTERM and returns the exit error.
func (s *server) stop(t *testing.T) error {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(15 * time.Second):
		t.Fatalf("keysmith serve did not exit within 15 s of SIGTERM; stderr:\n%s", s.stderr.String())
	}
	return nil
}

func (s *server) call(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestServe(t *testing.T) {
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			dsn := storetest.DSN(t, engine)
			var env []string // SQLite makes a key file; PostgreSQL needs the key
			if engine == "postgres" {
				env = []string{"KEYSMITH_MASTER_KEY=" + oauth.NewMasterKey().Encode()}
			}
			s := startServe(t, dir, env, "--db", dsn, "--log-format", "json")
			first := s.token()

			t.Run("FirstStartPrintsOneTokenOnStdoutOnly", func(t *testing.T) {
				if first == "" {
					t.Fatalf("no token on stdout:\n%s", s.stdout)
				}
				if !strings.Contains(s.stdout.String(), "curl") {
					t.Errorf("stdout has no curl example:\n%s", s.stdout)
				}
				if strings.Contains(s.stderr.String(), first) {
					t.Errorf("the token reached the structured log")
				}
				for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
					if !json.Valid([]byte(line)) {
						t.Errorf("log line is not JSON with --log-format json: %q", line)
					}
				}
			})

			var id, secret string
			t.Run("TokenWorks", func(t *testing.T) {
				status, body := s.call(t, "POST", "/v1/tokens", first, `{"name":"from the binary test"}`)
				if status != 201 {
					t.Fatalf("create: %d %v", status, body)
				}
				id, secret = body["id"].(string), body["token"].(string)
				if status, body := s.call(t, "POST", "/v1/verify", "", `{"token":"`+secret+`"}`); status != 200 || body["code"] != "VALID" {
					t.Fatalf("verify: %d %v", status, body)
				}
			})

			t.Run("SIGTERMFlushesLastUseAndExitsZero", func(t *testing.T) {
				if err := s.stop(t); err != nil {
					t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, s.stderr.String())
				}
				db, err := store.Open(context.Background(), dsn, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				tok, err := db.FindTokenByID(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if tok.LastUsedAt == nil {
					t.Error("the use seen just before SIGTERM was not written at shutdown")
				}
			})

			t.Run("RestartPrintsNoToken", func(t *testing.T) {
				s2 := startServe(t, dir, env, "--db", dsn)
				if s2.token() != "" || strings.Contains(s2.stdout.String(), "ks_") {
					t.Errorf("second start printed a token:\n%s", s2.stdout)
				}
				if status, _ := s2.call(t, "GET", "/v1/tokens", secret, ""); status != 200 {
					t.Errorf("token from before the restart: status %d", status)
				}
				if err := s2.stop(t); err != nil {
					t.Errorf("exit: %v", err)
				}
			})
		})
	}
}

func TestServeDefaultsToSQLiteInTheWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dir, []string{"KEYSMITH_DB="})
	if s.token() == "" {
		t.Fatalf("no token printed:\n%s", s.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "keysmith.db")); err != nil {
		t.Errorf("keysmith.db not created in the working directory: %v", err)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("exit: %v", err)
	}
}

func TestServeTakesSettingsFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "from-env.db")
	s := startServe(t, dir, []string{"KEYSMITH_DB=" + db, "KEYSMITH_LOG_FORMAT=json", "KEYSMITH_TOKEN_IDLE_TTL=2h"})
	if _, err := os.Stat(db); err != nil {
		t.Errorf("KEYSMITH_DB not honoured: %v", err)
	}
	status, tok := s.call(t, "POST", "/v1/tokens", s.token(), `{"name": "ttl"}`)
	if status != http.StatusCreated || tok["idle_ttl"] != float64(7200) {
		t.Errorf("KEYSMITH_TOKEN_IDLE_TTL not honoured: %d %v", status, tok)
	}
	s.stop(t)
}

// TestServeRedisPrefix: two deployments can share one Redis database, each
// keeping its rate-limit counters under its own key prefix.
func TestServeRedisPrefix(t *testing.T) {
	url, _ := redistest.URL(t)
	for _, c := range []struct {
		name string
		run  func(t *testing.T, prefix string) *server
	}{
		{"FlagSetsTheKeyPrefix", func(t *testing.T, prefix string) *server {
			return startServe(t, t.TempDir(), nil, "--redis", url, "--redis-prefix", prefix)
		}},
		{"EnvironmentSetsTheKeyPrefix", func(t *testing.T, prefix string) *server {
			return startServe(t, t.TempDir(), []string{"KEYSMITH_REDIS=" + url, "KEYSMITH_REDIS_PREFIX=" + prefix})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			client, prefix := redistest.New(t)
			s := c.run(t, prefix)
			if status, body := s.call(t, "GET", "/v1/tokens", s.token(), ""); status != http.StatusOK {
				t.Fatalf("list tokens: %d %v", status, body)
			}
			keys, err := client.Keys(context.Background(), prefix+"*").Result()
			if err != nil || len(keys) == 0 {
				t.Errorf("no rate-limit keys under %q after a counted request (%v); stderr:\n%s", prefix, err, s.stderr.String())
			}
			s.stop(t)
		})
	}
}

func TestInit(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		out, err := exec.Command(bin, "init", "--db", dsn, "--email", "Ops@Example.com", "--json").Output()
		if err != nil {
			t.Fatalf("init: %v", err)
		}
		var got struct {
			UserID string `json:"user_id"`
			Token  string `json:"token"`
		}
		if err := json.Unmarshal(out, &got); err != nil || got.UserID == "" || !tokenRE.MatchString(got.Token) {
			t.Fatalf("init --json printed %q (%v)", out, err)
		}

		cmd := exec.Command(bin, "init", "--db", dsn, "--email", "second@example.com", "--json")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err = cmd.Output()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("second init: %v, want exit status 1", err)
		}
		if len(out) != 0 || !strings.Contains(stderr.String(), "nothing was changed") {
			t.Errorf("second init: stdout %q, stderr %q", out, stderr.String())
		}
		db, err := store.Open(context.Background(), dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var users int
		db.SQL().QueryRow(`SELECT COUNT(*) FROM users`).Scan(&users)
		if users != 1 {
			t.Errorf("%d users after a refused init, want 1", users)
		}
	})
}

func TestCommandLineMistakes(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"NoCommand", nil, 2, "Usage"},
		{"UnknownCommand", []string{"frobnicate"}, 2, "unknown command"},
		{"InitWithoutEmail", []string{"init", "--db", "x.db"}, 2, "--email is required"},
		{"InitBadEmail", []string{"init", "--email", "not an address"}, 1, "not a valid address"},
		{"BadLogFormat", []string{"serve", "--log-format", "xml"}, 1, "use json or text"},
		{"UnknownFlag", []string{"serve", "--colour"}, 2, "flag provided but not defined"},
		{"IdleTTLTooShort", []string{"serve", "--token-idle-ttl", "10s"}, 1, "token idle TTL 10s: must be between"},
		{"IdleTTLInDays", []string{"serve", "--token-idle-ttl", "30d"}, 2, "invalid value"},
		{"BadTrustedProxy", []string{"serve", "--trusted-proxies", "10.0.0.0/8, proxy.local"}, 1, `--trusted-proxies entry "proxy.local"`},
		{"TrustedProxiesMatchingEveryAddress", []string{"serve", "--trusted-proxies", "10.0.0.0/8,::/0"}, 1, `--trusted-proxies entry "::/0" matches every address`},
		{"IssuerNotAURL", []string{"serve", "--issuer", "keysmith.example"}, 1, `--issuer "keysmith.example": give the public URL`},
		{"BadRedisURL", []string{"serve", "--redis", "http://localhost"}, 1, "redis URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A mistake that is not refused would serve forever: stop it.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, c.args...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != c.code {
				t.Fatalf("exit: %v, want status %d; output:\n%s", err, c.code, out)
			}
			if !strings.Contains(string(out), c.says) {
				t.Errorf("output does not say %q:\n%s", c.says, out)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a writing process and a reading test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServeMetricsAddr: --metrics-addr (or KEYSMITH_METRICS_ADDR) opens the
// metrics listener of the serve command; without it there is none.
func TestServeMetricsAddr(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, addr string) *server
	}{
		{"Flag", func(t *testing.T, addr string) *server {
			return startServe(t, t.TempDir(), nil, "--metrics-addr", addr)
		}},
		{"Environment", func(t *testing.T, addr string) *server {
			return startServe(t, t.TempDir(), []string{"KEYSMITH_METRICS_ADDR=" + addr})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := freeAddr(t)
			s := c.run(t, addr)
			if status, body := s.call(t, "POST", "/v1/verify", "", `{"token":"`+s.token()+`"}`); status != 200 || body["code"] != "VALID" {
				t.Fatalf("verify: %d %v", status, body)
			}
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				t.Fatalf("scrape: %v; stderr:\n%s", err, s.stderr.String())
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), `keysmith_verify_total{code="VALID",kind="api_token"} 1`) {
				t.Errorf("GET /metrics: %d, want the verification counted:\n%.2000s", resp.StatusCode, b)
			}
			s.stop(t)
		})
	}
}

// TestVersion: `keysmith --version` and `keysmith version` print the build:
// the module version ("(devel)" from a checkout), the commit and its time
// when the build recorded them, and the Go version.
func TestVersion(t *testing.T) {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"keysmith ", bi.GoVersion}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.time" {
			want = append(want, s.Value)
		}
	}
	for _, arg := range []string{"--version", "version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatalf("keysmith %s: %v", arg, err)
		}
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				t.Errorf("keysmith %s printed %q, which lacks %q", arg, out, w)
			}
		}
		if !regexp.MustCompile(`^keysmith (\(devel\)|v\S+) `).Match(out) {
			t.Errorf("keysmith %s printed %q, not the module version first", arg, out)
		}
	}
}
