package web

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
)

// The browser's side of the authorization code flow (RFC 6749 §4.1) and of
// RP-initiated logout: the authorization endpoint, the consent page and the
// end-session endpoint. They live under /v1/oauth/ because discovery
// advertises them there, but they are pages: a person in a browser, a
// session cookie, CSRF-checked forms.
//
// The order is the safety: the request is checked (client, redirect URI,
// PKCE) before anyone signs in, so that nothing is ever sent to an address
// the client did not register; the person signs in on Keysmith's own page;
// consent is asked unless remembered or the client is first-party.

const (
	authorizePath = "/v1/oauth/authorize"
	logoutPath    = "/v1/oauth/logout"
	// authorizeField carries the authorization request's query through the
	// consent and password forms as one field, so that no parameter the
	// client chose can pose as one of the form's own (decision, csrf_token).
	authorizeField = "authorize_query"
)

func (s *Server) oauthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+authorizePath, s.authorizePage)
	mux.Handle("POST "+authorizePath, s.page(s.authorizeDecision))
	mux.HandleFunc("GET "+logoutPath, s.logoutPage)
	mux.Handle("POST "+logoutPath, s.page(s.logout))
}

// authorizePage is GET /v1/oauth/authorize: check the request, then who is
// signed in, then whether to ask.
func (s *Server) authorizePage(w http.ResponseWriter, r *http.Request) {
	if s.OAuth == nil {
		s.writeError(w, r, nil, keysmith.Errorf(keysmith.CodeNotFound, "This server issues no OAuth tokens."))
		return
	}
	// The request must fit the sign-in page's return address, which is
	// how it survives signing in.
	if len(authorizePath)+1+len(r.URL.RawQuery) > maxNextAuthorize {
		s.authorizeFailed(w, r, nil, &oauth.AuthorizeError{Code: "invalid_request",
			Description: fmt.Sprintf("the request is longer than %d characters", maxNextAuthorize)})
		return
	}
	req, err := s.OAuth.ParseAuthorize(r.Context(), r.URL.Query())
	if err != nil {
		s.authorizeFailed(w, r, nil, err)
		return
	}
	p, secret, err := s.Gate.BrowserSession(w, r)
	if keysmith.ErrorCode(err) == keysmith.CodeUnauthorized {
		if req.HasPrompt("none") {
			toClient(w, r, s.OAuth.ErrorRedirect(req, "login_required", "the person is not signed in to Keysmith"))
			return
		}
		s.Gate.ClearSessionCookie(w, r)
		http.Redirect(w, r, "/sign-in?next="+url.QueryEscape(signInReturn(r.URL.Query())), http.StatusSeeOther)
		return
	}
	if err != nil {
		s.writeError(w, r, nil, err)
		return
	}
	c := &Caller{Principal: p, CSRF: csrfToken(secret)}
	a := keysmith.AuditFrom(r.Context())
	a.Actor = keysmith.UserRef(p.User)
	r = r.WithContext(keysmith.WithAudit(r.Context(), a))
	if err := s.continueAuthorize(w, r, c, req); err != nil {
		s.writeError(w, r, c, err)
	}
}

// signInReturn is where the sign-in page sends the person back to: this
// authorization request, without prompt=login, which signing in just
// satisfied (asking again would ask twice).
func signInReturn(q url.Values) string {
	if pr := q.Get("prompt"); pr != "" {
		var keep []string
		for _, v := range strings.Fields(pr) {
			if v != "login" {
				keep = append(keep, v)
			}
		}
		q = maps.Clone(q)
		if len(keep) == 0 {
			q.Del("prompt")
		} else {
			q.Set("prompt", strings.Join(keep, " "))
		}
	}
	return authorizePath + "?" + q.Encode()
}

// allowSignInRedirect lets the sign-in page's form end at the client when
// it signs in for an authorization request (next), whose redirect URI the
// authority checks again here.
func (s *Server) allowSignInRedirect(w http.ResponseWriter, r *http.Request, next string) {
	if s.OAuth == nil || !strings.HasPrefix(next, authorizePath+"?") {
		return
	}
	u, err := url.Parse(next)
	if err != nil {
		return
	}
	req, err := s.OAuth.ParseAuthorize(r.Context(), u.Query())
	if err == nil {
		allowFormRedirect(w, req.RedirectURI)
	}
}

