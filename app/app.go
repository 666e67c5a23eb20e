// Package app wires Keysmith together: it opens the store, builds the
// verifier, the domain service and the HTTP server from a Config, and runs
// them until asked to stop. cmd/keysmith only turns flags into a Config, and
// end-to-end tests use this same wiring.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/httpapi"
	"github.com/keysmith/keysmith/keymanager"
	"github.com/keysmith/keysmith/memlimit"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/password"
	"github.com/keysmith/keysmith/ratelimit"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/verify"
	"github.com/keysmith/keysmith/web"
)

// Config is everything that can be set about a Keysmith server. The zero
// value of each field means its default.
type Config struct {
	Addr string // listen address; default 127.0.0.1:8080
	DB   string // SQLite file path or postgres:// URL; default keysmith.db

	// Redis, a redis:// URL, keeps rate-limit counters in Redis so that
	// limits hold across replicas; empty: in process.
	Redis string
	// RedisPrefix starts every Redis key, so that deployments sharing a
	// Redis database keep apart; default DefaultRedisPrefix.
	RedisPrefix string
	// TrustedProxies are proxies whose X-Forwarded-For is believed, besides
	// the proxies listed in network zones.
	TrustedProxies []netip.Prefix

	// UsageFlushInterval is how often batched last-use records are written.
	UsageFlushInterval time.Duration // default 1 s
	// TokenIdleTTL is how long a token lives unused unless it was created
	// with its own idle_ttl; every use renews it.
	TokenIdleTTL time.Duration // default keysmith.DefaultIdleTTL (30 days)
	// ShutdownTimeout bounds how long in-flight requests may take to finish.
	ShutdownTimeout time.Duration // default 30 s
	// LogRetention is how long system-log events are kept; 0 keeps them
	// forever. See logs.go.
	LogRetention time.Duration
	// ChangeListenerCheck is how long the PostgreSQL change listener's
	// connection may stay quiet before a heartbeat notice is sent (and how
	// long it may take to be heard on that connection); one not heard
	// reconnects it and drops every cache.
	ChangeListenerCheck time.Duration // default store.DefaultListenerCheck (15 s)
	// VerifyCache bounds the token entries (one per secret) and, apart,
	// the owners that the verifier keeps in memory; see package verify.
	VerifyCache int // default verify.DefaultCacheSize (100 000)
	// ForwardAuthHeader names a header carrying the credential at
	// /v1/forward-auth besides Authorization: Bearer (X-API-Key, say).
	ForwardAuthHeader string
	// MetricsAddr, when set, is the address of a second listener that
	// serves Prometheus metrics at /metrics and nothing else (see
	// metrics.go); empty: no metrics are kept.
	MetricsAddr string
	// MaintenanceInterval is how often the system log is pruned, token
	// expiries are recorded and expired access tokens deleted.
	MaintenanceInterval time.Duration // default 1 min

	// Issuer is the public URL of the server, the iss of access tokens. It
	// is stored in the database and replaces the stored one; empty: the
	// stored one, or on first start "http://" + Addr (see oauth.go).
	Issuer string
	// ReadIssuerOnly uses the stored issuer and stores none, for commands
	// that issue no access tokens, so that they do not decide the issuer
	// before the first serve.
	ReadIssuerOnly bool
	// MasterKey (base64 of 32 bytes) seals the private signing keys. Empty:
	// a key file beside the SQLite database; required with PostgreSQL.
	MasterKey string
	// SigningAlg is the algorithm of new signing keys: ES256 (default),
	// EdDSA or RS256.
	SigningAlg string
	// KeyRotation is the age at which the signing key is replaced; default
	// 90 days, negative for never.
	KeyRotation time.Duration
	// MaxClientSecrets caps the secrets per OAuth client; default 5.
	MaxClientSecrets int
	// Password is argon2id's cost; zero fields take password.Default.
	Password password.Params
	// PasswordWait is how long a password hash waits for one of the
	// GOMAXPROCS-1 hashing slots before the request is answered 429;
	// default password.DefaultMaxWait (1 s).
	PasswordWait time.Duration
	// SessionTTL is how long a browser session lasts.
	SessionTTL time.Duration // default keysmith.DefaultSessionTTL
	// ReauthWindow is how recently a browser session must have proved its
	// password to create, rotate or reset a secret.
	ReauthWindow time.Duration // default keysmith.DefaultReauthWindow
	// AllowInsecureKeyManagers lets Keysmith call external key managers
	// over plain http, and only at loopback addresses: for tests and local
	// development (--allow-insecure-key-managers).
	AllowInsecureKeyManagers bool

	Now keysmith.Clock // default keysmith.SystemClock
	Log *slog.Logger   // default slog.Default()
}

