package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// verifyWith posts a verify request: the token and what it requires.
func verifyWith(t *testing.T, s *apptest.Server, token string, need map[string]any) apptest.Response {
	t.Helper()
	body := map[string]any{"token": token}
	for k, v := range need {
		body[k] = v
	}
	return s.Do("POST", "/v1/verify", "", body).Want(t, http.StatusOK)
}

// wantVerdict checks a verify answer's code and its lists.
func wantVerdict(t *testing.T, r apptest.Response, code string, scopes, missing []string) {
	t.Helper()
	if r.String("code") != code || r.Body["valid"] != (code == "VALID") {
		t.Fatalf("verify = %s, want code %s", r.Raw, code)
	}
	if diff := cmp.Diff(scopes, strs(t, r.Body["scopes"])); diff != "" {
		t.Errorf("scopes (-want +got):\n%s\nbody: %s", diff, r.Raw)
	}
	if diff := cmp.Diff(missing, strs(t, r.Body["missing"])); diff != "" {
		t.Errorf("missing (-want +got):\n%s\nbody: %s", diff, r.Raw)
	}
}

// strs is a JSON array of strings; nil if absent.
func strs(t *testing.T, v any) []string {
	t.Helper()
	if v == nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("%v is not a JSON array", v)
	}
	out := []string{}
	for _, x := range arr {
		out = append(out, x.(string))
	}
	return out
}

