package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/web/webtest"
)

// addClient creates an OAuth client of an application through the JSON API
// and returns its id and first secret.
func addClient(b *webtest.Browser, token, app, name, env string, scopes ...string) (id, secret string) {
	b.T.Helper()
	r := b.Server.Do("POST", "/v1/oauth/clients", token,
		map[string]any{"name": name, "app_id": app, "environment": env, "scopes": scopes}).Want(b.T, http.StatusCreated)
	return r.String("client_id"), r.String("client_secret")
}

// addKey creates an app key through the JSON API and returns its id.
func addKey(b *webtest.Browser, token, app, name, env string, scopes ...string) string {
	b.T.Helper()
	return b.Server.Do("POST", "/v1/apps/"+app+"/keys", token,
		map[string]any{"name": name, "environment": env, "scopes": scopes}).Want(b.T, http.StatusCreated).String("id")
}

// TestDeveloperPagesAndAccessToken: /developer/clients and /developer/keys
// list the developer's own clients and keys only; on a client's "Generate
// access token" page a wrong secret is refused beside its field (and never
// written back), and the right one gives a JWT whose decoded claims carry
// the scope asked for.
func TestDeveloperPagesAndAccessToken(t *testing.T) {
	b := webtest.New(t)
	ordersAPI(b)
	token := signIn(b, keysmith.RoleDeveloper, "dana@example.com")
	app := addApp(b, token, "Shop")
	clientID, clientSecret := addClient(b, token, app, "shop backend", "sandbox", "orders:read")
	addKey(b, token, app, "checkout", "production", "orders:read")
	_, other := personWithToken(t, b.Server, keysmith.RoleDeveloper, "omar@example.com")
	otherApp := addApp(b, other, "Rival")
	otherClient, _ := addClient(b, other, otherApp, "rival backend", "production")
	addKey(b, other, otherApp, "rival key", "sandbox")

	b.Open("/developer/keys")
	shots(b, "developer-keys")
	if got := b.Body(); !strings.Contains(got, "checkout") || strings.Contains(got, "rival") || strings.Contains(got, otherApp) {
		t.Errorf("developer keys: %q, want checkout and nothing of Rival", got)
	}
	b.Open("/developer/clients")
	shots(b, "developer-clients")
	if got := b.Body(); !strings.Contains(got, clientID) || !strings.Contains(got, "Shop") ||
		strings.Contains(got, otherClient) || strings.Contains(got, "rival") {
		t.Errorf("developer clients: %q, want %s of Shop and nothing of Rival", got, clientID)
	}
	if st := pageStatus(t, b.Server, b, "/developer/clients/"+otherClient+"/token"); st != http.StatusNotFound {
		t.Errorf("another developer's client's token page: %d, want 404", st)
	}

	b.Submit(`a[href="/developer/clients/` + clientID + `/token"]`)
	shots(b, "developer-token")
	wrong := "ksc_" + strings.Repeat("A", 40)
	b.Run(sendKeys("#client_secret", wrong))
	b.Submit(`form[action$="/token"] button[type=submit]`)
	if got := b.Text(".field-error"); !strings.Contains(got, "not a current secret") {
		t.Errorf("wrong secret: %q", got)
	}
	if b.Has("#access-token") || b.Value("#client_secret") != "" || strings.Contains(b.Body(), wrong) {
		t.Error("a wrong secret gives a token or is written back into the page")
	}
	shots(b, "developer-token-wrong")

	// Longer than the client's own validity is refused beside the field.
	b.Run(sendKeys("#client_secret", clientSecret), sendKeys("#validity", "999999"))
	b.Submit(`form[action$="/token"] button[type=submit]`)
	if got := b.Text(".field-error"); !strings.Contains(got, "at most the client's own") || b.Has("#access-token") {
		t.Fatalf("a validity beyond the client's: %q", b.Body())
	}
	b.Run(chromedp.Evaluate[chromedp.Void](`document.querySelector("#validity").value = "60"; undefined`),
		sendKeys("#client_secret", clientSecret), chromedp.Click(chromedp.CSS(`input[name=scopes][value="orders:read"]`)))
	b.Submit(`form[action$="/token"] button[type=submit]`)
	jwt := b.Value("#access-token")
	if strings.Count(jwt, ".") != 2 || !b.Has(`button.copy[data-copy="access-token"]`) {
		t.Fatalf("token %q, want a JWT with a Copy button", jwt)
	}
	payload := b.Text("#jwt-payload")
	if !strings.Contains(b.Body(), "1 minute") && !strings.Contains(b.Body(), "60 s") {
		t.Errorf("the page does not say the token lasts 60 seconds: %q", b.Text(".token-result"))
	}
	for _, want := range []string{`"scope": "orders:read"`, `"client_id": "` + clientID + `"`, `"env": "sandbox"`} {
		if !strings.Contains(payload, want) {
			t.Errorf("decoded payload lacks %s: %s", want, payload)
		}
	}
	if strings.Contains(b.Body(), clientSecret) {
		t.Error("the page shows the client secret")
	}
	shots(b, "developer-token-issued")
	code := b.Server.Do("POST", "/v1/verify", "", map[string]any{"token": jwt, "scopes": []string{"orders:read"}, "environment": "sandbox"}).
		Want(t, http.StatusOK).String("code")
	if code != "VALID" {
		t.Errorf("verify the issued token: %s, want VALID", code)
	}
}
