package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"
)

// config is config.json: named profiles of a server and its API token.
type config struct {
	Profiles map[string]profile `json:"profiles"`
}

type profile struct {
	Server  string `json:"server"`
	Token   string `json:"token"`
	TokenID string `json:"token_id,omitempty"`
}

func (r *runner) configPath() (string, error) {
	dir := r.env.ConfigDir
	if dir == "" {
		d, err := os.UserConfigDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(d, "keysmith")
	}
	return filepath.Join(dir, "config.json"), nil
}

// HasProfile reports whether the CLI's config holds the profile named by
// KEYSMITH_PROFILE (else "default"): someone logged in, so commands that
// also have a database mode (logs, signing-keys) go to that server.
func HasProfile(env Env) bool {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	r := &runner{env: env}
	c, _, err := r.loadConfig()
	if err != nil {
		return false
	}
	_, ok := c.Profiles[firstOf(env.Getenv("KEYSMITH_PROFILE"), "default")]
	return ok
}

func (r *runner) loadConfig() (config, string, error) {
	c := config{Profiles: map[string]profile{}}
	path, err := r.configPath()
	if err != nil {
		return c, "", err
	}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return c, path, nil
	}
	if err != nil {
		return c, path, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, path, fmt.Errorf("%s: %v", path, err)
	}
	if c.Profiles == nil {
		c.Profiles = map[string]profile{}
	}
	return c, path, nil
}

// saveConfig writes the file 0600 in a 0700 directory, through a temporary
// file so that a crash leaves the old one.
func saveConfig(path string, c config) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (r *runner) profileName() string { return firstOf(r.opts.profile, "default") }

// client is the connection the flags, the environment and the profile name.
func (r *runner) client() (*client, error) {
	server, token := r.opts.server, r.opts.token
	if token != "" && server == "" {
		// A token goes only to the server named with it, never to
		// whatever server a profile holds.
		return nil, usageErr("--token (KEYSMITH_TOKEN) needs --server (KEYSMITH_URL): a token is sent only to the server it is named with")
	}
	if server == "" || token == "" {
		c, _, err := r.loadConfig()
		if err != nil {
			return nil, err
		}
		p := c.Profiles[r.profileName()]
		if server == "" {
			server = p.Server
		}
		if token == "" && (r.opts.server == "" || strings.TrimRight(r.opts.server, "/") == strings.TrimRight(p.Server, "/")) {
			token = p.Token
		}
	}
	if server == "" {
		return nil, usageErr("no server: give --server URL, set KEYSMITH_URL or run keysmith login")
	}
	return newClient(server, token), nil
}

