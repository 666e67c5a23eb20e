package app_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// TestAccessTokenIssuance: issuing access tokens is limited per client, and
// the records of opaque tokens do not outlive their expiry for long.
func TestAccessTokenIssuance(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		appID := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "issuer"}).Want(t, http.StatusCreated).String("app_id")

		t.Run("ExpiredOpaqueTokensArePrunedBySweep", func(t *testing.T) {
			short := newClient(t, s, admin, map[string]any{"app_id": appID, "grant_types": []string{"client_credentials"},
				"token_format": "opaque", "token_ttl_seconds": 60})
			never := newClient(t, s, admin, map[string]any{"app_id": appID, "grant_types": []string{"client_credentials"},
				"token_format": "opaque", "token_ttl_seconds": -1})
			var expiring []string
			for range 3 {
				expiring = append(expiring, accessToken(t, s, short))
			}
			kept := accessToken(t, s, never)
			before := countRows(t, s, "oauth_tokens")
			s.Clock.Advance(time.Minute)
			if err := s.App.Maintain(t.Context()); err != nil {
				t.Fatal(err)
			}
			if code := verifyCode(t, s, expiring[0]); code != "EXPIRED" {
				t.Errorf("just expired: %s, want EXPIRED (the record is kept for a while)", code)
			}
			s.Clock.Advance(keysmith.AccessTokenRetention + time.Second)
			if err := s.App.Maintain(t.Context()); err != nil {
				t.Fatal(err)
			}
			if after := countRows(t, s, "oauth_tokens"); after != before-len(expiring) {
				t.Errorf("%d access-token rows after the sweep, want %d (the expired ones deleted)", after, before-len(expiring))
			}
			if code := verifyCode(t, s, kept); code != "VALID" {
				t.Errorf("never-expiring token after the sweep: %s, want VALID", code)
			}
		})

		t.Run("IssuancePerClientIsRateLimited", func(t *testing.T) {
			limits := s.Do("GET", "/v1/settings/rate-limits", admin, nil).Want(t, http.StatusOK)
			if limits.Body[string(keysmith.GroupTokenIssuance)] != float64(600) {
				t.Fatalf("rate limits %s, want token_issuance 600 a minute by default", limits.Raw)
			}
			s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"token_issuance": 3}).Want(t, http.StatusOK)
			defer func() { s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{}).Want(t, http.StatusOK) }()
			busy := newClient(t, s, admin, map[string]any{"app_id": appID, "grant_types": []string{"client_credentials"},
				"token_format": "opaque"})
			other := newClient(t, s, admin, map[string]any{"app_id": appID, "grant_types": []string{"client_credentials"}})
			for i := range 3 {
				r := getToken(t, s, busy, "").Want(t, http.StatusOK)
				if r.Header.Get("RateLimit-Limit") != "3" || r.Header.Get("RateLimit-Remaining") != strconv.Itoa(2-i) {
					t.Errorf("token %d: RateLimit-Limit %q, -Remaining %q", i+1, r.Header.Get("RateLimit-Limit"), r.Header.Get("RateLimit-Remaining"))
				}
			}
			rows := countRows(t, s, "oauth_tokens")
			r := getToken(t, s, busy, "").Want(t, http.StatusTooManyRequests)
			if r.String("error") != "rate_limited" || r.Header.Get("Retry-After") == "" || r.String("access_token") != "" {
				t.Errorf("fourth token in a minute: %s, Retry-After %q", r.Raw, r.Header.Get("Retry-After"))
			}
			if after := countRows(t, s, "oauth_tokens"); after != rows {
				t.Errorf("a refused issuance stored %d rows", after-rows)
			}
			getToken(t, s, other, "").Want(t, http.StatusOK) // each client has its own count
			s.Clock.Advance(20 * time.Second)                // a third of the minute: one more
			getToken(t, s, busy, "").Want(t, http.StatusOK)
		})
	})
}
