package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

const day = 24 * time.Hour

// create creates a token with the given body and returns the response.
func create(t *testing.T, s *apptest.Server, caller string, body map[string]any) apptest.Response {
	t.Helper()
	return s.Do("POST", "/v1/tokens", caller, body).Want(t, http.StatusCreated)
}

func get(t *testing.T, s *apptest.Server, caller, id string) apptest.Response {
	t.Helper()
	return s.Do("GET", "/v1/tokens/"+id, caller, nil).Want(t, http.StatusOK)
}

// timeField parses an RFC 3339 field of a response body.
func timeField(t *testing.T, r apptest.Response, field string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, r.String(field))
	if err != nil {
		t.Fatalf("%s = %v: %v; body %s", field, r.Body[field], err, r.Raw)
	}
	return v
}

// flush writes the verifier's pending uses now, instead of waiting for the
// background flush.
func flush(t *testing.T, s *apptest.Server) {
	t.Helper()
	if err := s.App.Verifier.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// countTokens is how many tokens the admin sees.
func countTokens(t *testing.T, s *apptest.Server) int {
	t.Helper()
	return len(s.Do("GET", "/v1/tokens?limit=200", s.AdminToken, nil).Want(t, http.StatusOK).Body["items"].([]any))
}

func TestIdleExpiry(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken

		t.Run("EveryUseRenewsAFullPeriodAndUnusedTokensDieForGood", func(t *testing.T) {
			c := create(t, s, admin, map[string]any{"name": "idle", "idle_ttl": 3600})
			id, secret := c.String("id"), c.String("token")
			created := timeField(t, c, "created_at")
			if c.Body["idle_ttl"] != float64(3600) || !timeField(t, c, "idle_expires_at").Equal(created.Add(time.Hour)) ||
				c.Body["expires_at"] != nil {
				t.Fatalf("created token: %s", c.Raw)
			}
			s.Clock.Advance(59 * time.Minute)
			if code := verifyCode(t, s, secret); code != "VALID" {
				t.Fatalf("59 min after creation: %s", code)
			}
			// The renewal shows at once, before the batched write.
			g := get(t, s, admin, id)
			if want := s.Clock.Now().Add(time.Hour); !timeField(t, g, "idle_expires_at").Equal(want) {
				t.Errorf("after a use, idle_expires_at = %s, want %s", g.String("idle_expires_at"), want)
			}
			s.Clock.Advance(59 * time.Minute)
			if code := verifyCode(t, s, secret); code != "VALID" {
				t.Fatalf("59 min after the last use: %s, want VALID (renewed)", code)
			}
			s.Do("GET", "/v1/tokens/"+id, secret, nil).Want(t, http.StatusOK) // management use renews too
			flush(t, s)
			s.Clock.Advance(time.Hour)
			if code := verifyCode(t, s, secret); code != "EXPIRED" {
				t.Fatalf("an hour after the last use: %s, want EXPIRED", code)
			}
			r := s.Do("GET", "/v1/tokens", secret, nil).Want(t, http.StatusUnauthorized)
			if !strings.Contains(r.String("error_description"), "expired") {
				t.Errorf("management API: %s", r.Raw)
			}
			g = get(t, s, admin, id)
			if g.String("status") != "expired" || g.Body["color"] != nil {
				t.Errorf("idle-expired token reads as %s", g.Raw)
			}
			// A use recorded later (as a replica that did not know would
			// flush it) does not bring it back, nor does reloading caches.
			use := keysmith.TokenUse{TokenID: id, At: s.Clock.Now(), IP: "192.0.2.9"}
			if err := s.App.Store.RecordTokenUses(t.Context(), []keysmith.TokenUse{use}); err != nil {
				t.Fatal(err)
			}
			s.Clock.Advance(2 * time.Minute) // past the verifier's cache age
			if code := verifyCode(t, s, secret); code != "EXPIRED" {
				t.Errorf("after a late use record: %s, want EXPIRED", code)
			}
			if g := get(t, s, admin, id); g.String("status") != "expired" || g.String("last_used_ip") == "192.0.2.9" {
				t.Errorf("after a late use record the token reads as %s", g.Raw)
			}
		})

		t.Run("UseDoesNotExtendTheAbsoluteExpiry", func(t *testing.T) {
			exp := s.Clock.Now().Add(2 * time.Hour)
			c := create(t, s, admin, map[string]any{"name": "both", "idle_ttl": 3600, "expires_at": exp.Format(time.RFC3339)})
			for range 2 {
				s.Clock.Advance(50 * time.Minute)
				if code := verifyCode(t, s, c.String("token")); code != "VALID" {
					t.Fatalf("used within the idle TTL before expires_at: %s", code)
				}
			}
			s.Clock.Advance(20 * time.Minute)
			if code := verifyCode(t, s, c.String("token")); code != "EXPIRED" {
				t.Fatalf("at expires_at, used 20 min ago: %s, want EXPIRED", code)
			}
			g := get(t, s, admin, c.String("id"))
			if !timeField(t, g, "expires_at").Equal(exp) || g.String("idle_expires_at") == "" {
				t.Errorf("GET must state both expiries: %s", g.Raw)
			}
		})

		t.Run("BadIdleTTLIsRefusedAndChangesNothing", func(t *testing.T) {
			before := countTokens(t, s)
			for _, v := range []any{0, 59, -1, 3650*24*3600 + 1, "1h", 1.5, int64(1) << 62} {
				r := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "x", "idle_ttl": v}).Want(t, http.StatusBadRequest)
				if r.String("error_description") == "" {
					t.Errorf("idle_ttl %v: %s", v, r.Raw)
				}
			}
			if after := countTokens(t, s); after != before {
				t.Errorf("tokens: %d before, %d after", before, after)
			}
		})

		// Last: it lets the admin token expire.
		t.Run("TheDefaultIsThirtyDays", func(t *testing.T) {
			c := create(t, s, admin, map[string]any{"name": "default idle"})
			if c.Body["idle_ttl"] != float64(30*24*3600) {
				t.Fatalf("idle_ttl = %v, want 30 days", c.Body["idle_ttl"])
			}
			s.Clock.Advance(30*day - time.Second)
			verifyCode(t, s, admin) // keep the admin alive
			if code := verifyCode(t, s, c.String("token")); code != "VALID" {
				t.Fatalf("a second before 30 days: %s", code)
			}
			s.Clock.Advance(30*day - time.Second)
			verifyCode(t, s, admin)
			if code := verifyCode(t, s, c.String("token")); code != "VALID" {
				t.Fatalf("renewed by the use 30 days ago minus a second: %s", code)
			}
			s.Clock.Advance(30 * day)
			verifyCode(t, s, admin) // expired too: unused for 30 days
			if code := verifyCode(t, s, c.String("token")); code != "EXPIRED" {
				t.Fatalf("30 days after the last use: %s, want EXPIRED", code)
			}
		})
	})
}

func TestIdleTTLServerSetting(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{TokenIdleTTL: 2 * time.Hour})
		c := create(t, s, s.AdminToken, map[string]any{"name": "short default"})
		if c.Body["idle_ttl"] != float64(7200) {
			t.Fatalf("idle_ttl = %v, want the server's 7200", c.Body["idle_ttl"])
		}
		own := create(t, s, s.AdminToken, map[string]any{"name": "own", "idle_ttl": 86400})
		s.Clock.Advance(2 * time.Hour)
		if code := verifyCode(t, s, c.String("token")); code != "EXPIRED" {
			t.Errorf("server default: %s, want EXPIRED", code)
		}
		if code := verifyCode(t, s, own.String("token")); code != "VALID" {
			t.Errorf("per-token override: %s, want VALID", code)
		}
		// The bootstrap admin's token follows the setting too.
		if code := verifyCode(t, s, s.AdminToken); code != "EXPIRED" {
			t.Errorf("admin token unused for the server's idle TTL: %s", code)
		}
	})
}
