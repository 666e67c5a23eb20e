package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ordersAPI is the body that registers an API with one self-service scope
// and one only admins grant.
var ordersAPI = map[string]any{"name": "Orders", "identifier": "https://orders.example",
	"scopes": []map[string]any{
		{"name": "orders:read", "description": "read orders", "self_service": true},
		{"name": "orders:admin", "description": "manage orders"},
	}}

func wantError(t *testing.T, r apptest.Response, status int, name string, mentions ...string) {
	t.Helper()
	r.Want(t, status)
	if got := r.String("error"); got != name {
		t.Errorf("error = %q, want %q (%s)", got, name, r.Raw)
	}
	for _, m := range mentions {
		if !strings.Contains(r.String("error_description"), m) {
			t.Errorf("error_description %q does not name %q", r.String("error_description"), m)
		}
	}
}

func TestAPIs(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		_, dev := s.AddUser(keysmith.RoleDeveloper, "")
		_, org := s.AddUser(keysmith.RoleOrgAdmin, "")
		_, ro := s.AddUser(keysmith.RoleReadOnlyAdmin, "")
		api := s.Do("POST", "/v1/apis", org, ordersAPI).Want(t, http.StatusCreated)
		apiID := api.String("id")

		t.Run("EverySignedInUserReadsAPIsAndTheBuiltinScopes", func(t *testing.T) {
			for _, caller := range []string{dev, ro, admin} {
				l := s.Do("GET", "/v1/apis", caller, nil).Want(t, http.StatusOK)
				items, _ := l.Body["items"].([]any)
				builtin, _ := l.Body["builtin_scopes"].([]any)
				if len(items) != 1 || len(builtin) != 4 {
					t.Errorf("GET /v1/apis: %d items, %d built-in scopes; want 1 and 4", len(items), len(builtin))
				}
				g := s.Do("GET", "/v1/apis/"+apiID, caller, nil).Want(t, http.StatusOK)
				scopes, _ := g.Body["scopes"].([]any)
				first, _ := scopes[0].(map[string]any)
				if g.String("identifier") != "https://orders.example" || len(scopes) != 2 ||
					first["name"] != "orders:read" || first["self_service"] != true {
					t.Errorf("GET /v1/apis/{id} = %s", g.Raw)
				}
			}
			s.Do("GET", "/v1/apis", "", nil).Want(t, http.StatusUnauthorized)
			s.Do("GET", "/v1/apis/api_missing", dev, nil).Want(t, http.StatusNotFound)
		})

		t.Run("OnlyOrgAndSuperAdminsManageAPIs", func(t *testing.T) {
			body := map[string]any{"name": "x", "identifier": "urn:x", "scopes": []map[string]any{{"name": "x:y"}}}
			for _, caller := range []string{dev, ro} {
				s.Do("POST", "/v1/apis", caller, body).Want(t, http.StatusForbidden)
				s.Do("PATCH", "/v1/apis/"+apiID, caller, map[string]any{"name": "taken over"}).Want(t, http.StatusForbidden)
				s.Do("DELETE", "/v1/apis/"+apiID, caller, nil).Want(t, http.StatusForbidden)
			}
			if got := s.Do("GET", "/v1/apis/"+apiID, admin, nil).String("name"); got != "Orders" {
				t.Errorf("refused calls changed the API: name %q", got)
			}
			created := s.Do("POST", "/v1/apis", admin, body).Want(t, http.StatusCreated)
			s.Do("PATCH", "/v1/apis/"+created.String("id"), org, map[string]any{"name": "y"}).Want(t, http.StatusOK)
			s.Do("DELETE", "/v1/apis/"+created.String("id"), org, nil).Want(t, http.StatusNoContent)
		})

		t.Run("BadRegistrationsAreRefused", func(t *testing.T) {
			scope := func(name string) map[string]any {
				return map[string]any{"name": "x", "identifier": "urn:bad", "scopes": []map[string]any{{"name": name}}}
			}
			for name, body := range map[string]any{
				"UnknownField":         map[string]any{"name": "x", "identifier": "urn:bad", "audience": "x"},
				"NoScheme":             map[string]any{"name": "x", "identifier": "orders.example"},
				"Fragment":             map[string]any{"name": "x", "identifier": "https://a.example/#x"},
				"Space":                map[string]any{"name": "x", "identifier": "https://a.example/ x"},
				"TooLong":              map[string]any{"name": "x", "identifier": "urn:" + strings.Repeat("a", 200)},
				"TakenIdentifier":      map[string]any{"name": "x", "identifier": "https://orders.example"},
				"ScopeWithSpace":       scope("a b"),
				"ScopeWithParenthesis": scope("a(b)"),
				"ScopeWord":            scope("and"),
				"ScopeWildcard":        scope("*"),
				"BuiltinScope":         scope("openid"),
				"TakenScope":           scope("orders:read"),
				"ScopeTwice": map[string]any{"name": "x", "identifier": "urn:bad",
					"scopes": []map[string]any{{"name": "a"}, {"name": "a"}}},
				"LongDescription": map[string]any{"name": "x", "identifier": "urn:bad",
					"scopes": []map[string]any{{"name": "a", "description": strings.Repeat("d", 1001)}}},
			} {
				r := s.Do("POST", "/v1/apis", admin, body)
				if r.Status != http.StatusBadRequest && r.Status != http.StatusConflict {
					t.Errorf("%s: status %d, want 400 or 409: %s", name, r.Status, r.Raw)
				}
			}
			l := s.Do("GET", "/v1/apis", admin, nil).Want(t, http.StatusOK)
			if items, _ := l.Body["items"].([]any); len(items) != 1 {
				t.Errorf("refused registrations left %d APIs, want 1", len(items))
			}
		})
	})
}

