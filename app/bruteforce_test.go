package app_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

func TestFailedClientAuthenticationIsLimitedPerAddress(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		c := newClient(t, s, s.AdminToken, map[string]any{"scopes": []string{"read"}, "grant_types": []string{"client_credentials"}})
		form := url.Values{"grant_type": {"client_credentials"}}

		// The failed_client_auth group allows 20 failures a minute per address.
		for range 20 {
			postForm(t, s, "/v1/oauth/token", c.ID, "kss_wrong", "", form).Want(t, http.StatusUnauthorized)
		}
		r := postForm(t, s, "/v1/oauth/token", c.ID, c.Secret, "", form).Want(t, http.StatusTooManyRequests)
		for _, h := range []string{"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
			if r.Header.Get(h) == "" {
				t.Errorf("429 without %s", h)
			}
		}
		if r.String("error") != "rate_limited" {
			t.Errorf("429 body = %s", r.Raw)
		}

		s.Clock.Advance(time.Minute)
		getToken(t, s, c, "").Want(t, http.StatusOK)
		for range 25 { // successes do not count
			getToken(t, s, c, "").Want(t, http.StatusOK)
		}
	})
}
