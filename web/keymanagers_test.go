package web_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/web/webtest"
)

// TestKeyManagerGenerateKeysOnItsTab: an org admin adds an OpenID
// provider as a key manager on the console page (no script needed), and a
// developer generates sandbox keys on that manager's tab of their
// application: the client is registered at the provider with the scope
// ticked, the provider's client_id and secret are shown once, and the
// application's page then shows the manager's client_id and no secrets of
// its own. The provider is a small RFC 7591 server standing for a third
// party (apptest.DCRProvider).
func TestKeyManagerGenerateKeysOnItsTab(t *testing.T) {
	srv := apptest.Start(t, filepath.Join(t.TempDir(), "keysmith.db"), app.Config{AllowInsecureKeyManagers: true})
	p := apptest.NewDCRProvider(t)

	admin := webtest.On(t, srv)
	webtest.AddPerson(t, srv, keysmith.RoleOrgAdmin, "olga@example.com", "olga's password")
	admin.SignIn("olga@example.com", "olga's password")
	admin.Open("/key-managers")
	admin.Run(sendKeys("#km-name", "Partner"), chromedp.SetValue(chromedp.CSS("#km-type"), "oidc"),
		sendKeys("#km-issuer", p.Issuer), sendKeys("#km-regtoken", p.InitialAccessToken))
	admin.Submit(`form[action="/key-managers"] button[type=submit]`)
	if got := admin.Text(".alert-ok"); !strings.Contains(got, "key manager is added") {
		t.Fatalf("after adding: %q", admin.Body())
	}
	shots(admin, "key-managers")
	// Renamed on its own page; the registration token stays (and is
	// never put back into the form).
	admin.Run(chromedp.Click(chromedp.CSS(`table.key-managers a`)))
	if admin.Value("#km-regtoken") != "" {
		t.Error("the edit form shows the registration token")
	}
	admin.Run(chromedp.SetValue(chromedp.CSS("#km-name"), "Partner IdP"))
	admin.Submit(`form.card button[type=submit]`)
	if got := admin.Text(".alert-ok"); !strings.Contains(got, "saved") || !strings.Contains(admin.Text("dl.facts"), "set (encrypted)") {
		t.Fatalf("after saving: %q", admin.Body())
	}
	shots(admin, "key-manager-edit")
	// Introspection needs the prefix of the manager's opaque tokens; the
	// form says so on its field, then saves both new fields.
	admin.Run(sendKeys("#km-icid", "keysmith"))
	admin.Submit(`form.card button[type=submit]`)
	if got := admin.Text("#km-prefix + p + p.field-error"); !strings.Contains(got, "opaque_token_prefix is required") {
		t.Fatalf("introspection without a prefix: %q", admin.Body())
	}
	admin.Run(sendKeys("#km-prefix", "ptr_"), chromedp.Click(chromedp.CSS("#km-accept")))
	admin.Submit(`form.card button[type=submit]`)
	if got := admin.Text(".alert-ok"); !strings.Contains(got, "saved") || admin.Value("#km-prefix") != "ptr_" {
		t.Fatalf("after saving the prefix: %q", admin.Body())
	}
	if ms, err := srv.App.Store.FindKeyManagers(context.Background()); err != nil || len(ms) != 1 ||
		ms[0].OpaqueTokenPrefix != "ptr_" || !ms[0].AcceptUnregisteredClients || ms[0].IntrospectionClientID != "keysmith" {
		t.Fatalf("stored: %+v %v", ms, err)
	}
	admin.Open("/key-managers")
	if got := admin.Text("table.key-managers"); !strings.Contains(got, "Keysmith") || !strings.Contains(got, "Partner IdP") {
		t.Errorf("list: %q", got)
	}

	b := webtest.On(t, srv)
	b.Server.AddAPI(keysmith.Scope{Name: "orders:read", Description: "Read orders", SelfService: true})
	dev := signedInDeveloper(b, "dev@example.com")
	a, err := srv.App.Service.CreateApp(context.Background(), dev, keysmith.CreateAppInput{Name: "Shop"})
	if err != nil {
		t.Fatal(err)
	}
	// The console page is not the developer's, and its forms refuse them.
	if r := b.PostForm("/key-managers", url.Values{"csrf_token": {b.CSRF()}, "name": {"mine"}, "type": {"oidc"},
		"issuer": {p.Issuer}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a developer adding a key manager: status %d, want 403", r.StatusCode)
	}
	b.Open("/apps/" + a.ID + "?env=sandbox")
	b.Run(chromedp.Click(chromedp.CSS(`nav.km-tabs li:nth-of-type(2) a`)))
	if got := b.Text(".km-hint"); !strings.Contains(got, "Scopes must already exist at Partner IdP") {
		t.Fatalf("the manager's tab: %q", b.Body())
	}
	b.Run(chromedp.Click(chromedp.CSS(`form.generate input[name=scopes][value="orders:read"]`)))
	b.Submit(`form.generate button[type=submit]`)
	key, secret := b.Value("#consumer-key"), b.Value("#client-secret")
	if !strings.HasPrefix(key, "ext-client-") || !strings.HasPrefix(secret, "ext-secret-") {
		t.Fatalf("shown: key %q secret %q; page %q", key, secret, b.Body())
	}
	if md := p.Client(key); md == nil || md["scope"] != "orders:read" {
		t.Errorf("registered at the provider: %v", md)
	}
	shots(b, "key-manager-keys-shown-once")

	b.Open("/apps/" + a.ID + "?env=sandbox")
	b.Run(chromedp.Click(chromedp.CSS(`nav.km-tabs li:nth-of-type(2) a`)),
		chromedp.WaitVisible(chromedp.CSS(`input[readonly][value="`+key+`"]`)))
	if !b.Has(`input[readonly][value="`+key+`"]`) || b.Has("table.secrets") || strings.Contains(b.Body(), secret) {
		t.Errorf("the manager's tab after generating: %q", b.Body())
	}
	shots(b, "key-manager-tab")
	// Keysmith's own tab still offers Generate Keys of its own.
	b.Open("/apps/" + a.ID + "?env=sandbox")
	if !b.Has("form.generate") || b.Has(`form.generate input[name=key_manager]`) {
		t.Errorf("Keysmith's tab: %q", b.Body())
	}
}