func TestClientScopes(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		devID, dev := s.AddUser(keysmith.RoleDeveloper, "")
		_, other := s.AddUser(keysmith.RoleDeveloper, "")
		_, ro := s.AddUser(keysmith.RoleReadOnlyAdmin, "")
		apiID := s.Do("POST", "/v1/apis", admin, ordersAPI).Want(t, http.StatusCreated).String("id")
		appID := s.Do("POST", "/v1/apps", dev, map[string]any{"name": "dev app"}).Want(t, http.StatusCreated).String("app_id")
		body := func(scopes ...string) map[string]any {
			return map[string]any{"name": "c", "app_id": appID, "environment": "sandbox", "scopes": scopes}
		}
		before := countRows(t, s, "oauth_clients")

		t.Run("DeveloperCannotGiveANonSelfServiceScope", func(t *testing.T) {
			wantError(t, s.Do("POST", "/v1/oauth/clients", dev, body("orders:read", "orders:admin")),
				http.StatusForbidden, "forbidden", "orders:admin")
		})
		t.Run("UnregisteredScopeIsInvalidScope", func(t *testing.T) {
			for _, caller := range []string{dev, admin} {
				wantError(t, s.Do("POST", "/v1/oauth/clients", caller, body("orders:read", "payments:write")),
					http.StatusBadRequest, "invalid_scope", "payments:write")
			}
		})
		t.Run("UnregisteredAudienceIsInvalidRequest", func(t *testing.T) {
			b := body("orders:read")
			b["audience"] = "https://billing.internal.example"
			wantError(t, s.Do("POST", "/v1/oauth/clients", admin, b), http.StatusBadRequest, "invalid_request",
				"https://billing.internal.example")
		})
		if n := countRows(t, s, "oauth_clients"); n != before {
			t.Fatalf("refused creates left %d clients, want %d", n, before)
		}

		var devClient, adminsClient client
		t.Run("DeveloperGivesSelfServiceScopesAndAdminAddsOthers", func(t *testing.T) {
			b := body("orders:read", "openid")
			b["audience"] = "https://orders.example"
			devClient = newClient(t, s, dev, b)
			if got := devClient.Body["unregistered_scopes"]; got == nil || len(got.([]any)) != 0 {
				t.Errorf("unregistered_scopes = %v, want []", got)
			}
			r := s.Do("PATCH", "/v1/oauth/clients/"+devClient.ID, admin,
				map[string]any{"scopes": []string{"orders:read", "orders:admin"}}).Want(t, http.StatusOK)
			if got := r.Body["scopes"]; len(got.([]any)) != 2 {
				t.Errorf("scopes after the admin's PATCH = %v", got)
			}
			if r.String("owner_id") != devID {
				t.Errorf("owner changed to %s", r.String("owner_id"))
			}
			// An admin may add an admin-only scope to a client of the developer's app.
			adminsClient = newClient(t, s, admin, body("orders:admin"))
			s.Do("GET", "/v1/oauth/clients/"+adminsClient.ID, dev, nil).Want(t, http.StatusOK)
		})

		t.Run("DeveloperRenamesAClientWithAnAdminScopeButCannotReAddIt", func(t *testing.T) {
			r := s.Do("PATCH", "/v1/oauth/clients/"+devClient.ID, dev, map[string]any{"name": "renamed",
				"token_ttl_seconds": 600}).Want(t, http.StatusOK)
			if r.String("name") != "renamed" || r.Body["token_ttl_seconds"] != float64(600) {
				t.Errorf("after PATCH: %s", r.Raw)
			}
			s.Do("PATCH", "/v1/oauth/clients/"+devClient.ID, dev, map[string]any{"scopes": []string{"orders:read"}}).Want(t, http.StatusOK)
			wantError(t, s.Do("PATCH", "/v1/oauth/clients/"+devClient.ID, dev,
				map[string]any{"scopes": []string{"orders:read", "orders:admin"}}), http.StatusForbidden, "forbidden", "orders:admin")
			wantError(t, s.Do("PATCH", "/v1/oauth/clients/"+devClient.ID, dev,
				map[string]any{"scopes": []string{"nope"}}), http.StatusBadRequest, "invalid_scope", "nope")
			wantError(t, s.Do("PATCH", "/v1/oauth/clients/"+devClient.ID, dev,
				map[string]any{"audience": "urn:nowhere"}), http.StatusBadRequest, "invalid_request", "urn:nowhere")
			s.Do("PATCH", "/v1/oauth/clients/"+devClient.ID, dev, map[string]any{"token_ttl_seconds": -1}).Want(t, http.StatusBadRequest)
			s.Do("PATCH", "/v1/oauth/clients/"+devClient.ID, dev, map[string]any{"grant_types": []string{"x"}}).Want(t, http.StatusBadRequest)
			s.Do("PATCH", "/v1/oauth/clients/"+devClient.ID, other, map[string]any{"name": "mine"}).Want(t, http.StatusNotFound)
			s.Do("PATCH", "/v1/oauth/clients/"+devClient.ID, ro, map[string]any{"name": "mine"}).Want(t, http.StatusForbidden)
			got := s.Do("GET", "/v1/oauth/clients/"+devClient.ID, admin, nil).Want(t, http.StatusOK)
			if got.String("name") != "renamed" || len(got.Body["scopes"].([]any)) != 1 {
				t.Errorf("refused patches changed the client: %s", got.Raw)
			}
		})

		t.Run("JWTCarriesOnlyGrantedRegisteredScopesAndTheAudience", func(t *testing.T) {
			c := newClient(t, s, admin, map[string]any{"scopes": []string{"orders:read", "orders:admin"},
				"audience": "https://orders.example"})
			cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: s.URL + "/v1/oauth/token",
				AuthStyle: oauth2.AuthStyleInHeader}
			tok, err := cc.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			claims, _ := verifyJWT(t, s, tok.AccessToken)
			if claims["scope"] != "orders:read orders:admin" || claims["aud"] != "https://orders.example" {
				t.Errorf("claims scope %v aud %v", claims["scope"], claims["aud"])
			}
			cc.Scopes = []string{"orders:read"}
			if tok, err = cc.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			if claims, _ := verifyJWT(t, s, tok.AccessToken); claims["scope"] != "orders:read" {
				t.Errorf("asked for orders:read, got scope %v", claims["scope"])
			}
			cc.Scopes = []string{"openid"} // registered, but not the client's
			var re *oauth2.RetrieveError
			if _, err := cc.Token(context.Background()); !errors.As(err, &re) || re.ErrorCode != "invalid_scope" {
				t.Errorf("asking for a scope the client lacks: %v, want invalid_scope", err)
			}
		})

		t.Run("ScopeOrAPIInUseIsConflictNamingTheClient", func(t *testing.T) {
			r := s.Do("PATCH", "/v1/apis/"+apiID, admin, map[string]any{"scopes": []map[string]any{{"name": "orders:read"}}})
			wantError(t, r, http.StatusConflict, "conflict", adminsClient.ID)
			wantError(t, s.Do("DELETE", "/v1/apis/"+apiID, admin, nil), http.StatusConflict, "conflict", devClient.ID)
			g := s.Do("GET", "/v1/apis/"+apiID, admin, nil).Want(t, http.StatusOK)
			if len(g.Body["scopes"].([]any)) != 2 {
				t.Errorf("a refused change dropped scopes: %s", g.Raw)
			}
		})

		t.Run("ScopeOfARevokedClientMayBeDropped", func(t *testing.T) {
			// Its only client is revoked: revoking drops the grant.
			s.Do("PATCH", "/v1/apis/"+apiID, admin, map[string]any{"scopes": []map[string]any{
				{"name": "orders:read", "self_service": true}, {"name": "orders:admin"}, {"name": "orders:audit"}}}).Want(t, http.StatusOK)
			c := newClient(t, s, admin, map[string]any{"scopes": []string{"orders:audit"}})
			s.Do("DELETE", "/v1/oauth/clients/"+c.ID, admin, nil).Want(t, http.StatusNoContent)
			s.Do("PATCH", "/v1/apis/"+apiID, admin, map[string]any{"scopes": []map[string]any{
				{"name": "orders:read", "self_service": true}, {"name": "orders:admin"}}}).Want(t, http.StatusOK)
		})
	})
}

