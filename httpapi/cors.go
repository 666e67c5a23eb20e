package httpapi

import (
	"net/http"
	"strings"

	"github.com/keysmith/keysmith"
)

// Cross-Origin Resource Sharing for the trusted origins (keysmith.TrustedOrigin).
//
// A request from a listed origin to the JSON API or the OAuth endpoints
// gets Access-Control-Allow-Origin naming that origin (never "*") and Vary:
// Origin; a preflight (OPTIONS with Access-Control-Request-Method) from one
// is answered here with 204. An unlisted origin gets no CORS header at all,
// so its browser keeps the answer from the page. Access-Control-Allow-
// Credentials is never sent: a browser then neither sends cookies along
// with a cross-origin fetch that asks to nor shows the page the answer of
// one that carried them, so the session cookie stays same-origin (and
// cookie-authenticated changes keep their own check, see authenticate). A
// listed page calls with a Bearer token or client credentials it holds.
//
// Not covered: the console's pages, the authorization and logout pages
// (browsers navigate to them; their redirects follow the clients'
// registered URIs), and forward auth, which a proxy calls for each request
// to its upstream and whose 2xx means "let the request through": a
// preflight must never be answered there, or a proxy that forwards OPTIONS
// would let it pass without a credential.

// The CORS answer headers, one shared slice each (headers are only set,
// never edited in place). The allowed request headers are those the API
// reads; the exposed ones are those a client needs: the rate-limit state,
// the request id, why a credential was refused, where a new record is.
var (
	corsAllowMethods = []string{"GET, POST, PUT, PATCH, DELETE"}
	corsAllowHeaders = []string{"Authorization, Content-Type, X-Request-Id"}
	corsExpose       = []string{"RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, X-Request-Id, WWW-Authenticate, Location"}
	corsMaxAge       = []string{"600"} // seconds; a deleted origin's cached preflight still finds no Allow-Origin on the answer
	varyOrigin       = []string{"Origin"}
)

// corsPath reports whether requests to path may be cross-origin: the JSON
// API and the OAuth token, introspection, revocation and userinfo
// endpoints, all under /v1/, but not the pages under it nor forward auth.
func corsPath(path string) bool {
	if !strings.HasPrefix(path, "/v1/") {
		return false
	}
	switch {
	case path == "/v1/oauth/authorize", path == "/v1/oauth/logout",
		path == "/v1/forward-auth", strings.HasPrefix(path, "/v1/forward-auth/"):
		return false
	}
	return true
}

// trustsOrigin reports whether origin is a trusted origin, from the
// verifier's memory. A store that cannot be read trusts none: the answer
// then lacks CORS headers, and the browser refuses it.
func (s *Server) trustsOrigin(r *http.Request, origin string) bool {
	if s.Verifier == nil || len(origin) > keysmith.MaxOriginLen {
		return false
	}
	ok, err := s.Verifier.TrustsOrigin(r.Context(), origin)
	if err != nil {
		s.Log.WarnContext(r.Context(), "cannot read the trusted origins; answering without CORS headers", "err", err)
		return false
	}
	return ok
}

// cors answers preflights from trusted origins and marks the answers to
// their requests readable (see above). A request without an Origin header
// costs one map lookup.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := header(r.Header, "Origin")
		if origin == "" || !corsPath(r.URL.Path) || !s.trustsOrigin(r, origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h["Access-Control-Allow-Origin"] = []string{origin}
		h["Vary"] = varyOrigin
		if r.Method == http.MethodOptions && header(r.Header, "Access-Control-Request-Method") != "" {
			h["Access-Control-Allow-Methods"] = corsAllowMethods
			h["Access-Control-Allow-Headers"] = corsAllowHeaders
			h["Access-Control-Max-Age"] = corsMaxAge
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h["Access-Control-Expose-Headers"] = corsExpose
		next.ServeHTTP(w, r)
	})
}

// corsGateway marks verify's answer to a trusted origin readable. Only
// called for a gateway request with an Origin header, so the others pay
// nothing; forward auth is left alone (see corsPath).
func (s *Server) corsGateway(w http.ResponseWriter, r *http.Request) {
	origin := header(r.Header, "Origin")
	if r.URL.Path != "/v1/verify" || !s.trustsOrigin(r, origin) {
		return
	}
	h := w.Header()
	h["Access-Control-Allow-Origin"] = []string{origin}
	h["Vary"] = varyOrigin
	h["Access-Control-Expose-Headers"] = corsExpose
}
