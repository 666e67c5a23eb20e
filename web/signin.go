package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/keysmith/keysmith"
)

func (s *Server) signInRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /sign-in", s.signInPage)
	mux.HandleFunc("POST /sign-in", s.signIn)
	mux.Handle("POST /sign-out", s.page(s.signOut))
	mux.HandleFunc("GET /setup", s.setupPage)
	mux.HandleFunc("POST /setup", s.setup)
}

type signInData struct {
	Email, Next, Error, Notice string
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	d := signInData{Next: safeNext(r.URL.Query().Get("next"))}
	s.allowSignInRedirect(w, r, d.Next)
	if r.URL.Query().Get("done") == "setup" {
		d.Notice = "Your password is set. Sign in with it."
	}
	if r.URL.Query().Get("done") == "signed-out" {
		d.Notice = "You are signed out."
	}
	s.render(w, r, nil, http.StatusOK, "sign_in", "Sign in", d)
}

// signIn checks the form with the same limits as POST /v1/sessions; a
// wrong e-mail and a wrong password read the same.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.render(w, r, nil, http.StatusBadRequest, "sign_in", "Sign in", signInData{Error: "The form could not be read."})
		return
	}
	email, next := r.PostForm.Get("email"), safeNext(r.PostForm.Get("next"))
	_, err := s.Gate.SignInBrowser(w, r, email, r.PostForm.Get("password"))
	if err != nil {
		status := statusOf(keysmith.ErrorCode(err))
		if keysmith.ErrorCode(err) == keysmith.CodeUnauthorized {
			status = http.StatusUnauthorized
		}
		s.allowSignInRedirect(w, r, next)
		s.render(w, r, nil, status, "sign_in", "Sign in",
			signInData{Email: truncate(email, 320), Next: next, Error: keysmith.ErrorMessage(err)})
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// maxNext bounds a post-sign-in target; maxNextAuthorize bounds one that
// returns to the authorization endpoint, whose query (state, nonce, PKCE
// challenge, scopes) is longer.
const (
	maxNext          = 512
	maxNextAuthorize = 4096
)

// safeNext keeps a post-sign-in target only when it is a path on this
// server: never another site (an open redirect), never a protocol-relative
// "//host" or a backslash trick.
func safeNext(next string) string {
	limit := maxNext
	if strings.HasPrefix(next, authorizePath+"?") {
		limit = maxNextAuthorize
	}
	if next == "" || len(next) > limit || !strings.HasPrefix(next, "/") {
		return "/"
	}
	// Browsers drop tabs and newlines from URLs and read a backslash as a
	// slash, so "/\t/evil.example" would become "//evil.example": refuse
	// every control character, space and backslash outright.
	for i := 0; i < len(next); i++ {
		if b := next[i]; b <= ' ' || b == 0x7f || b == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(u.Path, "//") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return u.RequestURI()
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if err := s.Service.SignOut(r.Context(), c.Principal); err != nil {
		return err
	}
	s.Gate.ClearSessionCookie(w, r)
	return redirect(w, r, "/sign-in?done=signed-out")
}

type setupData struct {
	Error  string
	Errors map[string]string
}

func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, nil, http.StatusOK, "setup", "Set your password", setupData{})
}

// setup sets the first super admin's password from a setup code pasted into
// the form (never from a URL), then sends them to sign in with it.
func (s *Server) setup(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.render(w, r, nil, http.StatusBadRequest, "setup", "Set your password", setupData{Error: "The form could not be read."})
		return
	}
	_, err := s.Gate.RedeemSetupCode(w, r, strings.TrimSpace(r.PostForm.Get("code")), r.PostForm.Get("password"))
	if err != nil {
		code := keysmith.ErrorCode(err)
		d := setupData{Errors: map[string]string{}}
		switch code {
		case keysmith.CodeUnauthorized:
			d.Errors["code"] = keysmith.ErrorMessage(err)
		case keysmith.CodeInvalid:
			d.Errors["password"] = keysmith.ErrorMessage(err)
		default:
			d.Error = keysmith.ErrorMessage(err)
		}
		status := statusOf(code)
		if code == keysmith.CodeUnauthorized {
			status = http.StatusUnauthorized
		}
		s.render(w, r, nil, status, "setup", "Set your password", d)
		return
	}
	http.Redirect(w, r, "/sign-in?done=setup", http.StatusSeeOther)
}
