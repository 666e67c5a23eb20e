package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/web/webtest"
)

// seedShop registers an API with a self-service scope (orders:read) and
// one only org and super admins grant (orders:admin).
func seedShop(b *webtest.Browser) *keysmith.API {
	b.T.Helper()
	return b.Server.AddAPI(keysmith.Scope{Name: "orders:read", Description: "Read orders", SelfService: true},
		keysmith.Scope{Name: "orders:admin", Description: "Cancel and refund orders"})
}

// signedInDeveloper adds a developer on b's server and signs them in on b.
func signedInDeveloper(b *webtest.Browser, email string) keysmith.Principal {
	b.T.Helper()
	id := webtest.AddPerson(b.T, b.Server, keysmith.RoleDeveloper, email, email+" password")
	b.SignIn(email, email+" password")
	return principal(b, id)
}

// principal is a stored user, to seed through the service as them.
func principal(b *webtest.Browser, id string) keysmith.Principal {
	b.T.Helper()
	u, err := b.Server.App.Store.FindUserByID(context.Background(), id)
	if err != nil {
		b.T.Fatal(err)
	}
	return keysmith.Principal{User: u}
}

// seedApp creates an application of p with a client in each environment
// through the service, and returns the app and the clients by environment.
func seedApp(b *webtest.Browser, p keysmith.Principal, name string) (*keysmith.App, map[keysmith.Environment]*keysmith.Client) {
	b.T.Helper()
	ctx, svc := context.Background(), b.Server.App.Service
	a, err := svc.CreateApp(ctx, p, keysmith.CreateAppInput{Name: name})
	if err != nil {
		b.T.Fatal(err)
	}
	clients := map[keysmith.Environment]*keysmith.Client{}
	for _, env := range []keysmith.Environment{keysmith.EnvProduction, keysmith.EnvSandbox} {
		cl, _, _, err := svc.CreateClient(ctx, p, keysmith.CreateClientInput{Name: name + " " + string(env), AppID: a.ID,
			Environment: string(env), Scopes: []string{"orders:read"}})
		if err != nil {
			b.T.Fatal(err)
		}
		clients[env] = cl
	}
	return a, clients
}

// clientToken asks the token endpoint for an access token with a real
// OAuth client library (client_credentials).
func clientToken(b *webtest.Browser, id, secret string, scopes ...string) (string, error) {
	b.T.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: b.Server.URL + "/v1/oauth/token", Scopes: scopes}
	tok, err := cc.Token(context.Background())
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

