package httpapi

// Authentication of API callers, in one place: a Bearer credential first
// (bearer, tokenPrincipal), a session cookie failing that (authenticate),
// and the wrapper every authenticated route goes through (authed).

import (
	"context"
	"net/http"
	"strings"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/verify"
)

// authed authenticates the caller by a Bearer API token or, failing that, a
// session cookie (see authenticate), answering 401 for a missing, malformed,
// unknown, expired or revoked credential or an inactive owner, 403 when a
// token's network policy refuses the client's address, and 429 when a token
// has used its share of the path's rate-limit group (a session, its user's
// share), or the caller its budget of refusals (see denied). The
// principal's user is as they are now: a role change or a deactivation
// applies to the next request.
func (s *Server) authed(h authedHandler) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(w, r)
		if p.User != nil {
			a := keysmith.AuditFrom(r.Context())
			a.Actor = keysmith.UserRef(p.User)
			r = r.WithContext(keysmith.WithAudit(r.Context(), a))
		}
		if err == nil {
			err = h(w, r, p)
		}
		if keysmith.ErrorCode(err) == keysmith.CodeForbidden {
			err = s.denied(w, r, p, err)
		}
		return err
	})
}

// tokenPrincipal authenticates a Bearer API token through the verifier's
// cache, applying its network policy and counting it against its share of the
// path's rate-limit group (whose standing goes into the response headers).
//
// App API keys never authenticate here: one is refused by its form before
// any lookup, and a record that is no API token is refused again after it
// (Token.AuthenticatesToKeysmith).
func (s *Server) tokenPrincipal(w http.ResponseWriter, r *http.Request, raw string) (keysmith.Principal, error) {
	if kind, _ := keysmith.Claims(raw); kind == keysmith.CredentialAppKey {
		return keysmith.Principal{}, errAppKey()
	}
	addr := clientAddr(r.Context())
	res, err := s.Verifier.CheckFrom(r.Context(), raw, addr, addr, groupOf(r.URL.Path))
	if err != nil {
		return keysmith.Principal{}, err
	}
	if res.Token != nil && !res.Token.AuthenticatesToKeysmith() {
		return keysmith.Principal{}, errAppKey()
	}
	if res.RateLimit != nil && (res.Valid() || res.Code == verify.RateLimited) {
		setRateLimitHeaders(w, *res.RateLimit)
	}
	switch res.Code {
	case verify.Valid:
		return keysmith.Principal{User: res.Owner, Token: res.Token}, nil
	case verify.IPForbidden:
		// The principal goes back with the refusal, so that the system log
		// names whose token was used from the wrong network.
		return keysmith.Principal{User: res.Owner, Token: res.Token}, keysmith.Errorf(keysmith.CodeForbidden,
			"the API token's network policy refuses requests from %s; use it from an allowed network or change its policy", ipString(addr))
	case verify.RateLimited:
		return keysmith.Principal{}, rateLimited(*res.RateLimit)
	case verify.Malformed:
		if oauth.LooksLikeAccessToken(raw) {
			return keysmith.Principal{}, keysmith.Errorf(keysmith.CodeUnauthorized, "OAuth access tokens are for your own APIs; Keysmith's API takes an API token (ks_…)")
		}
	}
	return keysmith.Principal{}, keysmith.Errorf(keysmith.CodeUnauthorized, "%s", unauthorizedMessage(res.Code))
}

// errAppKey refuses an app API key presented to Keysmith's own API.
func errAppKey() error {
	return keysmith.Errorf(keysmith.CodeUnauthorized,
		"app API keys (ksk_…) are for your own APIs, which check them with POST /v1/verify; Keysmith's API takes an API token (ks_…)")
}

func unauthorizedMessage(c verify.Code) string {
	switch c {
	case verify.Malformed:
		return "the API token is malformed; check that it was copied whole"
	case verify.Expired:
		return "the API token has expired (past its expiry, or unused for longer than its idle TTL); create a new one"
	case verify.Revoked:
		return "the API token has been revoked"
	case verify.Disabled:
		return "the API token is disabled; its owner or an admin can enable it again"
	case verify.OwnerInactive:
		return "the API token's owner is deactivated"
	}
	return "the API token is not known"
}

// bearer extracts the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(header(r.Header, "Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// authenticate finds the caller: an Authorization header means an API
// token (and only that is tried); otherwise the session cookie. A request
// authenticated by cookie that could change something (any method but GET,
// HEAD, OPTIONS) must not be cross-origin: SameSite=Lax already keeps the
// cookie off cross-site POSTs, and this also covers same-site origins. A
// session's requests count against its user's share of the path's group.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (keysmith.Principal, error) {
	if r.Header.Get("Authorization") != "" {
		raw, ok := bearer(r)
		if !ok {
			return keysmith.Principal{}, keysmith.Errorf(keysmith.CodeUnauthorized, "send an API token as Authorization: Bearer <token>")
		}
		return s.tokenPrincipal(w, r, raw)
	}
	name, _ := s.sessionCookieName(r)
	c, err := r.Cookie(name)
	if err != nil {
		return keysmith.Principal{}, keysmith.Errorf(keysmith.CodeUnauthorized,
			"send an API token as Authorization: Bearer <token>, or sign in with POST /v1/sessions")
	}
	p, err := s.sessionPrincipal(w, r, c.Value)
	if err != nil {
		return p, err
	}
	if err := crossOrigin.Check(r); err != nil {
		return keysmith.Principal{}, keysmith.Errorf(keysmith.CodeForbidden,
			"cross-origin request refused: a session cookie only authenticates requests from Keysmith's own origin")
	}
	if err := s.countSession(w, r, p.User); err != nil {
		return keysmith.Principal{}, err
	}
	return p, nil
}

// sessionPrincipal authenticates a session cookie's secret. A well-formed
// secret costs a database lookup, and anyone can mint them: like unknown
// API tokens, each lookup takes a unit of the source address's
// unknown_tokens budget first, given back when the session exists; past the
// budget the answer is 429 without a lookup.
func (s *Server) sessionPrincipal(w http.ResponseWriter, r *http.Request, raw string) (keysmith.Principal, error) {
	if _, ok := keysmith.ParseSessionSecret(raw); !ok {
		return s.Service.AuthenticateSession(r.Context(), raw) // refused by its form, without a lookup
	}
	pa, limit, err := s.perAddress(r, keysmith.GroupUnknownTokens)
	if err != nil {
		return keysmith.Principal{}, err
	}
	addr := clientAddr(r.Context())
	res, err := pa.Reserve(r.Context(), addr, limit)
	if err != nil {
		return keysmith.Principal{}, err
	}
	if !res.Allowed {
		setRateLimitHeaders(w, res)
		return keysmith.Principal{}, rateLimited(res)
	}
	p, err := s.Service.AuthenticateSession(r.Context(), raw)
	if keysmith.ErrorCode(err) != keysmith.CodeUnauthorized {
		if rerr := pa.Release(context.WithoutCancel(r.Context()), addr, limit); rerr != nil {
			s.Log.WarnContext(r.Context(), "giving back an unknown-session lookup failed", "err", rerr)
		}
	}
	return p, err
}
