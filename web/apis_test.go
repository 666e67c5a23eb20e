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

// apiCount is how many APIs are registered, through the JSON API.
func apiCount(b *webtest.Browser) int {
	b.T.Helper()
	r := b.Server.Do("GET", "/v1/apis", b.Server.AdminToken, nil).Want(b.T, http.StatusOK)
	items, _ := r.Body["items"].([]any)
	return len(items)
}

// TestAPIsRegisteredByAdminsReadByDevelopers: an org admin registers an
// API with two scopes, one self-service, in the one-per-line syntax; a
// developer sees it with the self-service badge but no register, edit or
// delete, and their forged posts get 403 and change nothing; deleting an
// API whose scope a key holds is refused with the holder named.
func TestAPIsRegisteredByAdminsReadByDevelopers(t *testing.T) {
	b := webtest.New(t)
	signIn(b, keysmith.RoleOrgAdmin, "olga@example.com")
	b.Open("/apis")
	b.Submit(`a[href="/apis/new"]`)
	shots(b, "api-new")
	b.Run(sendKeys("#name", "Orders"), sendKeys("#identifier", "https://orders.example.com"),
		chromedp.SetValue(chromedp.CSS("#scopes"), "orders:read Read orders [self-service]\norders:write Change orders"))
	b.Submit(`form[action="/apis"] button[type=submit]`)
	if got := b.Body(); !strings.Contains(got, "The API is registered") {
		t.Fatalf("after register: %q", got)
	}
	apiPath, _, _ := strings.Cut(location(b), "?")
	shots(b, "api")
	b.Open("/apis")
	shots(b, "apis")

	dev := webtest.On(t, b.Server)
	devToken := signIn(dev, keysmith.RoleDeveloper, "dana@example.com")
	dev.Open("/apis")
	read := dev.Text(`section.api-card ul.scope-list li`)
	if !strings.Contains(read, "orders:read") || !strings.Contains(read, "self-service") {
		t.Errorf("first scope reads %q, want orders:read with the self-service badge", read)
	}
	if dev.Has(`section.api-card ul.scope-list li:nth-child(2) .badge`) {
		t.Error("orders:write carries the self-service badge")
	}
	if dev.Has(`a[href="/apis/new"]`) {
		t.Error("a developer is offered to register an API")
	}
	dev.Open(apiPath)
	if dev.Has(`form[action^="/apis/"]`) {
		t.Error("a developer is offered to edit or delete the API")
	}
	csrf := dev.CSRF()
	for path, form := range map[string]url.Values{
		"/apis":             {"name": {"Evil"}, "identifier": {"https://evil.example"}, "scopes": {"evil:all [self-service]"}},
		apiPath:             {"name": {"Renamed"}, "identifier": {"https://orders.example.com"}, "scopes": {""}},
		apiPath + "/delete": {},
	} {
		form.Set("csrf_token", csrf)
		if resp := dev.PostForm(path, form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("developer's forged POST %s: %d, want 403", path, resp.StatusCode)
		}
	}
	if n := apiCount(b); n != 1 {
		t.Errorf("%d APIs after the refused posts, want 1", n)
	}

	// A developer's key holds orders:read: the delete is refused, naming it.
	app := addApp(b, devToken, "Shop")
	key := b.Server.Do("POST", "/v1/apps/"+app+"/keys", devToken,
		map[string]any{"name": "checkout", "environment": "sandbox", "scopes": []string{"orders:read"}}).
		Want(t, http.StatusCreated).String("id")
	b.Open(apiPath)
	b.Run(dismissConfirms())
	b.Submit(`form[action$="/delete"] button[type=submit]`)
	if got := b.Text(".alert-error"); !strings.Contains(got, key) {
		t.Errorf("refused delete says %q, want the key %s named", got, key)
	}
	shots(b, "api-delete-refused")
	if n := apiCount(b); n != 1 {
		t.Errorf("%d APIs after the refused delete, want 1", n)
	}
}
