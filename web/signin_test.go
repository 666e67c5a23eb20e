package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/web/webtest"
)

// TestFirstAdmin is the first start as a person lives it: the setup code
// printed by serve is pasted into /setup with a new password, then the
// admin signs in, sees who they are, lists their sessions and signs out
// everywhere.
func TestFirstAdmin(t *testing.T) {
	b := webtest.New(t)
	_, code, err := b.Server.App.Service.CreateSetupCode(context.Background(), b.Server.AdminID)
	if err != nil {
		t.Fatal(err)
	}

	b.Open("/")
	if !b.Has(`form[action="/sign-in"]`) {
		t.Fatalf("signed out, / shows %q, want the sign-in page", b.Body())
	}
	b.CheckAccessibility()
	b.Shot("sign-in")

	b.Open("/setup")
	b.CheckAccessibility()
	b.Run(sendKeys("#code", code.Reveal()), sendKeys("#password", "a long new password"))
	b.Submit(`form[action="/setup"] button`)
	if got := b.Body(); !strings.Contains(got, "Your password is set") {
		t.Fatalf("after setup: %q", got)
	}

	// The code works once.
	b.Open("/setup")
	b.Run(sendKeys("#code", code.Reveal()), sendKeys("#password", "another password"))
	b.Submit(`form[action="/setup"] button`)
	if got := b.Text(".field-error"); !strings.Contains(got, "not valid") {
		t.Fatalf("second use of the code: %q", got)
	}

	b.SignIn("admin@localhost", "a long new password")
	if got := b.Text("header .who"); !strings.Contains(got, "Administrator") || !strings.Contains(got, "Super admin") {
		t.Errorf("header shows %q, want the name and role", got)
	}
	b.CheckAccessibility()
	b.Shot("overview")

	b.Open("/sessions")
	if got := b.Body(); !strings.Contains(got, "this browser") {
		t.Errorf("sessions page: %q", got)
	}
	b.CheckAccessibility()
	b.Shot("sessions")
	b.Run(dismissConfirms())
	b.Submit(`form[action="/sessions/end-all"] button`)
	if got := b.Body(); !strings.Contains(got, "You are signed out") {
		t.Fatalf("after signing out everywhere: %q", got)
	}
	b.Open("/sessions")
	if !b.Has(`form[action="/sign-in"]`) {
		t.Fatalf("after signing out everywhere, /sessions shows %q", b.Body())
	}
}

// TestWrongPasswordSaysSoBesideTheForm: a failed sign-in keeps the e-mail
// and says what was wrong, in words.
func TestWrongPasswordSaysSo(t *testing.T) {
	b := webtest.New(t)
	webtest.AddPerson(t, b.Server, keysmith.RoleOrgAdmin, "olga@example.com", "olga's password")
	b.Open("/sign-in")
	b.Run(sendKeys("#email", "olga@example.com"), sendKeys("#password", "wrong password"))
	b.Submit(`form[action="/sign-in"] button`)
	if got := b.Text(".alert-error"); !strings.Contains(got, "email or password is wrong") {
		t.Errorf("error shown: %q", got)
	}
	if got := b.Value("#email"); got != "olga@example.com" {
		t.Errorf("e-mail field after a failure: %q", got)
	}
}

// TestFormsNeedTheirCSRFToken: a form post without the session's CSRF
// token, or with another's, is refused with 403 and changes nothing; from
// another origin it is refused even with the token.
func TestFormsNeedTheirCSRFToken(t *testing.T) {
	b := webtest.New(t)
	webtest.AddPerson(t, b.Server, keysmith.RoleOrgAdmin, "olga@example.com", "olga's password")
	b.SignIn("olga@example.com", "olga's password")
	token := b.CSRF()
	if token == "" {
		t.Fatal("no CSRF token on the overview")
	}
	for name, form := range map[string]url.Values{
		"none":  {},
		"wrong": {"csrf_token": {strings.Repeat("A", len(token))}},
	} {
		if resp := b.PostForm("/sessions/end-all", form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s token: status %d, want 403", name, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, b.Server.URL+"/sessions/end-all",
		strings.NewReader(url.Values{"csrf_token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(&http.Cookie{Name: "keysmith_session", Value: b.SessionCookie()})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin post: status %d, want 403", resp.StatusCode)
	}
	// Still signed in.
	b.Open("/sessions")
	if b.Has(`form[action="/sign-in"]`) {
		t.Error("a refused post signed the user out")
	}
}

// TestPagesCarryTheSecurityHeaders: every page forbids inline script,
// framing and referrers, and is not cached.
func TestPagesCarryTheSecurityHeaders(t *testing.T) {
	b := webtest.New(t)
	for _, path := range []string{"/sign-in", "/setup", "/no-such-page"} {
		resp, err := http.Get(b.Server.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
			!strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
	}
}
