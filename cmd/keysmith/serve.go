package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/internal/heapfloor"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/verify"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("serve", stderr)
	var cfg app.Config
	fs.StringVar(&cfg.Addr, "addr", app.DefaultAddr, "address to listen on")
	fs.StringVar(&cfg.DB, "db", app.DefaultDB, "SQLite file path or postgres:// URL")
	fs.DurationVar(&cfg.TokenIdleTTL, "token-idle-ttl", keysmith.DefaultIdleTTL,
		"how long a token lives unused, renewed by every use (e.g. 720h); tokens may set their own idle_ttl")
	oauthFlags(fs, &cfg)
	fs.StringVar(&cfg.Redis, "redis", "", "redis:// URL for rate-limit counters shared by replicas (default: in process)")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", app.DefaultRedisPrefix,
		"start of every Redis key; give each deployment that shares a Redis database its own")
	trusted := fs.String("trusted-proxies", "", "comma-separated addresses or CIDR ranges of proxies whose X-Forwarded-For is believed")
	logFormat := fs.String("log-format", "text", "log format: json or text")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", keysmith.DefaultSessionTTL, "lifetime of a browser session")
	fs.DurationVar(&cfg.ReauthWindow, "reauth-window", keysmith.DefaultReauthWindow,
		"how recently a browser session must have given its password to create, rotate or reset a secret")
	fs.Func("argon2", "argon2id cost for passwords as m=KiB,t=passes,p=threads (default m=19456,t=2,p=1)", func(v string) error {
		_, err := fmt.Sscanf(v, "m=%d,t=%d,p=%d", &cfg.Password.MemoryKiB, &cfg.Password.Time, &cfg.Password.Threads)
		if err != nil || cfg.Password.MemoryKiB < 8 || cfg.Password.Time < 1 || cfg.Password.Threads < 1 {
			return fmt.Errorf("want m=KiB,t=passes,p=threads, like m=19456,t=2,p=1")
		}
		return nil
	})
	fs.StringVar(&cfg.ForwardAuthHeader, "forward-auth-header", "",
		"a header that carries the credential at /v1/forward-auth besides Authorization: Bearer, like X-API-Key")
	fs.BoolVar(&cfg.AllowInsecureKeyManagers, "allow-insecure-key-managers", false,
		"let external key managers be called over plain http at loopback addresses (127.0.0.1, ::1) only: for tests and local development")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "",
		"address of a second listener serving Prometheus metrics at /metrics only, like 127.0.0.1:9090 (default: off)")
	fs.IntVar(&cfg.VerifyCache, "verify-cache", verify.DefaultCacheSize,
		"token secrets (and, apart, owners) the verifier keeps in memory, about 950 bytes of heap each (95 MB at the default); past it the least recently used make room")
	gcFloor := fs.Int("gc-floor-mb", 64,
		"collect garbage no more often than a heap of this many MB would make Go collect (0: Go's default); ignored when GOGC is set")
	retention := fs.Int("log-retention-days", 0, "days to keep system-log events; 0 keeps them forever")
	fs.DurationVar(&cfg.MaintenanceInterval, "maintenance-interval", time.Minute,
		"how often expired tokens are recorded and old system-log events pruned")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cfg.ReauthWindow <= 0 {
		return fmt.Errorf("--reauth-window must be positive, like 5m or 30s")
	}
	if cfg.SessionTTL <= 0 {
		return fmt.Errorf("--session-ttl must be positive, like 12h")
	}
	if cfg.VerifyCache < 1 {
		return fmt.Errorf("--verify-cache %d: must be at least 1, like 100000", cfg.VerifyCache)
	}
	if cfg.MaintenanceInterval < time.Second {
		return fmt.Errorf("--maintenance-interval %v: use at least 1s, like 1m", cfg.MaintenanceInterval)
	}
	if *gcFloor < 0 {
		return fmt.Errorf("--gc-floor-mb %d: use 0 (Go's default) or a size in MB, like 64", *gcFloor)
	}
	if *retention < 0 {
		return fmt.Errorf("--log-retention-days %d: use 0 (keep forever) or a number of days", *retention)
	}
	cfg.LogRetention = time.Duration(*retention) * 24 * time.Hour
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	cfg.Log = log
	if *trusted != "" {
		var entries []string
		for _, e := range strings.Split(*trusted, ",") {
			if e = strings.TrimSpace(e); e != "" {
				entries = append(entries, e)
			}
		}
		if cfg.TrustedProxies, err = keysmith.ParseProxies("--trusted-proxies", entries); err != nil {
			return fmt.Errorf("%s", keysmith.ErrorMessage(err))
		}
	}

	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	// The first start on an empty database creates the first admin. A
	// database with users answers Conflict and nothing is changed.
	u, _, secret, err := a.Service.Bootstrap(ctx, "admin@localhost")
	switch keysmith.ErrorCode(err) {
	case "":
		log.Info("created the first super admin", "user_id", u.ID, "email", u.Email)
		_, code, err := a.Service.CreateSetupCode(ctx, u.ID)
		if err != nil {
			return fmt.Errorf("create the setup code: %w", err)
		}
		printFirstToken(stdout, u.Email, secret, code, "http://"+cfg.Addr)
	case keysmith.CodeConflict:
	default:
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server running there? choose another with --addr)", cfg.Addr, err)
	}
	if *gcFloor > 0 && os.Getenv("GOGC") == "" {
		// The hot path allocates a little per request; on a small heap
		// that meant a collection every few MB (internal/heapfloor).
		go heapfloor.Run(ctx, uint64(*gcFloor)<<20, time.Second)
	}
	return a.Serve(ctx, ln)
}

// printFirstToken shows the first admin's token on the terminal, never in the
// structured log, which may be shipped elsewhere.
func printFirstToken(w io.Writer, email string, secret, setupCode keysmith.Secret, url string) {
	fmt.Fprintf(w, `
Keysmith created the first super admin, %s.

To sign in to the console, open %s/setup and paste this one-time setup code
(valid for an hour) to choose a password:

    %s

An API token for scripts; it is shown once and stored only as a hash: save it now.

    %s

Try it:
    curl -s -H "Authorization: Bearer %s" %s/v1/tokens

`, email, url, setupCode.Reveal(), secret.Reveal(), secret.Reveal(), url)
}

func initCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("init", stderr)
	dsn := fs.String("db", app.DefaultDB, "SQLite file path or postgres:// URL")
	email := fs.String("email", "", "e-mail address of the first super admin (required)")
	asJSON := fs.Bool("json", false, "print {\"user_id\", \"token\"} as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" {
		fmt.Fprintln(stderr, "keysmith init: --email is required")
		return errUsage
	}
	log, _ := newLogger(stderr, "text", "warn")
	// Only the store: making the first admin needs no signing keys, so init
	// works before the master key is set up.
	db, err := store.Open(ctx, *dsn, store.Options{Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	svc := &keysmith.Service{Store: db, Now: keysmith.SystemClock}
	u, _, secret, err := svc.Bootstrap(ctx, *email)
	if err != nil {
		if keysmith.ErrorCode(err) == keysmith.CodeConflict {
			return fmt.Errorf("%s has users already; nothing was changed. Sign in with an existing admin token instead", *dsn)
		}
		return fmt.Errorf("%s", keysmith.ErrorMessage(err))
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{"user_id": u.ID, "token": secret.Reveal()})
	}
	fmt.Fprintf(stdout, "Created super admin %s (%s).\nAPI token (shown once, save it now):\n\n    %s\n\n", u.Email, u.ID, secret.Reveal())
	return nil
}
