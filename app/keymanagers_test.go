package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// addKeyManager adds provider p as an oidc key manager through the API.
func addKeyManager(t *testing.T, s *apptest.Server, p *apptest.DCRProvider, name string) apptest.Response {
	t.Helper()
	return s.Do("POST", "/v1/key-managers", s.AdminToken, map[string]any{"name": name, "type": "oidc", "issuer": p.Issuer,
		"registration_token": p.InitialAccessToken, "introspection_client_id": "keysmith",
		"introspection_client_secret": "introspection-secret-" + name,
		"opaque_token_prefix":         strings.ToLower(strings.ReplaceAll(name, " ", "-")) + "_"}).Want(t, http.StatusCreated)
}

func TestKeyManagers(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{AllowInsecureKeyManagers: true})
		p := apptest.NewDCRProvider(t)
		admin := s.AdminToken
		_, devToken := s.AddUser(keysmith.RoleDeveloper, "")
		_, groupAdmin := s.AddUser(keysmith.RoleGroupAdmin, "")
		_, orgAdmin := s.AddUser(keysmith.RoleOrgAdmin, "")

		m := addKeyManager(t, s, p, "Partner IdP")
		id := m.String("id")

		t.Run("CreateReadsDiscoveryAndNeverReturnsSecrets", func(t *testing.T) {
			if m.String("registration_endpoint") != p.URL+"/register" || m.String("jwks_uri") != p.URL+"/jwks" ||
				m.Body["has_registration_token"] != true || m.Body["has_introspection_client_secret"] != true || m.Body["enabled"] != true {
				t.Errorf("created manager: %s", m.Raw)
			}
			for _, r := range []apptest.Response{m, s.Do("GET", "/v1/key-managers/"+id, devToken, nil).Want(t, http.StatusOK),
				s.Do("GET", "/v1/key-managers", devToken, nil).Want(t, http.StatusOK)} {
				if strings.Contains(string(r.Raw), p.InitialAccessToken) || strings.Contains(string(r.Raw), "introspection-secret") {
					t.Errorf("an answer holds a secret: %s", r.Raw)
				}
			}
		})

		t.Run("ListStartsWithKeysmithItself", func(t *testing.T) {
			items := s.Do("GET", "/v1/key-managers", devToken, nil).Want(t, http.StatusOK).Body["items"].([]any)
			first := items[0].(map[string]any)
			if first["id"] != "keysmith" || first["builtin"] != true || len(items) < 2 || items[1].(map[string]any)["id"] != id {
				t.Errorf("list = %v", items)
			}
		})

		t.Run("OnlyOrgAndSuperAdminsChangeKeyManagers", func(t *testing.T) {
			for _, tok := range []string{devToken, groupAdmin} {
				s.Do("POST", "/v1/key-managers", tok, map[string]any{"name": "x", "type": "oidc", "issuer": p.Issuer}).Want(t, http.StatusForbidden)
				s.Do("PATCH", "/v1/key-managers/"+id, tok, map[string]any{"enabled": false}).Want(t, http.StatusForbidden)
				s.Do("DELETE", "/v1/key-managers/"+id, tok, nil).Want(t, http.StatusForbidden)
			}
			s.Do("PATCH", "/v1/key-managers/"+id, orgAdmin, map[string]any{"name": "Partner"}).Want(t, http.StatusOK).WantField(t, "name", "Partner")
		})

		t.Run("BadInputIsRefused", func(t *testing.T) {
			s.Do("POST", "/v1/key-managers", admin, map[string]any{"name": "x", "type": "saml", "issuer": p.Issuer}).Want(t, http.StatusBadRequest)
			s.Do("POST", "/v1/key-managers", admin, map[string]any{"name": "x", "type": "oidc", "issuer": p.Issuer, "color": "red"}).Want(t, http.StatusBadRequest)
			s.Do("PATCH", "/v1/key-managers/"+id, admin, map[string]any{"type": "okta"}).Want(t, http.StatusBadRequest)
			s.Do("DELETE", "/v1/key-managers/keysmith", admin, nil).Want(t, http.StatusBadRequest)
		})

		t.Run("OpaqueTokenPrefixIsRequiredWithIntrospectionAndOneManagersOnly", func(t *testing.T) {
			before := countRows(t, s, "key_managers")
			body := func(over map[string]any) map[string]any {
				// A provider of its own: an issuer is one manager's.
				b := map[string]any{"name": "pfx", "type": "oidc", "issuer": apptest.NewDCRProvider(t).Issuer, "introspection_client_id": "keysmith",
					"introspection_client_secret": "x"}
				for k, v := range over {
					b[k] = v
				}
				return b
			}
			r := s.Do("POST", "/v1/key-managers", admin, body(nil)).Want(t, http.StatusBadRequest)
			if d := r.String("error_description"); !strings.Contains(d, "opaque_token_prefix is required with introspection_client_id") {
				t.Errorf("no prefix: %s", r.Raw)
			}
			for _, bad := range []string{"has space", "ksa\t", strings.Repeat("x", 33), "préfixe"} {
				s.Do("POST", "/v1/key-managers", admin, body(map[string]any{"opaque_token_prefix": bad})).Want(t, http.StatusBadRequest)
			}
			// The enabled manager's prefix is its own.
			r = s.Do("POST", "/v1/key-managers", admin, body(map[string]any{"opaque_token_prefix": "partner-idp_"})).Want(t, http.StatusConflict)
			if d := r.String("error_description"); !strings.Contains(d, "opaque_token_prefix") {
				t.Errorf("taken prefix: %s", r.Raw)
			}
			if n := countRows(t, s, "key_managers"); n != before {
				t.Fatalf("refused creates stored %d managers", n-before)
			}
			// Disabled it may share it, but not be enabled while the other is.
			other := s.Do("POST", "/v1/key-managers", admin, body(map[string]any{"opaque_token_prefix": "partner-idp_", "enabled": false})).
				Want(t, http.StatusCreated)
			if other.String("opaque_token_prefix") != "partner-idp_" || other.Body["accept_unregistered_clients"] != false {
				t.Errorf("created: %s", other.Raw)
			}
			oid := other.String("id")
			s.Do("PATCH", "/v1/key-managers/"+oid, admin, map[string]any{"enabled": true}).Want(t, http.StatusConflict)
			s.Do("PATCH", "/v1/key-managers/"+oid, admin, map[string]any{"opaque_token_prefix": ""}).Want(t, http.StatusBadRequest)
			u := s.Do("PATCH", "/v1/key-managers/"+oid, admin, map[string]any{"enabled": true, "opaque_token_prefix": "pfx_",
				"accept_unregistered_clients": true}).Want(t, http.StatusOK)
			if u.String("opaque_token_prefix") != "pfx_" || u.Body["accept_unregistered_clients"] != true || u.Body["enabled"] != true {
				t.Errorf("updated: %s", u.Raw)
			}
			s.Do("DELETE", "/v1/key-managers/"+oid, admin, nil).Want(t, http.StatusNoContent)
		})

		t.Run("DiscoveryAndJWKSFailuresSayWhichFailed", func(t *testing.T) {
			q := apptest.NewDCRProvider(t)
			q.Set(func(q *apptest.DCRProvider) { q.DiscoveryDown = true })
			r := s.Do("POST", "/v1/key-managers", admin, map[string]any{"name": "down", "type": "oidc", "issuer": q.Issuer}).Want(t, http.StatusBadRequest)
			if !strings.Contains(r.String("error_description"), "discovery failed") {
				t.Errorf("discovery down: %s", r.Raw)
			}
			q.Set(func(q *apptest.DCRProvider) { q.DiscoveryDown, q.JWKSDown = false, true })
			r = s.Do("POST", "/v1/key-managers", admin, map[string]any{"name": "down", "type": "oidc", "issuer": q.Issuer}).Want(t, http.StatusBadRequest)
			if d := r.String("error_description"); !strings.Contains(d, "JWKS failed") || !strings.Contains(d, "500") {
				t.Errorf("JWKS down: %s", r.Raw)
			}
			// A new issuer is discovered again, and refused the same way.
			s.Do("PATCH", "/v1/key-managers/"+id, admin, map[string]any{"issuer": q.Issuer}).Want(t, http.StatusBadRequest)
		})

		t.Run("IssuerIsOneManagersAndNeverKeysmithsOwnNorChanged", func(t *testing.T) {
			// Its secrets and the clients registered at it belong to the
			// issuer: moving them would hand them to whoever runs the new one.
			other := apptest.NewDCRProvider(t)
			r := s.Do("PATCH", "/v1/key-managers/"+id, admin, map[string]any{"issuer": other.Issuer}).Want(t, http.StatusBadRequest)
			if !strings.Contains(r.String("error_description"), "issuer cannot change") {
				t.Errorf("issuer change: %s", r.Raw)
			}
			s.Do("PATCH", "/v1/key-managers/"+id, admin, map[string]any{"issuer": p.Issuer}).Want(t, http.StatusOK)
			s.Do("POST", "/v1/key-managers", admin, map[string]any{"name": "twin", "type": "oidc", "issuer": p.Issuer}).Want(t, http.StatusConflict)
			s.Do("POST", "/v1/key-managers", admin, map[string]any{"name": "me", "type": "oidc", "issuer": s.App.OAuth.Issuer()}).Want(t, http.StatusBadRequest)
		})

		_, devID := registerScopes(t, s, "orders:read")
		_ = devID
		t.Run("ClientRegisteredAtTheManagerAnswersTheManagersClientIDAndSecret", func(t *testing.T) {
			before := countRows(t, s, "oauth_clients")
			r := s.Do("POST", "/v1/oauth/clients", devToken, map[string]any{"name": "partner app", "environment": "production",
				"key_manager": id, "scopes": []string{"orders:read"}, "grant_types": []string{"client_credentials"}}).Want(t, http.StatusCreated)
			ext, recID := r.String("client_id"), r.String("id")
			if !strings.HasPrefix(ext, "ext-client-") || r.String("key_manager") != id || !strings.HasPrefix(r.String("client_secret"), "ext-secret-") ||
				recID == ext || !strings.HasPrefix(recID, "cli_") {
				t.Fatalf("created: %s", r.Raw)
			}
			md := p.Client(ext)
			if md["client_name"] != "partner app" || md["scope"] != "orders:read" || md["grant_types"].([]any)[0] != "client_credentials" {
				t.Errorf("the manager registered %v", md)
			}
			if countRows(t, s, "oauth_clients") != before+1 {
				t.Errorf("oauth_clients: %d rows, want %d", countRows(t, s, "oauth_clients"), before+1)
			}
			got := s.Do("GET", "/v1/oauth/clients/"+recID, devToken, nil).Want(t, http.StatusOK)
			if got.String("client_id") != ext || got.String("client_secret") != "" {
				t.Errorf("read back: %s", got.Raw)
			}
			secret := r.String("client_secret")

			// Keysmith's token endpoint knows no external client, by either id.
			for _, cid := range []string{ext, recID} {
				postForm(t, s, "/v1/oauth/token", cid, secret, "", url.Values{"grant_type": {"client_credentials"}}).Want(t, http.StatusUnauthorized)
			}
			// Its secrets live at the manager.
			s.Do("POST", "/v1/oauth/clients/"+recID+"/secrets", devToken, nil).Want(t, http.StatusBadRequest)
			s.Do("POST", "/v1/oauth/clients/"+recID+"/secrets/reset", devToken, nil).Want(t, http.StatusBadRequest)

			// An update reaches the manager and keeps the rotated
			// registration access token: a second update works.
			rat := p.RegistrationAccessToken(ext)
			s.Do("PATCH", "/v1/oauth/clients/"+recID, devToken, map[string]any{"name": "renamed"}).Want(t, http.StatusOK)
			if p.Client(ext)["client_name"] != "renamed" || p.RegistrationAccessToken(ext) == rat {
				t.Errorf("after PATCH the manager holds %v", p.Client(ext))
			}
			s.Do("PATCH", "/v1/oauth/clients/"+recID, devToken, map[string]any{"name": "renamed twice"}).Want(t, http.StatusOK)

			storetest.AssertNoPlaintext(t, s.App.Store.SQL(), s.App.Store.Engine(), p.InitialAccessToken,
				"introspection-secret-Partner IdP", p.RegistrationAccessToken(ext), secret)

			// Revoking: here first, then at the manager; a failure there
			// leaves the revocation standing and says so; DELETE retries.
			p.Set(func(p *apptest.DCRProvider) { p.FailDeletes = true })
			d := s.Do("DELETE", "/v1/oauth/clients/"+recID, devToken, nil).Want(t, http.StatusBadGateway)
			if desc := d.String("error_description"); !strings.Contains(desc, "revoked in Keysmith") || !strings.Contains(desc, "registration store is down") {
				t.Errorf("failed remote delete: %s", d.Raw)
			}
			s.Do("GET", "/v1/oauth/clients/"+recID, devToken, nil).Want(t, http.StatusOK).WantField(t, "status", "revoked")
			p.Set(func(p *apptest.DCRProvider) { p.FailDeletes = false })
			s.Do("DELETE", "/v1/oauth/clients/"+recID, devToken, nil).Want(t, http.StatusNoContent)
			if p.Client(ext) != nil {
				t.Errorf("the client is still registered at the manager")
			}
		})

		t.Run("ManagerRefusalLeavesNothingInKeysmith", func(t *testing.T) {
			before, at := countRows(t, s, "oauth_clients"), p.Clients()
			p.Set(func(p *apptest.DCRProvider) { p.Refuse = "redirect_uris must be https" })
			r := s.Do("POST", "/v1/oauth/clients", devToken, map[string]any{"name": "refused", "environment": "sandbox", "key_manager": id}).Want(t, http.StatusBadRequest)
			p.Set(func(p *apptest.DCRProvider) { p.Refuse = "" })
			if !strings.Contains(r.String("error_description"), "redirect_uris must be https") {
				t.Errorf("refusal: %s", r.Raw)
			}
			if countRows(t, s, "oauth_clients") != before || p.Clients() != at {
				t.Errorf("after the refusal: %d clients here, %d there; want %d, %d", countRows(t, s, "oauth_clients"), p.Clients(), before, at)
			}
		})

		t.Run("ScopesTheCallerCannotGrantAreNeverAskedOfTheManager", func(t *testing.T) {
			s.AddAPI(keysmith.Scope{Name: "admin:all"})
			at := p.Clients()
			s.Do("POST", "/v1/oauth/clients", devToken, map[string]any{"name": "greedy", "environment": "sandbox", "key_manager": id,
				"scopes": []string{"admin:all"}}).Want(t, http.StatusForbidden)
			if p.Clients() != at {
				t.Errorf("the manager received a registration")
			}
		})

		t.Run("UnknownOrDisabledManagerIsRefused", func(t *testing.T) {
			s.Do("POST", "/v1/oauth/clients", devToken, map[string]any{"name": "x", "environment": "sandbox", "key_manager": "km_nope"}).Want(t, http.StatusBadRequest)
			off := addKeyManager(t, s, apptest.NewDCRProvider(t), "Off").String("id")
			s.Do("PATCH", "/v1/key-managers/"+off, admin, map[string]any{"enabled": false}).Want(t, http.StatusOK)
			s.Do("POST", "/v1/oauth/clients", devToken, map[string]any{"name": "x", "environment": "sandbox", "key_manager": off}).Want(t, http.StatusConflict)
		})

		t.Run("DeletingTheManagerRevokesItsClients", func(t *testing.T) {
			r := s.Do("POST", "/v1/oauth/clients", devToken, map[string]any{"name": "doomed", "environment": "sandbox", "key_manager": id}).Want(t, http.StatusCreated)
			s.Do("DELETE", "/v1/key-managers/"+id, admin, nil).Want(t, http.StatusNoContent)
			s.Do("GET", "/v1/key-managers/"+id, devToken, nil).Want(t, http.StatusNotFound)
			s.Do("GET", "/v1/oauth/clients/"+r.String("id"), devToken, nil).Want(t, http.StatusOK).WantField(t, "status", "revoked")
		})
	})
}

// TestKeyManagerOverPlainHTTPNeedsTheFlag: without
// --allow-insecure-key-managers an http issuer is refused before any call.
func TestKeyManagerOverPlainHTTPNeedsTheFlag(t *testing.T) {
	s := apptest.Start(t, storetest.DSN(t, "sqlite"), app.Config{})
	p := apptest.NewDCRProvider(t)
	r := s.Do("POST", "/v1/key-managers", s.AdminToken, map[string]any{"name": "plain", "type": "oidc", "issuer": p.Issuer}).Want(t, http.StatusBadRequest)
	if !strings.Contains(r.String("error_description"), "https only") {
		t.Errorf("refusal: %s", r.Raw)
	}
}