// readSecret prompts (without echo on a terminal) or reads a line of stdin.
func (r *runner) readSecret(prompt string) (string, error) {
	if r.env.ReadPassword != nil {
		return r.env.ReadPassword(prompt)
	}
	if f, ok := r.env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(r.env.Stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(r.env.Stderr)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	return r.readLine()
}

func (r *runner) readLine() (string, error) {
	line, err := r.stdin.ReadString('\n')
	if err != nil && line == "" {
		return "", usageErr("expected a line on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

const loginUsage = `Usage: keysmith login [--server URL] [--profile P] [--with-token] [--email E]

Signs in with e-mail and password (prompted; the password is not echoed),
creates an API token "keysmith CLI on HOST" for the CLI, signs the session
out and stores the token in the profile (config.json, mode 0600, in the
user's config directory). --with-token stores the token read from stdin.

Example:
  keysmith login --server http://127.0.0.1:8080
  echo "$TOKEN" | keysmith login --server http://127.0.0.1:8080 --with-token
`

func (r *runner) login(args []string) error {
	p, err := r.parseFlags(args, []field{{"with-token", "", kBool, ""}, {"email", "", kString, ""}})
	if err != nil {
		return err
	}
	if r.opts.help {
		io.WriteString(r.env.Stdout, loginUsage)
		return nil
	}
	if len(p.args) > 0 {
		return usageErr("login takes no arguments\n%s", loginUsage)
	}
	cfg, path, err := r.loadConfig()
	if err != nil {
		return err
	}
	name := r.profileName()
	server := firstOf(r.opts.server, cfg.Profiles[name].Server)
	if server == "" {
		return usageErr("login needs --server URL (or KEYSMITH_URL)")
	}
	login := r.loginWithPassword
	if p.flags["with-token"] == "true" {
		login = r.loginWithToken
	}
	prof, err := login(server, p.flags["email"])
	if err != nil {
		return err
	}
	cfg.Profiles[name] = prof
	if err := saveConfig(path, cfg); err != nil {
		return err
	}
	fmt.Fprintf(r.env.Stderr, "Signed in to %s; token %s stored in profile %s.\n", server, prof.TokenID, name)
	return nil
}

// loginWithToken checks a token read from stdin (GET /v1/me) and keeps it.
func (r *runner) loginWithToken(server, _ string) (profile, error) {
	tok, err := r.readLine()
	if err != nil {
		return profile{}, err
	}
	tok = strings.TrimSpace(tok)
	var me struct {
		TokenID string `json:"token_id"`
	}
	if _, err := newClient(server, tok).do(r.ctx, "GET", "/v1/me", nil, nil, &me); err != nil {
		return profile{}, err
	}
	return profile{Server: server, Token: tok, TokenID: me.TokenID}, nil
}

// loginWithPassword signs in, creates the CLI's API token with the session
// (proving the password again if the server asks) and ends the session: a
// session cookie is for browsers, and the token can be revoked on its own.
func (r *runner) loginWithPassword(server, email string) (profile, error) {
	var err error
	if email == "" {
		fmt.Fprint(r.env.Stderr, "E-mail: ")
		if email, err = r.readLine(); err != nil {
			return profile{}, err
		}
	}
	password, err := r.readSecret("Password: ")
	if err != nil {
		return profile{}, err
	}
	c := newClient(server, "")
	var sess struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	if _, err := c.do(r.ctx, "POST", "/v1/sessions", nil, map[string]any{"email": email, "password": password}, &sess); err != nil {
		return profile{}, err
	}
	c.reauth = r.reauthenticator(c)
	host := "this machine"
	hn := os.Hostname
	if r.env.Hostname != nil {
		hn = r.env.Hostname
	}
	if h, err := hn(); err == nil && h != "" {
		host = h
	}
	var tok struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	// The token lives about a month (from the session's end, on the
	// server's clock): a laptop does not keep its owner's rights forever,
	// however often it is used. keysmith login again makes a new one.
	body := map[string]any{"name": "keysmith CLI on " + host}
	if !sess.ExpiresAt.IsZero() {
		body["expires_at"] = sess.ExpiresAt.Add(CLITokenLifetime).UTC().Format(time.RFC3339)
	}
	_, err = c.do(r.ctx, "POST", "/v1/tokens", nil, body, &tok)
	// The session was only the way to the token: end it either way.
	_, _ = c.do(context.WithoutCancel(r.ctx), "DELETE", "/v1/sessions/current", nil, nil, nil)
	if err != nil {
		return profile{}, err
	}
	if tok.Token == "" || tok.ID == "" {
		return profile{}, &exitError{ExitServerFail, "the server answered no token; nothing was stored"}
	}
	return profile{Server: server, Token: tok.Token, TokenID: tok.ID}, nil
}

// CLITokenLifetime is how long the token keysmith login makes lives after
// the sign-in session's end.
const CLITokenLifetime = 30 * 24 * time.Hour

// reauthenticator asks the password again and proves it for c's session.
func (r *runner) reauthenticator(c *client) func(context.Context) error {
	return func(ctx context.Context) error {
		fmt.Fprintln(r.env.Stderr, "The server asks for your password again.")
		pw, err := r.readSecret("Password: ")
		if err != nil {
			return err
		}
		_, err = c.send(ctx, "POST", "/v1/sessions/reauthenticate", nil, map[string]any{"password": pw}, nil)
		if ae, ok := err.(*apiError); ok {
			return exitFor(ae)
		}
		return err
	}
}

func (r *runner) logout(args []string) error {
	p, err := r.parseFlags(args, nil)
	if err != nil {
		return err
	}
	if r.opts.help || len(p.args) > 0 {
		fmt.Fprint(r.env.Stdout, "Usage: keysmith logout [--profile P]\n\nRevokes the profile's token at the server and removes it from the config.\n\nExample:\n  keysmith logout --profile staging\n")
		if len(p.args) > 0 {
			return &exitError{code: ExitUsage}
		}
		return nil
	}
	cfg, path, err := r.loadConfig()
	if err != nil {
		return err
	}
	name := r.profileName()
	prof, ok := cfg.Profiles[name]
	if !ok || prof.Token == "" {
		return usageErr("profile %q is not signed in", name)
	}
	c := newClient(prof.Server, prof.Token)
	if err := revokeOwnToken(r.ctx, c, prof.TokenID); err != nil {
		return err
	}
	delete(cfg.Profiles, name)
	if err := saveConfig(path, cfg); err != nil {
		return err
	}
	fmt.Fprintf(r.env.Stderr, "Signed out of %s (profile %s); the token is revoked.\n", prof.Server, name)
	return nil
}

// revokeOwnToken revokes the token c holds (id, or the one GET /v1/me
// names). Only a token the server no longer takes (401) or no longer has
// (404) counts as revoked already; any other failure (a 403 for the old
// secret of a rotated token, a server down) leaves it alive, and says so.
func revokeOwnToken(ctx context.Context, c *client, id string) error {
	notRevoked := func(err error) error {
		if ae, ok := err.(*apiError); ok {
			ee := exitFor(ae)
			ee.msg = "the token is NOT revoked, and the profile is kept: " + ee.msg
			return ee
		}
		return fmt.Errorf("the token is NOT revoked, and the profile is kept: %w", err)
	}
	gone := func(err error) bool {
		ae, ok := err.(*apiError)
		return ok && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusNotFound)
	}
	if id == "" {
		var me struct {
			TokenID string `json:"token_id"`
		}
		_, err := c.send(ctx, "GET", "/v1/me", nil, nil, &me)
		if gone(err) {
			return nil
		}
		if err != nil {
			return notRevoked(err)
		}
		if id = me.TokenID; id == "" {
			return notRevoked(errors.New("the server did not say which token this is"))
		}
	}
	if _, err := c.send(ctx, "DELETE", "/v1/tokens/"+escapePath(id), nil, nil, nil); err != nil && !gone(err) {
		return notRevoked(err)
	}
	return nil
}

const verifyUsage = `Usage: keysmith verify TOKEN|- [--scopes S,S] [--permissions QUERY] [--environment E] [--ip IP]

Verifies a credential as a gateway would (POST /v1/verify) and prints its code.
With "-" the credential is read from stdin, keeping it out of shell history.
Exit status 0 when valid, 1 when not.

Example:
  printf '%s\n' "$KEY" | keysmith verify - --scopes orders:read
`

func (r *runner) verify(args []string) error {
	fs := []field{l("scopes", ""), s("permissions", ""), s("environment", ""), s("ip", "")}
	p, err := r.parseFlags(args, fs)
	if err != nil {
		return err
	}
	if r.opts.help {
		io.WriteString(r.env.Stdout, verifyUsage)
		return nil
	}
	if len(p.args) != 1 {
		return usageErr("verify takes one argument: the credential, or - to read it from stdin\n%s", verifyUsage)
	}
	tok := p.args[0]
	if tok == "-" {
		if tok, err = r.readLine(); err != nil {
			return err
		}
		tok = strings.TrimSpace(tok)
	}
	body := map[string]any{"token": tok}
	for _, f := range fs {
		if t, ok := p.flags[f.Flag]; ok {
			if body[f.Name], err = value(f, t); err != nil {
				return err
			}
		}
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	c.token = "" // verify needs no caller credential
	var out map[string]any
	raw, err := c.do(r.ctx, "POST", "/v1/verify", nil, body, &out)
	if err != nil {
		return err
	}
	switch {
	case r.opts.json:
		r.env.Stdout.Write(append(trimNL(raw), '\n'))
	case r.opts.quiet:
		fmt.Fprintln(r.env.Stdout, text(out["code"]))
	default:
		fmt.Fprintln(r.env.Stdout, text(out["code"]))
		if m, ok := out["missing"]; ok && m != nil {
			fmt.Fprintf(r.env.Stdout, "missing: %s\n", text(m))
		}
		if id := text(out["token_id"]); id != "" {
			fmt.Fprintf(r.env.Stdout, "token_id: %s\n", id)
		}
	}
	if out["valid"] != true {
		return &exitError{code: ExitNotValid}
	}
	return nil
}

const oauthUsage = `Usage: keysmith oauth token --client-id ID [--client-secret-stdin] [--scope "S S"]

Gets an access token with the client credentials grant and prints it. The
secret is prompted for (not echoed), or read from stdin with
--client-secret-stdin; it is never a flag value, so never in shell history.

Example:
  printf '%s\n' "$SECRET" | keysmith oauth token --client-id cli_… --client-secret-stdin --scope orders:read
`

func (r *runner) oauth(args []string) error {
	if len(args) == 0 || args[0] != "token" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			io.WriteString(r.env.Stdout, oauthUsage)
			return nil
		}
		return usageErr("oauth takes one command: token\n%s", oauthUsage)
	}
	p, err := r.parseFlags(args[1:], []field{s("client-id", ""), b("client-secret-stdin", ""), s("scope", "")})
	if err != nil {
		return err
	}
	if r.opts.help {
		io.WriteString(r.env.Stdout, oauthUsage)
		return nil
	}
	id := p.flags["client-id"]
	if id == "" || len(p.args) > 0 {
		return usageErr("oauth token needs --client-id ID\n%s", oauthUsage)
	}
	var secret string
	if p.flags["client-secret-stdin"] == "true" {
		secret, err = r.readLine()
	} else {
		secret, err = r.readSecret("Client secret: ")
	}
	if err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	c.token = ""
	v := url.Values{"grant_type": {"client_credentials"}}
	if sc := p.flags["scope"]; sc != "" {
		v.Set("scope", sc)
	}
	var out map[string]any
	raw, err := c.form(r.ctx, "/v1/oauth/token", v, id, strings.TrimSpace(secret), &out)
	if err != nil {
		return err
	}
	if r.opts.json {
		_, err = r.env.Stdout.Write(append(trimNL(raw), '\n'))
		return err
	}
	fmt.Fprintln(r.env.Stdout, text(out["access_token"]))
	return nil
}

const logsUsage = `Usage: keysmith logs [--since T] [--until T] [--type TYPE] [--actor ID] [--target ID] [--outcome O] [--q TEXT] [--limit N] [--all] [--json]

Prints the system log over HTTP (GET /v1/logs; NDJSON with --json). With
--db DSN instead of a server, keysmith logs reads the database directly.

Example:
  keysmith logs --since 24h --type token.created --json
`

func (r *runner) logs(args []string) error {
	fs := []field{s("since", ""), s("until", ""), s("type", ""), s("actor", ""), s("target", ""), s("outcome", ""), s("q", ""),
		i("limit", ""), s("cursor", ""), b("all", "")}
	p, err := r.parseFlags(args, fs)
	if err != nil {
		return err
	}
	if r.opts.help {
		io.WriteString(r.env.Stdout, logsUsage)
		return nil
	}
	if len(p.args) > 0 {
		return usageErr("logs takes no arguments over HTTP\n%s", logsUsage)
	}
	q := map[string]string{}
	for _, f := range fs {
		if t, ok := p.flags[f.Flag]; ok && f.Flag != "all" {
			if f.Flag == "since" || f.Flag == "until" {
				t = logTime(t)
			}
			q[f.Name] = t
		}
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	var items []map[string]any
	for {
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"next_cursor"`
		}
		if _, err := c.do(r.ctx, "GET", "/v1/logs", q, nil, &page); err != nil {
			return err
		}
		for _, it := range page.Items {
			if r.opts.json {
				r.env.Stdout.Write(append(append([]byte{}, it...), '\n'))
				continue
			}
			var m map[string]any
			_ = json.Unmarshal(it, &m)
			items = append(items, m)
		}
		if !r.opts.all || page.NextCursor == "" {
			break
		}
		q["cursor"] = page.NextCursor
	}
	if r.opts.json {
		return nil
	}
	if r.opts.quiet {
		for _, m := range items {
			fmt.Fprintln(r.env.Stdout, text(m["id"]))
		}
		return nil
	}
	printTable(r.env.Stdout, []string{"time", "type", "actor", "targets", "outcome", "message"}, items)
	return nil
}

// logTime turns a date (2030-01-02) or a duration back from now (24h) into
// the RFC 3339 time the API takes; anything else goes as given.
func logTime(v string) string {
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t.UTC().Format(time.RFC3339)
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now().Add(-d).UTC().Format(time.RFC3339)
	}
	return v
}
