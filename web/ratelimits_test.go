package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/web/webtest"
)

// TestRateLimitsSuperAdminOnly: a super admin changes a group's limit, sees
// a bad one refused beside its field and resets every limit; the JSON API
// agrees. An org admin has no link, gets 403 on the page and on a forged
// post, which changes nothing.
func TestRateLimitsSuperAdminOnly(t *testing.T) {
	b := webtest.New(t)
	srv := b.Server
	limits := func() map[string]any {
		return srv.Do("GET", "/v1/settings/rate-limits", srv.AdminToken, nil).Want(t, http.StatusOK).Body
	}
	signIn(b, keysmith.RoleSuperAdmin, "sam@example.com")
	b.Open("/rate-limits")
	b.Run(chromedp.SetValue(chromedp.CSS("#rl-tokens"), "1234"))
	b.Submit(`form[action="/rate-limits"] button[type=submit]`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "saved") {
		t.Errorf("after saving: %q", got)
	}
	if got := limits()["tokens"]; got != 1234.0 {
		t.Errorf("API tokens limit %v, want 1234", got)
	}
	shots(b, "ratelimits")

	// The browser's own check of min=1 would stop the form: the server's
	// answer is what is tested.
	b.Open("/rate-limits")
	b.Run(chromedp.SetValue(chromedp.CSS("#rl-zones"), "0"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action="/rate-limits"]').noValidate = true; undefined`))
	b.Submit(`form[action="/rate-limits"] button[type=submit]`)
	if got := b.Text(".rl-row .field-error"); !strings.Contains(got, "zones") {
		t.Errorf("error for a zero limit: %q", got)
	}
	if got := limits()["zones"]; got != 300.0 {
		t.Errorf("API zones limit %v after a refused change, want 300", got)
	}
	b.Run(dismissConfirms())
	b.Submit(`form[action="/rate-limits/reset"] button`)
	if got := limits()["tokens"]; got != 600.0 {
		t.Errorf("API tokens limit %v after reset, want 600", got)
	}

	olga := webtest.On(t, srv)
	signIn(olga, keysmith.RoleOrgAdmin, "olga@example.com")
	if olga.Has(`nav a[href="/rate-limits"]`) {
		t.Error("an org admin is shown the rate-limits link")
	}
	token := olga.CSRF()
	if resp, _ := fetch(olga, "/rate-limits"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("org admin GET /rate-limits: %d, want 403", resp.StatusCode)
	}
	for _, path := range []string{"/rate-limits", "/rate-limits/reset"} {
		if resp := olga.PostForm(path, url.Values{"csrf_token": {token}, "tokens": {"1"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("org admin forged post to %s: %d, want 403", path, resp.StatusCode)
		}
	}
	if got := limits()["tokens"]; got != 600.0 {
		t.Errorf("API tokens limit %v after forged posts, want 600", got)
	}
}
