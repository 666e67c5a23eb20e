package app_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

func TestOAuthClientsAPI(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		// The admin token must outlive the ten years a case below skips: its
		// idle TTL is the longest allowed, and it is used halfway.
		s := apptest.Start(t, dsn, app.Config{MaxClientSecrets: 3, TokenIdleTTL: keysmith.MaxIdleTTL})
		admin := s.AdminToken
		registerScopes(t, s, "read", "write")

		t.Run("CreateShowsTheSecretOnce", func(t *testing.T) {
			c := newClient(t, s, admin, map[string]any{"environment": "production", "scopes": []string{"read", "write"},
				"grant_types": []string{"client_credentials"}})
			if !strings.HasPrefix(c.Secret, "ksc_") || len(c.Secret) != 4+43+6 || !strings.HasPrefix(c.ID, "cli_") {
				t.Fatalf("create: %v", c.Body)
			}
			if c.Body["token_ttl_seconds"] != 3600.0 || c.Body["token_format"] != "jwt" || c.Body["environment"] != "production" ||
				c.Body["status"] != "active" {
				t.Errorf("defaults: %v", c.Body)
			}
			for _, path := range []string{"/v1/oauth/clients", "/v1/oauth/clients/" + c.ID, "/v1/oauth/clients/" + c.ID + "/secrets"} {
				r := s.Do("GET", path, admin, nil).Want(t, http.StatusOK)
				if bytes.Contains(r.Raw, []byte(c.Secret)) || bytes.Contains(r.Raw, []byte(`"client_secret"`)) {
					t.Errorf("GET %s shows the secret: %s", path, r.Raw)
				}
			}
			l := s.Do("GET", "/v1/oauth/clients/"+c.ID+"/secrets", admin, nil).Want(t, http.StatusOK)
			items := l.Body["items"].([]any)
			sec := items[0].(map[string]any)
			if len(items) != 1 || sec["last4"] != c.Secret[len(c.Secret)-4:] || sec["secret_id"] != c.SecretID {
				t.Errorf("masked list: %s", l.Raw)
			}
			for _, f := range []string{"secret_id", "description", "created_at", "expires_at", "last4", "expired"} {
				if _, ok := sec[f]; !ok {
					t.Errorf("secret lacks %s: %v", f, sec)
				}
			}
		})

		t.Run("BadInputIsRefusedAndChangesNothing", func(t *testing.T) {
			before := countRows(t, s, "oauth_clients")
			for _, body := range []string{
				`{}`, `{"name":"x"}`, `{"name":"x","environment":"staging"}`,
				`{"name":"x","environment":"sandbox","grant_types":["authorization_code"]}`,
				`{"name":"x","environment":"sandbox","scopes":["a b"]}`,
				`{"name":"x","environment":"sandbox","scopes":["a","a"]}`,
				`{"name":"x","environment":"sandbox","token_ttl_seconds":0}`,
				`{"name":"x","environment":"sandbox","token_ttl_seconds":-1,"token_format":"jwt"}`,
				`{"name":"x","environment":"sandbox","token_ttl_seconds":172800,"token_format":"jwt"}`,
				`{"name":"x","environment":"sandbox","token_format":"paseto"}`,
				`{"name":"x","environment":"sandbox","app_id":"app_nope"}`,
				`{"name":"x","environment":"sandbox","secret":"mine"}`,
				`{"name":"x","environment":"sandbox","scopes":"read"}`,
			} {
				r := s.Do("POST", "/v1/oauth/clients", admin, body).Want(t, http.StatusBadRequest)
				if r.String("error") != "invalid_request" || r.String("error_description") == "" {
					t.Errorf("%s: %s", body, r.Raw)
				}
			}
			if after := countRows(t, s, "oauth_clients"); after != before {
				t.Errorf("clients: %d before, %d after", before, after)
			}
			s.Do("GET", "/v1/oauth/clients/cli_nope", admin, nil).Want(t, http.StatusNotFound)
		})

		t.Run("NeverExpiringClientGetsOpaqueTokens", func(t *testing.T) {
			c := newClient(t, s, admin, map[string]any{"token_ttl_seconds": -5})
			if c.Body["token_format"] != "opaque" || c.Body["token_ttl_seconds"] != -1.0 {
				t.Fatalf("never-expiring client: %v", c.Body)
			}
			r := getToken(t, s, c, "").Want(t, http.StatusOK)
			if _, ok := r.Body["expires_in"]; ok || !strings.HasPrefix(r.String("access_token"), "ksa_") {
				t.Errorf("token response: %s", r.Raw)
			}
			s.Clock.Advance(5 * 365 * 24 * time.Hour)
			s.Do("GET", "/v1/tokens", admin, nil).Want(t, http.StatusOK) // renews the admin token
			s.Clock.Advance(5 * 365 * 24 * time.Hour)
			if in := introspect(t, s, c, r.String("access_token")); in.Body["active"] != true || in.Body["exp"] != nil {
				t.Errorf("ten years later: %s", in.Raw)
			}
		})

		t.Run("SecretsRotateWithoutDowntime", func(t *testing.T) {
			c := newClient(t, s, admin, map[string]any{})
			path := "/v1/oauth/clients/" + c.ID + "/secrets"
			second := s.Do("POST", path, admin, map[string]any{"description": "rotation"}).Want(t, http.StatusCreated)
			if second.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(second.String("client_secret"), "ksc_") {
				t.Fatalf("new secret: %s", second.Raw)
			}
			// Both secrets work at once.
			getToken(t, s, c, "").Want(t, http.StatusOK)
			two := client{ID: c.ID, Secret: second.String("client_secret")}
			getToken(t, s, two, "").Want(t, http.StatusOK)
			// The cap (3 here) is a 409 and changes nothing.
			s.Do("POST", path, admin, nil).Want(t, http.StatusCreated)
			r := s.Do("POST", path, admin, nil).Want(t, http.StatusConflict)
			if r.String("error") != "conflict" {
				t.Errorf("beyond the cap: %s", r.Raw)
			}
			if n := len(s.Do("GET", path, admin, nil).Want(t, http.StatusOK).Body["items"].([]any)); n != 3 {
				t.Errorf("%d secrets after a refused one, want 3", n)
			}
			// Deleting the old secret: it stops working, the token it got does not.
			tok := accessToken(t, s, c)
			s.Do("DELETE", path+"/"+c.SecretID, admin, nil).Want(t, http.StatusNoContent)
			s.Do("DELETE", path+"/"+c.SecretID, admin, nil).Want(t, http.StatusNotFound)
			getToken(t, s, c, "").Want(t, http.StatusUnauthorized)
			if in := introspect(t, s, two, tok); in.Body["active"] != true {
				t.Errorf("token issued with a deleted secret: %s", in.Raw)
			}
			// Reset leaves exactly one new secret.
			reset := s.Do("POST", path+"/reset", admin, nil).Want(t, http.StatusCreated)
			getToken(t, s, two, "").Want(t, http.StatusUnauthorized)
			getToken(t, s, client{ID: c.ID, Secret: reset.String("client_secret")}, "").Want(t, http.StatusOK)
			if n := len(s.Do("GET", path, admin, nil).Want(t, http.StatusOK).Body["items"].([]any)); n != 1 {
				t.Errorf("%d secrets after reset, want 1", n)
			}
			s.Do("POST", path, admin, `{"expires_at":"yesterday"}`).Want(t, http.StatusBadRequest)
			s.Do("POST", path, admin, map[string]any{"expires_at": s.Clock.Now().Add(-time.Hour)}).Want(t, http.StatusBadRequest)
		})

		t.Run("ExpiredSecretDoesNotAuthenticate", func(t *testing.T) {
			c := newClient(t, s, admin, map[string]any{})
			r := s.Do("POST", "/v1/oauth/clients/"+c.ID+"/secrets", admin,
				map[string]any{"expires_at": s.Clock.Now().Add(time.Hour)}).Want(t, http.StatusCreated)
			short := client{ID: c.ID, Secret: r.String("client_secret")}
			getToken(t, s, short, "").Want(t, http.StatusOK)
			s.Clock.Advance(time.Hour)
			getToken(t, s, short, "").Want(t, http.StatusUnauthorized)
			getToken(t, s, c, "").Want(t, http.StatusOK)
		})

		t.Run("ExpiredSecretIsMarkedAndNoLongerCountsTowardsTheCap", func(t *testing.T) {
			// The cap is 3 here: the first secret, one expiring in an hour, and
			// one more fill it; once the second has expired it is listed,
			// marked, and a third unexpired secret fits.
			c := newClient(t, s, admin, map[string]any{})
			path := "/v1/oauth/clients/" + c.ID + "/secrets"
			expiring := s.Do("POST", path, admin, map[string]any{"expires_at": s.Clock.Now().Add(time.Hour)}).Want(t, http.StatusCreated)
			if expiring.Body["expired"] != false {
				t.Errorf("a new secret: %s", expiring.Raw)
			}
			s.Do("POST", path, admin, nil).Want(t, http.StatusCreated)
			s.Do("POST", path, admin, nil).Want(t, http.StatusConflict)
			s.Clock.Advance(time.Hour) // the expiry is now: expired
			expired := func() map[string]bool {
				out := map[string]bool{}
				for _, it := range s.Do("GET", path, admin, nil).Want(t, http.StatusOK).Body["items"].([]any) {
					sec := it.(map[string]any)
					out[sec["secret_id"].(string)] = sec["expired"].(bool)
				}
				return out
			}
			if got := expired(); len(got) != 3 || !got[expiring.String("secret_id")] || got[c.SecretID] {
				t.Errorf("expired markers %v; want only %s expired", got, expiring.String("secret_id"))
			}
			getToken(t, s, client{ID: c.ID, Secret: expiring.String("client_secret")}, "").Want(t, http.StatusUnauthorized)
			s.Do("POST", path, admin, nil).Want(t, http.StatusCreated)
			if r := s.Do("POST", path, admin, nil).Want(t, http.StatusConflict); !strings.Contains(r.String("error_description"), "unexpired") {
				t.Errorf("beyond the cap: %s", r.Raw)
			}
			if got := expired(); len(got) != 4 {
				t.Errorf("%d secrets listed, want 4 (the expired one stays until deleted)", len(got))
			}
			s.Do("DELETE", path+"/"+expiring.String("secret_id"), admin, nil).Want(t, http.StatusNoContent)
			if got := expired(); len(got) != 3 {
				t.Errorf("%d secrets listed after deleting the expired one, want 3", len(got))
			}
		})

		t.Run("RevokedClientGetsNoTokensAndItsTokensDie", func(t *testing.T) {
			c := newClient(t, s, admin, map[string]any{})
			other := newClient(t, s, admin, map[string]any{})
			tok := accessToken(t, s, c)
			s.Do("DELETE", "/v1/oauth/clients/"+c.ID, admin, nil).Want(t, http.StatusNoContent)
			s.Do("DELETE", "/v1/oauth/clients/"+c.ID, admin, nil).Want(t, http.StatusNoContent)
			getToken(t, s, c, "").Want(t, http.StatusUnauthorized)
			if in := introspect(t, s, other, tok); in.Body["active"] != false {
				t.Errorf("token of a revoked client: %s", in.Raw)
			}
			s.Do("POST", "/v1/oauth/clients/"+c.ID+"/secrets", admin, nil).Want(t, http.StatusConflict)
			if g := s.Do("GET", "/v1/oauth/clients/"+c.ID, admin, nil).Want(t, http.StatusOK); g.String("status") != "revoked" || g.String("revoked_by") != s.AdminID {
				t.Errorf("revoked client: %s", g.Raw)
			}
		})
	})
}