// continueAuthorize goes on with a checked request for a signed-in person:
// a fresh password when the client asks for one, the consent page when
// consent is needed, else a code.
func (s *Server) continueAuthorize(w http.ResponseWriter, r *http.Request, c *Caller, req *oauth.AuthorizeRequest) error {
	ctx := r.Context()
	allowFormRedirect(w, req.RedirectURI)
	if !c.Reauthenticated && (req.HasPrompt("login") || s.authTooOld(c, req)) {
		if req.HasPrompt("none") {
			toClient(w, r, s.OAuth.ErrorRedirect(req, "login_required", "the sign-in is older than max_age allows"))
			return nil
		}
		s.renderPasswordPrompt(w, r, c, []hiddenField{{authorizeField, requestQuery(r)}}, "")
		return nil
	}
	need, err := s.OAuth.NeedsConsent(ctx, req, c.User)
	if err != nil {
		return err
	}
	if !need {
		return s.approve(w, r, c, req)
	}
	if req.HasPrompt("none") {
		toClient(w, r, s.OAuth.ErrorRedirect(req, "consent_required", "the person has not authorised this application"))
		return nil
	}
	d, err := s.OAuth.Details(ctx, req)
	if err != nil {
		return err
	}
	name := d.AppName
	if name == "" {
		name = d.ClientName
	}
	s.render(w, r, c, http.StatusOK, "oauth_consent", "Authorise "+name+"?", map[string]any{
		"Details": d, "Name": name, "Query": requestQuery(r), "Field": authorizeField,
		"Destination": destination(req.RedirectURI),
	})
	return nil
}

// authTooOld reports whether the session's password proof is older than the
// request's max_age.
func (s *Server) authTooOld(c *Caller, req *oauth.AuthorizeRequest) bool {
	if req.MaxAge < 0 {
		return false
	}
	return s.Service.Now().Sub(c.Session.AuthenticatedAt) > time.Duration(req.MaxAge)*time.Second
}

// authorizeDecision is POST /v1/oauth/authorize: the consent page's Allow or
// Deny, or the password prompt's form going on with the request. The
// request is checked again from the posted query.
func (s *Server) authorizeDecision(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if s.OAuth == nil {
		return keysmith.Errorf(keysmith.CodeNotFound, "This server issues no OAuth tokens.")
	}
	q, err := url.ParseQuery(r.PostForm.Get(authorizeField))
	if err != nil || len(r.PostForm.Get(authorizeField)) > maxNextAuthorize {
		return keysmith.Errorf(keysmith.CodeInvalid, "The authorization request in the form could not be read. Start again from the application.")
	}
	req, err := s.OAuth.ParseAuthorize(r.Context(), q)
	if err != nil {
		s.authorizeFailed(w, r, c, err)
		return nil
	}
	allowFormRedirect(w, req.RedirectURI)
	switch r.PostForm.Get("decision") {
	case "deny":
		toClient(w, r, s.OAuth.Deny(req))
		return nil
	case "allow":
		// The consent page was reached past the prompt=login check; only
		// a proof grown too old since is asked again.
		if !c.Reauthenticated && s.authTooOld(c, req) {
			s.renderPasswordPrompt(w, r, c, []hiddenField{{authorizeField, q.Encode()}}, "")
			return nil
		}
		if _, err := s.Service.GrantConsent(r.Context(), c.Principal, req.Client.ID, req.Scopes); err != nil {
			return err
		}
		return s.approve(w, r, c, req)
	case "":
		return s.continueAuthorize(w, r, c, req)
	}
	return keysmith.Errorf(keysmith.CodeInvalid, "decision must be allow or deny")
}

// approve issues the code and sends the browser to the client with it.
func (s *Server) approve(w http.ResponseWriter, r *http.Request, c *Caller, req *oauth.AuthorizeRequest) error {
	to, err := s.OAuth.Approve(r.Context(), req, c.User, c.Session.AuthenticatedAt)
	if err != nil {
		return err
	}
	toClient(w, r, to)
	return nil
}

