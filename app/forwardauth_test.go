package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// forward sends a request to /v1/forward-auth as a gateway would: any
// method, the client's headers, no body.
func forward(t *testing.T, s *apptest.Server, method, query string, header map[string]string) apptest.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+"/v1/forward-auth"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return s.Send(req)
}

func bearerHeader(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

// TestForwardAuth: the gateway contract for every credential kind, on both
// engines, through the real server.
func TestForwardAuth(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{ForwardAuthHeader: "X-API-Key"})
		admin := s.AdminToken
		s.AddAPI(keysmith.Scope{Name: "orders:read", SelfService: true}, keysmith.Scope{Name: "orders:write"})
		tok := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "reader", "scopes": []string{"orders:read"}}).
			Want(t, http.StatusCreated)

		t.Run("ValidTokenPassesWithIdentityHeaders", func(t *testing.T) {
			for _, m := range []string{"GET", "POST", "DELETE"} {
				query := "?scope=orders:read"
				if m == "DELETE" { // as Envoy sends it: the original path appended
					query = "/orders/42" + query
				}
				r := forward(t, s, m, query, bearerHeader(tok.String("token"))).Want(t, http.StatusOK)
				h := r.Header
				if h.Get("X-Keysmith-Credential-Id") != tok.String("id") || h.Get("X-Keysmith-Credential-Kind") != "api_token" ||
					h.Get("X-Keysmith-Owner-Id") != s.AdminID || h.Get("X-Keysmith-Scopes") != "orders:read" ||
					h.Get("RateLimit-Limit") == "" || len(r.Raw) != 0 {
					t.Errorf("%s: headers %v body %q", m, h, r.Raw)
				}
			}
		})

		t.Run("MissingGarbageAndRevokedAre401", func(t *testing.T) {
			gone := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "gone"}).Want(t, http.StatusCreated)
			s.Do("DELETE", "/v1/tokens/"+gone.String("id"), admin, nil).Want(t, http.StatusNoContent)
			for name, h := range map[string]map[string]string{"missing": nil, "garbage": bearerHeader("ks_garbage"),
				"revoked": bearerHeader(gone.String("token")), "not bearer": {"Authorization": "Basic eDp5"}} {
				r := forward(t, s, "GET", "", h).Want(t, http.StatusUnauthorized).WantField(t, "error", "unauthorized")
				if r.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
					t.Errorf("%s: WWW-Authenticate %q", name, r.Header.Get("WWW-Authenticate"))
				}
			}
		})

		t.Run("MissingScopeIs403InsufficientScope", func(t *testing.T) {
			for _, c := range []struct{ query, header string }{{"?scope=orders:read%20orders:write", ""},
				{"", "orders:write"}, {"?permissions=orders:write%20OR%20orders:admin", ""}} {
				h := bearerHeader(tok.String("token"))
				if c.header != "" {
					h["X-Keysmith-Require-Scope"] = c.header
				}
				r := forward(t, s, "GET", c.query, h).Want(t, http.StatusForbidden).WantField(t, "error", "forbidden")
				if r.Header.Get("WWW-Authenticate") != `Bearer error="insufficient_scope"` {
					t.Errorf("%+v: WWW-Authenticate %q", c, r.Header.Get("WWW-Authenticate"))
				}
			}
			forward(t, s, "GET", "?permissions=orders:read%20AND", bearerHeader(tok.String("token"))).Want(t, http.StatusBadRequest)
		})

		t.Run("AppKeyInTheConfiguredHeader", func(t *testing.T) {
			appID := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "keyed"}).Want(t, http.StatusCreated).String("app_id")
			key := s.Do("POST", "/v1/apps/"+appID+"/keys", admin, map[string]any{"name": "k", "environment": "sandbox",
				"scopes": []string{"orders:read"}}).Want(t, http.StatusCreated)
			r := forward(t, s, "GET", "?environment=sandbox", map[string]string{"X-API-Key": key.String("key")}).Want(t, http.StatusOK)
			if r.Header.Get("X-Keysmith-Credential-Kind") != "app_key" || r.Header.Get("X-Keysmith-App-Id") != appID ||
				r.Header.Get("X-Keysmith-Environment") != "sandbox" {
				t.Errorf("app key headers %v", r.Header)
			}
			forward(t, s, "GET", "", map[string]string{"X-API-Key": key.String("key"), "X-Keysmith-Require-Environment": "production"}).
				Want(t, http.StatusForbidden)
		})

		t.Run("AccessTokenNamesItsClient", func(t *testing.T) {
			appID := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "oauth"}).Want(t, http.StatusCreated).String("app_id")
			c := newClient(t, s, admin, map[string]any{"app_id": appID, "scopes": []string{"orders:read"}})
			at := accessToken(t, s, c)
			r := forward(t, s, "GET", "?scope=orders:read", bearerHeader(at)).Want(t, http.StatusOK)
			if r.Header.Get("X-Keysmith-Credential-Kind") != "access_token" || r.Header.Get("X-Keysmith-Client-Id") != c.ID ||
				r.Header.Get("X-Keysmith-App-Id") != appID {
				t.Errorf("access token headers %v", r.Header)
			}
			forward(t, s, "GET", "?scope=orders:write", bearerHeader(at)).Want(t, http.StatusForbidden)
		})

		t.Run("OutsideTheZoneIs403", func(t *testing.T) {
			zid := newZone(t, s, "elsewhere", []string{"203.0.113.0/24"}, nil)
			_, zoned := newPolicyToken(t, s, "in_zones", zid)
			r := forward(t, s, "GET", "", bearerHeader(zoned)).Want(t, http.StatusForbidden).WantField(t, "error", "forbidden")
			if r.Header.Get("WWW-Authenticate") != "" {
				t.Errorf("a zone refusal is not about scope: %q", r.Header.Get("WWW-Authenticate"))
			}
		})

		t.Run("PastTheLimitIs429", func(t *testing.T) {
			s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"verified": 4}).Want(t, http.StatusOK)
			burst := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "burst", "rate_limit_percent": 100}).Want(t, http.StatusCreated)
			var last apptest.Response
			for range 6 {
				last = forward(t, s, "GET", "", bearerHeader(burst.String("token")))
			}
			last.Want(t, http.StatusTooManyRequests)
			if last.Header.Get("Retry-After") == "" || !strings.Contains(string(last.Raw), "rate_limited") {
				t.Errorf("429 without Retry-After: %v %s", last.Header, last.Raw)
			}
		})
	})
}
