package app_test

import (
	"context"
	"github.com/keysmith/keysmith/storetest"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"golang.org/x/oauth2/clientcredentials"
)

// TestKeysmithAsAnotherKeysmithsKeyManager runs two Keysmith servers: the
// partner's (the key manager, serving RFC 7591 at /v1/oauth/register) and
// ours, which registers it as an oidc key manager. Keys generated at ours
// (through the API and on the portal's manager tab)
// land at the partner's; the partner's tokens verify and pass forward auth
// at ours; disabling and deleting the manager rejects them at once.
func TestKeysmithAsAnotherKeysmithsKeyManager(t *testing.T) {
	partner := apptest.Start(t, storetest.SQLite(t), app.Config{})
	ours := apptest.Start(t, storetest.SQLite(t), app.Config{AllowInsecureKeyManagers: true})

	// The partner: an API with the scope, an application, and an initial
	// access token bound to it, made by its super admin.
	registerScopes(t, partner, "orders:read")
	partnerApp := partner.Do("POST", "/v1/apps", partner.AdminToken, map[string]any{"name": "Our gateway"}).
		Want(t, http.StatusCreated).String("app_id")
	iat := partner.Do("POST", "/v1/oauth/registration-tokens", partner.AdminToken, map[string]any{
		"app_id": partnerApp, "environment": "production", "max_uses": 5}).Want(t, http.StatusCreated).String("token")

	// At the partner too: a client of its own issuing opaque tokens (not
	// registered through ours), and one that ours introspects with.
	opaque := newClient(t, partner, partner.AdminToken, map[string]any{"app_id": partnerApp, "environment": "production",
		"scopes": []string{"orders:read"}, "token_format": "opaque"})
	introspector := newClient(t, partner, partner.AdminToken, map[string]any{"app_id": partnerApp, "environment": "production"})

	// Ours: the partner as a key manager, and an application whose
	// production keys live there.
	registerScopes(t, ours, "orders:read")
	km := ours.Do("POST", "/v1/key-managers", ours.AdminToken, map[string]any{
		"name": "Partner", "type": "oidc", "issuer": partner.URL, "registration_token": iat, "enabled": true,
		"introspection_client_id": introspector.ID, "introspection_client_secret": introspector.Secret,
		"opaque_token_prefix": "ksa_"}).
		Want(t, http.StatusCreated)
	kmID := km.String("id")
	if km.String("registration_endpoint") != partner.URL+"/v1/oauth/register" || km.String("opaque_token_prefix") != "ksa_" ||
		km.Body["accept_unregistered_clients"] != false {
		t.Fatalf("registration_endpoint %q, want the partner's /v1/oauth/register", km.String("registration_endpoint"))
	}
	ourApp := ours.Do("POST", "/v1/apps", ours.AdminToken, map[string]any{"name": "Shop"}).
		Want(t, http.StatusCreated).String("app_id")
	c := ours.Do("POST", "/v1/oauth/clients", ours.AdminToken, map[string]any{"name": "shop at partner",
		"app_id": ourApp, "environment": "production", "key_manager": kmID, "scopes": []string{"orders:read"},
		"grant_types": []string{"client_credentials"}}).Want(t, http.StatusCreated)
	clientID, secret := c.String("client_id"), c.String("client_secret")
	if clientID == "" || secret == "" || c.String("key_manager") != kmID {
		t.Fatalf("external client answer: %v", c.Body)
	}
	// It landed at the partner, in the application the token is bound to.
	at := partner.Do("GET", "/v1/oauth/clients/"+clientID, partner.AdminToken, nil).Want(t, http.StatusOK)
	if at.String("app_id") != partnerApp || at.String("environment") != "production" {
		t.Fatalf("client at the partner: %v", at.Body)
	}

	// The partner issues a token; ours verifies it and lets it through.
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: partner.URL + "/v1/oauth/token",
		Scopes: []string{"orders:read"}}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("token from the partner: %v", err)
	}
	v := ours.Do("POST", "/v1/verify", "", map[string]any{"token": tok.AccessToken, "scopes": []string{"orders:read"},
		"environment": "production"}).Want(t, http.StatusOK)
	if v.Body["valid"] != true || v.String("key_manager") != kmID || v.String("app_id") != ourApp ||
		v.String("client_id") != clientID {
		t.Fatalf("verify at ours: %v", v.Body)
	}
	fa := forward(t, ours, "GET", "?scope=orders:read", bearerHeader(tok.AccessToken)).Want(t, http.StatusOK)
	if fa.Header.Get("X-Keysmith-Key-Manager") != kmID {
		t.Errorf("forward auth headers: %v", fa.Header)
	}

	// An opaque token of the partner's is asked of its introspection
	// endpoint (its prefix is ksa_) and answered the same way. Its client
	// was not registered through ours: refused until the manager accepts
	// unregistered clients.
	otok, err := (&clientcredentials.Config{ClientID: opaque.ID, ClientSecret: opaque.Secret,
		TokenURL: partner.URL + "/v1/oauth/token"}).Token(context.Background())
	if err != nil {
		t.Fatalf("opaque token from the partner: %v", err)
	}
	ours.Do("POST", "/v1/verify", "", map[string]any{"token": otok.AccessToken}).Want(t, http.StatusOK).
		WantField(t, "code", "NOT_FOUND")
	forward(t, ours, "GET", "", bearerHeader(otok.AccessToken)).Want(t, http.StatusUnauthorized)
	if r := ours.Do("PATCH", "/v1/key-managers/"+kmID, ours.AdminToken, map[string]any{"accept_unregistered_clients": true}).
		Want(t, http.StatusOK); r.Body["accept_unregistered_clients"] != true {
		t.Fatalf("PATCH accept_unregistered_clients: %s", r.Raw)
	}
	for range 2 {
		ov := ours.Do("POST", "/v1/verify", "", map[string]any{"token": otok.AccessToken, "scopes": []string{"orders:read"}}).
			Want(t, http.StatusOK)
		if ov.Body["valid"] != true || ov.String("key_manager") != kmID || ov.String("client_id") != opaque.ID {
			t.Fatalf("verify of an opaque token at ours: %v", ov.Body)
		}
	}
	in := postForm(t, ours, "/v1/oauth/introspect", "", "", ours.AdminToken, url.Values{"token": {tok.AccessToken}}).
		Want(t, http.StatusOK)
	if in.Body["active"] != true || in.String("key_manager") != kmID {
		t.Fatalf("introspection at ours: %v", in.Body)
	}
	// Requirements apply as to Keysmith's own tokens.
	ours.Do("POST", "/v1/verify", "", map[string]any{"token": tok.AccessToken, "environment": "sandbox"}).
		Want(t, http.StatusOK).WantField(t, "code", "WRONG_ENVIRONMENT")
	forward(t, ours, "GET", "?scope=orders:write", bearerHeader(tok.AccessToken)).Want(t, http.StatusForbidden)

	// A client whose owner is deactivated at ours: its tokens are refused
	// (OWNER_INACTIVE) as Keysmith's own are, until the owner is active
	// again.
	devID, devToken := ours.AddUser(keysmith.RoleDeveloper, "")
	devApp := ours.Do("POST", "/v1/apps", devToken, map[string]any{"name": "Dev shop"}).Want(t, http.StatusCreated).String("app_id")
	dc := ours.Do("POST", "/v1/oauth/clients", ours.AdminToken, map[string]any{"name": "dev at partner",
		"app_id": devApp, "environment": "production", "key_manager": kmID, "scopes": []string{"orders:read"},
		"grant_types": []string{"client_credentials"}}).Want(t, http.StatusCreated)
	dtok, err := (&clientcredentials.Config{ClientID: dc.String("client_id"), ClientSecret: dc.String("client_secret"),
		TokenURL: partner.URL + "/v1/oauth/token", Scopes: []string{"orders:read"}}).Token(context.Background())
	if err != nil {
		t.Fatalf("token of the developer's client: %v", err)
	}
	ours.Do("POST", "/v1/verify", "", map[string]any{"token": dtok.AccessToken}).Want(t, http.StatusOK).WantField(t, "code", "VALID")
	ours.Do("POST", "/v1/users/"+devID+"/deactivate", ours.AdminToken, nil).Want(t, http.StatusOK)
	ours.Do("POST", "/v1/verify", "", map[string]any{"token": dtok.AccessToken}).Want(t, http.StatusOK).
		WantField(t, "code", "OWNER_INACTIVE")
	forward(t, ours, "GET", "", bearerHeader(dtok.AccessToken)).Want(t, http.StatusUnauthorized)
	ours.Do("POST", "/v1/users/"+devID+"/activate", ours.AdminToken, nil).Want(t, http.StatusOK)
	ours.Do("POST", "/v1/verify", "", map[string]any{"token": dtok.AccessToken}).Want(t, http.StatusOK).WantField(t, "code", "VALID")

	// Keys generated in ours' portal, on the manager's tab, land at the
	// partner too: the page shows the partner's client id and secret once.
	createUser(t, ours, "olga@example.com", "org_admin")
	olga := signIn(t, ours, "olga@example.com", "pw olga@example.com")
	_, appPage, _ := page(t, ours, olga, "GET", "/apps/"+ourApp+"?env=sandbox&key_manager="+kmID, nil)
	csrf := csrfRE.FindStringSubmatch(appPage)
	if csrf == nil {
		t.Fatalf("no csrf_token on the app page")
	}
	st, shown, _ := page(t, ours, olga, "POST", "/apps/"+ourApp+"/clients", url.Values{"csrf_token": {csrf[1]},
		"env": {"sandbox"}, "key_manager": {kmID}, "scopes": {"orders:read"}})
	portalClient := regexp.MustCompile(`id="consumer-key"[^>]*value="(cli_[A-Za-z0-9]+)"`).FindStringSubmatch(shown)
	if st != http.StatusCreated || portalClient == nil || !strings.Contains(shown, `id="client-secret"`) {
		t.Fatalf("generate keys on the manager's tab: status %d", st)
	}
	if at := partner.Do("GET", "/v1/oauth/clients/"+portalClient[1], partner.AdminToken, nil).Want(t, http.StatusOK); at.String("app_id") != partnerApp {
		t.Fatalf("the portal's client at the partner: %v", at.Body)
	}

	// Disabled, then deleted: rejected at once.
	ours.Do("PATCH", "/v1/key-managers/"+kmID, ours.AdminToken, map[string]any{"enabled": false}).Want(t, http.StatusOK)
	if v := ours.Do("POST", "/v1/verify", "", map[string]any{"token": tok.AccessToken}).Want(t, http.StatusOK); v.Body["valid"] != false {
		t.Fatalf("verify after disabling: %v", v.Body)
	}
	ours.Do("PATCH", "/v1/key-managers/"+kmID, ours.AdminToken, map[string]any{"enabled": true}).Want(t, http.StatusOK)
	ours.Do("POST", "/v1/verify", "", map[string]any{"token": tok.AccessToken}).Want(t, http.StatusOK).WantField(t, "code", "VALID")
	ours.Do("DELETE", "/v1/key-managers/"+kmID, ours.AdminToken, nil).Want(t, http.StatusNoContent)
	if v := ours.Do("POST", "/v1/verify", "", map[string]any{"token": tok.AccessToken}).Want(t, http.StatusOK); v.Body["valid"] != false {
		t.Fatalf("verify after deleting: %v", v.Body)
	}
	forward(t, ours, "GET", "", bearerHeader(tok.AccessToken)).Want(t, http.StatusUnauthorized)
}