// TestVerifyPermissions: verify checks what a gateway requires of API tokens
// and OAuth access tokens, on both engines, through the real server.
func TestVerifyPermissions(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		s.AddAPI(keysmith.Scope{Name: "orders:read", SelfService: true}, keysmith.Scope{Name: "orders:write"},
			keysmith.Scope{Name: "orders:admin"})
		plain := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "no scopes"}).Want(t, http.StatusCreated)
		scoped := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "reader",
			"scopes": []string{"orders:read", "orders:admin"}}).Want(t, http.StatusCreated)

		t.Run("TokenJSONShowsScopes", func(t *testing.T) {
			if diff := cmp.Diff([]string{}, strs(t, plain.Body["scopes"])); diff != "" {
				t.Errorf("a token without scopes: %s", plain.Raw)
			}
			got := s.Do("GET", "/v1/tokens/"+scoped.String("id"), admin, nil).Want(t, http.StatusOK)
			if diff := cmp.Diff([]string{"orders:read", "orders:admin"}, strs(t, got.Body["scopes"])); diff != "" {
				t.Errorf("scopes (-want +got):\n%s", diff)
			}
		})
		t.Run("AppKeysAnswerInsufficientPermissionsAndWrongEnvironment", func(t *testing.T) {
			app := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "keyed"}).Want(t, http.StatusCreated).String("app_id")
			key := s.Do("POST", "/v1/apps/"+app+"/keys", admin, map[string]any{"name": "k", "environment": "sandbox",
				"scopes": []string{"orders:read"}}).Want(t, http.StatusCreated).String("key")
			wantVerdict(t, verifyWith(t, s, key, map[string]any{"scopes": []string{"orders:read"}, "environment": "sandbox"}),
				"VALID", []string{"orders:read"}, nil)
			wantVerdict(t, verifyWith(t, s, key, map[string]any{"permissions": "orders:read AND (orders:write OR orders:admin)"}),
				"INSUFFICIENT_PERMISSIONS", []string{"orders:read"}, []string{"orders:write"})
			r := verifyWith(t, s, key, map[string]any{"environment": "production"})
			wantVerdict(t, r, "WRONG_ENVIRONMENT", []string{"orders:read"}, nil)
			if r.String("env") != "sandbox" || r.String("app_id") != app {
				t.Errorf("a key of another environment: %s, want its env and app_id", r.Raw)
			}
		})
		t.Run("EveryAnswerListsScopes", func(t *testing.T) {
			wantVerdict(t, verifyWith(t, s, plain.String("token"), nil), "VALID", []string{}, nil)
			wantVerdict(t, verifyWith(t, s, scoped.String("token"), nil), "VALID", []string{"orders:read", "orders:admin"}, nil)
		})
		t.Run("TokenWithoutScopesIsInsufficient", func(t *testing.T) {
			r := verifyWith(t, s, plain.String("token"), map[string]any{"scopes": []string{"orders:read"}})
			wantVerdict(t, r, "INSUFFICIENT_PERMISSIONS", []string{}, []string{"orders:read"})
			if r.Body["owner"] != nil || r.Body["meta"] != nil || r.String("token_id") != plain.String("id") {
				t.Errorf("an insufficient answer names the token, not its owner or meta: %s", r.Raw)
			}
		})
		t.Run("TokenWithTheScopeIsValid", func(t *testing.T) {
			r := verifyWith(t, s, scoped.String("token"), map[string]any{"scopes": []string{"orders:read"}})
			wantVerdict(t, r, "VALID", []string{"orders:read", "orders:admin"}, nil)
			if r.String("owner_id") != s.AdminID {
				t.Errorf("a valid answer names the owner: %s", r.Raw)
			}
		})
		t.Run("AllListedScopesAreRequired", func(t *testing.T) {
			r := verifyWith(t, s, scoped.String("token"), map[string]any{"scopes": []string{"orders:read", "orders:write"}})
			wantVerdict(t, r, "INSUFFICIENT_PERMISSIONS", []string{"orders:read", "orders:admin"}, []string{"orders:write"})
		})
		t.Run("QuerySatisfied", func(t *testing.T) {
			r := verifyWith(t, s, scoped.String("token"), map[string]any{"permissions": "orders:read AND (orders:write OR orders:admin)"})
			wantVerdict(t, r, "VALID", []string{"orders:read", "orders:admin"}, nil)
		})
		t.Run("QueryNotSatisfied", func(t *testing.T) {
			r := verifyWith(t, s, scoped.String("token"), map[string]any{"permissions": "orders:write OR (orders:read AND refunds)"})
			wantVerdict(t, r, "INSUFFICIENT_PERMISSIONS", []string{"orders:read", "orders:admin"}, []string{"orders:write"})
		})
		t.Run("APITokenHasNoEnvironment", func(t *testing.T) {
			r := verifyWith(t, s, scoped.String("token"), map[string]any{"environment": "production"})
			wantVerdict(t, r, "WRONG_ENVIRONMENT", []string{"orders:read", "orders:admin"}, nil)
		})
		t.Run("OtherCodesComeFirst", func(t *testing.T) {
			tok := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "gone"}).Want(t, http.StatusCreated)
			s.Do("DELETE", "/v1/tokens/"+tok.String("id"), admin, nil).Want(t, http.StatusNoContent)
			r := verifyWith(t, s, tok.String("token"), map[string]any{"scopes": []string{"orders:read"}, "environment": "sandbox"})
			wantVerdict(t, r, "REVOKED", []string{}, nil)
			r = verifyWith(t, s, "ks_nope", map[string]any{"scopes": []string{"orders:read"}})
			if r.String("code") != "MALFORMED" || r.Body["scopes"] != nil || r.Body["missing"] != nil {
				t.Errorf("an unknown credential: %s", r.Raw)
			}
		})
		t.Run("MalformedRequirementIs400", func(t *testing.T) {
			for _, need := range []map[string]any{
				{"permissions": "orders:read AND"},
				{"permissions": "(orders:read"},
				{"permissions": ""},
				{"environment": "staging"},
				{"scopes": []string{"orders:read", ""}},
				{"scopes": []string{}},
			} {
				// Even for a token that does not exist: the request is
				// checked before any lookup.
				for _, tok := range []string{scoped.String("token"), "ks_nope"} {
					body := map[string]any{"token": tok}
					for k, v := range need {
						body[k] = v
					}
					r := s.Do("POST", "/v1/verify", "", body).Want(t, http.StatusBadRequest)
					if r.String("error") != "invalid_request" || r.String("error_description") == "" {
						t.Errorf("%v: %s", need, r.Raw)
					}
				}
			}
			r := s.Do("POST", "/v1/verify", "", map[string]any{"token": "x", "permissions": "a b"}).Want(t, http.StatusBadRequest)
			if !strings.Contains(r.String("error_description"), "position 3") {
				t.Errorf("the message says where: %s", r.Raw)
			}
		})

		for _, format := range []string{"jwt", "opaque"} {
			t.Run("AccessToken/"+format, func(t *testing.T) {
				appID := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "shop " + format}).Want(t, http.StatusCreated).String("app_id")
				c := newClient(t, s, admin, map[string]any{"app_id": appID, "environment": "sandbox", "token_format": format,
					"scopes": []string{"orders:read", "orders:write"}})
				raw := getToken(t, s, c, "orders:read").Want(t, http.StatusOK).String("access_token")

				r := verifyWith(t, s, raw, map[string]any{"scopes": []string{"orders:read"}, "environment": "sandbox"})
				wantVerdict(t, r, "VALID", []string{"orders:read"}, nil)
				if r.String("scope") != "orders:read" || r.String("env") != "sandbox" {
					t.Errorf("a valid access token keeps scope and env: %s", r.Raw)
				}
				r = verifyWith(t, s, raw, map[string]any{"permissions": "orders:read AND orders:write"})
				wantVerdict(t, r, "INSUFFICIENT_PERMISSIONS", []string{"orders:read"}, []string{"orders:write"})
				r = verifyWith(t, s, raw, map[string]any{"scopes": []string{"orders:read"}, "environment": "production"})
				wantVerdict(t, r, "WRONG_ENVIRONMENT", []string{"orders:read"}, nil)
				if r.String("env") != "sandbox" {
					t.Errorf("a wrong environment answer names the credential's: %s", r.Raw)
				}
				s.Do("POST", "/v1/verify", "", map[string]any{"token": raw, "permissions": "OR"}).Want(t, http.StatusBadRequest)
			})
		}
	})
}

