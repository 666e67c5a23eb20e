package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// eventCount counts the system-log events of a type about a target id.
func eventCount(t *testing.T, s *apptest.Server, typ, target string) int {
	t.Helper()
	var n int
	err := s.App.Store.SQL().QueryRowContext(t.Context(),
		`SELECT COUNT(*) FROM events WHERE type = $1 AND data LIKE $2`, typ, `%"id":"`+target+`"%`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRotation(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken

		t.Run("GraceKeepsTheOldSecretThenItIsRevoked", func(t *testing.T) {
			c := create(t, s, admin, map[string]any{"name": "rotating", "meta": map[string]any{"team": "payments"},
				"expires_at": s.Clock.Now().Add(30 * day).Format(time.RFC3339)})
			id, old := c.String("id"), c.String("token")
			verifyCode(t, s, old)
			before := get(t, s, admin, id)

			r := s.Do("POST", "/v1/tokens/"+id+"/rotate", admin, map[string]any{"grace_seconds": 600}).Want(t, http.StatusOK)
			fresh := r.String("token")
			if !strings.HasPrefix(fresh, "ks_") || fresh == old || r.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("rotate answered %s", r.Raw)
			}
			for _, f := range []string{"id", "name", "owner_id", "created_at", "created_by", "expires_at", "last_used_at", "idle_ttl"} {
				if r.Body[f] != before.Body[f] {
					t.Errorf("rotation changed %s: %v → %v", f, before.Body[f], r.Body[f])
				}
			}
			if string(mustJSON(t, r.Body["meta"])) != `{"team":"payments"}` || r.String("rotated_at") == "" ||
				r.String("previous_secret_expires_at") == "" {
				t.Errorf("rotated token: %s", r.Raw)
			}
			if g := get(t, s, admin, id); strings.Contains(string(g.Raw), fresh) {
				t.Error("GET shows the new secret")
			}
			if code := verifyCode(t, s, fresh); code != "VALID" {
				t.Errorf("new secret: %s", code)
			}
			s.Clock.Advance(10*time.Minute - time.Second)
			if code := verifyCode(t, s, old); code != "VALID" {
				t.Errorf("old secret within the grace period: %s", code)
			}
			s.Clock.Advance(time.Second)
			if code := verifyCode(t, s, old); code != "REVOKED" {
				t.Errorf("old secret after the grace period: %s, want REVOKED", code)
			}
			s.Do("GET", "/v1/tokens", old, nil).Want(t, http.StatusUnauthorized)
			if code := verifyCode(t, s, fresh); code != "VALID" {
				t.Errorf("new secret after the grace period: %s", code)
			}
			if n := eventCount(t, s, "api_token.rotated", id); n != 1 {
				t.Errorf("api_token.rotated events: %d, want 1", n)
			}
			noPlaintext(t, s, old, fresh)
		})

		t.Run("WithoutGraceTheOldSecretStopsAtOnce", func(t *testing.T) {
			id, old := newToken(t, s, admin, "rotate now")
			verifyCode(t, s, old) // cached on this replica
			r := s.Do("POST", "/v1/tokens/"+id+"/rotate", admin, nil).Want(t, http.StatusOK)
			if code := verifyCode(t, s, old); code != "REVOKED" {
				t.Errorf("old secret after rotation without grace: %s, want REVOKED", code)
			}
			if code := verifyCode(t, s, r.String("token")); code != "VALID" {
				t.Errorf("new secret: %s", code)
			}
		})

		t.Run("UsesOfEitherSecretRenewTheToken", func(t *testing.T) {
			c := create(t, s, admin, map[string]any{"name": "two secrets", "idle_ttl": 3600})
			id, old := c.String("id"), c.String("token")
			r := s.Do("POST", "/v1/tokens/"+id+"/rotate", admin, map[string]any{"grace_seconds": 86400}).Want(t, http.StatusOK)
			fresh := r.String("token")
			s.Clock.Advance(50 * time.Minute)
			verifyCode(t, s, fresh)
			s.Clock.Advance(50 * time.Minute)
			verifyCode(t, s, old)
			s.Clock.Advance(50 * time.Minute)
			if code := verifyCode(t, s, fresh); code != "VALID" {
				t.Fatalf("new secret 50 min after a use of the old one: %s", code)
			}
			flush(t, s)
			g := get(t, s, admin, id)
			if !timeField(t, g, "last_used_at").Equal(s.Clock.Now()) {
				t.Errorf("last_used_at = %s, want %s", g.String("last_used_at"), s.Clock.Now())
			}
		})

		t.Run("GetShowsTheHistory", func(t *testing.T) {
			exp := s.Clock.Now().Add(day).Truncate(time.Second)
			c := create(t, s, admin, map[string]any{"name": "history", "expires_at": exp.Format(time.RFC3339)})
			id := c.String("id")
			g := get(t, s, admin, id)
			for _, f := range []string{"created_by", "last_used_at", "last_used_ip", "expires_at", "idle_expires_at", "revoked_at", "revoked_by"} {
				if _, ok := g.Body[f]; !ok {
					t.Errorf("GET lacks %q: %s", f, g.Raw)
				}
			}
			if g.String("created_by") != s.AdminID || g.Body["last_used_at"] != nil || g.Body["revoked_at"] != nil ||
				!timeField(t, g, "expires_at").Equal(exp) {
				t.Errorf("fresh token: %s", g.Raw)
			}
			s.Clock.Advance(time.Minute)
			verifyCode(t, s, c.String("token"))
			s.Do("DELETE", "/v1/tokens/"+id, admin, nil).Want(t, http.StatusNoContent)
			g = get(t, s, admin, id)
			if !timeField(t, g, "last_used_at").Equal(s.Clock.Now()) || g.String("last_used_ip") != "127.0.0.1" ||
				!timeField(t, g, "revoked_at").Equal(s.Clock.Now()) || g.String("revoked_by") != s.AdminID {
				t.Errorf("used and revoked token: %s", g.Raw)
			}
		})

		t.Run("BadRotationsAreRefusedAndChangeNothing", func(t *testing.T) {
			id, secret := newToken(t, s, admin, "keep")
			for _, body := range []string{`{"grace_seconds": -1}`, `{"grace_seconds": 86401}`, `{"grace_seconds": "1h"}`,
				`{"grace_seconds": 1.5}`, `{"grace": 5}`, `[]`, `nope`} {
				r := s.Do("POST", "/v1/tokens/"+id+"/rotate", admin, body).Want(t, http.StatusBadRequest)
				if r.String("error_description") == "" {
					t.Errorf("%s: %s", body, r.Raw)
				}
			}
			if code := verifyCode(t, s, secret); code != "VALID" {
				t.Errorf("after refused rotations: %s", code)
			}
			if n := eventCount(t, s, "api_token.rotated", id); n != 0 {
				t.Errorf("refused rotations recorded %d events", n)
			}
			s.Do("POST", "/v1/tokens/tok_doesnotexist0000/rotate", admin, nil).Want(t, http.StatusNotFound)
			s.Do("DELETE", "/v1/tokens/"+id, admin, nil).Want(t, http.StatusNoContent)
			r := s.Do("POST", "/v1/tokens/"+id+"/rotate", admin, nil).Want(t, http.StatusConflict)
			if !strings.Contains(r.String("error_description"), "revoked") {
				t.Errorf("rotating a revoked token: %s", r.Raw)
			}
			if code := verifyCode(t, s, secret); code != "REVOKED" {
				t.Errorf("revoked token after a refused rotation: %s", code)
			}
		})
	})
}