// tokenActive asks the introspection endpoint, as the first admin,
// whether an access token is active.
func tokenActive(b *webtest.Browser, token string) bool {
	b.T.Helper()
	req, _ := http.NewRequest("POST", b.Server.URL+"/v1/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+b.Server.AdminToken)
	return b.Server.Send(req).Want(b.T, http.StatusOK).Body["active"] == true
}

// getStatus is the status of a page for the browser's session.
func getStatus(b *webtest.Browser, path string) int {
	b.T.Helper()
	req, _ := http.NewRequest("GET", b.Server.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: "keysmith_session", Value: b.SessionCookie()})
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		b.T.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestDeveloperGetsSandboxKeysAndRotatesSecrets: a developer creates an
// application, sees its App ID, generates sandbox keys (the secret shown
// once), gives the client a self-service scope, adds a second secret with
// a description and an expiry, gets a token with each secret, deletes the
// first (its token still verifies) and resets (the old secrets stop
// working).
func TestDeveloperGetsSandboxKeysAndRotatesSecrets(t *testing.T) {
	b := webtest.New(t)
	seedShop(b)
	signedInDeveloper(b, "dev@example.com")

	b.Open("/apps")
	b.Submit(`a[href="/apps/new"]`)
	shots(b, "app-new")
	b.Run(sendKeys("#name", "Shop"), sendKeys("#description", "The web shop's backend"))
	b.Submit(`form[action="/apps"] button[type=submit]`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "application is created") {
		t.Fatalf("after create: %q", b.Body())
	}
	appID := b.Value("#app-id")
	if !strings.HasPrefix(appID, "app") || !b.Has(`button.copy[data-copy="app-id"]`) {
		t.Fatalf("App ID %q, or no Copy button beside it", appID)
	}
	if !b.Has(`nav.env-tabs a[aria-current="page"][href="/apps/`+appID+`"]`) || b.Text("#h-keys") != "Production Keys" {
		t.Errorf("the page does not open on Production Keys: %q", b.Text("#h-keys"))
	}

	b.Submit(`nav.env-tabs a[href$="env=sandbox"]`)
	if got := b.Text("#h-keys"); got != "Sandbox Keys" {
		t.Errorf("sandbox tab is titled %q", got)
	}
	b.Submit(`form.generate button[type=submit]`)
	clientID, secret1 := b.Value("#consumer-key"), b.Value("#client-secret")
	if !strings.HasPrefix(clientID, "cli") || secret1 == "" || !b.Has(`button.copy[data-copy="client-secret"]`) {
		t.Fatalf("generated keys: key %q, secret shown %v, copy %v", clientID, secret1 != "", b.Has(`button.copy[data-copy="client-secret"]`))
	}
	secret1ID := b.Text("#secret-id")
	shots(b, "app-keys-generated")
	b.Run(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#h-keys")))
	if b.Has("#client-secret") || strings.Contains(b.Body(), secret1) {
		t.Error("a reload shows the secret again")
	}
	if got := b.Text("#h-keys"); got != "Sandbox Keys" {
		t.Errorf("after the reload: %q, want the sandbox keys", got)
	}

	// The scope picker: orders:read may be ticked, orders:admin not.
	card := "#client-" + clientID
	b.Run(chromedp.Click(chromedp.CSS(card + " details.client-settings summary")))
	if b.Has(card+` input[value="orders:admin"]:not([disabled])`) || !b.Has(card+` input[value="orders:read"]:not([disabled])`) {
		t.Error("the scope picker lets a developer tick orders:admin, or not orders:read")
	}
	b.Run(chromedp.Click(chromedp.CSS(card + ` input[value="orders:read"]`)))
	b.Submit(card + ` form[action$="/settings"] button[type=submit]`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "settings are saved") {
		t.Fatalf("after saving settings: %q", b.Body())
	}

	// A second secret, described, expiring in 30 days.
	exp := b.Server.Clock.Now().Add(30 * 24 * time.Hour).UTC().Format("2006-01-02T15:04")
	b.Run(chromedp.Click(chromedp.CSS(card+" details.new-secret summary")), sendKeys(card+` input[name=description]`, "CI runner"),
		chromedp.SetValue(chromedp.CSS(card+` input[name=expires_at]`), exp))
	b.Submit(card + ` form[action$="/secrets"] button[type=submit]`)
	secret2 := b.Value("#client-secret")
	if secret2 == "" || secret2 == secret1 {
		t.Fatalf("second secret: %q", b.Body())
	}
	b.Submit(`[data-shown-once] a.button`)
	rows := b.Text(card + " table.secrets tbody")
	if !strings.Contains(rows, "CI runner") || !strings.Contains(rows, exp[:10]) || !strings.Contains(rows, secret2[len(secret2)-4:]) {
		t.Errorf("secrets table: %q", rows)
	}
	shots(b, "app-sandbox")

	token1, err := clientToken(b, clientID, secret1, "orders:read")
	if err != nil {
		t.Fatalf("token with the first secret: %v", err)
	}
	if _, err := clientToken(b, clientID, secret2, "orders:read"); err != nil {
		t.Fatalf("token with the second secret: %v", err)
	}

	b.Run(dismissConfirms())
	b.Submit(card + ` form[action$="/secrets/` + secret1ID + `/delete"] button`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "stay valid until they expire") {
		t.Errorf("after deleting: %q", got)
	}
	if _, err := clientToken(b, clientID, secret1, "orders:read"); err == nil {
		t.Error("a deleted secret still obtains tokens")
	}
	if !tokenActive(b, token1) {
		t.Error("the token issued with the deleted secret no longer verifies")
	}

	b.Run(dismissConfirms())
	b.Submit(card + ` form[action$="/secrets/reset"] button`)
	secret3 := b.Value("#client-secret")
	if secret3 == "" || secret3 == secret2 {
		t.Fatalf("after reset: %q", b.Body())
	}
	if _, err := clientToken(b, clientID, secret2, "orders:read"); err == nil {
		t.Error("a secret replaced by a reset still obtains tokens")
	}
	if _, err := clientToken(b, clientID, secret3, "orders:read"); err != nil {
		t.Errorf("token with the secret of the reset: %v", err)
	}
}

// TestProductionAndSandboxKeysNeverCross: each tab shows its own
// environment's client and never the other's; an expired secret is marked.
func TestProductionAndSandboxKeysNeverCross(t *testing.T) {
	b := webtest.New(t)
	seedShop(b)
	p := signedInDeveloper(b, "dev@example.com")
	a, clients := seedApp(b, p, "Shop")
	exp := b.Server.Clock.Now().Add(time.Minute)
	sec, _, err := b.Server.App.Service.CreateClientSecret(context.Background(), p, clients[keysmith.EnvSandbox].ID,
		keysmith.CreateSecretInput{Description: "short-lived", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	b.Server.Clock.Advance(2 * time.Minute)

	b.Open("/apps")
	shots(b, "apps")
	for _, env := range []keysmith.Environment{keysmith.EnvProduction, keysmith.EnvSandbox} {
		other := keysmith.EnvSandbox
		if env == keysmith.EnvSandbox {
			other = keysmith.EnvProduction
		}
		b.Open("/apps/" + a.ID + "?env=" + string(env))
		if !b.Has("#client-"+clients[env].ID) || b.Has("#client-"+clients[other].ID) {
			t.Errorf("the %s tab shows %s's client, or not its own", env, other)
		}
		if got := b.Text(`nav.env-tabs a[aria-current="page"]`); !strings.HasPrefix(strings.ToLower(got), string(env)) {
			t.Errorf("the %s tab marks %q current", env, got)
		}
		shots(b, "app-"+string(env))
	}
	// Each secret's row, by its id: both were made at the same time.
	rows := webtest.Get(b, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll(
		"#client-`+clients[keysmith.EnvSandbox].ID+` table.secrets tbody tr")].map(tr => [tr.querySelector(".id").textContent, tr.textContent]))`))
	if len(rows) != 2 {
		t.Fatalf("sandbox secrets: %v, want 2", rows)
	}
	for id, row := range rows {
		if expired := strings.Contains(row, "Expired"); expired != (id == sec.ID) {
			t.Errorf("secret %s (expired: %v) is marked %q", id, id == sec.ID, row)
		}
	}

	// Without JavaScript: another production client, shown once; it
	// stays in production. Deleting the app revokes it.
	b.NoScript()
	b.Open("/apps/" + a.ID)
	b.Submit(`form.another button[type=submit]`)
	key, secret := b.Value("#consumer-key"), b.Value("#client-secret")
	if _, err := clientToken(b, key, secret); err != nil {
		t.Fatalf("token with the new production client: %v", err)
	}
	b.Submit(`[data-shown-once] a.button`)
	if !b.Has("#client-"+key) || !b.Has("#client-"+clients[keysmith.EnvProduction].ID) || b.Has("#client-"+clients[keysmith.EnvSandbox].ID) {
		t.Error("the production tab does not show its two clients alone")
	}
	b.Open("/apps/" + a.ID + "?env=sandbox")
	if b.Has("#client-" + key) {
		t.Error("the sandbox tab shows the new production client")
	}
	b.Submit(`form[action$="/delete"] button`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "application is deleted") {
		t.Errorf("after deleting: %q", b.Body())
	}
	if _, err := clientToken(b, key, secret); err == nil {
		t.Error("a client of a deleted application still obtains tokens")
	}
}

// TestDeveloperCannotSeeAnothersAppNorGrantAdminScopes: another
// developer's application is a 404 page and not in the list; a scope that
// is not self-service has a disabled box, and a forged post of it is
// refused and changes nothing.
func TestDeveloperCannotSeeAnothersAppNorGrantAdminScopes(t *testing.T) {
	b := webtest.New(t)
	seedShop(b)
	owner := principal(b, webtest.AddPerson(t, b.Server, keysmith.RoleDeveloper, "ann@example.com", "ann's password"))
	a, clients := seedApp(b, owner, "Ann's shop")
	signedInDeveloper(b, "bob@example.com")

	b.Open("/apps/" + a.ID)
	if got := b.Text("h1"); got != "Not Found" {
		t.Errorf("another developer's application: %q", got)
	}
	if code := getStatus(b, "/apps/"+a.ID); code != http.StatusNotFound {
		t.Errorf("another developer's application: status %d, want 404", code)
	}
	b.Open("/apps")
	if strings.Contains(b.Body(), "Ann's shop") {
		t.Error("the list shows another developer's application")
	}
	cl := clients[keysmith.EnvSandbox]
	resp := b.PostForm("/apps/"+a.ID+"/clients/"+cl.ID+"/secrets/reset", url.Values{"csrf_token": {b.CSRF()}})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("forged reset of another's client: status %d, want 404", resp.StatusCode)
	}

	ann := webtest.On(t, b.Server)
	ann.SignIn("ann@example.com", "ann's password")
	ann.Open("/apps/" + a.ID + "?env=sandbox")
	box := "#client-" + cl.ID + ` input[value="orders:admin"]`
	if !ann.Has(box+"[disabled]") || ann.Has(box+":not([disabled])") {
		t.Error("a developer may tick orders:admin")
	}
	// A lifetime a JWT client may not have: the error beside the field.
	card := "#client-" + cl.ID
	ann.Run(chromedp.Click(chromedp.CSS(card+" details.client-settings summary")),
		chromedp.SetValue(chromedp.CSS(card+` input[name=token_ttl_seconds]`), "100000"))
	ann.Submit(card + ` form[action$="/settings"] button[type=submit]`)
	if got := ann.Text(card + ` input[name=token_ttl_seconds] ~ .field-error`); !strings.Contains(got, "86400") {
		t.Errorf("a JWT lifetime of 100000 s: %q", got)
	}
	shots(ann, "app-settings-error")

	resp = ann.PostForm("/apps/"+a.ID+"/clients/"+cl.ID+"/settings", url.Values{"csrf_token": {ann.CSRF()},
		"name": {"renamed"}, "scopes": {"orders:read", "orders:admin"}, "audience": {""}, "token_ttl_seconds": {"3600"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged grant of orders:admin: status %d, want 403", resp.StatusCode)
	}
	got, err := b.Server.App.Service.FindClientByID(context.Background(), owner, cl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != cl.Name || strings.Join(got.Scopes, " ") != "orders:read" {
		t.Errorf("after a refused post, the client is %q with scopes %v", got.Name, got.Scopes)
	}
}

// TestReadOnlyAdminSeesAppsButChangesNothing: a read-only admin sees every
// application with its owner, but no button that changes one, and forged
// posts are refused and change nothing.
func TestReadOnlyAdminSeesAppsButChangesNothing(t *testing.T) {
	b := webtest.New(t)
	seedShop(b)
	owner := principal(b, webtest.AddPerson(t, b.Server, keysmith.RoleDeveloper, "ann@example.com", "ann's password"))
	a, clients := seedApp(b, owner, "Ann's shop")
	webtest.AddPerson(t, b.Server, keysmith.RoleReadOnlyAdmin, "rita@example.com", "rita's password")
	b.SignIn("rita@example.com", "rita's password")

	b.Open("/apps")
	if got := b.Text("table.apps tbody"); !strings.Contains(got, "Ann's shop") || !strings.Contains(got, "ann@example.com") {
		t.Errorf("the list: %q, want Ann's shop with its owner", got)
	}
	if b.Has(`a[href="/apps/new"]`) {
		t.Error("a read-only admin sees Create application")
	}
	cl := clients[keysmith.EnvProduction]
	b.Open("/apps/" + a.ID)
	if !b.Has("#client-" + cl.ID) {
		t.Fatalf("a read-only admin does not see the production client: %q", b.Body())
	}
	if n := webtest.Get(b, chromedp.Evaluate[int](`document.querySelectorAll("main form[method=post]").length`)); n != 0 {
		t.Errorf("a read-only admin sees %d forms that change things", n)
	}
	shots(b, "app-read-only")

	csrf := b.CSRF()
	base := "/apps/" + a.ID
	for path, form := range map[string]url.Values{
		"/apps":                                  {"name": {"forged"}},
		base:                                     {"name": {"forged"}, "description": {""}},
		base + "/delete":                         {},
		base + "/clients":                        {"env": {"sandbox"}},
		base + "/clients/" + cl.ID + "/secrets":  {},
		base + "/clients/" + cl.ID + "/settings": {"name": {"forged"}, "token_ttl_seconds": {"60"}},
		base + "/clients/" + cl.ID + "/revoke":   {},
		base + "/clients/" + cl.ID + "/secrets/reset": {},
	} {
		form.Set("csrf_token", csrf)
		if resp := b.PostForm(path, form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("forged POST %s: status %d, want 403", path, resp.StatusCode)
		}
	}
	ctx, svc := context.Background(), b.Server.App.Service
	got, err := svc.FindAppByID(ctx, owner, a.ID)
	if err != nil || got.Name != "Ann's shop" {
		t.Fatalf("after forged posts the app is %+v (%v)", got, err)
	}
	cs, _, err := svc.FindClients(ctx, owner, keysmith.ClientFilter{AppID: a.ID})
	if err != nil || len(cs) != 2 {
		t.Fatalf("after forged posts the app has %d clients (%v), want 2", len(cs), err)
	}
	for _, c := range cs {
		secs, err := svc.FindClientSecrets(ctx, owner, c.ID)
		if err != nil || len(secs) != 1 || c.RevokedAt != nil || strings.HasPrefix(c.Name, "forged") {
			t.Errorf("after forged posts client %s: %d secrets, revoked %v, name %q (%v)", c.ID, len(secs), c.RevokedAt, c.Name, err)
		}
	}
}

// TestAdminTransfersAnAppAndThePreviousOwnerHoldsNothing: an org admin
// gives a developer's application to another developer from its page; the
// consumer secret the first developer held stops working.
func TestAdminTransfersAnAppAndThePreviousOwnerHoldsNothing(t *testing.T) {
	b := webtest.New(t)
	seedShop(b)
	devID := webtest.AddPerson(t, b.Server, keysmith.RoleDeveloper, "dana@example.com", "dana's password")
	webtest.AddPerson(t, b.Server, keysmith.RoleDeveloper, "eve@example.com", "eve's password")
	ctx := context.Background()
	a, err := b.Server.App.Service.CreateApp(ctx, principal(b, devID), keysmith.CreateAppInput{Name: "Shop"})
	if err != nil {
		t.Fatal(err)
	}
	cl, _, secret, err := b.Server.App.Service.CreateClient(ctx, principal(b, devID), keysmith.CreateClientInput{Name: "Shop sandbox",
		AppID: a.ID, Environment: "sandbox", Scopes: []string{"orders:read"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clientToken(b, cl.ID, secret.Reveal()); err != nil {
		t.Fatalf("before the transfer the secret gets no token: %v", err)
	}

	webtest.AddPerson(t, b.Server, keysmith.RoleOrgAdmin, "olga@example.com", "olga's password")
	b.SignIn("olga@example.com", "olga's password")
	b.Open("/apps/" + a.ID)
	b.Run(chromedp.Click(chromedp.CSS(`details:has(form[action$="/transfer"]) summary`)), dismissConfirms(),
		sendKeys("#transfer-owner", "eve@example.com"))
	b.Submit(`form[action$="/transfer"] button`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "new owner") {
		t.Fatalf("after the transfer: %q", b.Body())
	}
	got, err := b.Server.App.Service.FindAppByID(ctx, principal(b, devID), a.ID)
	if keysmith.ErrorCode(err) != keysmith.CodeNotFound {
		t.Errorf("the previous owner still sees the app: %v, %v", got, err)
	}
	if _, err := clientToken(b, cl.ID, secret.Reveal()); err == nil {
		t.Error("the previous owner's consumer secret still gets tokens after the transfer")
	}
}

// TestGenerateKeysWithAnAccessToken: Generate Keys can also issue the
// first access token, with chosen scopes and a validity period (negative:
// never expires), shown once beside the secret.
func TestGenerateKeysWithAnAccessToken(t *testing.T) {
	b := webtest.New(t)
	seedShop(b)
	p := signedInDeveloper(b, "dana@example.com")
	a, err := b.Server.App.Service.CreateApp(context.Background(), p, keysmith.CreateAppInput{Name: "Shop"})
	if err != nil {
		t.Fatal(err)
	}
	b.Open("/apps/" + a.ID + "?env=sandbox")
	b.Run(chromedp.Click(chromedp.CSS(`form.generate details summary`)),
		chromedp.Click(chromedp.CSS(`#gen-with-token`)),
		chromedp.Click(chromedp.CSS(`form.generate input[name=scopes][value="orders:read"]`)),
		sendKeys("#gen-ttl", "-1"))
	if b.Has(`form.generate input[name=scopes][value="orders:admin"]`) {
		t.Error("Generate Keys offers a developer the admin-only scope")
	}
	b.Submit(`form.generate button[type=submit]`)
	token := b.Value("#access-token")
	if token == "" || b.Value("#client-secret") == "" {
		t.Fatalf("keys page without a token or a secret: %q", b.Body())
	}
	in := b.Server.Do("POST", "/v1/verify", "", map[string]any{"token": token, "scopes": []string{"orders:read"}}).
		Want(t, http.StatusOK)
	if in.String("code") != "VALID" {
		t.Errorf("the generated access token: %s", in.Raw)
	}
	if !tokenActive(b, token) {
		t.Error("the generated access token is not active")
	}
}
