package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// TestLifecycleWithNetworkPolicy covers where token lifecycle (issue 4) meets
// network zones and rate limits (issue 7): one create, one PATCH, one verify.
func TestLifecycleWithNetworkPolicy(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		office := newZone(t, s, "office", []string{"203.0.113.0/24"}, nil)

		t.Run("CreateTakesEveryField", func(t *testing.T) {
			r := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "edge", "idle_ttl": 3600,
				"meta": map[string]any{"team": "edge"}, "expires_at": s.Clock.Now().Add(48 * time.Hour),
				"network": map[string]any{"mode": "in_zones", "zones": []string{office}}, "rate_limit_percent": 20,
			}).Want(t, http.StatusCreated)
			g := get(t, s, admin, r.String("id"))
			if g.Body["idle_ttl"] != 3600.0 || g.Body["rate_limit_percent"] != 20.0 || g.Body["color"] != "red" ||
				string(mustJSON(t, g.Body["meta"])) != `{"team":"edge"}` ||
				string(mustJSON(t, g.Body["network"])) != `{"mode":"in_zones","zones":["`+office+`"]}` {
				t.Errorf("created token: %s", g.Raw)
			}
		})

		t.Run("PatchTakesEveryFieldAtOnce", func(t *testing.T) {
			id, secret := newToken(t, s, admin, "patched")
			r := s.Do("PATCH", "/v1/tokens/"+id, admin, map[string]any{"name": "renamed", "enabled": true,
				"meta": map[string]any{"k": 1}, "network": map[string]any{"mode": "in_zones", "zones": []string{office}},
				"rate_limit_percent": 5}).Want(t, http.StatusOK)
			if r.String("name") != "renamed" || r.Body["rate_limit_percent"] != 5.0 || string(mustJSON(t, r.Body["meta"])) != `{"k":1}` {
				t.Errorf("patch: %s", r.Raw)
			}
			l := s.Do("GET", "/v1/tokens?q=renamed", admin, nil).Want(t, http.StatusOK)
			items := l.Body["items"].([]any)
			if len(items) != 1 || items[0].(map[string]any)["rate_limit_percent"] != 5.0 ||
				items[0].(map[string]any)["network"].(map[string]any)["mode"] != "in_zones" {
				t.Errorf("list: %s", l.Raw)
			}
			if c := verifyFrom(t, s, secret, "203.0.113.9").String("code"); c != "VALID" {
				t.Errorf("inside the zone: %s", c)
			}
			if c := verifyFrom(t, s, secret, "198.51.100.1").String("code"); c != "IP_FORBIDDEN" {
				t.Errorf("outside the zone: %s", c)
			}
			if n := eventCount(t, s, "api_token.updated", id); n != 1 {
				t.Errorf("%d update events, want 1", n)
			}
		})

		t.Run("VerifyChecksInOrder", func(t *testing.T) {
			r := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "ordered", "idle_ttl": 60,
				"network": map[string]any{"mode": "in_zones", "zones": []string{office}}}).Want(t, http.StatusCreated)
			id, secret := r.String("id"), r.String("token")
			s.Do("PATCH", "/v1/tokens/"+id, admin, map[string]any{"enabled": false}).Want(t, http.StatusOK)
			// Disabled outranks the network policy: the token is not usable anywhere.
			if c := verifyFrom(t, s, secret, "198.51.100.1").String("code"); c != "DISABLED" {
				t.Errorf("disabled, outside the zone: %s, want DISABLED", c)
			}
			s.Do("PATCH", "/v1/tokens/"+id, admin, map[string]any{"enabled": true}).Want(t, http.StatusOK)
			s.Clock.Advance(time.Minute)
			if c := verifyFrom(t, s, secret, "198.51.100.1").String("code"); c != "EXPIRED" {
				t.Errorf("idle, outside the zone: %s, want EXPIRED", c)
			}
		})

		t.Run("OthersCannotPatchEvenWithBadInput", func(t *testing.T) {
			id, _ := newToken(t, s, admin, "not yours")
			_, dev := s.AddUser(keysmith.RoleDeveloper, "")
			before := get(t, s, admin, id).Raw
			for _, body := range []string{`{}`, `{"rate_limit_percent":0}`, `{"enabled":false}`, `{"network":{"mode":"any"}}`} {
				s.Do("PATCH", "/v1/tokens/"+id, dev, body).Want(t, http.StatusNotFound)
			}
			if after := get(t, s, admin, id).Raw; string(after) != string(before) {
				t.Errorf("refused patches changed the token:\n%s\n%s", before, after)
			}
		})
	})
}
