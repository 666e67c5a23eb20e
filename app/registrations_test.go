package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
	"golang.org/x/oauth2/clientcredentials"
)

// registrationToken creates an initial access token as caller and returns
// its id and secret.
func registrationToken(t *testing.T, s *apptest.Server, caller string, body map[string]any) (id, token string) {
	t.Helper()
	if body["environment"] == nil {
		body["environment"] = "sandbox"
	}
	r := s.Do("POST", "/v1/oauth/registration-tokens", caller, body).Want(t, http.StatusCreated)
	if !strings.HasPrefix(r.String("token"), "ksi_") || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("registration token answer: %s (Cache-Control %q); want a ksi_ token, not stored", r.Raw, r.Header.Get("Cache-Control"))
	}
	return r.String("id"), r.String("token")
}

// register posts RFC 7591 client metadata with an initial access token.
func register(s *apptest.Server, token string, body any) apptest.Response {
	return s.Do("POST", "/v1/oauth/register", token, body)
}

// wantOAuthError fails unless r is status with RFC 7591/6750 error code.
func wantOAuthError(t *testing.T, r apptest.Response, status int, code string) {
	t.Helper()
	r.Want(t, status)
	if r.String("error") != code || r.String("error_description") == "" {
		t.Fatalf("error %q (%s), want %q with a description", r.String("error"), r.Raw, code)
	}
	if status == http.StatusUnauthorized && !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate %q, want Bearer error=\"invalid_token\"", r.Header.Get("WWW-Authenticate"))
	}
}