// TestLegacyClientScopes: a client made before scopes were registered keeps
// working with its registered scopes only, shows the others, and the
// system log names them once, however often the server starts.
func TestLegacyClientScopes(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		s.Do("POST", "/v1/apis", admin, ordersAPI).Want(t, http.StatusCreated)
		c := newClient(t, s, admin, map[string]any{"scopes": []string{"orders:read"}})
		// As migration 010 finds a client of before: scopes nobody registered.
		if _, err := s.App.Store.SQL().Exec(`UPDATE oauth_clients SET scopes = 'orders:read payments:write *' WHERE id = $1`, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.App.Store.SQL().Exec(`DELETE FROM settings WHERE key = 'unregistered_scopes_recorded'`); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			s = apptest.Restart(t, s, app.Config{})
		}
		items, _ := logs(t, s, admin, url.Values{"type": {string(keysmith.EventClientScopesUnregistered)}})
		if len(items) != 1 {
			t.Fatalf("%d scopes_unregistered events, want 1: %v", len(items), items)
		}
		details, _ := items[0]["details"].(map[string]any)
		if got, _ := details["scopes"].([]any); len(got) != 2 || got[0] != "payments:write" || got[1] != "*" {
			t.Errorf("event details = %v, want the two unregistered scopes", details)
		}
		r := s.Do("GET", "/v1/oauth/clients/"+c.ID, admin, nil).Want(t, http.StatusOK)
		if got, _ := r.Body["unregistered_scopes"].([]any); !slices.Equal(toStrings(got), []string{"payments:write", "*"}) {
			t.Errorf("unregistered_scopes = %v", r.Body["unregistered_scopes"])
		}
		if scope := getToken(t, s, c, "").Want(t, http.StatusOK).String("scope"); scope != "orders:read" {
			t.Errorf("token without scope got %q, want only the registered orders:read", scope)
		}
		wantError(t, getToken(t, s, c, "payments:write"), http.StatusBadRequest, "invalid_scope", "payments:write")
		// Registering one of them grants it to nobody: the client named it
		// before, which gave no right to it (else registering a name as
		// admin-only would hand it to whoever named it first).
		s.Do("POST", "/v1/apis", admin, map[string]any{"name": "Payments", "identifier": "urn:payments",
			"scopes": []map[string]any{{"name": "payments:write"}}}).Want(t, http.StatusCreated)
		if scope := getToken(t, s, c, "").Want(t, http.StatusOK).String("scope"); scope != "orders:read" {
			t.Errorf("token after payments:write was registered got %q, want orders:read: it was never granted", scope)
		}
		wantError(t, getToken(t, s, c, "payments:write"), http.StatusBadRequest, "invalid_scope", "never granted")
		// Its owner may still rename it, keeping what it names, ungranted.
		p := s.Do("PATCH", "/v1/oauth/clients/"+c.ID, admin, map[string]any{"name": "old one"}).Want(t, http.StatusOK)
		if got, _ := p.Body["scopes"].([]any); !slices.Equal(toStrings(got), []string{"orders:read", "payments:write", "*"}) {
			t.Errorf("scopes after rename = %v", got)
		}
		if scope := getToken(t, s, c, "").Want(t, http.StatusOK).String("scope"); scope != "orders:read" {
			t.Errorf("token after a rename got %q, want orders:read", scope)
		}
		// An admin grants it by removing it and adding it again; from the
		// next token it is issued.
		s.Do("PATCH", "/v1/oauth/clients/"+c.ID, admin, map[string]any{"scopes": []string{"orders:read"}}).Want(t, http.StatusOK)
		s.Do("PATCH", "/v1/oauth/clients/"+c.ID, admin, map[string]any{"scopes": []string{"orders:read", "payments:write"}}).Want(t, http.StatusOK)
		if scope := getToken(t, s, c, "").Want(t, http.StatusOK).String("scope"); scope != "orders:read payments:write" {
			t.Errorf("token after the admin granted payments:write got %q", scope)
		}
	})
}

func toStrings(vs []any) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i], _ = v.(string)
	}
	return out
}
