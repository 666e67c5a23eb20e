// Package metrics exports Keysmith's metrics to Prometheus
// (github.com/prometheus/client_golang), the one package that imports it.
// The parts it measures expose plain hooks and counters: httpapi calls
// Metrics per request (with every label combination of the gateway
// endpoints resolved in advance, so that counting allocates nothing), and
// the rest (the verifier's cache, the limiter's refusals, the token
// endpoint, sign-ins, the database pool, the change feed) keep atomic counts
// that a collector reads only when Prometheus scrapes.
package metrics

import (
	"database/sql"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/httpapi"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/verify"
)

// Sources are what the scrape-time collector reads. Every field is
// optional: a nil one exports nothing.
type Sources struct {
	// Cache reads the verifier's cache counters (verify.Verifier.Stats).
	Cache func() verify.Stats
	// DB is the store's connection pool, DBName its engine.
	DB     *sql.DB
	DBName string
	// ChangeFeedFailures counts the times the change listener was lost
	// (store.DB.ChangeListenerFailures).
	ChangeFeedFailures func() uint64
	// RateLimitStatus is httpapi.Server.RateLimitStatus: ok false while
	// Redis is configured but unreachable. Its detail is never exported.
	RateLimitStatus func() (ok bool, detail string)
	// Refused calls f with each rate-limit group's refusals
	// (ratelimit.Counted.Refused).
	Refused func(f func(group string, n uint64))
	// Issued counts access tokens per grant (oauth.Authority.Issued).
	Issued func() [len(oauth.IssuedGrants)]uint64
	// SignInFailures counts failed sign-ins per reason
	// (keysmith.Service.SignInFailures).
	SignInFailures func() [len(keysmith.SignInFailureReasons)]uint64
}

// Metrics is the registry of one server's metrics and the httpapi.Metrics
// it hands the HTTP server.
type Metrics struct {
	reg *prometheus.Registry

	// gateway holds the outcome counters of both gateway endpoints, every
	// code × kind combination resolved when Metrics is made.
	gateway  [2]map[outcome]prometheus.Counter
	other    [2]prometheus.Counter // a code or kind outside the fixed sets
	duration *prometheus.HistogramVec
	// routes maps ServeMux patterns to their histogram, copied on write:
	// a pattern is new only the first time its route answers.
	routes   atomic.Pointer[map[string]prometheus.Observer]
	routesMu sync.Mutex
}

type outcome struct {
	code string
	kind keysmith.CredentialKind
}

// Codes are the outcome codes the gateway endpoints answer: verify's and
// the OAuth statuses (the same words), and the refusals by requirement.
var Codes = []string{
	string(verify.Valid), string(verify.Malformed), string(verify.NotFound), string(verify.Expired),
	string(verify.Revoked), string(verify.Disabled), string(verify.OwnerInactive),
	string(verify.IPForbidden), string(verify.RateLimited), string(verify.InsufficientPermissions),
	string(verify.WrongEnvironment),
}

// Kinds are the credential kinds counted: the known ones, the kinds an
// unknown credential may present itself as, and none.
var Kinds = func() []keysmith.CredentialKind {
	seen := map[keysmith.CredentialKind]bool{}
	var out []keysmith.CredentialKind
	for _, f := range keysmith.CredentialForms {
		if !seen[f.Kind] {
			seen[f.Kind] = true
			out = append(out, f.Kind)
		}
	}
	for _, k := range []keysmith.CredentialKind{keysmith.CredentialAccessToken, keysmith.CredentialJWT, httpapi.CredentialNone} {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}()

// DurationBuckets are the latency histogram's bounds in seconds: from the
// gateway endpoints' tens of microseconds to a password hash's tenths of
// a second.
var DurationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// New registers Keysmith's metrics, the Go runtime's and the process's.
func New(src Sources) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	names := [2]string{"keysmith_verify_total", "keysmith_forward_auth_total"}
	helps := [2]string{
		"Answers of POST /v1/verify by code and credential kind.",
		"Answers of /v1/forward-auth by code and credential kind.",
	}
	for e := range names {
		vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: names[e], Help: helps[e]}, []string{"code", "kind"})
		m.reg.MustRegister(vec)
		m.gateway[e] = make(map[outcome]prometheus.Counter, len(Codes)*len(Kinds))
		for _, c := range Codes {
			for _, k := range Kinds {
				m.gateway[e][outcome{c, k}] = vec.WithLabelValues(c, string(k))
			}
		}
		m.other[e] = vec.WithLabelValues("other", "other")
	}
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keysmith_http_request_duration_seconds",
		Help:    "Time to answer a request, by the route (ServeMux pattern) that answered it; \"none\" when none did.",
		Buckets: DurationBuckets,
	}, []string{"route"})
	m.reg.MustRegister(m.duration)
	m.routes.Store(&map[string]prometheus.Observer{})

	m.reg.MustRegister(&collector{src: src})
	if src.DB != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(src.DB, src.DBName))
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(buildInfo())
	return m
}

// Gateway counts a gateway endpoint's answer: a map lookup and an atomic
// add, no allocation.
func (m *Metrics) Gateway(e httpapi.GatewayEndpoint, code string, kind keysmith.CredentialKind) {
	if int(e) >= len(m.gateway) {
		return
	}
	if c, ok := m.gateway[e][outcome{code, kind}]; ok {
		c.Inc()
		return
	}
	m.other[e].Inc()
}

// Request observes a request's duration under its route.
func (m *Metrics) Request(pattern string, d time.Duration) {
	if pattern == "" {
		pattern = "none"
	}
	o, ok := (*m.routes.Load())[pattern]
	if !ok {
		o = m.route(pattern)
	}
	o.Observe(d.Seconds())
}

// route adds pattern's histogram to routes. Patterns are the server's
// registered routes, a fixed set, so routes stays small.
func (m *Metrics) route(pattern string) prometheus.Observer {
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	old := *m.routes.Load()
	if o, ok := old[pattern]; ok {
		return o
	}
	next := make(map[string]prometheus.Observer, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	o := m.duration.WithLabelValues(pattern)
	next[pattern] = o
	m.routes.Store(&next)
	return o
}

// Handler serves the metrics in Prometheus's formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// buildInfo is keysmith_build_info, 1 with the version and commit as labels.
func buildInfo() prometheus.Collector {
	version, revision, goVersion := "(devel)", "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "keysmith_build_info",
		Help:        "Always 1; the labels say which build of Keysmith runs.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion},
	})
	g.Set(1)
	return g
}

var _ httpapi.Metrics = (*Metrics)(nil)
