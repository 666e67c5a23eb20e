package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/web/webtest"
)

// callback is an application's redirect target on 127.0.0.1: it records
// every request the browser makes to it, and shows a page with a heading so
// the browser helpers can wait for it.
type callback struct {
	URL string // the base, http://127.0.0.1:PORT
	mu  sync.Mutex
	got []*url.URL
}

func newCallback(t *testing.T) *callback {
	t.Helper()
	cb := &callback{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" { // the browser's own, not the flow's
			http.NotFound(w, r)
			return
		}
		cb.mu.Lock()
		cb.got = append(cb.got, r.URL)
		cb.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>app</title><main><h1>Back at the application</h1></main></html>`)
	}))
	t.Cleanup(srv.Close)
	cb.URL = srv.URL
	return cb
}

// hits is how many requests reached the callback, and the last one's URL.
func (cb *callback) hits() (int, *url.URL) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if len(cb.got) == 0 {
		return 0, nil
	}
	return len(cb.got), cb.got[len(cb.got)-1]
}

// oauthApp is a developer's application with a code-flow client whose
// redirect URI is the callback's /cb.
type oauthApp struct {
	b      *webtest.Browser
	cb     *callback
	client *keysmith.Client
}

// verifier is a fixed PKCE code verifier; challenge is its S256.
const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// newOAuthApp starts a server with the Shop API, a developer dana owning
// the application "Shop" and a code-flow client of it (changed by edit),
// and a person paula (a read-only admin: any role signs in to apps) who is
// not signed in.
func newOAuthApp(t *testing.T, edit func(*keysmith.CreateClientInput)) *oauthApp {
	t.Helper()
	b := webtest.New(t)
	seedShop(b)
	cb := newCallback(t)
	devID := webtest.AddPerson(t, b.Server, keysmith.RoleDeveloper, "dana@example.com", "dana's password")
	webtest.AddPerson(t, b.Server, keysmith.RoleReadOnlyAdmin, "paula@example.com", "paula's password")
	ctx := context.Background()
	owner := principal(b, devID)
	a, err := b.Server.App.Service.CreateApp(ctx, owner, keysmith.CreateAppInput{Name: "Shop"})
	if err != nil {
		t.Fatal(err)
	}
	in := keysmith.CreateClientInput{Name: "Shop web", AppID: a.ID, Environment: "production",
		Scopes: []string{"orders:read"}, GrantTypes: []string{keysmith.GrantAuthorizationCode},
		RedirectURIs: []string{cb.URL + "/cb"}, PostLogoutRedirectURIs: []string{cb.URL + "/signed-out"}}
	if edit != nil {
		edit(&in)
	}
	cl, _, _, err := b.Server.App.Service.CreateClient(ctx, owner, in)
	if err != nil {
		t.Fatal(err)
	}
	return &oauthApp{b: b, cb: cb, client: cl}
}

// authorizePath is an authorization request of the app's client for
// orders:read with a PKCE challenge; extra replaces or adds parameters (an
// empty value removes one).
func (o *oauthApp) authorizePath(state string, extra ...string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {o.client.ID}, "redirect_uri": {o.cb.URL + "/cb"},
		"scope": {"orders:read"}, "state": {state}, "code_challenge": {challenge(verifier)},
		"code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return "/v1/oauth/authorize?" + q.Encode()
}

// signInHere fills in the sign-in page the browser shows now.
func signInHere(b *webtest.Browser, email, password string) {
	b.T.Helper()
	if got := b.Text("h1"); got != "Sign in" {
		b.T.Fatalf("want the sign-in page, got %q: %s", got, b.Body())
	}
	b.Run(sendKeys("#email", email), sendKeys("#password", password))
	b.Submit(`form[action="/sign-in"] button[type=submit]`)
}

// wantCallback checks that the n-th request to the callback arrived with
// the parameters want (a value "*" only needs to be there).
func (o *oauthApp) wantCallback(n int, path string, want map[string]string) url.Values {
	o.b.T.Helper()
	got, last := o.cb.hits()
	if got != n || last == nil {
		o.b.T.Fatalf("the callback got %d requests, want %d (page: %s)", got, n, o.b.Body())
	}
	if last.Path != path {
		o.b.T.Errorf("the callback's path is %q, want %q", last.Path, path)
	}
	q := last.Query()
	for k, v := range want {
		if v == "*" && q.Get(k) == "" || v != "*" && q.Get(k) != v {
			o.b.T.Errorf("callback %s = %q, want %q (all: %v)", k, q.Get(k), v, q)
		}
	}
	return q
}

// TestAuthorizeSignsInAsksConsentAndRemembersIt: a person who is not
// signed in is sent to Keysmith's sign-in page and back; the consent page
// names the application, its owner and the scope with its description;
// Allow sends a code, the state and iss to the callback; the second time
// nobody asks; the consent is listed on "Apps you have authorised" and in
// the API, and revoking it makes the next request ask again.
func TestAuthorizeSignsInAsksConsentAndRemembersIt(t *testing.T) {
	o := newOAuthApp(t, nil)
	b := o.b
	b.Open(o.authorizePath("first-state"))
	if next := webtest.Get(b, chromedp.Evaluate[string](`document.querySelector("input[name=next]").value`)); !strings.HasPrefix(next, "/v1/oauth/authorize?") {
		t.Fatalf("the sign-in page returns to %q, want the authorization request", next)
	}
	signInHere(b, "paula@example.com", "paula's password")
	if got := b.Text("h1"); got != "Authorise Shop?" {
		t.Fatalf("after sign-in: %q, want the consent page: %s", got, b.Body())
	}
	body := b.Body()
	for _, want := range []string{"Shop", "dana@example.com", "orders:read", "Read orders", o.cb.URL} {
		if !strings.Contains(body, want) {
			t.Errorf("the consent page does not name %q: %s", want, body)
		}
	}
	shots(b, "oauth-consent")
	b.Submit(`button[name=decision][value=allow]`)
	q := o.wantCallback(1, "/cb", map[string]string{"code": "*", "state": "first-state", "iss": b.Server.App.OAuth.Issuer()})
	if _, ok := q["error"]; ok {
		t.Errorf("Allow answered an error: %v", q)
	}

	// Remembered: straight back with a code.
	b.Open(o.authorizePath("second-state"))
	o.wantCallback(2, "/cb", map[string]string{"code": "*", "state": "second-state"})

	// Listed, in the page and in the API.
	b.Open("/authorized-apps")
	if got := b.Text("table.consents"); !strings.Contains(got, "Shop") || !strings.Contains(got, "orders:read") {
		t.Fatalf("the authorised apps list: %q", got)
	}
	shots(b, "oauth-consents")
	paulaToken := tokenOf(b, "paula@example.com")
	items := b.Server.Do("GET", "/v1/consents", paulaToken, nil).Want(t, http.StatusOK).Body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["client_id"] != o.client.ID || items[0].(map[string]any)["app_name"] != "Shop" {
		t.Errorf("GET /v1/consents: %v", items)
	}
	b.Server.Do("DELETE", "/v1/consents/cli_unknown", paulaToken, nil).Want(t, http.StatusNotFound)
	// Nobody else reads or revokes paula's consent.
	_, carlToken := b.Server.AddUser(keysmith.RoleOrgAdmin, "carl@example.com")
	if got := b.Server.Do("GET", "/v1/consents", carlToken, nil).Want(t, http.StatusOK).Body["items"].([]any); len(got) != 0 {
		t.Errorf("another person lists paula's consents: %v", got)
	}
	b.Server.Do("DELETE", "/v1/consents/"+o.client.ID, carlToken, nil).Want(t, http.StatusNotFound)

	// Revoked: the next request asks again.
	b.Run(dismissConfirms())
	b.Submit(`form[action$="/revoke"] button`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "Shop") {
		t.Errorf("after Revoke: %q", got)
	}
	if b.Has("table.consents") {
		t.Errorf("the app is still listed after Revoke: %s", b.Body())
	}
	shots(b, "oauth-consents-empty")
	b.Open(o.authorizePath("third-state"))
	if got := b.Text("h1"); got != "Authorise Shop?" {
		t.Errorf("after revoking, the next request shows %q, want the consent page", got)
	}
	if n, _ := o.cb.hits(); n != 2 {
		t.Errorf("the callback got %d requests, want still 2", n)
	}
}

// tokenOf gives a person an API token through the service, for the JSON
// API's own-consents endpoints.
func tokenOf(b *webtest.Browser, email string) string {
	b.T.Helper()
	u, _, err := b.Server.App.Store.FindUserByEmail(context.Background(), email)
	if err != nil {
		b.T.Fatal(err)
	}
	_, secret, err := b.Server.App.Service.CreateToken(context.Background(), keysmith.Principal{User: u},
		keysmith.CreateTokenInput{Name: "consents"})
	if err != nil {
		b.T.Fatal(err)
	}
	return secret.Reveal()
}

// TestAuthorizeDenySendsAccessDenied: Deny tells the application
// access_denied with its state, and remembers nothing.
func TestAuthorizeDenySendsAccessDenied(t *testing.T) {
	o := newOAuthApp(t, nil)
	o.b.SignIn("paula@example.com", "paula's password")
	o.b.Open(o.authorizePath("deny-state"))
	o.b.Submit(`button[name=decision][value=deny]`)
	q := o.wantCallback(1, "/cb", map[string]string{"error": "access_denied", "state": "deny-state", "iss": "*"})
	if q.Get("code") != "" {
		t.Errorf("Deny sent a code: %v", q)
	}
	o.b.Open(o.authorizePath("again"))
	if got := o.b.Text("h1"); got != "Authorise Shop?" {
		t.Errorf("after Deny, the next request shows %q, want the consent page", got)
	}
}

// TestFirstPartyClientSkipsConsent: a client an admin marked first-party
// gets its code without a consent page.
func TestFirstPartyClientSkipsConsent(t *testing.T) {
	b := webtest.New(t)
	seedShop(b)
	cb := newCallback(t)
	adminID := webtest.AddPerson(t, b.Server, keysmith.RoleOrgAdmin, "olga@example.com", "olga's password")
	webtest.AddPerson(t, b.Server, keysmith.RoleDeveloper, "paula@example.com", "paula's password")
	cl, _, _, err := b.Server.App.Service.CreateClient(context.Background(), principal(b, adminID), keysmith.CreateClientInput{
		Name: "Keysmith mobile", Environment: "production", Scopes: []string{"orders:read"}, GrantTypes: []string{keysmith.GrantAuthorizationCode},
		RedirectURIs: []string{cb.URL + "/cb"}, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	o := &oauthApp{b: b, cb: cb, client: cl}
	b.Open(o.authorizePath("fp"))
	signInHere(b, "paula@example.com", "paula's password")
	o.wantCallback(1, "/cb", map[string]string{"code": "*", "state": "fp"})
}

// TestUnregisteredRedirectURIIsNeverFollowed: a redirect_uri that is not
// exactly a registered one gets an error page, before sign-in, and the
// callback gets nothing, whatever the variant.
func TestUnregisteredRedirectURIIsNeverFollowed(t *testing.T) {
	o := newOAuthApp(t, nil)
	u, _ := url.Parse(o.cb.URL)
	port := u.Port()
	var other int
	fmt.Sscan(port, &other)
	for name, uri := range map[string]string{
		"trailing slash": o.cb.URL + "/cb/",
		"case":           o.cb.URL + "/CB",
		"extra query":    o.cb.URL + "/cb?next=1",
		"userinfo":       "http://evil@127.0.0.1:" + port + "/cb",
		"other port":     fmt.Sprintf("http://127.0.0.1:%d/cb", other+1),
		"other host":     "http://localhost:" + port + "/cb",
		"fragment":       o.cb.URL + "/cb#x",
	} {
		o.b.Open(o.authorizePath("s", "redirect_uri", uri))
		if got := o.b.Text("h1"); got != "The application's request cannot be used" {
			t.Errorf("%s, redirect_uri %q: %q, want the error page: %s", name, uri, got, o.b.Body())
		} else if !strings.Contains(o.b.Body(), "redirect_uri") {
			t.Errorf("%s: the error page does not say what was wrong: %s", name, o.b.Body())
		}
		if name == "case" {
			shots(o.b, "oauth-error")
		}
	}
	// Too long to survive the sign-in page's return address.
	o.b.Open(o.authorizePath("s", "state", strings.Repeat("s", 2000), "nonce", strings.Repeat("n", 2000)))
	if got := o.b.Text("h1"); got != "The application's request cannot be used" {
		t.Errorf("a request over 4096 characters: %q, want the error page", got)
	}
	if n, _ := o.cb.hits(); n != 0 {
		t.Errorf("the callback got %d requests, want none", n)
	}
}

// TestPKCEIsCheckedBeforeSignIn: a public client without a code_challenge,
// and plain where the client does not allow it, are refused at once (the
// error goes to the registered redirect URI), before any sign-in page; a
// client that allows plain gets the sign-in page.
func TestPKCEIsCheckedBeforeSignIn(t *testing.T) {
	o := newOAuthApp(t, func(in *keysmith.CreateClientInput) { in.TokenEndpointAuthMethod = keysmith.AuthNone })
	o.b.Open(o.authorizePath("no-pkce", "code_challenge", "", "code_challenge_method", ""))
	q := o.wantCallback(1, "/cb", map[string]string{"error": "invalid_request", "state": "no-pkce"})
	if !strings.Contains(q.Get("error_description"), "code_challenge") {
		t.Errorf("error_description %q does not name code_challenge", q.Get("error_description"))
	}
	o.b.Open(o.authorizePath("plain", "code_challenge", verifier, "code_challenge_method", "plain"))
	o.wantCallback(2, "/cb", map[string]string{"error": "invalid_request", "state": "plain"})

	plain := newOAuthApp(t, func(in *keysmith.CreateClientInput) { yes := true; in.PKCEAllowPlain = &yes })
	plain.b.Open(plain.authorizePath("plain", "code_challenge", verifier, "code_challenge_method", "plain"))
	if got := plain.b.Text("h1"); got != "Sign in" {
		t.Errorf("plain where allowed: %q, want the sign-in page", got)
	}
	if n, _ := plain.cb.hits(); n != 0 {
		t.Errorf("plain where allowed reached the callback: %d", n)
	}
}

// TestPromptAndMaxAge: prompt=none answers login_required when nobody is
// signed in and consent_required when consent is missing; prompt=login and
// an exceeded max_age ask for the password once, then go on.
func TestPromptAndMaxAge(t *testing.T) {
	o := newOAuthApp(t, nil)
	b := o.b
	b.Open(o.authorizePath("n1", "prompt", "none"))
	o.wantCallback(1, "/cb", map[string]string{"error": "login_required", "state": "n1"})

	b.SignIn("paula@example.com", "paula's password")
	b.Open(o.authorizePath("n2", "prompt", "none"))
	o.wantCallback(2, "/cb", map[string]string{"error": "consent_required", "state": "n2"})

	b.Open(o.authorizePath("l1", "prompt", "login"))
	if got := b.Text("h1"); got != "Confirm it's you" {
		t.Fatalf("prompt=login: %q, want the password prompt", got)
	}
	shots(b, "oauth-password")
	b.Run(sendKeys("#reauth-password", "wrong"))
	b.Submit(`#reauth-password ~ .actions button`)
	if got := b.Text(".alert-error"); !strings.Contains(got, "wrong") {
		t.Fatalf("wrong password: %q", got)
	}
	b.Run(sendKeys("#reauth-password", "paula's password"))
	b.Submit(`#reauth-password ~ .actions button`)
	if got := b.Text("h1"); got != "Authorise Shop?" {
		t.Fatalf("after the password: %q, want the consent page", got)
	}
	b.Submit(`button[name=decision][value=allow]`)
	o.wantCallback(3, "/cb", map[string]string{"code": "*", "state": "l1"})

	b.Server.Clock.Advance(10 * time.Minute)
	b.Open(o.authorizePath("m1", "max_age", "60"))
	if got := b.Text("h1"); got != "Confirm it's you" {
		t.Fatalf("max_age exceeded: %q, want the password prompt", got)
	}
	b.Run(sendKeys("#reauth-password", "paula's password"))
	b.Submit(`#reauth-password ~ .actions button`)
	o.wantCallback(4, "/cb", map[string]string{"code": "*", "state": "m1"})

	b.Open(o.authorizePath("m2", "max_age", "60", "prompt", "none"))
	o.wantCallback(5, "/cb", map[string]string{"code": "*", "state": "m2"})
}

