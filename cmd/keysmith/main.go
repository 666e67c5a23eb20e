// Command keysmith is the credential authority for an API: it issues API
// tokens and verifies them. Run "keysmith help" for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `Keysmith — the credential authority for your API.

Usage:
  keysmith serve [--addr ADDR] [--db DSN] [--redis URL] [--redis-prefix P] [--trusted-proxies CIDRS]
                 [--token-idle-ttl DURATION] [--log-format json|text] [--log-level LEVEL]
                 [--session-ttl 12h] [--reauth-window 5m] [--argon2 m=19456,t=2,p=1]
                 [--log-retention-days N] [--forward-auth-header X-API-Key] [--metrics-addr ADDR]
                 [--allow-insecure-key-managers]
  keysmith init  --email EMAIL [--db DSN] [--json]
  keysmith logs  [--db DSN] [--since T] [--until T] [--type TYPE] [--actor ID] [--target ID] [--json]
  keysmith logs verify [--db DSN]
  keysmith signing-keys rotate [--db DSN] [--alg ES256|EdDSA|RS256] [--json]
  keysmith signing-keys list   [--db DSN] [--json]
  keysmith admin set-password --email EMAIL [--db DSN]   (password prompted, or the first line of stdin)
  keysmith admin create-token --email EMAIL [--db DSN] [--name NAME] [--json]
  keysmith version | --version
  keysmith help

serve  runs the server: the JSON API under /v1 and the console at /. On an
       empty database it first creates the super admin admin@localhost and
       prints, once, a setup code (paste it at /setup to choose a password,
       within an hour) and an API token for it.
init   creates the first super admin and prints their API token, for scripted
       setups; fails (exit 1) on a database that already has users.
logs   prints the system log, oldest first, from the database itself (NDJSON
       with --json). T is an RFC 3339 time, a date (2030-01-02) or a duration
       back from now (24h). "logs verify" walks the hash chain and exits 1
       naming the first event that was modified, removed or reordered.
admin set-password
       sets a user's password on the database of a stopped or running
       server (a lost password, the first admin's after the setup code
       expired); recorded in the system log, ends the user's sessions.
admin create-token
       creates an API token for a user, with their rights, on the database
       itself (a lost bootstrap token); prints it once, alone on stdout;
       recorded in the system log; refuses deactivated users.
signing-keys rotate
       makes a new JWT signing key that signs from now on; the old public key
       stays in the JWKS until every token it signed has expired.

serve also takes --issuer URL (the public URL, iss of access tokens; stored in
the database at first start, from --issuer or as http://ADDR, and used by every
replica and later start; --issuer replaces it), --signing-alg ES256|EdDSA|RS256, --signing-key-rotation DURATION
(default 2160h; negative turns it off) and --max-client-secrets N (default 5).
The private signing keys are sealed under the master key: KEYSMITH_MASTER_KEY
(base64 of 32 bytes; required with PostgreSQL, the same on every replica), or
else a key file made on first start beside the SQLite database (DB.key).

DSN is an SQLite file path (default keysmith.db, created on first start) or a
postgres:// URL. --redis redis://host:6379 shares rate-limit counters between
replicas; --redis-prefix (default keysmith:rl:) starts their keys, so that
deployments sharing one Redis database each take their own. --trusted-proxies lists proxies (addresses or CIDR ranges, comma-
separated) whose X-Forwarded-For header is believed. --metrics-addr 127.0.0.1:9090 serves Prometheus
metrics at /metrics on a second listener (off by default; keep it off the public network). Every flag can be set in the environment as KEYSMITH_<FLAG>,
for example KEYSMITH_ADDR, KEYSMITH_DB, KEYSMITH_LOG_FORMAT.

The API over HTTP (keysmith tokens --help, and so on; "keysmith help-cli" lists them):
  keysmith tokens|users|groups|apps|keys|clients|apis|zones|agents|settings VERB ...
  keysmith login|logout|verify|oauth token|completion ...
  keysmith logs|signing-keys ... --server URL   (over HTTP instead of --db)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if useHTTPCLI(args) {
		return runHTTPCLI(ctx, args, os.Stdin, stdout, stderr)
	}
	var err error
	switch args[0] {
	case "version", "--version":
		err = versionCmd(stdout)
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case "init":
		err = initCmd(ctx, args[1:], stdout, stderr)
	case "logs":
		err = logsCmd(ctx, args[1:], stdout, stderr)
	case "signing-keys":
		err = signingKeysCmd(ctx, args[1:], stdout, stderr)
	case "admin":
		err = adminCmd(ctx, args[1:], os.Stdin, stdout, stderr)
	case "help-cli":
		return runHTTPCLI(ctx, []string{"--help"}, os.Stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "keysmith: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	}
	fmt.Fprintf(stderr, "keysmith %s: %v\n", args[0], err)
	return 1
}

// flagSet returns a FlagSet whose errors go to stderr and do not exit.
func flagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("keysmith "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, first filling every flag that was not given from its
// KEYSMITH_<NAME> environment variable.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "KEYSMITH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !given[f.Name] && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %v", env, v, e)
			}
		}
	})
	return err
}

// newLogger builds the structured logger on stderr.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use json or text", format)
}
