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

// newToken creates an API token as the caller and returns its id and secret.
func newToken(t *testing.T, s *apptest.Server, caller, name string) (id, secret string) {
	t.Helper()
	r := s.Do("POST", "/v1/tokens", caller, map[string]any{"name": name}).Want(t, http.StatusCreated)
	return r.String("id"), r.String("token")
}

func verifyCode(t *testing.T, s *apptest.Server, token string) string {
	t.Helper()
	return s.Do("POST", "/v1/verify", "", map[string]any{"token": token}).Want(t, http.StatusOK).String("code")
}

func TestTokensAPI(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken

		t.Run("CreateShowsTheSecretOnlyOnce", func(t *testing.T) {
			r := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "deploy"}).Want(t, http.StatusCreated)
			secret := r.String("token")
			if !strings.HasPrefix(secret, "ks_") {
				t.Fatalf("token = %q, want a ks_ token", secret)
			}
			for _, f := range []string{"id", "name", "type", "owner_id", "created_at", "expires_at", "last_used_at", "status"} {
				if _, ok := r.Body[f]; !ok {
					t.Errorf("create response lacks %q: %s", f, r.Raw)
				}
			}
			if r.String("type") != "user" || r.String("status") != "active" || r.String("owner_id") != s.AdminID {
				t.Errorf("create response = %s", r.Raw)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
			}
			for _, path := range []string{"/v1/tokens", "/v1/tokens/" + r.String("id")} {
				got := s.Do("GET", path, admin, nil).Want(t, http.StatusOK)
				if bytes.Contains(got.Raw, []byte(secret)) || bytes.Contains(got.Raw, []byte(`"token"`)) {
					t.Errorf("GET %s shows the secret: %s", path, got.Raw)
				}
			}
		})

		t.Run("BadInputIsRefusedAndChangesNothing", func(t *testing.T) {
			before := len(s.Do("GET", "/v1/tokens?limit=200", admin, nil).Want(t, http.StatusOK).Body["items"].([]any))
			past := s.Clock.Now().Add(-time.Hour).Format(time.RFC3339)
			cases := []struct {
				name, body, contentType string
				status                  int
			}{
				{"MissingName", `{}`, "application/json", 400},
				{"EmptyName", `{"name":""}`, "application/json", 400},
				{"NameTooLong", `{"name":"` + strings.Repeat("é", 101) + `"}`, "application/json", 400},
				{"UnknownField", `{"name":"x","scope":"a"}`, "application/json", 400},
				{"WrongType", `{"name":42}`, "application/json", 400},
				{"PastExpiry", `{"name":"x","expires_at":"` + past + `"}`, "application/json", 400},
				{"BadTime", `{"name":"x","expires_at":"next week"}`, "application/json", 400},
				{"NotJSON", `name=x`, "application/json", 400},
				{"TwoObjects", `{"name":"x"}{"name":"y"}`, "application/json", 400},
				{"Array", `[{"name":"x"}]`, "application/json", 400},
				{"EmptyBody", ``, "application/json", 400},
				{"WrongMediaType", `name=x`, "application/x-www-form-urlencoded", 415},
				{"TooLarge", `{"name":"x","pad":"` + strings.Repeat("a", 1<<20) + `"}`, "application/json", 413},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					req, _ := http.NewRequest("POST", s.URL+"/v1/tokens", strings.NewReader(c.body))
					req.Header.Set("Authorization", "Bearer "+admin)
					req.Header.Set("Content-Type", c.contentType)
					r := s.Send(req).Want(t, c.status)
					if r.String("error") == "" || r.String("error_description") == "" {
						t.Errorf("error body = %s, want error and error_description", r.Raw)
					}
				})
			}
			after := len(s.Do("GET", "/v1/tokens?limit=200", admin, nil).Want(t, http.StatusOK).Body["items"].([]any))
			if after != before {
				t.Errorf("tokens: %d before, %d after refused requests", before, after)
			}
		})

		t.Run("CreateWithExpiry", func(t *testing.T) {
			exp := s.Clock.Now().Add(48 * time.Hour).Format(time.RFC3339)
			r := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "short", "expires_at": exp}).Want(t, http.StatusCreated)
			got, err := time.Parse(time.RFC3339, r.String("expires_at"))
			if err != nil || got.Format(time.RFC3339) != exp {
				t.Errorf("expires_at = %q, want %s", r.String("expires_at"), exp)
			}
		})

		t.Run("RevokedTokenIsRejectedEverywhereAtOnce", func(t *testing.T) {
			id, secret := newToken(t, s, admin, "to revoke")
			if c := verifyCode(t, s, secret); c != "VALID" {
				t.Fatalf("before revoke: code %s", c)
			}
			s.Do("GET", "/v1/tokens", secret, nil).Want(t, http.StatusOK)
			s.Do("DELETE", "/v1/tokens/"+id, admin, nil).Want(t, http.StatusNoContent)
			if c := verifyCode(t, s, secret); c != "REVOKED" {
				t.Errorf("verify after revoke: code %s, want REVOKED", c)
			}
			r := s.Do("GET", "/v1/tokens", secret, nil).Want(t, http.StatusUnauthorized)
			if r.String("error") != "unauthorized" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("management API with revoked token: %s, WWW-Authenticate %q", r.Raw, r.Header.Get("WWW-Authenticate"))
			}
			g := s.Do("GET", "/v1/tokens/"+id, admin, nil).Want(t, http.StatusOK)
			if g.String("status") != "revoked" || g.String("revoked_at") == "" || g.String("revoked_by") != s.AdminID {
				t.Errorf("revoked token reads as %s", g.Raw)
			}
			s.Do("DELETE", "/v1/tokens/"+id, admin, nil).Want(t, http.StatusNoContent) // idempotent
		})

		t.Run("VerifyAnswersEachCode", func(t *testing.T) {
			_, valid := newToken(t, s, admin, "valid")
			r := s.Do("POST", "/v1/verify", "", map[string]any{"token": valid}).Want(t, http.StatusOK)
			if r.Body["valid"] != true || r.String("code") != "VALID" || r.String("token_id") == "" ||
				r.String("owner_id") != s.AdminID || r.String("type") != "user" {
				t.Errorf("valid token: %s", r.Raw)
			}
			if _, ok := r.Body["expires_at"]; ok && r.Body["expires_at"] != nil {
				t.Errorf("token without expiry answers expires_at %v", r.Body["expires_at"])
			}
			for _, c := range []struct{ name, token, code string }{
				{"Malformed", "ks_short", "MALFORMED"},
				{"WrongPrefix", "gh_" + valid[3:], "MALFORMED"},
				{"BadChecksum", valid[:len(valid)-1] + flip(valid[len(valid)-1]), "MALFORMED"},
				{"Empty", "", "MALFORMED"},
			} {
				if got := verifyCode(t, s, c.token); got != c.code {
					t.Errorf("%s: code %s, want %s", c.name, got, c.code)
				}
			}
			if c := verifyCode(t, s, unissued()); c != "NOT_FOUND" {
				t.Errorf("unknown token: code %s, want NOT_FOUND", c)
			}
			exp := s.Clock.Now().Add(time.Hour).Format(time.RFC3339)
			e := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "expiring", "expires_at": exp}).Want(t, http.StatusCreated)
			s.Clock.Advance(time.Hour)
			if c := verifyCode(t, s, e.String("token")); c != "EXPIRED" {
				t.Errorf("expired token: code %s, want EXPIRED", c)
			}
			s.Do("GET", "/v1/tokens", e.String("token"), nil).Want(t, http.StatusUnauthorized)
			if g := s.Do("GET", "/v1/tokens/"+e.String("id"), admin, nil); g.String("status") != "expired" {
				t.Errorf("expired token reads as %s", g.Raw)
			}
			s.Do("POST", "/v1/verify", "", "not json").Want(t, http.StatusBadRequest)
			s.Do("POST", "/v1/verify", "", `{"token": 5}`).Want(t, http.StatusBadRequest)
		})

		t.Run("ManagementAPIRefusesBadCredentials", func(t *testing.T) {
			for _, c := range []struct{ name, header string }{
				{"None", ""},
				{"Basic", "Basic YWRtaW46YWRtaW4="},
				{"EmptyBearer", "Bearer "},
				{"Malformed", "Bearer ks_nope"},
				{"Unknown", "Bearer " + unissued()},
			} {
				t.Run(c.name, func(t *testing.T) {
					req, _ := http.NewRequest("GET", s.URL+"/v1/tokens", nil)
					if c.header != "" {
						req.Header.Set("Authorization", c.header)
					}
					r := s.Send(req).Want(t, http.StatusUnauthorized)
					if r.String("error") != "unauthorized" || r.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("answer: %s, WWW-Authenticate %q", r.Raw, r.Header.Get("WWW-Authenticate"))
					}
				})
			}
		})

		t.Run("LastUseIsShownAtOnceAndStoredInBatches", func(t *testing.T) {
			id, secret := newToken(t, s, admin, "used")
			verifyCode(t, s, secret)
			r := s.Do("GET", "/v1/tokens/"+id, admin, nil).Want(t, http.StatusOK)
			if r.String("last_used_at") == "" || r.String("last_used_ip") != "127.0.0.1" {
				t.Errorf("right after a verify the token reads as %s", r.Raw)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				stored, err := s.App.Store.FindTokenByID(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				if stored.LastUsedAt != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("last use was never written to the store")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})

		t.Run("ListPagesWithACursor", func(t *testing.T) {
			for i := range 5 {
				newToken(t, s, admin, "page "+string(rune('a'+i)))
			}
			seen := map[string]bool{}
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("pagination does not end")
				}
				r := s.Do("GET", "/v1/tokens?limit=2&cursor="+cursor, admin, nil).Want(t, http.StatusOK)
				items := r.Body["items"].([]any)
				if len(items) > 2 {
					t.Fatalf("page of %d items with limit=2", len(items))
				}
				for _, it := range items {
					id := it.(map[string]any)["id"].(string)
					if seen[id] {
						t.Fatalf("token %s listed twice", id)
					}
					seen[id] = true
				}
				if cursor = r.String("next_cursor"); cursor == "" {
					break
				}
			}
			all := s.Do("GET", "/v1/tokens?limit=200", admin, nil).Want(t, http.StatusOK).Body["items"].([]any)
			if len(seen) != len(all) {
				t.Errorf("paging saw %d tokens, listing all shows %d", len(seen), len(all))
			}
			for _, q := range []string{"limit=0", "limit=201", "limit=x", "cursor=garbage!"} {
				s.Do("GET", "/v1/tokens?"+q, admin, nil).Want(t, http.StatusBadRequest)
			}
		})

		t.Run("UnknownThingsAreNotFound", func(t *testing.T) {
			s.Do("GET", "/v1/tokens/tok_doesnotexist0000", admin, nil).Want(t, http.StatusNotFound)
			s.Do("DELETE", "/v1/tokens/tok_doesnotexist0000", admin, nil).Want(t, http.StatusNotFound)
			r := s.Do("GET", "/v1/nothing", admin, nil).Want(t, http.StatusNotFound)
			if r.String("error") != "not_found" {
				t.Errorf("unknown endpoint: %s", r.Raw)
			}
		})

		t.Run("HealthAndReadiness", func(t *testing.T) {
			s.Do("GET", "/healthz", "", nil).Want(t, http.StatusOK)
			s.Do("GET", "/readyz", "", nil).Want(t, http.StatusOK)
		})
	})
}

// unissued returns a well-formed API token that nobody issued.
func unissued() string {
	secret, _ := keysmith.NewAPITokenSecret()
	return secret.Reveal()
}

// flip returns a different base62 character.
func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}
