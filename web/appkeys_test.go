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

// ordersAPI registers an API with a self-service scope (orders:read) and
// an admin-only one (orders:admin).
func ordersAPI(b *webtest.Browser) *keysmith.API {
	b.T.Helper()
	return b.Server.AddAPI(keysmith.Scope{Name: "orders:read", Description: "Read orders", SelfService: true},
		keysmith.Scope{Name: "orders:admin", Description: "Manage orders"})
}

// addApp registers an application with an API token of its owner and
// returns its id.
func addApp(b *webtest.Browser, token, name string) string {
	b.T.Helper()
	return b.Server.Do("POST", "/v1/apps", token, map[string]any{"name": name}).Want(b.T, http.StatusCreated).String("app_id")
}

// verifyKey is what POST /v1/verify answers for a key asked for scopes in env.
func verifyKey(b *webtest.Browser, secret, env string, scopes ...string) string {
	b.T.Helper()
	return b.Server.Do("POST", "/v1/verify", "", map[string]any{"token": secret, "scopes": scopes, "environment": env}).
		Want(b.T, http.StatusOK).String("code")
}

// appKeyCount is how many keys the application has, through the JSON API.
func appKeyCount(b *webtest.Browser, token, appID string) int {
	b.T.Helper()
	r := b.Server.Do("GET", "/v1/apps/"+appID+"/keys", token, nil).Want(b.T, http.StatusOK)
	items, _ := r.Body["items"].([]any)
	return len(items)
}

// TestAppKeySandboxLifecycle: a developer creates a sandbox key with a
// self-service scope on the keys page; its secret is shown once, verifies
// in sandbox with that scope (and not in production), and is not listed
// among the production keys; a rotation with a grace period gives a new
// secret that works while the old one still does; a revoke makes verify
// say REVOKED.
func TestAppKeySandboxLifecycle(t *testing.T) {
	b := webtest.New(t)
	ordersAPI(b)
	token := signIn(b, keysmith.RoleDeveloper, "dana@example.com")
	app := addApp(b, token, "Shop")

	b.Open("/apps/" + app + "/keys?env=sandbox")
	if got := b.Text(`nav.env-tabs a[aria-current="page"]`); got != "Sandbox keys" {
		t.Errorf("current tab %q, want Sandbox keys", got)
	}
	shots(b, "appkeys-empty")
	b.Submit(`a[href="/apps/` + app + `/keys/new?env=sandbox"]`)
	shots(b, "appkey-new")
	b.Run(sendKeys("#name", "checkout"), chromedp.Click(chromedp.CSS(`input[name=scopes][value="orders:read"]`)))
	b.Submit(`form[action^="/apps/` + app + `/keys"] button[type=submit]`)
	if got := b.Body(); !strings.Contains(got, "Sandbox key created successfully!") {
		t.Fatalf("after create: %q", got)
	}
	secret := b.Value("#key-secret")
	if secret == "" || !b.Has(`button.copy[data-copy="key-secret"]`) {
		t.Fatalf("secret %q shown without its Copy button", secret)
	}
	href := webtest.Get(b, chromedp.Evaluate[string](`document.querySelector("[data-shown-once] a.button").getAttribute("href")`))
	shots(b, "appkey-created")

	b.Run(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("table.appkeys")))
	if b.Has("#key-secret") || strings.Contains(b.Body(), secret) {
		t.Error("a reload shows the secret again")
	}
	if !strings.Contains(b.Text("table.appkeys"), "checkout") {
		t.Errorf("the sandbox list lacks the key: %q", b.Text("table.appkeys"))
	}
	shots(b, "appkeys")
	if n := appKeyCount(b, token, app); n != 1 {
		t.Errorf("%d keys, want 1 (a reload must not create another)", n)
	}

	if code := verifyKey(b, secret, "sandbox", "orders:read"); code != "VALID" {
		t.Errorf("verify in sandbox with orders:read: %s, want VALID", code)
	}
	if code := verifyKey(b, secret, "production", "orders:read"); code == "VALID" {
		t.Error("a sandbox key verifies in production")
	}
	b.Submit(`nav.env-tabs a[href$="env=production"]`)
	if got := b.Text("table.appkeys"); strings.Contains(got, "checkout") {
		t.Errorf("the production list shows the sandbox key: %q", got)
	}

	// Rotate with an hour's grace: both secrets work.
	b.Open(href)
	shots(b, "appkey")
	b.Run(chromedp.SetValue(chromedp.CSS("#grace"), "3600"), dismissConfirms())
	b.Submit(`form[action$="/rotate"] button[type=submit]`)
	if got := b.Body(); !strings.Contains(got, "Key rotated successfully!") || !strings.Contains(got, "keeps working for 1 hour") {
		t.Fatalf("after rotate: %q", got)
	}
	rotated := b.Value("#key-secret")
	shots(b, "appkey-rotated")
	if rotated == secret {
		t.Fatal("rotation kept the secret")
	}
	if code := verifyKey(b, rotated, "sandbox", "orders:read"); code != "VALID" {
		t.Errorf("the new secret: %s, want VALID", code)
	}
	if code := verifyKey(b, secret, "sandbox", "orders:read"); code != "VALID" {
		t.Errorf("the old secret within its grace: %s, want VALID", code)
	}

	b.Open(href)
	b.Run(dismissConfirms())
	b.Submit(`form[action$="/revoke"] button[type=submit]`)
	if got := b.Text("p.token-head"); !strings.Contains(got, "Revoked") {
		t.Errorf("after revoke: %q", got)
	}
	if b.Has(`form[action$="/rotate"]`) || b.Has(`form[action$="/revoke"]`) {
		t.Error("a revoked key still offers rotate or revoke")
	}
	if code := verifyKey(b, rotated, "sandbox", "orders:read"); code != "REVOKED" {
		t.Errorf("verify after revoke: %s, want REVOKED", code)
	}
}