func TestDisableAndMeta(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken

		t.Run("DisableSuspendsAndEnableRestores", func(t *testing.T) {
			id, secret := newToken(t, s, admin, "pausable")
			verifyCode(t, s, secret)
			r := s.Do("PATCH", "/v1/tokens/"+id, admin, map[string]any{"enabled": false}).Want(t, http.StatusOK)
			if r.Body["enabled"] != false || r.String("status") != "disabled" || r.String("disabled_at") == "" {
				t.Errorf("disabled token: %s", r.Raw)
			}
			if code := verifyCode(t, s, secret); code != "DISABLED" {
				t.Errorf("verify: %s, want DISABLED", code)
			}
			u := s.Do("GET", "/v1/tokens", secret, nil).Want(t, http.StatusUnauthorized)
			if !strings.Contains(u.String("error_description"), "disabled") {
				t.Errorf("management API: %s", u.Raw)
			}
			r = s.Do("PATCH", "/v1/tokens/"+id, admin, map[string]any{"enabled": true}).Want(t, http.StatusOK)
			if r.Body["enabled"] != true || r.String("status") != "active" || r.Body["disabled_at"] != nil {
				t.Errorf("enabled token: %s", r.Raw)
			}
			if code := verifyCode(t, s, secret); code != "VALID" {
				t.Errorf("verify after enabling: %s", code)
			}
			if n := eventCount(t, s, "api_token.updated", id); n != 2 {
				t.Errorf("api_token.updated events: %d, want 2", n)
			}
		})

		t.Run("NameAndMetaAreEditableAndShownEverywhere", func(t *testing.T) {
			id, secret := newToken(t, s, admin, "before")
			meta := map[string]any{"team": "payments", "tier": 2, "tags": []any{"a", "b"}}
			r := s.Do("PATCH", "/v1/tokens/"+id, admin, map[string]any{"name": "after", "meta": meta}).Want(t, http.StatusOK)
			want := `{"tags":["a","b"],"team":"payments","tier":2}`
			if r.String("name") != "after" || string(mustJSON(t, r.Body["meta"])) != want {
				t.Errorf("patched: %s", r.Raw)
			}
			if g := get(t, s, admin, id); string(mustJSON(t, g.Body["meta"])) != want {
				t.Errorf("get: %s", g.Raw)
			}
			for _, it := range list(t, s, "q=after", 50) {
				if string(mustJSON(t, it["meta"])) != want {
					t.Errorf("list: %v", it)
				}
			}
			v := s.Do("POST", "/v1/verify", "", map[string]any{"token": secret}).Want(t, http.StatusOK)
			if string(mustJSON(t, v.Body["meta"])) != want {
				t.Errorf("verify: %s", v.Raw)
			}
			c := create(t, s, admin, map[string]any{"name": "born with meta", "meta": map[string]any{"k": "v"}})
			if string(mustJSON(t, c.Body["meta"])) != `{"k":"v"}` {
				t.Errorf("create with meta: %s", c.Raw)
			}
			// An invalid token's verify answer carries no meta.
			s.Do("PATCH", "/v1/tokens/"+id, admin, map[string]any{"enabled": false}).Want(t, http.StatusOK)
			if v := s.Do("POST", "/v1/verify", "", map[string]any{"token": secret}).Want(t, http.StatusOK); v.Body["meta"] != nil {
				t.Errorf("disabled token's verify shows meta: %s", v.Raw)
			}
		})

		t.Run("BadPatchesAreRefusedAndChangeNothing", func(t *testing.T) {
			id, _ := newToken(t, s, admin, "steady")
			before := get(t, s, admin, id)
			big := `{"meta": {"x": "` + strings.Repeat("a", 10*1024) + `"}}`
			for _, body := range []string{`{}`, `{"name": ""}`, `{"name": 5}`, `{"enabled": "no"}`, `{"meta": [1]}`,
				`{"meta": "x"}`, `{"meta": 3}`, big, `{"idle_ttl": 5}`, `{"name": "a\u0000b"}`, `nope`} {
				r := s.Do("PATCH", "/v1/tokens/"+id, admin, body).Want(t, http.StatusBadRequest)
				if r.String("error_description") == "" {
					t.Errorf("%.40s: %s", body, r.Raw)
				}
			}
			after := get(t, s, admin, id)
			if string(before.Raw) != string(after.Raw) {
				t.Errorf("refused patches changed the token:\n%s\n%s", before.Raw, after.Raw)
			}
			if n := eventCount(t, s, "api_token.updated", id); n != 0 {
				t.Errorf("refused patches recorded %d events", n)
			}
			s.Do("PATCH", "/v1/tokens/tok_doesnotexist0000", admin, map[string]any{"enabled": false}).Want(t, http.StatusNotFound)
			s.Do("DELETE", "/v1/tokens/"+id, admin, nil).Want(t, http.StatusNoContent)
			s.Do("PATCH", "/v1/tokens/"+id, admin, map[string]any{"enabled": true}).Want(t, http.StatusConflict)
		})
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noPlaintext fails if any secret appears in a stored row: tokens, agents
// or the system log keep hashes only.
func noPlaintext(t *testing.T, s *apptest.Server, secrets ...string) {
	t.Helper()
	for _, q := range []string{
		`SELECT id || name || hash || COALESCE(prev_hash, '') || meta || agent_id FROM tokens`,
		`SELECT id || name || token_id FROM agents`,
		`SELECT data FROM events`,
	} {
		rows, err := s.App.Store.SQL().QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			for _, sec := range secrets {
				if strings.Contains(row, sec) || strings.Contains(row, sec[3:]) {
					t.Errorf("a stored row holds a secret: %.60s…", row)
				}
			}
		}
		rows.Close()
	}
}
