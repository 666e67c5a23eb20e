// Package httpapi is Keysmith's HTTP surface: routes, middleware, request
// decoding and the mapping of domain errors to responses. Handlers are thin:
// decode, call the domain service (or the verifier), encode.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
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
	// Metrics, when set, counts the gateway endpoints' answers and times
	// every request (see Metrics); nil: nothing is measured.
	Metrics Metrics
}

// handler is an endpoint that returns its error instead of writing it, so
// that error writing and logging happen in one place.
type handler func(w http.ResponseWriter, r *http.Request) error

// authedHandler is an endpoint that needs an authenticated caller.
type authedHandler func(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error

// Handler returns the routes, wrapped in the common middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /readyz", s.handle(s.readyz))

	// Each resource registers its own routes, in its own file.
	s.tokenRoutes(mux)
	s.logRoutes(mux)
	s.appRoutes(mux)
	s.appKeyRoutes(mux)
	s.clientRoutes(mux)
	s.oauthRoutes(mux)
	s.userRoutes(mux)
	s.groupRoutes(mux)
	s.sessionRoutes(mux)
	s.zoneRoutes(mux)
	s.apiRoutes(mux)
	s.settingsRoutes(mux)
	s.agentRoutes(mux)
	s.consentRoutes(mux)
	s.browserRoutes(mux)

	notFound := s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return keysmith.Errorf(keysmith.CodeNotFound, "no endpoint %s %s; see the README for the API", truncateString(r.Method, maxLoggedLen), truncateString(r.URL.Path, maxLoggedLen))
	})
	mux.Handle("/v1/", notFound)
	if s.Pages != nil {
		mux.Handle("/", s.Pages)
	} else {
		mux.Handle("/", notFound)
	}
	full := s.middleware(mux)

	// The gateway endpoints, called once per request to the customer's
	// API, skip the general middleware (see gateway).
	gw := http.NewServeMux()
	s.verifyRoutes(gw)
	s.forwardAuthRoutes(gw)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isGatewayRequest(r) {
			gw.ServeHTTP(w, r)
			return
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
