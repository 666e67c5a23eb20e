package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/web/webtest"
)

// crossOriginFetch opens a page of the other site and, from it, calls
// Keysmith's API with fetch() and a Bearer token, as a single-page app
// would. It returns "200 <body start>" when the page could read the
// answer, or the browser's error ("TypeError: Failed to fetch") when CORS
// kept it from the page. include asks for cookies to go along.
func crossOriginFetch(b *webtest.Browser, site, token string, include bool) string {
	b.T.Helper()
	creds := "omit"
	if include {
		creds = "include"
	}
	b.Run(chromedp.Navigate(site+"/app"), chromedp.WaitVisible(chromedp.CSS("h1")))
	return webtest.Get(b, chromedp.Evaluate[string](fmt.Sprintf(`fetch(%q, {headers: {Authorization: "Bearer " + %q}, credentials: %q})
		.then(r => r.text().then(t => r.status + " " + t.slice(0, 40)), e => String(e))`,
		b.Server.URL+"/v1/trusted-origins", token, creds), chromedp.EvalAwaitPromise))
}

// TestTrustedOriginsInABrowser: a page served from another origin (another
// port of 127.0.0.1) calls the API with fetch() and a Bearer token. Chromium
// refuses it the answer until an org admin lists the origin through the
// console's form, gives it once listed (but never with cookies), and
// refuses again once the origin is deleted there.
func TestTrustedOriginsInABrowser(t *testing.T) {
	b := webtest.New(t)
	token := signIn(b, keysmith.RoleOrgAdmin, "olga@example.com")
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>Another site</title><main><h1>Another site</h1></main></html>`)
	}))
	t.Cleanup(site.Close)
	origin := site.URL // http://127.0.0.1:port, not Keysmith's port

	if got := crossOriginFetch(b, origin, token, false); !strings.Contains(got, "TypeError") {
		t.Fatalf("fetch from an unlisted origin: %q, want a CORS error", got)
	}

	b.Open("/")
	if !b.Has(`nav a[href="/trusted-origins"]`) {
		t.Error("the navigation has no link to the trusted origins")
	}
	b.Open("/trusted-origins")
	b.Run(sendKeys("#origin", origin+"/"))
	b.Submit(`form[action="/trusted-origins"] button[type=submit]`)
	if got := b.Text("#origin-err"); !strings.Contains(got, "path") {
		t.Errorf("error beside the origin: %q, want it to name the path", got)
	}
	b.Run(chromedp.SetValue(chromedp.CSS("#origin"), strings.ToUpper(origin)))
	b.Submit(`form[action="/trusted-origins"] button[type=submit]`)
	if got := b.Text("table.origins tbody"); !strings.Contains(got, origin) {
		t.Fatalf("origins after adding: %q, want %s", got, origin)
	}
	shots(b, "trusted-origins")

	if got := crossOriginFetch(b, origin, token, false); !strings.HasPrefix(got, "200 ") || !strings.Contains(got, "items") {
		t.Errorf("fetch from the listed origin: %q, want 200 and the list", got)
	}
	if got := crossOriginFetch(b, origin, token, true); !strings.Contains(got, "TypeError") {
		t.Errorf("fetch with credentials from the listed origin: %q, want a CORS error (credentials are never allowed)", got)
	}

	b.Open("/trusted-origins")
	b.Run(dismissConfirms())
	b.Submit(`table.origins form[action$="/delete"] button`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "deleted") {
		t.Errorf("after deleting: %q", got)
	}
	if got := crossOriginFetch(b, origin, token, false); !strings.Contains(got, "TypeError") {
		t.Errorf("fetch after the origin was deleted: %q, want a CORS error", got)
	}
}

// TestTrustedOriginsReadOnlyAdminCannotChange: a read-only admin sees the
// list but no form or button, and forged posts are refused.
func TestTrustedOriginsReadOnlyAdminCannotChange(t *testing.T) {
	b := webtest.New(t)
	srv := b.Server
	id := srv.Do("POST", "/v1/trusted-origins", srv.AdminToken, map[string]any{"origin": "https://spa.example.com"}).
		Want(t, http.StatusCreated).String("id")
	signIn(b, keysmith.RoleReadOnlyAdmin, "rita@example.com")
	b.Open("/trusted-origins")
	if got := b.Body(); !strings.Contains(got, "https://spa.example.com") {
		t.Errorf("read-only page: %q", got)
	}
	if b.Has("main form") {
		t.Error("a read-only admin is shown a form")
	}
	token := b.CSRF()
	for path, form := range map[string]url.Values{
		"/trusted-origins":                   {"origin": {"https://forged.example.com"}},
		"/trusted-origins/" + id + "/delete": {},
	} {
		form.Set("csrf_token", token)
		if resp := b.PostForm(path, form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("forged post to %s: status %d, want 403", path, resp.StatusCode)
		}
	}
	if got := srv.Do("GET", "/v1/trusted-origins", srv.AdminToken, nil).Raw; strings.Contains(string(got), "forged") || !strings.Contains(string(got), id) {
		t.Errorf("origins after forged posts: %s", got)
	}
}