// TestRegistration: Keysmith serves dynamic client registration (RFC 7591)
// and management (RFC 7592) with initial access tokens that only org and
// super admins create, and a registration never grants more than its
// token's creator could.
func TestRegistration(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		orgID, org := s.AddUser(keysmith.RoleOrgAdmin, "")
		devID, dev := s.AddUser(keysmith.RoleDeveloper, "")
		appID := newApp(t, s, dev, "registered by tools")
		registerScopes(t, s, "dcr:read", "dcr:write")
		clients := func() int { return countRows(t, s, "oauth_clients") }

		t.Run("DiscoveryAdvertisesTheRegistrationEndpoint", func(t *testing.T) {
			for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
				r := s.Do("GET", path, "", nil).Want(t, http.StatusOK)
				if got := r.String("registration_endpoint"); got != r.String("issuer")+"/v1/oauth/register" {
					t.Errorf("%s: registration_endpoint %q", path, got)
				}
			}
		})

		t.Run("ARegisteredClientGetsTokensAndBelongsToTheApplication", func(t *testing.T) {
			_, tok := registrationToken(t, s, org, map[string]any{"app_id": appID, "description": "ci"})
			r := register(s, tok, map[string]any{"client_name": "CI tool", "grant_types": []string{"client_credentials"},
				"scope": "dcr:read dcr:write", "token_endpoint_auth_method": "client_secret_basic",
				"logo_uri": "https://example.com/logo.png", "software_statement": map[string]any{"ignored": true}}).Want(t, http.StatusCreated)
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
			}
			id, secret := r.String("client_id"), r.String("client_secret")
			if !strings.HasPrefix(secret, "ksc_") || !strings.HasPrefix(r.String("registration_access_token"), "ksm_") ||
				r.String("registration_client_uri") != s.App.OAuth.Issuer()+"/v1/oauth/register/"+id ||
				r.Body["client_secret_expires_at"] != float64(0) || r.String("scope") != "dcr:read dcr:write" || r.String("client_name") != "CI tool" {
				t.Fatalf("registration answer %s", r.Raw)
			}
			cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: s.URL + "/v1/oauth/token", Scopes: []string{"dcr:read"}}
			if _, err := cc.Token(context.Background()); err != nil {
				t.Fatalf("client_credentials with the registered client: %v", err)
			}
			// The client is the application's, in the token's environment,
			// owned by the application's owner and made by the token's creator.
			c := s.Do("GET", "/v1/oauth/clients/"+id, dev, nil).Want(t, http.StatusOK)
			if c.String("app_id") != appID || c.String("environment") != "sandbox" || c.String("owner_id") != devID ||
				c.String("created_by") != orgID || c.Body["first_party"] == true {
				t.Errorf("registered client as its owner sees it: %s", c.Raw)
			}
		})

		t.Run("OnlyOrgAndSuperAdminsManageRegistrationTokens", func(t *testing.T) {
			for _, role := range []keysmith.Role{keysmith.RoleDeveloper, keysmith.RoleReadOnlyAdmin, keysmith.RoleGroupAdmin} {
				_, tok := s.AddUser(role, "")
				s.Do("POST", "/v1/oauth/registration-tokens", tok, map[string]any{"app_id": appID, "environment": "sandbox"}).Want(t, http.StatusForbidden)
				s.Do("GET", "/v1/oauth/registration-tokens", tok, nil).Want(t, http.StatusForbidden)
			}
			id, _ := registrationToken(t, s, s.AdminToken, map[string]any{"app_id": appID})
			s.Do("DELETE", "/v1/oauth/registration-tokens/"+id, dev, nil).Want(t, http.StatusForbidden)
			list := s.Do("GET", "/v1/oauth/registration-tokens", org, nil).Want(t, http.StatusOK)
			items, _ := list.Body["items"].([]any)
			found := false
			for _, it := range items {
				m := it.(map[string]any)
				if m["token"] != nil {
					t.Errorf("the list shows a token's secret: %v", m)
				}
				found = found || m["id"] == id
			}
			if !found {
				t.Errorf("list %s lacks %s", list.Raw, id)
			}
		})

		t.Run("BadRegistrationTokenInputsAreRefused", func(t *testing.T) {
			for _, body := range []map[string]any{
				{"app_id": "app_missing", "environment": "sandbox"},
				{"app_id": appID, "environment": "staging"},
				{"app_id": appID, "environment": "sandbox", "expires_in": 0},
				{"app_id": appID, "environment": "sandbox", "expires_in": 31 * 24 * 3600},
				{"app_id": appID, "environment": "sandbox", "max_uses": 1001},
				{"app_id": appID, "environment": "sandbox", "max_uses": 0},
			} {
				s.Do("POST", "/v1/oauth/registration-tokens", org, body).Want(t, http.StatusBadRequest)
			}
		})

		t.Run("ScopesTheCreatorCannotGrantAreRefused", func(t *testing.T) {
			_, tok := registrationToken(t, s, org, map[string]any{"app_id": appID})
			before := clients()
			wantOAuthError(t, register(s, tok, map[string]any{"scope": "dcr:read admin:everything"}), http.StatusBadRequest, "invalid_client_metadata")
			if clients() != before {
				t.Error("a refused registration made a client")
			}
			// The refusal spent no use: the token still registers.
			register(s, tok, map[string]any{"scope": "dcr:read"}).Want(t, http.StatusCreated)
		})

		t.Run("UnusableTokensAreRefusedAndChangeNothing", func(t *testing.T) {
			_, once := registrationToken(t, s, org, map[string]any{"app_id": appID})
			register(s, once, map[string]any{}).Want(t, http.StatusCreated)
			_, short := registrationToken(t, s, org, map[string]any{"app_id": appID, "expires_in": 60, "max_uses": 5})
			rid, revoked := registrationToken(t, s, org, map[string]any{"app_id": appID, "max_uses": 5})
			s.Do("DELETE", "/v1/oauth/registration-tokens/"+rid, org, nil).Want(t, http.StatusNoContent)
			s.Clock.Advance(61 * time.Second)
			fake, _ := keysmith.NewRegistrationToken()
			before := clients()
			for name, tok := range map[string]string{"used up": once, "expired": short, "revoked": revoked,
				"unknown": fake.Reveal(), "malformed": "ksi_garbage", "an API token": org} {
				r := register(s, tok, map[string]any{})
				if r.Status != http.StatusUnauthorized {
					t.Errorf("%s token: status %d, want 401", name, r.Status)
					continue
				}
				wantOAuthError(t, r, http.StatusUnauthorized, "invalid_token")
			}
			wantOAuthError(t, register(s, "", map[string]any{}), http.StatusUnauthorized, "invalid_token")
			// A bad token is refused before a bad body is read.
			wantOAuthError(t, register(s, fake.Reveal(), "[1, 2]"), http.StatusUnauthorized, "invalid_token")
			if clients() != before {
				t.Error("a refused token made a client")
			}
		})

		t.Run("ADemotedCreatorsTokensStopWorking", func(t *testing.T) {
			adminID, admin := s.AddUser(keysmith.RoleOrgAdmin, "")
			_, tok := registrationToken(t, s, admin, map[string]any{"app_id": appID, "max_uses": 5})
			r := register(s, tok, map[string]any{"scope": "dcr:read"}).Want(t, http.StatusCreated)
			s.Do("PATCH", "/v1/users/"+adminID, s.AdminToken, map[string]any{"role": "developer"}).Want(t, http.StatusOK)
			wantOAuthError(t, register(s, tok, map[string]any{}), http.StatusUnauthorized, "invalid_token")
			wantOAuthError(t, s.Do("GET", "/v1/oauth/register/"+r.String("client_id"), r.String("registration_access_token"), nil),
				http.StatusUnauthorized, "invalid_token")
		})

		t.Run("RFC7592ReadUpdateDelete", func(t *testing.T) {
			_, tok := registrationToken(t, s, org, map[string]any{"app_id": appID, "max_uses": 2})
			r := register(s, tok, map[string]any{"client_name": "first", "scope": "dcr:read"}).Want(t, http.StatusCreated)
			id, access, secret := r.String("client_id"), r.String("registration_access_token"), r.String("client_secret")
			other := register(s, tok, map[string]any{"client_name": "second"}).Want(t, http.StatusCreated)
			path := "/v1/oauth/register/" + id

			got := s.Do("GET", path, access, nil).Want(t, http.StatusOK)
			if got.String("client_name") != "first" || got.String("client_secret") != "" || got.String("registration_access_token") != "" {
				t.Errorf("GET %s", got.Raw)
			}
			fake, _ := keysmith.NewRegistrationAccessToken()
			for name, req := range map[string][2]string{"another client's token": {path, other.String("registration_access_token")},
				"an unknown token": {path, fake.Reveal()}, "an unknown client": {"/v1/oauth/register/cli_missing", access},
				"an initial access token": {path, tok}} {
				r := s.Do("GET", req[0], req[1], nil)
				if r.Status != http.StatusUnauthorized || r.String("error") != "invalid_token" {
					t.Errorf("GET with %s: %d %s, want 401 invalid_token", name, r.Status, r.Raw)
				}
			}

			up := s.Do("PUT", path, access, map[string]any{"client_id": id, "client_name": "renamed",
				"grant_types": []string{"client_credentials", "authorization_code"}, "redirect_uris": []string{"https://tool.example/cb"},
				"scope": "dcr:read dcr:write"}).Want(t, http.StatusOK)
			if up.String("client_name") != "renamed" || up.String("scope") != "dcr:read dcr:write" || len(up.Body["redirect_uris"].([]any)) != 1 {
				t.Errorf("PUT answered %s", up.Raw)
			}
			for name, body := range map[string]map[string]any{
				"no client_id":              {"client_name": "x"},
				"another client_id":         {"client_id": other.String("client_id")},
				"an ungrantable scope":      {"client_id": id, "scope": "admin:everything"},
				"a switch to public":        {"client_id": id, "token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"https://tool.example/cb"}},
				"code without its redirect": {"client_id": id, "grant_types": []string{"authorization_code"}},
			} {
				r := s.Do("PUT", path, access, body)
				if r.Status != http.StatusBadRequest || r.String("error") != "invalid_client_metadata" {
					t.Errorf("PUT with %s: %d %s, want 400 invalid_client_metadata", name, r.Status, r.Raw)
				}
			}
			if got := s.Do("GET", path, access, nil).Want(t, http.StatusOK); got.String("client_name") != "renamed" {
				t.Errorf("a refused PUT changed the client: %s", got.Raw)
			}

			// A client an admin has since marked first-party (it skips
			// consent) is changed through the management API only.
			otherPath := "/v1/oauth/register/" + other.String("client_id")
			s.Do("PATCH", "/v1/oauth/clients/"+other.String("client_id"), s.AdminToken, map[string]any{"first_party": true}).Want(t, http.StatusOK)
			s.Do("PUT", otherPath, other.String("registration_access_token"), map[string]any{"client_id": other.String("client_id"),
				"grant_types": []string{"authorization_code"}, "redirect_uris": []string{"https://attacker.example/cb"}}).Want(t, http.StatusForbidden)

			s.Do("DELETE", path, access, nil).Want(t, http.StatusNoContent)
			wantOAuthError(t, s.Do("GET", path, access, nil), http.StatusUnauthorized, "invalid_token")
			wantOAuthError(t, s.Do("DELETE", path, access, nil), http.StatusUnauthorized, "invalid_token")
			cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: s.URL + "/v1/oauth/token"}
			if _, err := cc.Token(context.Background()); err == nil {
				t.Error("a deleted registration's client still gets tokens")
			}
		})

		t.Run("BadMetadataIsRefusedAndChangesNothing", func(t *testing.T) {
			_, tok := registrationToken(t, s, org, map[string]any{"app_id": appID, "max_uses": 20})
			before := clients()
			for name, c := range map[string]struct {
				body any
				code string
			}{
				"an array":                  {"[]", "invalid_client_metadata"},
				"null":                      {"null", "invalid_client_metadata"},
				"not JSON":                  {"{", "invalid_client_metadata"},
				"a key twice":               {`{"client_name": "a", "client_name": "b"}`, "invalid_client_metadata"},
				"invalid UTF-8":             {[]byte("{\"client_name\": \"\xff\"}"), "invalid_client_metadata"},
				"a string for a list":       {map[string]any{"redirect_uris": "https://tool.example/cb"}, "invalid_client_metadata"},
				"a number for a string":     {map[string]any{"scope": 5}, "invalid_client_metadata"},
				"an unknown grant":          {map[string]any{"grant_types": []string{"password"}}, "invalid_client_metadata"},
				"an implicit response type": {map[string]any{"response_types": []string{"token"}}, "invalid_client_metadata"},
				"code without its grant":    {map[string]any{"response_types": []string{"code"}, "grant_types": []string{"client_credentials"}}, "invalid_client_metadata"},
				"an unknown auth method":    {map[string]any{"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"},
				"a redirect with fragment":  {map[string]any{"grant_types": []string{"authorization_code"}, "redirect_uris": []string{"https://tool.example/cb#x"}}, "invalid_redirect_uri"},
				"too large":                 {`{"client_name": "` + strings.Repeat("a", 70<<10) + `"}`, "invalid_client_metadata"},
			} {
				r := register(s, tok, c.body)
				if r.Status != http.StatusBadRequest || r.String("error") != c.code {
					t.Errorf("%s: %d %s, want 400 %s", name, r.Status, r.Raw, c.code)
				}
			}
			if clients() != before {
				t.Error("refused metadata made a client")
			}
			// A public client with the code flow: no secret, code implied by
			// response_types.
			r := register(s, tok, map[string]any{"response_types": []string{"code"}, "token_endpoint_auth_method": "none",
				"redirect_uris": []string{"http://127.0.0.1:9/cb"}, "scope": "openid"}).Want(t, http.StatusCreated)
			if r.String("client_secret") != "" || r.Body["client_secret_expires_at"] != nil {
				t.Errorf("a public client's registration: %s", r.Raw)
			}
			// An update that leaves out token_endpoint_auth_method keeps it.
			up := s.Do("PUT", "/v1/oauth/register/"+r.String("client_id"), r.String("registration_access_token"),
				map[string]any{"client_id": r.String("client_id"), "grant_types": []string{"authorization_code"},
					"redirect_uris": []string{"http://127.0.0.1:9/cb2"}}).Want(t, http.StatusOK)
			if up.String("token_endpoint_auth_method") != "none" || up.String("scope") != "" {
				t.Errorf("the public client after an update: %s", up.Raw)
			}
		})

		t.Run("UnknownTokenLookupsAreBoundedPerAddress", func(t *testing.T) {
			s.Do("PUT", "/v1/settings/rate-limits", s.AdminToken, map[string]any{"unknown_tokens": 3}).Want(t, http.StatusOK)
			refused := false
			for range 6 {
				fake, _ := keysmith.NewRegistrationToken()
				if r := register(s, fake.Reveal(), map[string]any{}); r.Status == http.StatusTooManyRequests {
					refused = true
					break
				}
			}
			if !refused {
				t.Error("unknown initial access tokens were looked up without bound")
			}
		})
	})
}
