// Package web is Keysmith's console: server-rendered pages (html/template,
// embedded with the binary) over the same domain service as the JSON API,
// so a rule, an event or an error is the same in both. Every form works
// without JavaScript; the small scripts in assets/ only add comfort (copy to
// clipboard, type-ahead, confirm dialogs). The Content-Security-Policy
// allows no inline script or style.
package web

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Gate is what pages take from the JSON API's authentication (package
// httpapi implements it), so that a browser is authenticated, limited and
// signed in by one set of rules whichever door it uses.
type Gate interface {
	// BrowserSession authenticates the session cookie and returns the
	// principal and the cookie's secret (the CSRF token is derived from it).
	BrowserSession(w http.ResponseWriter, r *http.Request) (keysmith.Principal, string, error)
	// SignInBrowser checks the credentials under the sign-in limits and
	// sets the session cookie.
	SignInBrowser(w http.ResponseWriter, r *http.Request, email, password string) (*keysmith.User, error)
	// RedeemSetupCode sets a password with a setup code, under the same
	// limits as sign-in.
	RedeemSetupCode(w http.ResponseWriter, r *http.Request, code, password string) (*keysmith.User, error)
	// ClearSessionCookie makes the browser forget its session.
	ClearSessionCookie(w http.ResponseWriter, r *http.Request)
	// Reauthenticate renews the session's password proof under the
	// sign-in limits (the step-up rule, keysmith.Service.RequireRecentAuth).
	Reauthenticate(w http.ResponseWriter, r *http.Request, p keysmith.Principal, password string) (time.Time, error)
	// IssueClientToken authenticates a client by a pasted secret and issues
	// it an access token under the token endpoint's limits.
	IssueClientToken(w http.ResponseWriter, r *http.Request, clientID, secret, scope string, validity *time.Duration) (*oauth.Issued, error)
	// Denied records a refusal (CodeForbidden) as access.denied, within the
	// caller's budget of refusals; past it, it answers CodeRateLimited.
	Denied(w http.ResponseWriter, r *http.Request, p keysmith.Principal, refusal error) error
}

// Server serves the console's pages.
type Server struct {
	Service *keysmith.Service
	Gate    Gate
	Log     *slog.Logger
	// OAuth issues access tokens on the "Generate access token" page, by
	// the token endpoint's own logic; nil leaves that page an error.
	OAuth *oauth.Authority

	pages map[string]*template.Template
}

// New parses the embedded templates; a template that does not parse is a
// programming error, caught by every test that starts a server.
func New(svc *keysmith.Service, gate Gate, log *slog.Logger) (*Server, error) {
	s := &Server{Service: svc, Gate: gate, Log: log, pages: map[string]*template.Template{}}
	shared, err := template.New("layout.html").Funcs(s.funcs()).ParseFS(templateFS, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "parts" {
			continue
		}
		t, err := template.Must(shared.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, err
		}
		s.pages[base] = t
	}
	return s, nil
}

// Handler returns the console's routes. Each resource registers its own, in
// its own file.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	assets, _ := fs.Sub(assetFS, "assets")
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", assetHandler(http.FileServerFS(assets))))
	s.signInRoutes(mux)
	s.sessionRoutes(mux)
	s.overviewRoutes(mux)
	s.routes(mux) // resources added by later files
	mux.Handle("/", s.page(func(w http.ResponseWriter, r *http.Request, c *Caller) error {
		return keysmith.Errorf(keysmith.CodeNotFound, "There is no page at %s.", truncate(r.URL.Path, 200))
	}))
	return securityHeaders(mux)
}

// securityHeaders sets what every page and asset carries: a strict CSP (no
// inline script or style, nothing from other origins, no framing), no
// referrer, and no caching of pages, which may hold secrets or personal data.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy())
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/assets/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy is the pages' policy. Forms post only to Keysmith,
// and their redirects stay here, except to formTargets: browsers apply
// form-action to every redirect after a form, so a page whose form ends at
// an application (the consent page, the password prompt and sign-in page of
// an authorization request, the logout page) names that application's
// registered address.
func contentSecurityPolicy(formTargets ...string) string {
	action := "'self'"
	for _, t := range formTargets {
		if src := cspSource(t); src != "" {
			action += " " + src
		}
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; form-action " + action + "; frame-ancestors 'none'; base-uri 'none'"
}

// allowFormRedirect lets this page's forms end at uri, an address the
// authority checked (a client's registered redirect URI).
func allowFormRedirect(w http.ResponseWriter, uri string) {
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy(uri))
}

// cspSource is the CSP source of a URI: its origin for http and https, its
// scheme for a private-use scheme (an app's com.example.app:/cb); "" when
// it has characters a source may not hold.
func cspSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return ""
	}
	src := u.Scheme + ":"
	if u.Scheme == "http" || u.Scheme == "https" {
		if u.Host == "" {
			return ""
		}
		src = u.Scheme + "://" + u.Host
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-+:/[]", c) >= 0) {
			return ""
		}
	}
	return src
}

func assetHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// Caller is the signed-in user making a page request.
type Caller struct {
	keysmith.Principal
	// CSRF is the token every form of the page carries.
	CSRF string
	// Reauthenticated reports that this very request proved the password
	// (the form of the password prompt, web/reauth.go); Session's
	// AuthenticatedAt is then this request's time.
	Reauthenticated bool
}