// TestAppKeyScopesAndRolesRefused: a developer sees an admin-only scope
// disabled, and a forged post with it is refused (403) and creates
// nothing; a read-only admin sees the keys but no create button, and a
// forged post of theirs is refused too.
func TestAppKeyScopesAndRolesRefused(t *testing.T) {
	b := webtest.New(t)
	ordersAPI(b)
	token := signIn(b, keysmith.RoleDeveloper, "dana@example.com")
	app := addApp(b, token, "Shop")

	b.Open("/apps/" + app + "/keys/new?env=sandbox")
	if !b.Has(`input[name=scopes][value="orders:admin"][disabled]`) || b.Has(`input[name=scopes][value="orders:read"][disabled]`) {
		t.Error("want orders:admin disabled and orders:read enabled")
	}
	forged := url.Values{"csrf_token": {b.CSRF()}, "name": {"sneaky"}, "environment": {"sandbox"}, "scopes": {"orders:read", "orders:admin"}}
	if resp := b.PostForm("/apps/"+app+"/keys", forged); resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged post with orders:admin: %d, want 403", resp.StatusCode)
	}
	if n := appKeyCount(b, token, app); n != 0 {
		t.Errorf("%d keys after the refused post, want 0", n)
	}

	ro := webtest.On(t, b.Server)
	signIn(ro, keysmith.RoleReadOnlyAdmin, "rita@example.com")
	ro.Open("/apps/" + app + "/keys?env=sandbox")
	if ro.Has(`a[href*="/keys/new"]`) {
		t.Error("a read-only admin is offered to create a key")
	}
	forged = url.Values{"csrf_token": {ro.CSRF()}, "name": {"ro"}, "environment": {"sandbox"}}
	if resp := ro.PostForm("/apps/"+app+"/keys", forged); resp.StatusCode != http.StatusForbidden {
		t.Errorf("read-only admin's forged post: %d, want 403", resp.StatusCode)
	}
	if n := appKeyCount(b, token, app); n != 0 {
		t.Errorf("%d keys after the refused posts, want 0", n)
	}

	// On a key's page: the read-only admin has no actions; the developer
	// may not add the admin-only scope by a forged edit.
	key := addKey(b, token, app, "checkout", "sandbox", "orders:read")
	ro.Open("/apps/" + app + "/keys/" + key)
	if ro.Has(`form[action*="/keys/` + key + `"]`) {
		t.Error("a read-only admin is offered to change, rotate or revoke a key")
	}
	if resp := ro.PostForm("/apps/"+app+"/keys/"+key+"/revoke", url.Values{"csrf_token": {ro.CSRF()}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("read-only admin's forged revoke: %d, want 403", resp.StatusCode)
	}
	b.Open("/apps/" + app + "/keys/" + key)
	edit := url.Values{"csrf_token": {b.CSRF()}, "name": {"checkout"}, "scopes": {"orders:read", "orders:admin"}}
	if resp := b.PostForm("/apps/"+app+"/keys/"+key, edit); resp.StatusCode != http.StatusForbidden {
		t.Errorf("developer's forged edit adding orders:admin: %d, want 403", resp.StatusCode)
	}
	// The edit form itself renames the key and keeps its scope.
	b.Run(chromedp.Click(chromedp.CSS(`section[aria-labelledby=h-edit] summary`)),
		chromedp.SetValue(chromedp.CSS("#name"), "checkout v2"))
	b.Submit(`form[action="/apps/` + app + `/keys/` + key + `"] button[type=submit]`)
	if got := b.Body(); !strings.Contains(got, "The key is saved") || b.Text("h1") != "checkout v2" {
		t.Errorf("after the edit: %q", got)
	}
	got := b.Server.Do("GET", "/v1/apps/"+app+"/keys/"+key, token, nil).Want(t, http.StatusOK)
	if scopes, _ := got.Body["scopes"].([]any); len(scopes) != 1 || got.String("status") != "active" {
		t.Errorf("after the refused posts the key has scopes %v and status %s, want [orders:read], active", scopes, got.String("status"))
	}
}
