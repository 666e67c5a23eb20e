// Package httpapi is Keysmith's HTTP surface: routes, middleware, request
// decoding and the mapping of domain errors to responses. Handlers are thin:
// decode, call the domain service (or the verifier), encode.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/verify"
)

// Server holds what the handlers need.
type Server struct {
	Service  *keysmith.Service
	Verifier *verify.Verifier
	OAuth    *oauth.Authority
	// External, when set, checks the tokens of external key managers
	// that Keysmith does not know itself (see External); nil: none.
	External External
	Log      *slog.Logger
	// Ready reports whether the server can serve: nil when the database
	// answers.
	Ready func(ctx context.Context) error
	// RateLimitStatus says where rate-limit counters live, for /readyz: a
	// fixed name ("redis", "in-process") while ok; ok is false while Redis
	// is configured but unreachable, and detail then says why, for the log
	// only. nil: in process.
	RateLimitStatus func() (ok bool, detail string)
	// ForwardAuthHeader names a header that carries the credential at
	// /v1/forward-auth (X-API-Key, say), read before Authorization: Bearer.
	ForwardAuthHeader string
	// Pages, when set, answers every path outside the API (the console);
	// nil: those paths answer a JSON 404 like unknown API paths.
	Pages http.Handler

	// patterns are the patterns Handler registered, in both muxes: what
	// the OpenAPI document is held to.
	patterns []string
	// Metrics, when set, counts the gateway endpoints' answers and times
	// every request (see Metrics); nil: nothing is measured.
	Metrics Metrics
}

// routes is a ServeMux that remembers the patterns registered on it, so
// that a test can hold the OpenAPI document to what is really served.
type routes struct {
	*http.ServeMux
	patterns *[]string
}

// Handle registers h for pattern and remembers pattern.
func (m routes) Handle(pattern string, h http.Handler) {
	*m.patterns = append(*m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// HandleFunc registers h for pattern and remembers pattern.
func (m routes) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// handler is an endpoint that returns its error instead of writing it, so
// that error writing and logging happen in one place.
type handler func(w http.ResponseWriter, r *http.Request) error

// authedHandler is an endpoint that needs an authenticated caller.
type authedHandler func(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error

// Handler returns the routes, wrapped in the common middleware.
func (s *Server) Handler() http.Handler {
	s.patterns = nil
	mux := routes{http.NewServeMux(), &s.patterns}
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /readyz", s.handle(s.readyz))

	// Each resource registers its own routes, in its own file.
	s.tokenRoutes(mux)
	s.logRoutes(mux)
	s.appRoutes(mux)
	s.appKeyRoutes(mux)
	s.clientRoutes(mux)
	s.oauthRoutes(mux)
	s.registrationRoutes(mux)
	s.userRoutes(mux)
	s.groupRoutes(mux)
	s.sessionRoutes(mux)
	s.zoneRoutes(mux)
	s.trustedOriginRoutes(mux)
	s.keyManagerRoutes(mux)
	s.apiRoutes(mux)
	s.settingsRoutes(mux)
	s.signingKeyRoutes(mux)
	s.agentRoutes(mux)
	s.consentRoutes(mux)
	s.browserRoutes(mux)
	s.openAPIRoutes(mux)

	// The gateway endpoints, called once per request to the customer's
	// API, skip the general middleware (see gateway).
	gw := routes{http.NewServeMux(), &s.patterns}
	s.verifyRoutes(gw)
	s.forwardAuthRoutes(gw)

	// A path that no pattern serves for the request's method lands on a
	// catch-all: 405 with Allow when another method serves it (in either
	// mux), 404 when none does.
	notFound := s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if allow := allowedMethods(r, mux.ServeMux, gw.ServeMux); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return &httpError{http.StatusMethodNotAllowed, "method_not_allowed", "method " + truncateString(r.Method, maxLoggedLen) +
				" is not allowed on " + truncateString(r.URL.Path, maxLoggedLen) + "; allowed: " + strings.Join(allow, ", ")}
		}
		return keysmith.Errorf(keysmith.CodeNotFound, "no endpoint %s %s; see the README for the API", truncateString(r.Method, maxLoggedLen), truncateString(r.URL.Path, maxLoggedLen))
	})
	mux.Handle("/v1/", notFound)
	if s.Pages != nil {
		// The console answers every other path, but a wrong method on an
		// API path outside /v1/ (/healthz, /.well-known/...) is still 405.
		mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(allowedMethods(r, mux.ServeMux, gw.ServeMux)) > 0 {
				notFound.ServeHTTP(w, r)
				return
			}
			s.Pages.ServeHTTP(w, r)
		}))
	} else {
		mux.Handle("/", notFound)
	}
	full := s.middleware(s.cors(mux))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isGatewayRequest(r) {
			// What isGatewayRequest took but gw does not match (an
			// escaped path that decodes to one of them) gets the general
			// answers.
			if h, pattern := gw.Handler(r); pattern != "" {
				r.Pattern = pattern // as gw.ServeHTTP would set it (metrics label the route by it)
				if _, ok := r.Header["Origin"]; ok {
					s.corsGateway(w, r)
				}
				h.ServeHTTP(w, r)
				return
			}
		}
		full.ServeHTTP(w, r)
	})
}

// isGatewayRequest reports whether r is for a gateway endpoint: POST
// /v1/verify (other methods get the general answer) or forward auth, any
// method and any path under it.
func isGatewayRequest(r *http.Request) bool {
	p := r.URL.Path
	return p == "/v1/verify" && r.Method == http.MethodPost ||
		p == "/v1/forward-auth" || strings.HasPrefix(p, "/v1/forward-auth/")
}

// probedMethods are the methods allowedMethods tries, in the order Allow
// lists them.
var probedMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

// allowedMethods returns the methods that a pattern of one of muxes serves
// r's path with, other than the catch-alls ("/v1/", "/", which serve every
// path): nil when the path is unknown.
func allowedMethods(r *http.Request, muxes ...*http.ServeMux) []string {
	var allow []string
	probe := &http.Request{URL: &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath}, Host: r.Host, Header: http.Header{}}
	for _, m := range probedMethods {
		probe.Method = m
		for _, mux := range muxes {
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/v1/" && pattern != "/" {
				allow = append(allow, m)
				break
			}
		}
	}
	return allow
}

// handle adapts a handler: it refuses a request whose path values or query
// parameters are not valid text (checkURLText), and writes the returned
// error.
func (s *Server) handle(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := checkURLText(r)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	// The answer holds fixed words only: load balancers probe this from
	// outside, and addresses or driver errors are for the log.
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		s.Log.WarnContext(ctx, "not ready: the database does not answer", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unavailable"})
		return nil
	}
	// Rate limits falling back to this process is degraded, not unready:
	// the replica still answers correctly, only with per-replica counters,
	// and taking every replica out of a load balancer because Redis is down
	// would turn a weaker limit into an outage.
	body := map[string]string{"status": "ok", "database": "ok", "rate_limits": "in-process"}
	if s.RateLimitStatus != nil {
		ok, detail := s.RateLimitStatus()
		body["rate_limits"] = detail
		if !ok {
			s.Log.WarnContext(ctx, "degraded: rate limits are counted in this process", "detail", detail)
			body["status"], body["rate_limits"] = "degraded", "unavailable"
		}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}