// pageHandler is a page for a signed-in user; it returns its error rather
// than writing it, so that error pages are written in one place.
type pageHandler func(w http.ResponseWriter, r *http.Request, c *Caller) error

// maxFormBytes bounds a form's body.
const maxFormBytes = 64 << 10

// page wraps a handler for signed-in users: it authenticates the session
// (redirecting to the sign-in page when there is none), and for a POST
// reads the form (bounded) and checks its CSRF token before the handler runs.
func (s *Server) page(h pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, secret, err := s.Gate.BrowserSession(w, r)
		var c *Caller
		if err == nil {
			c = &Caller{Principal: p, CSRF: csrfToken(secret)}
			a := keysmith.AuditFrom(r.Context())
			a.Actor = keysmith.UserRef(p.User)
			r = r.WithContext(keysmith.WithAudit(r.Context(), a))
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				err = s.checkForm(w, r, c)
			}
		}
		if err == nil && r.Method == http.MethodPost && r.PostForm.Has(reauthField) {
			var done bool
			if done, err = s.reauthenticate(w, r, c); done {
				return
			}
		}
		if err == nil {
			err = h(w, r, c)
		}
		if keysmith.IsReauthRequired(err) && r.Method == http.MethodPost {
			s.askPassword(w, r, c, "")
			return
		}
		if keysmith.ErrorCode(err) == keysmith.CodeForbidden && c != nil {
			err = s.Gate.Denied(w, r, c.Principal, err)
		}
		if err != nil {
			s.writeError(w, r, c, err)
		}
	})
}

// checkForm reads a POST's form, at most maxFormBytes, and compares its
// csrf_token with the caller's in constant time.
func (s *Server) checkForm(w http.ResponseWriter, r *http.Request, c *Caller) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return keysmith.Errorf(keysmith.CodeInvalid, "The form is too large.")
		}
		return keysmith.Errorf(keysmith.CodeInvalid, "The form could not be read.")
	}
	if !validCSRF(c.CSRF, r.PostForm.Get("csrf_token")) {
		return errCSRF
	}
	return nil
}

var errCSRF = keysmith.Errorf(keysmith.CodeForbidden,
	"This form has expired or was sent from another site. Reload the page and try again.")

// writeError answers a page's error: the sign-in page for a caller who is
// not signed in (a GET comes back to where it was after signing in), else an
// error page with the domain's message and the status the API would answer.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, c *Caller, err error) {
	code := keysmith.ErrorCode(err)
	if code == keysmith.CodeUnauthorized {
		s.Gate.ClearSessionCookie(w, r)
		target := "/sign-in"
		if next := returnAddress(w, r); next != "" {
			target += "?next=" + url.QueryEscape(next)
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	if code == keysmith.CodeInternal {
		s.Log.ErrorContext(r.Context(), "page failed", "path", truncate(r.URL.Path, 200), "err", err)
	}
	status := statusOf(code)
	title := http.StatusText(status)
	s.render(w, r, c, status, "error", title, map[string]any{"Status": status, "Message": keysmith.ErrorMessage(err)})
}

// returnAddress is where the sign-in page sends a browser whose session
// ended back to: the page it asked for, or, for the consent page's form,
// the authorization request it carried (which starts over: nothing in the
// form is done without a session).
func returnAddress(w http.ResponseWriter, r *http.Request) string {
	switch {
	case r.Method == http.MethodGet && r.URL.Path != "/":
		return r.URL.RequestURI()
	case r.Method == http.MethodPost && r.URL.Path == authorizePath:
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if r.ParseForm() == nil && r.PostForm.Get(authorizeField) != "" {
			return authorizePath + "?" + r.PostForm.Get(authorizeField)
		}
	}
	return ""
}

func statusOf(c keysmith.Code) int {
	switch c {
	case keysmith.CodeInvalid:
		return http.StatusBadRequest
	case keysmith.CodeNotFound:
		return http.StatusNotFound
	case keysmith.CodeConflict:
		return http.StatusConflict
	case keysmith.CodeForbidden:
		return http.StatusForbidden
	case keysmith.CodeRateLimited:
		return http.StatusTooManyRequests
	case keysmith.CodeUpstream:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// view is what every template gets: the page's own data in Data, and what
// the layout needs (who is signed in, the navigation, the CSRF token).
type view struct {
	Title  string
	Caller *Caller
	Nav    []navItem
	Path   string
	Data   any
}

// render executes a page template into a buffer first, so that a template
// error becomes a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, c *Caller, status int, name, title string, data any) {
	t, ok := s.pages[name]
	if !ok {
		s.Log.ErrorContext(r.Context(), "no such page template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := view{Title: title, Caller: c, Path: r.URL.Path, Data: data}
	if c != nil {
		v.Nav = navFor(c.User)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		s.Log.ErrorContext(r.Context(), "rendering a page failed", "name", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// redirect sends the browser to a page after a successful form (POST,
// redirect, GET), so that reloading never sends the form twice. The target
// is always one of Keysmith's own paths and never holds a secret.
func redirect(w http.ResponseWriter, r *http.Request, path string) error {
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