// TestPromptLoginWhileSignedOutAsksOnce: signing in on the sign-in page is
// the fresh proof prompt=login asks for; the password is not asked twice.
func TestPromptLoginWhileSignedOutAsksOnce(t *testing.T) {
	o := newOAuthApp(t, func(in *keysmith.CreateClientInput) {})
	o.b.Open(o.authorizePath("l", "prompt", "login consent"))
	signInHere(o.b, "paula@example.com", "paula's password")
	if got := o.b.Text("h1"); got != "Authorise Shop?" {
		t.Fatalf("after sign-in with prompt=login: %q, want the consent page", got)
	}
}

// TestConsentAfterTheSessionEndedStartsOver: Allow sent after the session
// ended grants nothing; the sign-in page brings the person back to the
// consent page of the same request.
func TestConsentAfterTheSessionEndedStartsOver(t *testing.T) {
	o := newOAuthApp(t, nil)
	o.b.SignIn("paula@example.com", "paula's password")
	o.b.Open(o.authorizePath("late"))
	req, _ := http.NewRequest("DELETE", o.b.Server.URL+"/v1/sessions/current", nil)
	req.AddCookie(&http.Cookie{Name: "keysmith_session", Value: o.b.SessionCookie()})
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("sign out elsewhere: %v %v", resp, err)
	}
	o.b.Submit(`button[name=decision][value=allow]`)
	signInHere(o.b, "paula@example.com", "paula's password")
	if got := o.b.Text("h1"); got != "Authorise Shop?" {
		t.Fatalf("after signing in again: %q, want the consent page", got)
	}
	if n, _ := o.cb.hits(); n != 0 {
		t.Fatalf("the callback got %d requests before Allow", n)
	}
	o.b.Submit(`button[name=decision][value=allow]`)
	o.wantCallback(1, "/cb", map[string]string{"code": "*", "state": "late"})
}

