package app_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// TestOAuthClientCodeFlowSettings drives the authorization code flow's
// client settings through the API: public and confidential clients, the
// redirect URI and grant rules, first_party for org and super admins only,
// and no secrets for a public client.
func TestOAuthClientCodeFlowSettings(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		registerScopes(t, s, "read", "write")
		mkUser := func(email, role string) string {
			s.Do("POST", "/v1/users", admin, map[string]any{"email": email, "name": email, "role": role, "type": "person",
				"password": "password " + email}).Want(t, http.StatusCreated)
			return signIn(t, s, email, "password "+email)
		}
		devCookie := mkUser("dev@example.com", "developer")
		orgCookie := mkUser("org@example.com", "org_admin")
		org := withCookie(t, s, orgCookie, "POST", "/v1/tokens", map[string]any{"name": "org"}, nil).Want(t, http.StatusCreated).String("token")
		gaCookie := mkUser("ga@example.com", "group_admin")
		ga := withCookie(t, s, gaCookie, "POST", "/v1/tokens", map[string]any{"name": "ga"}, nil).Want(t, http.StatusCreated).String("token")
		dev := func(method, path string, body any) apptest.Response {
			t.Helper()
			return withCookie(t, s, devCookie, method, path, body, nil)
		}

		t.Run("PublicClientHasNoSecret", func(t *testing.T) {
			r := dev("POST", "/v1/oauth/clients", map[string]any{"name": "spa", "environment": "sandbox",
				"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
				"redirect_uris": []string{"https://spa.example.com/callback", "http://127.0.0.1:8080/cb", "com.example.app:/oauth"},
				"scopes":        []string{"read"}, "refresh_token_ttl": 86400, "refresh_token_idle_ttl": 3600}).Want(t, http.StatusCreated)
			if bytes.Contains(r.Raw, []byte(`"client_secret"`)) || bytes.Contains(r.Raw, []byte(`"secret_id"`)) || bytes.Contains(r.Raw, []byte("ksc_")) {
				t.Errorf("a public client got a secret: %s", r.Raw)
			}
			id := r.String("client_id")
			if r.Body["token_endpoint_auth_method"] != "none" || r.Body["pkce_required"] != true || r.Body["pkce_allow_plain"] != false ||
				r.Body["first_party"] != false || r.Body["refresh_token_ttl"] != 86400.0 || r.Body["refresh_token_idle_ttl"] != 3600.0 {
				t.Errorf("settings: %s", r.Raw)
			}
			if uris := r.Body["redirect_uris"].([]any); len(uris) != 3 || uris[2] != "com.example.app:/oauth" {
				t.Errorf("redirect_uris: %v", uris)
			}
			if l := dev("GET", "/v1/oauth/clients/"+id+"/secrets", nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != 0 {
				t.Errorf("secrets of a public client: %s", l.Raw)
			}
			for _, path := range []string{"/v1/oauth/clients/" + id + "/secrets", "/v1/oauth/clients/" + id + "/secrets/reset"} {
				for _, who := range []func(string, string, any) apptest.Response{dev,
					func(m, p string, b any) apptest.Response { return s.Do(m, p, admin, b) }} {
					e := who("POST", path, map[string]any{}).Want(t, http.StatusBadRequest)
					if !strings.Contains(e.String("error_description"), "public") {
						t.Errorf("POST %s: %s", path, e.Raw)
					}
				}
			}
			if n := countRows(t, s, "oauth_client_secrets WHERE client_id = '"+id+"'"); n != 0 {
				t.Errorf("%d secrets stored for a public client", n)
			}
			// Public stays public; its PKCE stays required.
			for _, body := range []map[string]any{{"token_endpoint_auth_method": "client_secret_basic"},
				{"pkce_required": false}, {"grant_types": []string{"client_credentials"}}} {
				dev("PATCH", "/v1/oauth/clients/"+id, body).Want(t, http.StatusBadRequest)
			}
			got := dev("GET", "/v1/oauth/clients/"+id, nil).Want(t, http.StatusOK)
			if got.Body["token_endpoint_auth_method"] != "none" || got.Body["pkce_required"] != true {
				t.Errorf("after refused changes: %s", got.Raw)
			}
		})

		t.Run("ConfidentialCodeFlowClient", func(t *testing.T) {
			c := newClient(t, s, admin, map[string]any{"token_endpoint_auth_method": "client_secret_post",
				"grant_types":   []string{"authorization_code", "refresh_token", "client_credentials"},
				"redirect_uris": []string{"https://app.example.com/cb"}, "post_logout_redirect_uris": []string{"https://app.example.com/"},
				"pkce_required": false, "pkce_allow_plain": true})
			if !strings.HasPrefix(c.Secret, "ksc_") || c.SecretID == "" {
				t.Fatalf("a confidential client has a secret: %v", c.Body)
			}
			if c.Body["pkce_required"] != false || c.Body["pkce_allow_plain"] != true ||
				c.Body["post_logout_redirect_uris"].([]any)[0] != "https://app.example.com/" {
				t.Errorf("settings: %v", c.Body)
			}
			r := s.Do("PATCH", "/v1/oauth/clients/"+c.ID, admin, map[string]any{"redirect_uris": []string{"https://app.example.com/cb2"},
				"token_endpoint_auth_method": "client_secret_basic", "pkce_required": true, "refresh_token_ttl": 7200,
				"refresh_token_idle_ttl": 600}).Want(t, http.StatusOK)
			if r.Body["redirect_uris"].([]any)[0] != "https://app.example.com/cb2" || r.Body["token_endpoint_auth_method"] != "client_secret_basic" ||
				r.Body["refresh_token_ttl"] != 7200.0 || r.Body["refresh_token_idle_ttl"] != 600.0 || r.Body["pkce_required"] != true {
				t.Errorf("patched: %s", r.Raw)
			}
			s.Do("PATCH", "/v1/oauth/clients/"+c.ID, admin, map[string]any{"token_endpoint_auth_method": "none"}).Want(t, http.StatusBadRequest)
			// An older client_credentials client reads with the defaults.
			old := newClient(t, s, admin, map[string]any{})
			if old.Body["token_endpoint_auth_method"] != "client_secret_basic" || old.Body["pkce_required"] != true ||
				len(old.Body["redirect_uris"].([]any)) != 0 || old.Body["refresh_token_ttl"] != 2592000.0 {
				t.Errorf("defaults: %v", old.Body)
			}
		})

		t.Run("BadSettingsAreRefusedAndChangeNothing", func(t *testing.T) {
			before := countRows(t, s, "oauth_clients")
			code := `"grant_types":["authorization_code"],`
			for _, body := range []string{
				`{"name":"x","environment":"sandbox",` + code + `"redirect_uris":["http://app.example.com/cb"]}`,
				`{"name":"x","environment":"sandbox",` + code + `"redirect_uris":["https://app.example.com/cb#frag"]}`,
				`{"name":"x","environment":"sandbox",` + code + `"redirect_uris":["https://user:pw@app.example.com/cb"]}`,
				`{"name":"x","environment":"sandbox",` + code + `"redirect_uris":["myapp:/cb"]}`,
				`{"name":"x","environment":"sandbox",` + code + `"redirect_uris":["/cb"]}`,
				`{"name":"x","environment":"sandbox",` + code + `"redirect_uris":[]}`,
				`{"name":"x","environment":"sandbox",` + code + `"redirect_uris":"https://app.example.com/cb"}`,
				`{"name":"x","environment":"sandbox","grant_types":["refresh_token"],"redirect_uris":["https://a.example/cb"]}`,
				`{"name":"x","environment":"sandbox","grant_types":["client_credentials","refresh_token"]}`,
				`{"name":"x","environment":"sandbox","token_endpoint_auth_method":"none","grant_types":["client_credentials"]}`,
				`{"name":"x","environment":"sandbox","token_endpoint_auth_method":"none",` + code + `"redirect_uris":["https://a.example/cb"],"pkce_required":false}`,
				`{"name":"x","environment":"sandbox","token_endpoint_auth_method":"private_key_jwt"}`,
				`{"name":"x","environment":"sandbox","pkce_required":"yes"}`,
				`{"name":"x","environment":"sandbox","refresh_token_ttl":99999999999999999999}`,
				`{"name":"x","environment":"sandbox","refresh_token_ttl":1e30}`,
				`{"name":"x","environment":"sandbox","refresh_token_ttl":31536001}`,
				`{"name":"x","environment":"sandbox","refresh_token_idle_ttl":59}`,
				`{"name":"x","environment":"sandbox","refresh_token_ttl":3600,"refresh_token_idle_ttl":7200}`,
				`{"name":"x","environment":"sandbox","redirect_uri":["https://a.example/cb"]}`,
				`{"name":"x","environment":"sandbox","Redirect_URIs":["https://a.example/cb"]}`,
				`{"name":"x","environment":"sandbox",` + code + `"redirect_uris":["https://a.example/cb","https://a.example/cb"]}`,
				`{"name":"x","environment":"sandbox",` + code + `"redirect_uris":["https://a.example/` + strings.Repeat("a", 3000) + `"]}`,
			} {
				r := s.Do("POST", "/v1/oauth/clients", admin, body).Want(t, http.StatusBadRequest)
				if r.String("error") == "" || r.String("error_description") == "" {
					t.Errorf("%.120s: %s", body, r.Raw)
				}
			}
			if after := countRows(t, s, "oauth_clients"); after != before {
				t.Errorf("clients: %d before, %d after", before, after)
			}
			c := newClient(t, s, admin, map[string]any{"grant_types": []string{"authorization_code"},
				"redirect_uris": []string{"https://app.example.com/cb"}})
			for _, body := range []string{
				`{"redirect_uris":[]}`,
				`{"redirect_uris":["https://app.example.com/cb#x"]}`,
				`{"grant_types":["refresh_token"]}`,
				`{"post_logout_redirect_uris":["http://evil.example/"]}`,
				`{"refresh_token_ttl":-1}`,
				`{"first_party":"true"}`,
				`{"pkce_allow_plain":null,"nope":1}`,
			} {
				s.Do("PATCH", "/v1/oauth/clients/"+c.ID, admin, body).Want(t, http.StatusBadRequest)
			}
			got := s.Do("GET", "/v1/oauth/clients/"+c.ID, admin, nil).Want(t, http.StatusOK)
			if got.Body["redirect_uris"].([]any)[0] != "https://app.example.com/cb" || len(got.Body["post_logout_redirect_uris"].([]any)) != 0 ||
				got.Body["refresh_token_ttl"] != 2592000.0 || len(got.Body["grant_types"].([]any)) != 1 {
				t.Errorf("after refused changes: %s", got.Raw)
			}
		})

		t.Run("FirstPartyIsForOrgAndSuperAdmins", func(t *testing.T) {
			body := func(fp bool) map[string]any {
				return map[string]any{"name": "web", "environment": "sandbox", "grant_types": []string{"authorization_code"},
					"redirect_uris": []string{"https://web.example.com/cb"}, "first_party": fp}
			}
			before := countRows(t, s, "oauth_clients")
			e := dev("POST", "/v1/oauth/clients", body(true)).Want(t, http.StatusForbidden)
			if !strings.Contains(e.String("error_description"), "first_party") {
				t.Errorf("developer: %s", e.Raw)
			}
			s.Do("POST", "/v1/oauth/clients", ga, body(true)).Want(t, http.StatusForbidden)
			if after := countRows(t, s, "oauth_clients"); after != before {
				t.Errorf("a refused first-party client was stored")
			}
			own := dev("POST", "/v1/oauth/clients", body(false)).Want(t, http.StatusCreated).String("client_id")
			dev("PATCH", "/v1/oauth/clients/"+own, map[string]any{"first_party": true}).Want(t, http.StatusForbidden)
			s.Do("PATCH", "/v1/oauth/clients/"+own, ga, map[string]any{"first_party": true}).Want(t, http.StatusForbidden)
			if r := s.Do("PATCH", "/v1/oauth/clients/"+own, org, map[string]any{"first_party": true}).Want(t, http.StatusOK); r.Body["first_party"] != true {
				t.Errorf("org admin: %s", r.Raw)
			}
			// A first-party client skips consent: its owner and group
			// admins no longer change it (an added redirect URI would
			// receive codes unasked), nor unmark it; they may revoke it.
			dev("PATCH", "/v1/oauth/clients/"+own, map[string]any{"redirect_uris": []string{"https://evil.example/cb"}}).Want(t, http.StatusForbidden)
			s.Do("PATCH", "/v1/oauth/clients/"+own, ga, map[string]any{"redirect_uris": []string{"https://evil.example/cb"}}).Want(t, http.StatusForbidden)
			dev("PATCH", "/v1/oauth/clients/"+own, map[string]any{"first_party": false}).Want(t, http.StatusForbidden)
			got := dev("GET", "/v1/oauth/clients/"+own, nil).Want(t, http.StatusOK)
			if got.Body["first_party"] != true || got.Body["redirect_uris"].([]any)[0] != "https://web.example.com/cb" {
				t.Errorf("after refused changes: %s", got.Raw)
			}
			fp := newClient(t, s, org, body(true))
			if fp.Body["first_party"] != true || fp.Secret == "" {
				t.Errorf("org admin's first-party client: %v", fp.Body)
			}
			// The system log says who made a first-party client.
			l := s.Do("GET", "/v1/logs?type=oauth_client.created&limit=1", admin, nil).Want(t, http.StatusOK)
			if !strings.Contains(string(l.Raw), `"first_party":true`) || !strings.Contains(string(l.Raw), fp.ID) {
				t.Errorf("the creation event: %s", l.Raw)
			}
			s.Do("PATCH", "/v1/oauth/clients/"+fp.ID, admin, map[string]any{"first_party": false}).Want(t, http.StatusOK)
			dev("DELETE", "/v1/oauth/clients/"+own, nil).Want(t, http.StatusNoContent)
		})
	})
}
