package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
)

// The console's pages (package web) authenticate browsers through these
// methods, so that a page and an endpoint apply one rule: the same cookie,
// the same unknown-session budget, the same per-user rate limits, the same
// sign-in limits per address and per account.

// browserRoutes hands the pages that discovery advertises under /v1/ (the
// authorization and end-session endpoints, package web) to the console;
// without it they answer 404 like any unknown API path.
func (s *Server) browserRoutes(mux routes) {
	if s.Pages == nil {
		return
	}
	for _, p := range []string{"/v1/oauth/authorize", "/v1/oauth/logout"} {
		mux.Handle("GET "+p, s.Pages)
		mux.Handle("POST "+p, s.Pages)
	}
}

// BrowserSession authenticates r's session cookie as authenticate does for
// the API, without looking at an Authorization header: pages are for
// browsers. It returns the principal and the cookie's secret, from which the
// page derives its CSRF token. A request that could change something must
// not be cross-origin (CodeForbidden).
func (s *Server) BrowserSession(w http.ResponseWriter, r *http.Request) (keysmith.Principal, string, error) {
	name, _ := s.sessionCookieName(r)
	c, err := r.Cookie(name)
	if err != nil {
		return keysmith.Principal{}, "", keysmith.Errorf(keysmith.CodeUnauthorized, "sign in to continue")
	}
	p, err := s.sessionPrincipal(w, r, c.Value)
	if err != nil {
		return p, "", err
	}
	if err := crossOrigin.Check(r); err != nil {
		return keysmith.Principal{}, "", keysmith.Errorf(keysmith.CodeForbidden,
			"cross-origin request refused: forms are only accepted from Keysmith's own pages")
	}
	if err := s.countSessionIn(w, r, p.User, pageGroupOf(r.URL.Path)); err != nil {
		return keysmith.Principal{}, "", err
	}
	return p, c.Value, nil
}

// pageGroupOf is the rate-limit group a console page counts against: the
// group of the API its page reads, so a page costs its user what the same
// reads through the API would. Every page counts somewhere.
func pageGroupOf(path string) keysmith.APIGroup {
	seg, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	switch seg {
	case "", "tokens":
		return keysmith.GroupTokens
	case "logs":
		return keysmith.GroupLogs
	case "zones", "trusted-origins":
		return keysmith.GroupZones
	case "rate-limits":
		return keysmith.GroupSettings
	case "agents":
		return keysmith.GroupAgents
	case "apps", "clients", "apis", "keys":
		return keysmith.GroupApps
	case "developer", "authorized-apps", "v1": // v1: the authorization and logout pages
		return keysmith.GroupOAuth
	}
	return keysmith.GroupUsers // users, groups, sessions, and any other page
}

// SignInBrowser checks an e-mail and password under the sign-in limits (per
// source address here, per account in the service) and, on success, sets the
// session cookie on w. A cross-origin attempt is refused (CodeForbidden), so
// that no other site can sign a browser into an account of its choosing.
func (s *Server) SignInBrowser(w http.ResponseWriter, r *http.Request, email, password string) (*keysmith.User, error) {
	if err := crossOrigin.Check(r); err != nil {
		return nil, keysmith.Errorf(keysmith.CodeForbidden, "cross-origin sign-in refused")
	}
	att, err := s.reserveAttempt(w, r, keysmith.GroupFailedSignIns)
	if err != nil {
		return nil, err
	}
	u, sess, secret, err := s.Service.SignIn(r.Context(), keysmith.SignInInput{
		Email: email, Password: password, ClientIP: ipString(clientAddr(r.Context())), UserAgent: userAgent(r)})
	att.settle(keysmith.ErrorCode(err) == keysmith.CodeUnauthorized)
	if err != nil {
		return nil, err
	}
	s.setSessionCookie(w, r, sess, secret)
	return u, nil
}

// RedeemSetupCode sets a password with a setup code, under the same
// per-address budget of failures as sign-in: a wrong code counts as a wrong
// password.
func (s *Server) RedeemSetupCode(w http.ResponseWriter, r *http.Request, code, password string) (*keysmith.User, error) {
	if err := crossOrigin.Check(r); err != nil {
		return nil, keysmith.Errorf(keysmith.CodeForbidden, "cross-origin request refused")
	}
	att, err := s.reserveAttempt(w, r, keysmith.GroupFailedSignIns)
	if err != nil {
		return nil, err
	}
	u, err := s.Service.RedeemSetupCode(r.Context(), code, password)
	att.settle(keysmith.ErrorCode(err) == keysmith.CodeUnauthorized)
	return u, err
}

// Denied records a page's refusal (CodeForbidden) in the system log as the
// API records its own, within the same budget of refusals: past it the
// answer is 429 and nothing more is recorded.
func (s *Server) Denied(w http.ResponseWriter, r *http.Request, p keysmith.Principal, refusal error) error {
	return s.denied(w, r, p, refusal)
}

// Reauthenticate renews a session's password proof under the sign-in limits
// (per source address here, per account in the service): a wrong password
// counts as a failed sign-in.
func (s *Server) Reauthenticate(w http.ResponseWriter, r *http.Request, p keysmith.Principal, password string) (time.Time, error) {
	att, err := s.reserveAttempt(w, r, keysmith.GroupFailedSignIns)
	if err != nil {
		return time.Time{}, err
	}
	until, err := s.Service.Reauthenticate(r.Context(), p, password)
	att.settle(keysmith.ErrorCode(err) == keysmith.CodeUnauthorized)
	return until, err
}

// IssueClientToken authenticates an OAuth client by a pasted secret and
// issues it an access token, for the console's "Generate access token"
// page, under the token endpoint's own limits: a wrong secret spends the
// source address's failed_client_auth budget, and the token counts against
// the client's token_issuance limit. A validity, when given, may only
// shorten the client's own (a client whose tokens never expire takes any).
func (s *Server) IssueClientToken(w http.ResponseWriter, r *http.Request, clientID, secret, scope string, validity *time.Duration) (*oauth.Issued, error) {
	c, err := s.authenticateClient(w, r, clientID, secret)
	if err != nil {
		return nil, err
	}
	if validity != nil {
		if c.TokenTTL >= 0 && (*validity < 0 || *validity > c.TokenTTL) {
			return nil, keysmith.Errorf(keysmith.CodeInvalid, "validity may be at most the client's own, %d seconds; change the client's settings for longer", int64(c.TokenTTL/time.Second))
		}
		if *validity == 0 {
			return nil, keysmith.Errorf(keysmith.CodeInvalid, "validity must not be 0 seconds")
		}
		shorter := *c
		shorter.TokenTTL = *validity
		c = &shorter
	}
	if err := s.countIssuance(w, r, c.ID); err != nil {
		return nil, err
	}
	return s.OAuth.IssueClientCredentials(r.Context(), c, scope)
}

// ClearSessionCookie tells the browser to forget its session cookie.
func (s *Server) ClearSessionCookie(w http.ResponseWriter, r *http.Request) {
	name, secure := s.sessionCookieName(r)
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}

// setSessionCookie sets a new session's cookie: HttpOnly, SameSite=Lax,
// Secure (and __Host-) over HTTPS, lasting as long as the session.
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, sess *keysmith.Session, secret keysmith.Secret) {
	name, secure := s.sessionCookieName(r)
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: secret.Reveal(), Path: "/",
		Expires: sess.ExpiresAt, MaxAge: int(sess.ExpiresAt.Sub(sess.CreatedAt).Seconds()),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
}
