package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/cli"
	"github.com/keysmith/keysmith/storetest"
)

// result is one run of the CLI.
type result struct {
	out, err string
	code     int
}

// harness runs cli.Run, the code main runs, against one server.
type harness struct {
	t   *testing.T
	s   *apptest.Server
	dir string // the config directory
	env map[string]string
	// password answers the password prompt; hostname runs at login.
	password func() (string, error)
	hostname func() (string, error)
}

func (h *harness) runIn(stdin string, args ...string) result {
	h.t.Helper()
	var out, errb bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, ConfigDir: h.dir,
		Getenv: func(k string) string { return h.env[k] }, Hostname: h.hostname}
	if h.password != nil {
		env.ReadPassword = func(string) (string, error) { return h.password() }
	}
	code := cli.Run(context.Background(), args, env)
	return result{out.String(), errb.String(), code}
}

func (h *harness) run(args ...string) result { h.t.Helper(); return h.runIn("", args...) }

// ok runs args and fails unless the exit status is 0.
func (h *harness) ok(args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != 0 {
		h.t.Fatalf("keysmith %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r
}

// want runs args and fails unless the exit status is code.
func (h *harness) want(code int, args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != code {
		h.t.Fatalf("keysmith %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.out, r.err)
	}
	return r
}

func (h *harness) object(args ...string) map[string]any {
	h.t.Helper()
	r := h.ok(append(args, "--json")...)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.out), &m); err != nil {
		h.t.Fatalf("keysmith %s --json: %v: %q", strings.Join(args, " "), err, r.out)
	}
	return m
}

func (h *harness) items(args ...string) []map[string]any {
	h.t.Helper()
	r := h.ok(append(args, "--json")...)
	var m []map[string]any
	if err := json.Unmarshal([]byte(r.out), &m); err != nil {
		h.t.Fatalf("keysmith %s --json: %v: %q", strings.Join(args, " "), err, r.out)
	}
	return m
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

func newHarness(t *testing.T) *harness {
	s := apptest.Start(t, storetest.SQLite(t), app.Config{})
	return &harness{t: t, s: s, dir: filepath.Join(t.TempDir(), "config"),
		env: map[string]string{"KEYSMITH_URL": s.URL, "KEYSMITH_TOKEN": s.AdminToken}}
}

func TestCLITokens(t *testing.T) {
	h := newHarness(t)
	s := h.s
	r := h.ok("tokens", "create", "--name", "deploy bot", "--expires-at", "2031-01-01T00:00:00Z", "--quiet")
	secret := strings.TrimSpace(r.out)
	if !strings.HasPrefix(secret, "ks_") || len(lines(r.out)) != 1 {
		t.Fatalf("--quiet create printed %q, want the secret alone", r.out)
	}
	created := h.object("tokens", "create", "--name", "second", "--meta", `{"team":"ops"}`, "--idle-ttl", "3600")
	id := created["id"].(string)
	if created["token"] == nil || mustJSON(created["meta"]) != `{"team":"ops"}` {
		t.Fatalf("create --json: %v", created)
	}
	// --json is exactly the API's object.
	api := s.Do("GET", "/v1/tokens/"+id, s.AdminToken, nil).Want(t, http.StatusOK)
	var want map[string]any
	json.Unmarshal(api.Raw, &want)
	got := h.object("tokens", "get", id)
	if g, w := mustJSON(got), mustJSON(want); g != w {
		t.Errorf("get --json:\n%s\nAPI:\n%s", g, w)
	}
	// A table for people, with the status as a word and relative times; no secret.
	r = h.ok("tokens", "list")
	if !strings.Contains(r.out, "deploy bot") || !strings.Contains(r.out, "active") ||
		!strings.Contains(r.out, "(2031-01-01 00:00 UTC)") || strings.Contains(r.out, secret) {
		t.Errorf("tokens list:\n%s", r.out)
	}
	r = h.ok("tokens", "list", "--quiet", "--limit", "1", "--all")
	if ids := lines(r.out); len(ids) < 3 || !strings.Contains(r.out, id) {
		t.Errorf("list --quiet --all: %q", r.out)
	}
	if got := h.object("tokens", "update", id, "--name", "renamed", "--enabled=false"); got["name"] != "renamed" || got["status"] != "disabled" {
		t.Errorf("update: %v", got)
	}
	r = h.ok("tokens", "rotate", id, "--grace-seconds", "0")
	if !strings.Contains(r.out, "shown this once") || !strings.Contains(r.out, "ks_") {
		t.Errorf("rotate:\n%s", r.out)
	}
	h.ok("tokens", "summary")
	h.ok("tokens", "revoke", id)
	if got := h.object("tokens", "get", id); got["status"] != "revoked" {
		t.Errorf("after revoke: %v", got["status"])
	}
	// verify, with the secret on stdin: 0 valid, 1 not.
	v := h.runIn(secret+"\n", "verify", "-")
	if v.code != 0 || strings.TrimSpace(lines(v.out)[0]) != "VALID" {
		t.Errorf("verify -: %+v", v)
	}
	v = h.runIn(secret+"\n", "verify", "-", "--scopes", "orders:write", "--quiet")
	if v.code != 1 || strings.TrimSpace(v.out) != "INSUFFICIENT_PERMISSIONS" {
		t.Errorf("verify missing scope: %+v", v)
	}
	if v := h.run("verify", "ks_nonsense"); v.code != 1 || !strings.HasPrefix(v.out, "MALFORMED") {
		t.Errorf("verify malformed: %+v", v)
	}
}

func TestCLIUsersAndGroups(t *testing.T) {
	h := newHarness(t)
	u := h.object("users", "create", "--email", "dev@example.com", "--name", "Dev", "--role", "developer", "--type", "person")
	uid := u["id"].(string)
	if got := h.object("users", "update", uid, "--name", "Developer"); got["name"] != "Developer" {
		t.Errorf("users update: %v", got)
	}
	if r := h.ok("users", "list", "--role", "developer", "--quiet"); strings.TrimSpace(r.out) != uid {
		t.Errorf("users list --role: %q", r.out)
	}
	h.ok("users", "deactivate", uid)
	if got := h.object("users", "get", uid); got["status"] == "active" {
		t.Errorf("deactivated: %v", got)
	}
	h.ok("users", "activate", uid)
	gid := strings.TrimSpace(h.ok("groups", "create", "--name", "ops", "--quiet").out)
	h.ok("groups", "update", gid, "--description", "On call")
	h.ok("groups", "add-member", gid, uid)
	if r := h.ok("groups", "members", gid); !strings.Contains(r.out, "dev@example.com") {
		t.Errorf("members:\n%s", r.out)
	}
	h.ok("groups", "remove-member", gid, uid)
	if len(h.items("groups", "members", gid)) != 0 {
		t.Error("member not removed")
	}
	h.ok("groups", "get", gid)
	h.ok("groups", "list")
	h.ok("groups", "delete", gid)
	h.want(cli.ExitNotFound, "groups", "get", gid)
}

func TestCLIAPIsAppsKeysClientsOAuth(t *testing.T) {
	h := newHarness(t)
	s := h.s
	api := h.object("apis", "create", "--name", "Orders", "--identifier", "https://orders.example.com",
		"--scopes", `[{"name":"orders:read","self_service":true},{"name":"orders:write"}]`)
	apiID := api["id"].(string)
	h.ok("apis", "update", apiID, "--name", "Orders API")
	h.ok("apis", "get", apiID)
	if r := h.ok("apis", "list"); !strings.Contains(r.out, "https://orders.example.com") {
		t.Errorf("apis list:\n%s", r.out)
	}
	appID := strings.TrimSpace(h.ok("apps", "create", "--name", "Shop backend", "--quiet").out)
	if !strings.HasPrefix(appID, "app_") {
		t.Fatalf("apps create --quiet: %q", appID)
	}
	h.ok("apps", "update", appID, "--description", "Orders service")
	h.ok("apps", "get", appID)
	h.ok("apps", "list")
	key := strings.TrimSpace(h.ok("keys", "create", appID, "--name", "ci", "--environment", "sandbox", "--scopes", "orders:read", "--quiet").out)
	if !strings.HasPrefix(key, "ksk_") {
		t.Fatalf("keys create --quiet: %q", key)
	}
	if v := h.runIn(key+"\n", "verify", "-", "--environment", "sandbox", "--scopes", "orders:read"); v.code != 0 {
		t.Errorf("verify key: %+v", v)
	}
	keyID := strings.TrimSpace(h.ok("keys", "list", appID, "--quiet").out)
	h.ok("keys", "get", appID, keyID)
	h.ok("keys", "update", appID, keyID, "--name", "ci2")
	if r := h.ok("keys", "rotate", appID, keyID, "--quiet"); !strings.HasPrefix(r.out, "ksk_") {
		t.Errorf("keys rotate --quiet: %q", r.out)
	}
	h.ok("keys", "revoke", appID, keyID)

	c := h.object("clients", "create", "--app-id", appID, "--environment", "sandbox", "--name", "shop",
		"--scopes", "orders:read", "--audience", "https://orders.example.com")
	cid, csecret := c["id"].(string), c["client_secret"].(string)
	h.ok("clients", "get", cid)
	h.ok("clients", "update", cid, "--token-ttl-seconds", "600")
	if r := h.ok("clients", "list", "--app-id", appID, "--quiet"); !strings.Contains(r.out, cid) {
		t.Errorf("clients list: %q", r.out)
	}
	second := h.object("clients", "add-secret", cid, "--description", "deploy 42")
	if second["client_secret"] == nil {
		t.Fatalf("add-secret: %v", second)
	}
	if r := h.ok("clients", "secrets", cid); !strings.Contains(r.out, "deploy 42") || strings.Contains(r.out, csecret) {
		t.Errorf("secrets:\n%s", r.out)
	}
	h.ok("clients", "delete-secret", cid, second["secret_id"].(string))

	// oauth token: the secret on stdin, the token on stdout.
	r := h.runIn(csecret+"\n", "oauth", "token", "--client-id", c["client_id"].(string), "--client-secret-stdin", "--scope", "orders:read")
	if r.code != 0 || !strings.HasPrefix(r.out, "eyJ") || len(lines(r.out)) != 1 {
		t.Fatalf("oauth token: %+v", r)
	}
	if v := h.runIn(r.out, "verify", "-", "--scopes", "orders:read"); v.code != 0 {
		t.Errorf("verify access token: %+v", v)
	}
	if r := h.runIn("wrong\n", "oauth", "token", "--client-id", c["client_id"].(string), "--client-secret-stdin"); r.code != cli.ExitNoAccess {
		t.Errorf("wrong secret: %+v", r)
	}
	reset := strings.TrimSpace(h.ok("clients", "reset-secrets", cid, "--quiet").out)
	if !strings.HasPrefix(reset, "ksc_") {
		t.Errorf("reset-secrets --quiet: %q", reset)
	}
	q := lines(h.ok("clients", "create", "--app-id", appID, "--environment", "production", "--name", "shop prod",
		"--scopes", "orders:read", "--audience", "https://orders.example.com", "--quiet").out)
	if len(q) != 2 || !strings.HasPrefix(q[1], "ksc_") {
		t.Errorf("clients create --quiet: %q", q)
	}
	h.ok("clients", "delete", cid)

	other, _ := s.AddUser("developer", "other@example.com")
	h.ok("apps", "transfer", appID, "--owner-id", other)
	h.ok("apps", "delete", appID)
	h.ok("apis", "delete", apiID)
}

func TestCLIZonesAgentsOriginsSettingsLogs(t *testing.T) {
	h := newHarness(t)
	zid := strings.TrimSpace(h.ok("zones", "create", "--name", "office", "--gateways", "10.0.0.0/8", "--quiet").out)
	h.ok("zones", "update", zid, "--proxies", "10.1.0.1/32")
	if r := h.ok("zones", "list"); !strings.Contains(r.out, "office") {
		t.Errorf("zones list:\n%s", r.out)
	}
	h.ok("zones", "get", zid)
	h.ok("zones", "delete", zid)

	aid := strings.TrimSpace(h.ok("agents", "create", "--name", "ci runner", "--kind", "ci", "--quiet").out)
	tok := strings.TrimSpace(h.ok("agents", "activate", aid, "--quiet").out)
	if !strings.HasPrefix(tok, "ks") {
		t.Errorf("agents activate --quiet: %q", tok)
	}
	h.ok("agents", "get", aid)
	h.ok("agents", "list")
	h.ok("agents", "deactivate", aid)
	h.ok("agents", "delete", aid)

	rl := h.ok("settings", "rate-limits", "--json").out
	h.ok("settings", "set-rate-limits", "--data", rl)
	h.ok("settings", "rate-limits")

	r := h.ok("logs", "--type", "api_token.created", "--json")
	if strings.TrimSpace(r.out) == "" {
		t.Fatal("logs --json: no events")
	}
	for _, l := range lines(r.out) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev["type"] != "api_token.created" {
			t.Fatalf("logs --json line %q: %v", l, err)
		}
	}
	if r := h.ok("logs", "--since", "2030-01-01", "--limit", "5"); !strings.Contains(r.out, "TYPE") {
		t.Errorf("logs:\n%s", r.out)
	}
}

func TestCLISigningKeys(t *testing.T) {
	h := newHarness(t)
	before := h.items("signing-keys", "list")
	k := h.object("signing-keys", "rotate", "--alg", "EdDSA")
	if k["algorithm"] != "EdDSA" || k["status"] != "active" {
		t.Fatalf("rotate: %v", k)
	}
	r := h.ok("signing-keys", "list")
	if len(lines(r.out)) != len(before)+2 || !strings.Contains(r.out, "retired") {
		t.Errorf("list:\n%s", r.out)
	}
}

func TestCLIExitCodes(t *testing.T) {
	h := newHarness(t)
	s := h.s
	if r := h.want(cli.ExitUsage, "frobnicate"); !strings.Contains(r.err, "unknown command") {
		t.Errorf("unknown command: %q", r.err)
	}
	h.want(cli.ExitUsage, "tokens", "list", "--nope")
	h.want(cli.ExitUsage, "tokens", "get")
	h.want(cli.ExitUsage, "tokens", "create", "--idle-ttl", "soon")
	if r := h.want(cli.ExitUsage, "users", "create", "--email", "not an e-mail"); r.err == "" {
		t.Error("a 400 printed no message")
	}
	if r := h.want(cli.ExitNotFound, "tokens", "get", "tok_doesnotexist"); !strings.Contains(r.err, "not") {
		t.Errorf("404 message: %q", r.err)
	}
	h.want(cli.ExitNoAccess, "tokens", "list", "--token", "ks_wrong")
	_, devToken := s.AddUser("developer", "")
	h.want(cli.ExitNoAccess, "users", "create", "--email", "x@example.com", "--name", "X", "--role", "developer", "--type", "person", "--token", devToken)
	h.want(cli.ExitServerFail, "tokens", "list", "--server", "http://"+closedPort(t))
	// --help on every command, with an example.
	for _, args := range [][]string{{"--help"}, {"tokens", "--help"}, {"tokens", "create", "--help"}, {"keys", "rotate", "--help"},
		{"verify", "--help"}, {"oauth", "token", "--help"}, {"login", "--help"}, {"logs", "--help"}, {"completion", "--help"}} {
		if r := h.ok(args...); !strings.Contains(r.out, "keysmith") {
			t.Errorf("%v: %q", args, r.out)
		}
	}
}

func TestCLICompletion(t *testing.T) {
	h := newHarness(t)
	for _, sh := range []string{"bash", "zsh", "fish"} {
		r := h.ok("completion", sh)
		if !strings.Contains(r.out, "tokens") || !strings.Contains(r.out, "rotate") {
			t.Errorf("%s completion lacks commands", sh)
		}
		if _, err := exec.LookPath(sh); err != nil {
			if sh == "bash" {
				t.Fatal("bash not installed")
			}
			continue
		}
		f := filepath.Join(t.TempDir(), "c."+sh)
		os.WriteFile(f, []byte(r.out), 0o600)
		if out, err := exec.Command(sh, "-n", f).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", sh, err, out)
		}
	}
	h.want(cli.ExitUsage, "completion", "tcsh")
}