// Defaults for Config.
const (
	DefaultAddr = "127.0.0.1:8080"
	DefaultDB   = "keysmith.db"
	// DefaultRedisPrefix starts Redis keys unless Config.RedisPrefix is set.
	DefaultRedisPrefix = "keysmith:rl:"
)

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.DB == "" {
		c.DB = DefaultDB
	}
	if c.UsageFlushInterval == 0 {
		c.UsageFlushInterval = time.Second
	}
	if c.TokenIdleTTL == 0 {
		c.TokenIdleTTL = keysmith.DefaultIdleTTL
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.MaintenanceInterval == 0 {
		c.MaintenanceInterval = time.Minute
	}
	if c.Now == nil {
		c.Now = keysmith.SystemClock
	}
	if c.KeyRotation == 0 {
		c.KeyRotation = DefaultKeyRotation
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// App is a wired Keysmith server.
type App struct {
	Config   Config
	Store    *store.DB
	Verifier *verify.Verifier
	OAuth    *oauth.Authority
	Service  *keysmith.Service
	HTTP     *httpapi.Server
	// KeyManagerHTTP makes every outbound call to external key managers
	// (registration, discovery, and the verification of their tokens).
	KeyManagerHTTP *keymanager.HTTP

	closeLimiter func()
	// metricsLn listens on Config.MetricsAddr; nil without it.
	metricsLn net.Listener
	metrics   http.Handler
}

// Open connects to the database (migrating it) and wires the parts.
func Open(ctx context.Context, cfg Config) (*App, error) {
	cfg.setDefaults()
	if err := keysmith.ValidateIdleTTL(cfg.TokenIdleTTL); err != nil {
		return nil, fmt.Errorf("token idle TTL %s: must be between %s and %s", cfg.TokenIdleTTL, keysmith.MinIdleTTL, keysmith.MaxIdleTTL)
	}
	if err := checkIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DB, store.Options{Now: cfg.Now, Logger: cfg.Log, ListenerCheck: cfg.ChangeListenerCheck})
	if err != nil {
		return nil, err
	}
	// Once per database: clients made before scopes were registered may
	// name scopes that are no longer issued; the system log says which.
	if n, err := db.RecordUnregisteredScopes(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("record unregistered client scopes: %w", err)
	} else if n > 0 {
		cfg.Log.Warn("OAuth clients name scopes that no API registers; those scopes are no longer issued (see oauth_client.scopes_unregistered in the system log)",
			"clients", n)
	}
	limiter, status, closeLimiter, err := openLimiter(ctx, cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	var refused *ratelimit.Counted
	if cfg.MetricsAddr != "" {
		refused = countRefusals(limiter)
		limiter = refused
	}
	v := verify.New(db, verify.Options{Now: cfg.Now, Log: cfg.Log, Limiter: limiter, TrustedProxies: cfg.TrustedProxies,
		CacheSize: cfg.VerifyCache})
	hasher := password.New(cfg.Password)
	hasher.MaxWait = cfg.PasswordWait
	svc := &keysmith.Service{Store: db, Now: cfg.Now, Usage: v, IdleTTL: cfg.TokenIdleTTL,
		MaxClientSecrets: cfg.MaxClientSecrets,
		Passwords:        hasher,
		AccountLimiter:   memlimit.New(memlimit.Account),
		SessionTTL:       cfg.SessionTTL,
		ReauthWindow:     cfg.ReauthWindow,
	}
	kmHTTP := keymanager.NewHTTP(keymanager.Options{AllowInsecure: cfg.AllowInsecureKeyManagers})
	svc.KeyManagers = &keymanager.Connector{HTTP: kmHTTP}
	oa, masterKey, err := cfg.openOAuth(ctx, db)
	if err != nil {
		if closeLimiter != nil {
			closeLimiter()
		}
		db.Close()
		return nil, err
	}
	svc.Sealer, svc.OwnIssuer, svc.SigningKeys = masterKey, oa.Issuer(), oa
	api := &httpapi.Server{Service: svc, Verifier: v, OAuth: oa, Log: cfg.Log, Ready: db.Ping, RateLimitStatus: status,
		ForwardAuthHeader: cfg.ForwardAuthHeader}
	api.External = keymanager.NewVerifier(db, masterKey, kmHTTP, keymanager.VerifierOptions{Now: cfg.Now, Log: cfg.Log,
		Limiter: limiter, Limits: v.Limits, Issuer: oa.Issuer()})
	pages, err := web.New(svc, api, cfg.Log)
	if err != nil {
		if closeLimiter != nil {
			closeLimiter()
		}
		db.Close()
		return nil, fmt.Errorf("console templates: %w", err)
	}
	pages.OAuth = oa
	api.Pages = pages.Handler()
	a := &App{
		Config:         cfg,
		Store:          db,
		Verifier:       v,
		OAuth:          oa,
		Service:        svc,
		HTTP:           api,
		closeLimiter:   closeLimiter,
		KeyManagerHTTP: kmHTTP,
	}
	if cfg.MetricsAddr != "" {
		if err := a.openMetrics(refused); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// Close closes the database and the rate limiter's connections. Call it
// after Serve has returned.
func (a *App) Close() error {
	if a.metricsLn != nil {
		a.metricsLn.Close() // already closed if Serve ran
	}
	if a.closeLimiter != nil {
		a.closeLimiter()
	}
	return a.Store.Close()
}

// Serve answers HTTP on ln until ctx ends. Then it stops accepting, lets
// in-flight requests finish (up to ShutdownTimeout), writes the pending
// last-use records, and returns nil.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.HTTP.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Config.Log.Handler(), slog.LevelWarn),
	}
	flushCtx, stopFlush := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.Verifier.Run(flushCtx, a.Config.UsageFlushInterval) })
	wg.Go(func() { a.maintainEvery(flushCtx, a.Config.MaintenanceInterval) })
	wg.Go(func() { a.OAuth.Run(flushCtx, time.Minute) })

	stopMetrics := a.serveMetrics()
	defer stopMetrics()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	a.Config.Log.Info("keysmith listening", "addr", "http://"+ln.Addr().String(), "db", a.Store.Engine(), "issuer", a.OAuth.Issuer())

	var err error
	select {
	case err = <-serveErr:
	case <-ctx.Done():
		a.Config.Log.Info("shutting down: draining in-flight requests")
		sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
		if e := <-serveErr; !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
	}
	stopFlush() // the flusher writes what is pending, then returns
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	a.Config.Log.Info("stopped")
	return nil
}