// TestConsentFormIsCSRFChecked: a forged Allow without the page's token
// is refused and sends nothing to the client; a query parameter cannot pose
// as the form's decision; the page is neither framable nor cached, and the
// redirect to the client is a 303 that is not cached either.
func TestConsentFormIsCSRFChecked(t *testing.T) {
	o := newOAuthApp(t, nil)
	o.b.SignIn("paula@example.com", "paula's password")
	q, _ := url.Parse(o.authorizePath("x"))
	resp := o.b.PostForm("/v1/oauth/authorize", url.Values{"authorize_query": {q.RawQuery}, "decision": {"allow"}, "csrf_token": {"forged"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged Allow: %d, want 403", resp.StatusCode)
	}
	// A parameter named like the form's own fields cannot pose as them.
	o.b.Open(o.authorizePath("y", "decision", "allow"))
	if got := o.b.Text("h1"); got != "Authorise Shop?" {
		t.Errorf("with decision=allow in the query: %q, want the consent page", got)
	}
	if n, _ := o.cb.hits(); n != 0 {
		t.Errorf("the callback got %d requests, want none", n)
	}

	// The consent page may not be framed nor cached; its form may end at
	// the client's registered origin only.
	req, _ := http.NewRequest("GET", o.b.Server.URL+o.authorizePath("z"), nil)
	req.AddCookie(&http.Cookie{Name: "keysmith_session", Value: o.b.SessionCookie()})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	csp := h.Get("Content-Security-Policy")
	if resp.StatusCode != http.StatusOK || h.Get("X-Frame-Options") != "DENY" || !strings.Contains(csp, "frame-ancestors 'none'") ||
		!strings.Contains(csp, "form-action 'self' "+o.cb.URL+";") || h.Get("Cache-Control") != "no-store" {
		t.Errorf("consent page: %d, headers %v", resp.StatusCode, h)
	}
	// Deny with the page's token: a 303 to the client, not cached.
	o.b.Open(o.authorizePath("d"))
	resp = o.b.PostForm("/v1/oauth/authorize", url.Values{"authorize_query": {q.RawQuery}, "decision": {"deny"}, "csrf_token": {o.b.CSRF()}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, o.cb.URL+"/cb?") ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Deny: %d to %q, Cache-Control %q", resp.StatusCode, loc, resp.Header.Get("Cache-Control"))
	}
}

// TestLogoutRedirectsOnlyToARegisteredAddress: the end-session endpoint
// asks, signs the browser out, and returns to the client's registered
// post-logout address with the state; an unregistered one is never used.
func TestLogoutRedirectsOnlyToARegisteredAddress(t *testing.T) {
	o := newOAuthApp(t, nil)
	b := o.b
	b.SignIn("paula@example.com", "paula's password")
	logout := func(uri, state string) string {
		return "/v1/oauth/logout?" + url.Values{"client_id": {o.client.ID}, "post_logout_redirect_uri": {uri}, "state": {state}}.Encode()
	}
	b.Open(logout(o.cb.URL+"/signed-out", "bye"))
	if got := b.Text("h1"); got != "Sign out of Keysmith?" {
		t.Fatalf("logout: %q, want the confirmation", got)
	}
	if !strings.Contains(b.Body(), "Shop web") {
		t.Errorf("the confirmation does not name the client: %s", b.Body())
	}
	shots(b, "oauth-logout")
	b.Submit(`form[action="/v1/oauth/logout"] button[type=submit]`)
	o.wantCallback(1, "/signed-out", map[string]string{"state": "bye"})
	if c := b.SessionCookie(); c != "" {
		t.Errorf("the session cookie is still set after logout")
	}
	b.Open("/tokens")
	if got := b.Text("h1"); got != "Sign in" {
		t.Errorf("after logout /tokens shows %q, want the sign-in page", got)
	}

	for _, uri := range []string{o.cb.URL + "/signed-out/", o.cb.URL + "/cb", "https://evil.example/signed-out"} {
		b.SignIn("paula@example.com", "paula's password")
		b.Open(logout(uri, "bye"))
		if !strings.Contains(b.Body(), "not registered") {
			t.Errorf("unregistered %q: the page does not say so: %s", uri, b.Body())
		}
		b.Submit(`form[action="/v1/oauth/logout"] button[type=submit]`)
		if got := b.Text(".alert-ok"); !strings.Contains(got, "signed out") {
			t.Errorf("unregistered %q: after logout %q, want the signed-out page", uri, got)
		}
	}
	// Not signed in: straight to the registered address, never elsewhere.
	b.Open(logout("https://evil.example/x", "s"))
	if got := b.Text("h1"); got != "Sign in" {
		t.Errorf("signed out, unregistered address: %q, want the signed-out page", got)
	}
	b.Open("/v1/oauth/logout?" + url.Values{"post_logout_redirect_uri": {o.cb.URL + "/signed-out"}}.Encode())
	if got := b.Text("h1"); got != "Sign in" {
		t.Errorf("without a client: %q, want the signed-out page", got)
	}
	if n, _ := o.cb.hits(); n != 1 {
		t.Errorf("the callback got %d requests, want 1", n)
	}
}

// TestSignInNextCannotLeaveTheOrigin: a sign-in link whose next names
// another origin (the application's own, here) ends on Keysmith's overview.
func TestSignInNextCannotLeaveTheOrigin(t *testing.T) {
	o := newOAuthApp(t, nil)
	for _, next := range []string{o.cb.URL + "/cb", "//" + strings.TrimPrefix(o.cb.URL, "http://") + "/v1/oauth/authorize?x=1",
		"/\\" + strings.TrimPrefix(o.cb.URL, "http://")} {
		b := webtest.On(t, o.b.Server)
		b.Open("/sign-in?next=" + url.QueryEscape(next))
		signInHere(b, "paula@example.com", "paula's password")
		loc := webtest.Get(b, chromedp.Location())
		if loc != b.Server.URL+"/" {
			t.Errorf("next=%q: after sign-in at %s, want %s/", next, loc, b.Server.URL)
		}
	}
	if n, _ := o.cb.hits(); n != 0 {
		t.Errorf("the callback got %d requests, want none", n)
	}
}

// TestSPAAndWebAppCompleteTheCodeFlow: a public single-page app and a
// confidential web app each go through sign-in and consent in Chromium,
// exchange the code with golang.org/x/oauth2 and PKCE (S256), and refresh
// with rotation: the replaced refresh token is refused afterwards.
func TestSPAAndWebAppCompleteTheCodeFlow(t *testing.T) {
	for _, public := range []bool{true, false} {
		name := map[bool]string{true: "PublicSPA", false: "ConfidentialWebApp"}[public]
		t.Run(name, func(t *testing.T) {
			var secret string
			o := newOAuthApp(t, func(in *keysmith.CreateClientInput) {
				in.GrantTypes = []string{keysmith.GrantAuthorizationCode, keysmith.GrantRefreshToken}
				in.Scopes = []string{"openid", "offline_access", "orders:read"}
				if public {
					in.TokenEndpointAuthMethod = keysmith.AuthNone
				}
			})
			b := o.b
			style := oauth2.AuthStyleInParams
			if !public {
				// A confidential client's secret, made by its owner.
				sec, plain, err := b.Server.App.Service.ResetClientSecrets(context.Background(), principal(b, o.client.OwnerID), o.client.ID, keysmith.CreateSecretInput{Description: "web app"})
				if err != nil {
					t.Fatal(err)
				}
				_ = sec
				secret, style = plain.Reveal(), oauth2.AuthStyleInHeader
			}
			conf := &oauth2.Config{ClientID: o.client.ID, ClientSecret: secret, RedirectURL: o.cb.URL + "/cb",
				Scopes: []string{"openid", "offline_access", "orders:read"},
				Endpoint: oauth2.Endpoint{AuthURL: b.Server.URL + "/v1/oauth/authorize", TokenURL: b.Server.URL + "/v1/oauth/token",
					AuthStyle: style}}
			v := oauth2.GenerateVerifier()
			b.Run(chromedp.Navigate(conf.AuthCodeURL("lib-state", oauth2.S256ChallengeOption(v))), chromedp.WaitVisible(chromedp.CSS("h1")))
			signInHere(b, "paula@example.com", "paula's password")
			b.Submit(`button[name=decision][value=allow]`)
			q := o.wantCallback(1, "/cb", map[string]string{"code": "*", "state": "lib-state", "iss": b.Server.URL})
			ctx := context.Background()
			tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Extra("id_token") == nil {
				t.Fatalf("token response lacks a part: %+v", tok)
			}
			// Refresh: the library refreshes an expired token, and gets a
			// new refresh token in place of the old.
			old := tok.RefreshToken
			tok.Expiry = time.Now().Add(-time.Minute)
			fresh, err := conf.TokenSource(ctx, tok).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if fresh.RefreshToken == "" || fresh.RefreshToken == old || fresh.AccessToken == tok.AccessToken {
				t.Fatalf("refresh did not rotate: %+v", fresh)
			}
			stale := &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Minute)}
			if _, err := conf.TokenSource(ctx, stale).Token(); err == nil {
				t.Error("a replaced refresh token was accepted")
			}
			// That reuse revoked the grant: the newest refresh token is dead too.
			fresh.Expiry = time.Now().Add(-time.Minute)
			if _, err := conf.TokenSource(ctx, fresh).Token(); err == nil {
				t.Error("the grant survived a refresh token's reuse")
			}
			if _, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v)); err == nil {
				t.Error("the code was exchanged twice")
			}
		})
	}
}