// TestTokenScopesGrant: who may give an API token which scope. Developers
// may not create API tokens at all; a group admin gives only self-service
// scopes, an org admin any registered one; unregistered ones are refused.
func TestTokenScopesGrant(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		s.AddAPI(keysmith.Scope{Name: "orders:read", SelfService: true}, keysmith.Scope{Name: "orders:write"})
		_, groupAdmin := s.AddUser(keysmith.RoleGroupAdmin, "")
		_, orgAdmin := s.AddUser(keysmith.RoleOrgAdmin, "")
		_, developer := s.AddUser(keysmith.RoleDeveloper, "")
		before := countRows(t, s, "tokens")

		t.Run("DeveloperMayNotCreateTokens", func(t *testing.T) {
			s.Do("POST", "/v1/tokens", developer, map[string]any{"name": "x", "scopes": []string{"orders:read"}}).
				Want(t, http.StatusForbidden)
		})
		t.Run("GroupAdminMayNotGrantAnAdminScope", func(t *testing.T) {
			r := s.Do("POST", "/v1/tokens", groupAdmin, map[string]any{"name": "x", "scopes": []string{"orders:read", "orders:write"}}).
				Want(t, http.StatusForbidden)
			if !strings.Contains(r.String("error_description"), `"orders:write" is not self-service`) {
				t.Errorf("message: %s", r.Raw)
			}
		})
		t.Run("UnregisteredScopeIsInvalidScope", func(t *testing.T) {
			for _, caller := range []string{groupAdmin, orgAdmin, s.AdminToken} {
				r := s.Do("POST", "/v1/tokens", caller, map[string]any{"name": "x", "scopes": []string{"orders:read", "refunds"}}).
					Want(t, http.StatusBadRequest)
				if r.String("error") != "invalid_scope" || !strings.Contains(r.String("error_description"), `"refunds" is not registered`) {
					t.Errorf("answer: %s", r.Raw)
				}
			}
		})
		t.Run("MalformedScopesAre400", func(t *testing.T) {
			for _, scopes := range [][]string{{""}, {"a b"}, {"orders:read", "orders:read"}} {
				s.Do("POST", "/v1/tokens", s.AdminToken, map[string]any{"name": "x", "scopes": scopes}).Want(t, http.StatusBadRequest)
			}
		})
		if n := countRows(t, s, "tokens"); n != before {
			t.Fatalf("refused requests created tokens: %d, want %d", n, before)
		}
		t.Run("GroupAdminGrantsASelfServiceScope", func(t *testing.T) {
			r := s.Do("POST", "/v1/tokens", groupAdmin, map[string]any{"name": "reader", "scopes": []string{"orders:read", "openid"}}).
				Want(t, http.StatusCreated)
			wantVerdict(t, verifyWith(t, s, r.String("token"), map[string]any{"scopes": []string{"orders:read"}}),
				"VALID", []string{"orders:read", "openid"}, nil)
		})
		t.Run("PatchScopesUnderTheSameRules", func(t *testing.T) {
			tok := s.Do("POST", "/v1/tokens", groupAdmin, map[string]any{"name": "patched"}).Want(t, http.StatusCreated)
			path := "/v1/tokens/" + tok.String("id")
			need := map[string]any{"scopes": []string{"orders:write"}}
			s.Do("PATCH", path, groupAdmin, map[string]any{"scopes": []string{"orders:write"}}).Want(t, http.StatusForbidden)
			s.Do("PATCH", path, groupAdmin, map[string]any{"scopes": []string{"refunds"}}).Want(t, http.StatusBadRequest)
			// A developer does not even see another's token.
			s.Do("PATCH", path, developer, map[string]any{"scopes": []string{"orders:read"}}).Want(t, http.StatusNotFound)
			wantVerdict(t, verifyWith(t, s, tok.String("token"), need), "INSUFFICIENT_PERMISSIONS", []string{}, []string{"orders:write"})

			// An org admin adds the admin-only scope to the group admin's token…
			r := s.Do("PATCH", path, orgAdmin, map[string]any{"scopes": []string{"orders:read", "orders:write"}}).Want(t, http.StatusOK)
			if diff := cmp.Diff([]string{"orders:read", "orders:write"}, strs(t, r.Body["scopes"])); diff != "" {
				t.Errorf("scopes (-want +got):\n%s", diff)
			}
			wantVerdict(t, verifyWith(t, s, tok.String("token"), need), "VALID", []string{"orders:read", "orders:write"}, nil)
			// …the owner may keep it while changing the rest, and take it away.
			s.Do("PATCH", path, groupAdmin, map[string]any{"scopes": []string{"orders:write"}}).Want(t, http.StatusOK)
			s.Do("PATCH", path, groupAdmin, map[string]any{"scopes": []string{}}).Want(t, http.StatusOK)
			wantVerdict(t, verifyWith(t, s, tok.String("token"), need), "INSUFFICIENT_PERMISSIONS", []string{}, []string{"orders:write"})
		})
		t.Run("OrgAdminGrantsAnAdminScope", func(t *testing.T) {
			r := s.Do("POST", "/v1/tokens", orgAdmin, map[string]any{"name": "writer", "scopes": []string{"orders:write"}}).
				Want(t, http.StatusCreated)
			wantVerdict(t, verifyWith(t, s, r.String("token"), map[string]any{"permissions": "orders:write"}),
				"VALID", []string{"orders:write"}, nil)
		})
	})
}
