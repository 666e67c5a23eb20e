package httpapi

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/verify"
)

// Forward auth is the contract of nginx auth_request, Traefik ForwardAuth,
// Caddy forward_auth and Envoy ext_authz (HTTP): the gateway sends the
// client's request headers (any method, no body) and lets the request
// through on a 2xx, passing on the identity headers of the answer; any
// other status is the client's answer.

// The headers a gateway may set per route to require more than validity.
const (
	headerRequireScope       = "X-Keysmith-Require-Scope"
	headerRequirePermissions = "X-Keysmith-Require-Permissions"
	headerRequireEnvironment = "X-Keysmith-Require-Environment"
)

func (s *Server) forwardAuthRoutes(mux routes) {
	mux.Handle("/v1/forward-auth", s.gateway(s.forwardAuth))
	// Envoy's ext_authz appends the original path to its path_prefix.
	mux.Handle("/v1/forward-auth/", s.gateway(s.forwardAuth))
}

// forwardAuth answers whether the credential a request carries (Bearer, or
// the header named by ForwardAuthHeader) is valid and meets the route's
// requirement: 200 with identity headers, 401 for a missing or bad
// credential, 403 for a refusal by scope, permission, environment or
// network zone, 429 past the rate limit. The client address is the one the
// trusted-proxy rules find, as for verify.
func (s *Server) forwardAuth(w http.ResponseWriter, r *http.Request, addr netip.Addr) error {
	var q url.Values // nil unless there is a query: parsing none allocates
	if r.URL.RawQuery != "" {
		q = r.URL.Query()
	}
	scope := firstOf(q.Get("scope"), header(r.Header, headerRequireScope))
	var perms *string
	if p := firstOf(q.Get("permissions"), header(r.Header, headerRequirePermissions)); p != "" {
		perms = &p
	}
	var scopes []string // nil: no scope required
	if scope != "" {
		scopes = strings.Fields(scope)
	}
	need, err := s.Verifier.ParseRequirement(scopes, perms,
		firstOf(q.Get("environment"), header(r.Header, headerRequireEnvironment)))
	if err != nil {
		return err
	}
	w.Header()["Cache-Control"] = noStore
	raw := s.forwardedCredential(r)
	if raw == "" {
		s.countGateway(EndpointForwardAuth, string(verify.NotFound), CredentialNone)
		return forwardRefusal(w, verify.NotFound)
	}
	if s.OAuth != nil && oauth.LooksLikeAccessToken(raw) {
		return s.forwardAccessToken(w, r, raw, &need, addr)
	}
	res, err := s.Verifier.CheckFrom(r.Context(), raw, addr, addr, keysmith.GroupVerified)
	if err != nil {
		return err
	}
	if res.Token == nil && s.asksExternal(string(res.Code), raw) {
		if done, err := s.forwardExternal(w, r, raw, &need, addr); done || err != nil {
			return err
		}
	}
	if rl := res.RateLimit; rl != nil {
		setRateLimitHeaders(w, *rl)
	}
	code := res.Code
	if t := res.Token; t != nil && code == verify.Valid && !need.IsZero() {
		code, _ = need.Check(t.Scopes, t.Environment)
	}
	if s.Metrics != nil {
		s.Metrics.Gateway(EndpointForwardAuth, string(code), credentialKind(res.Token, raw))
	}
	if code != verify.Valid {
		return forwardRefusal(w, code)
	}
	t, h := res.Token, w.Header()
	setIf(h, headerCredentialID, t.ID)
	kind := kindAPIToken
	if t.Type == keysmith.TokenAppKey {
		kind = kindAppKey
	}
	h[headerCredentialKind] = kind
	setIf(h, headerOwnerID, t.OwnerID)
	setIf(h, headerAppID, t.AppID)
	setIf(h, headerEnvironment, string(t.Environment))
	h[headerScopes] = []string{strings.Join(t.Scopes, " ")}
	w.WriteHeader(http.StatusOK)
	return nil
}

// The identity headers of an admitted request, in canonical form (see
// setIf), and the kinds' values, shared by every answer.
const (
	headerCredentialID   = "X-Keysmith-Credential-Id"
	headerCredentialKind = "X-Keysmith-Credential-Kind"
	headerOwnerID        = "X-Keysmith-Owner-Id"
	headerAppID          = "X-Keysmith-App-Id"
	headerEnvironment    = "X-Keysmith-Environment"
	headerScopes         = "X-Keysmith-Scopes"
	headerClientID       = "X-Keysmith-Client-Id"
)

var (
	kindAPIToken    = []string{string(keysmith.CredentialAPIToken)}
	kindAppKey      = []string{string(keysmith.CredentialAppKey)}
	kindAccessToken = []string{string(keysmith.CredentialAccessToken)}
)

// forwardAccessToken is forwardAuth for an OAuth access token.
func (s *Server) forwardAccessToken(w http.ResponseWriter, r *http.Request, raw string, need *verify.Requirement, addr netip.Addr) error {
	ch, err := s.OAuth.CheckAccessToken(r.Context(), raw)
	if err != nil {
		return err
	}
	if ch.Token == nil && s.asksExternal(string(ch.Status), raw) {
		if done, err := s.forwardExternal(w, r, raw, need, addr); done || err != nil {
			return err
		}
	}
	if ch.Status != oauth.Active {
		s.countGateway(EndpointForwardAuth, string(ch.Status), keysmith.CredentialAccessToken)
		return forwardRefusal(w, verify.NotFound)
	}
	t := ch.Token
	scopes := strings.Fields(t.Scope)
	if !need.IsZero() {
		if code, _ := need.Check(scopes, t.Environment); code != verify.Valid {
			s.countGateway(EndpointForwardAuth, string(code), keysmith.CredentialAccessToken)
			return forwardRefusal(w, code)
		}
	}
	s.countGateway(EndpointForwardAuth, string(verify.Valid), keysmith.CredentialAccessToken)
	h := w.Header()
	setIf(h, headerCredentialID, t.ID)
	h[headerCredentialKind] = kindAccessToken
	setIf(h, headerClientID, t.ClientID)
	setIf(h, headerOwnerID, t.UserID) // the person it acts for
	setIf(h, headerAppID, t.AppID)
	setIf(h, headerEnvironment, string(t.Environment))
	h[headerScopes] = []string{t.Scope}
	w.WriteHeader(http.StatusOK)
	return nil
}

// forwardedCredential is the credential of a forwarded request: the header
// ForwardAuthHeader names when set and present, else a Bearer token.
func (s *Server) forwardedCredential(r *http.Request) string {
	if s.ForwardAuthHeader != "" {
		if v := strings.TrimSpace(r.Header.Get(s.ForwardAuthHeader)); v != "" {
			return v
		}
	}
	raw, _ := bearer(r)
	return raw
}

// forwardRefusal writes the answer for a credential that may not pass.
func forwardRefusal(w http.ResponseWriter, code verify.Code) error {
	switch code {
	case verify.RateLimited:
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "rate_limited"})
	case verify.InsufficientPermissions, verify.WrongEnvironment:
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden"})
	case verify.IPForbidden:
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden"})
	default:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
	}
	return nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// setIf sets header k, which must be in canonical form (as
// textproto.CanonicalMIMEHeaderKey writes it; TestForwardAuthHeadersAreCanonical),
// to v unless v is empty.
func setIf(h http.Header, k, v string) {
	if v != "" {
		h[k] = []string{v}
	}
}