// authorizeFailed answers a refused request: to the client when its
// redirect URI is trusted, else on a page (never a redirect).
func (s *Server) authorizeFailed(w http.ResponseWriter, r *http.Request, c *Caller, err error) {
	var ae *oauth.AuthorizeError
	if !errors.As(err, &ae) {
		s.writeError(w, r, c, err)
		return
	}
	if ae.RedirectTo != "" {
		toClient(w, r, ae.RedirectTo)
		return
	}
	s.render(w, r, c, http.StatusBadRequest, "error", "The application's request cannot be used", map[string]any{
		"Status": http.StatusBadRequest,
		"Message": "The application's authorization request was refused: " + ae.Description +
			". Tell the application's developer.",
	})
}

// toClient sends the browser to a client's registered address (a code, an
// error, a signed-out notice); the address is the authority's, never one
// taken unchecked from the request.
func toClient(w http.ResponseWriter, r *http.Request, to string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// requestQuery is the authorization request's query of r: the URL's for
// the GET, the carried field's for a form.
func requestQuery(r *http.Request) string {
	if r.Method == http.MethodPost {
		if q, err := url.ParseQuery(r.PostForm.Get(authorizeField)); err == nil {
			return q.Encode()
		}
	}
	return r.URL.Query().Encode()
}

// destination is the scheme and host of a redirect URI, shown on the
// consent page so that the person sees where the answer goes.
func destination(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return uri
	}
	return u.Scheme + "://" + u.Host
}

// logoutPage is GET /v1/oauth/logout (end_session_endpoint): ask before
// signing out, as the console's own Sign out is a form. A browser not
// signed in is sent on at once.
func (s *Server) logoutPage(w http.ResponseWriter, r *http.Request) {
	if s.OAuth == nil {
		s.writeError(w, r, nil, keysmith.Errorf(keysmith.CodeNotFound, "This server issues no OAuth tokens."))
		return
	}
	lr, err := s.OAuth.ParseLogout(r.Context(), r.URL.Query())
	if err != nil {
		s.writeError(w, r, nil, err)
		return
	}
	p, secret, err := s.Gate.BrowserSession(w, r)
	if keysmith.ErrorCode(err) == keysmith.CodeUnauthorized {
		s.Gate.ClearSessionCookie(w, r)
		signedOut(w, r, lr)
		return
	}
	if err != nil {
		s.writeError(w, r, nil, err)
		return
	}
	c := &Caller{Principal: p, CSRF: csrfToken(secret)}
	if lr.RedirectTo != "" {
		allowFormRedirect(w, lr.RedirectTo)
	}
	q := r.URL.Query()
	fields := []hiddenField{{"post_logout_redirect_uri", q.Get("post_logout_redirect_uri")}, {"state", q.Get("state")}}
	if lr.Client != nil {
		fields = append(fields, hiddenField{"client_id", lr.Client.ID})
	}
	s.render(w, r, c, http.StatusOK, "oauth_logout", "Sign out of Keysmith?", map[string]any{
		"Request": lr, "Fields": fields,
	})
}

// logout is POST /v1/oauth/logout: sign this browser out, then go back to
// the client's registered address, or to the signed-out page.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if s.OAuth == nil {
		return keysmith.Errorf(keysmith.CodeNotFound, "This server issues no OAuth tokens.")
	}
	q := url.Values{}
	for _, k := range []string{"client_id", "post_logout_redirect_uri", "state"} {
		if v := r.PostForm.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	lr, err := s.OAuth.ParseLogout(r.Context(), q)
	if err != nil {
		return err
	}
	if err := s.Service.SignOut(r.Context(), c.Principal); err != nil {
		return err
	}
	s.Gate.ClearSessionCookie(w, r)
	signedOut(w, r, lr)
	return nil
}

func signedOut(w http.ResponseWriter, r *http.Request, lr *oauth.LogoutRequest) {
	if lr.RedirectTo != "" {
		toClient(w, r, lr.RedirectTo)
		return
	}
	http.Redirect(w, r, "/sign-in?done=signed-out", http.StatusSeeOther)
}