func TestCLILogin(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.env = map[string]string{} // no server nor token in the environment
	s.Do("POST", "/v1/users", s.AdminToken, map[string]any{"email": "olga@example.com", "name": "Olga", "role": "org_admin",
		"type": "person", "password": "correct horse battery"}).Want(t, http.StatusCreated)
	pw := func() (string, error) { return "correct horse battery", nil }
	h.password = pw

	// Signing in makes an API token for the CLI and stores it, 0600.
	r := h.runIn("olga@example.com\n", "login", "--server", s.URL)
	if r.code != 0 {
		t.Fatalf("login: %+v", r)
	}
	path := filepath.Join(h.dir, "config.json")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config: %v %v", st, err)
	}
	if d, _ := os.Stat(h.dir); d.Mode().Perm() != 0o700 {
		t.Errorf("config dir mode %v", d.Mode().Perm())
	}
	var cfg struct {
		Profiles map[string]struct{ Server, Token, TokenID string } `json:"profiles"`
	}
	b, _ := os.ReadFile(path)
	json.Unmarshal(b, &cfg)
	def := cfg.Profiles["default"]
	if def.Server != s.URL || !strings.HasPrefix(def.Token, "ks_") {
		t.Fatalf("config: %s", b)
	}
	if strings.Contains(string(b), "correct horse") {
		t.Fatal("the password is in the config")
	}
	me := s.Do("GET", "/v1/me", def.Token, nil).Want(t, http.StatusOK)
	if !strings.Contains(string(me.Raw), "olga@example.com") {
		t.Errorf("token of %s", me.Raw)
	}
	tok := s.Do("GET", "/v1/tokens/"+me.String("token_id"), s.AdminToken, nil).Want(t, http.StatusOK)
	if !strings.HasPrefix(tok.String("name"), "keysmith CLI on ") {
		t.Errorf("token name %q", tok.String("name"))
	}
	// It expires about a month after the sign-in, on the server's clock.
	if exp, err := time.Parse(time.RFC3339, tok.String("expires_at")); err != nil ||
		exp.Before(s.Clock.Now().Add(29*24*time.Hour)) || exp.After(s.Clock.Now().Add(32*24*time.Hour)) {
		t.Errorf("the CLI's token expires at %q, want about 30 days from now (%v)", tok.String("expires_at"), s.Clock.Now())
	}
	// The session that made the token is ended.
	if ev := s.Do("GET", "/v1/logs?type=user.signed_out", s.AdminToken, nil).Want(t, http.StatusOK); !strings.Contains(string(ev.Raw), "olga@example.com") {
		t.Errorf("no sign-out after login: %s", ev.Raw)
	}
	// The profile is used without --server or --token.
	if r := h.ok("tokens", "list", "--quiet"); !strings.Contains(r.out, me.String("token_id")) {
		t.Errorf("tokens list with the profile: %q", r.out)
	}
	// A second profile, from a token on stdin.
	if r := h.runIn(s.AdminToken+"\n", "login", "--server", s.URL, "--profile", "admin", "--with-token"); r.code != 0 {
		t.Fatalf("login --with-token: %+v", r)
	}
	h.env["KEYSMITH_PROFILE"] = "admin"
	if r := h.ok("users", "list", "--quiet"); len(lines(r.out)) < 2 {
		t.Errorf("admin profile: %q", r.out)
	}
	delete(h.env, "KEYSMITH_PROFILE")
	if r := h.ok("users", "list", "--profile", "admin", "--quiet"); len(lines(r.out)) < 2 {
		t.Errorf("--profile admin: %q", r.out)
	}

	// logout revokes the token at the server and forgets it.
	h.ok("logout")
	s.Do("GET", "/v1/me", def.Token, nil).Want(t, http.StatusUnauthorized)
	b, _ = os.ReadFile(path)
	if strings.Contains(string(b), def.Token) || !strings.Contains(string(b), `"admin"`) {
		t.Errorf("config after logout: %s", b)
	}
	h.want(cli.ExitUsage, "logout")
	h.want(cli.ExitUsage, "tokens", "list") // no server any more

	// A wrong password: 4, nothing stored.
	h.password = func() (string, error) { return "wrong", nil }
	if r := h.runIn("olga@example.com\n", "login", "--server", s.URL, "--profile", "x"); r.code != cli.ExitNoAccess {
		t.Errorf("wrong password: %+v", r)
	}

	// When the session's password proof is older than the window by the time
	// the CLI creates its token, the server answers reauthentication_required:
	// the CLI asks the password again, re-authenticates and retries.
	asked := 0
	h.password = func() (string, error) { asked++; return pw() }
	h.hostname = func() (string, error) { s.Clock.Advance(10 * time.Minute); return "laptop", nil }
	r = h.runIn("olga@example.com\n", "login", "--server", s.URL, "--profile", "late")
	if r.code != 0 || asked != 2 || !strings.Contains(r.err, "password again") {
		t.Fatalf("login with reauthentication: asked %d times, %+v", asked, r)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// closedPort is an address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Key managers: their secrets go only in a JSON body read from stdin
// (--data -), never in argv.
func TestCLIKeyManagers(t *testing.T) {
	s := apptest.Start(t, storetest.SQLite(t), app.Config{AllowInsecureKeyManagers: true})
	h := &harness{t: t, s: s, dir: filepath.Join(t.TempDir(), "config"),
		env: map[string]string{"KEYSMITH_URL": s.URL, "KEYSMITH_TOKEN": s.AdminToken}}
	p := apptest.NewDCRProvider(t)
	r := h.runIn(`{"registration_token":"`+p.InitialAccessToken+`"}`, "key-managers", "create", "--name", "Partner",
		"--type", "oidc", "--issuer", p.Issuer, "--enabled", "--data", "-", "--json")
	if r.code != 0 {
		t.Fatalf("create: exit %d, %s %s", r.code, r.out, r.err)
	}
	var km map[string]any
	if err := json.Unmarshal([]byte(r.out), &km); err != nil || km["has_registration_token"] != true || strings.Contains(r.out, p.InitialAccessToken) {
		t.Fatalf("create --json: %s", r.out)
	}
	id := km["id"].(string)
	if ids := h.ok("key-managers", "list", "--quiet").out; !strings.Contains(ids, "keysmith") || !strings.Contains(ids, id) {
		t.Errorf("list --quiet: %q", ids)
	}
	if got := h.object("key-managers", "update", id, "--enabled=false"); got["enabled"] != false {
		t.Errorf("update: %v", got)
	}
	h.ok("key-managers", "delete", id)
	h.want(3, "key-managers", "get", id)
}
