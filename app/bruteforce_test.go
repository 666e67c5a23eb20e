package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/redis/redistest"
	"github.com/keysmith/keysmith/storetest"
)

func TestFailedClientAuthenticationIsLimitedPerAddress(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		registerScopes(t, s, "read")
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

// burst sends n requests at once and counts the answers by status.
func burst(n int, send func(i int) int) map[int]int {
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st := send(i)
			mu.Lock()
			statuses[st]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return statuses
}

// A burst of attempts sent at once is limited exactly like the same attempts
// sent one after another: each takes its unit of the budget before its
// credentials are checked.
func TestConcurrentAttemptsAreLimitedLikeASequence(t *testing.T) {
	signInBurst := func(t *testing.T, s *apptest.Server) {
		createUser(t, s, "right@example.com", "developer")
		// 29 wrong passwords for 29 accounts, and one right one, from one
		// address: at most 10 failures (failed_sign_ins) reach the check.
		got := burst(30, func(i int) int {
			email, pw := fmt.Sprintf("guess%d@example.com", i), "a wrong guess"
			if i == 17 {
				email, pw = "right@example.com", "pw right@example.com"
			}
			return s.Do("POST", "/v1/sessions", "", map[string]any{"email": email, "password": pw}).Status
		})
		if got[http.StatusUnauthorized] > 10 || got[http.StatusUnauthorized] < 1 ||
			got[http.StatusUnauthorized]+got[http.StatusCreated]+got[http.StatusTooManyRequests] != 30 {
			t.Errorf("30 concurrent sign-ins from one address answered %v, want at most 10 401s and the rest 429 (or the one 201)", got)
		}
	}
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		registerScopes(t, s, "read")
		t.Run("SignInsFromOneAddress", func(t *testing.T) { signInBurst(t, s) })

		t.Run("SignInsForOneAccount", func(t *testing.T) {
			s.Do("PUT", "/v1/settings/rate-limits", s.AdminToken, map[string]any{"failed_sign_ins": 1000}).Want(t, http.StatusOK)
			createUser(t, s, "target@example.com", "developer")
			// 5 free failures, then the sixth at once (it starts the wait).
			got := burst(30, func(i int) int {
				return s.Do("POST", "/v1/sessions", "", map[string]any{"email": "target@example.com", "password": fmt.Sprint("guess ", i)}).Status
			})
			if got[http.StatusUnauthorized] != 6 || got[http.StatusTooManyRequests] != 24 {
				t.Errorf("30 concurrent sign-ins for one account answered %v, want 6 401s and 24 429s", got)
			}
		})

		t.Run("ClientAuthentication", func(t *testing.T) {
			c := newClient(t, s, s.AdminToken, map[string]any{"scopes": []string{"read"}, "grant_types": []string{"client_credentials"}})
			form := url.Values{"grant_type": {"client_credentials"}}
			got := burst(30, func(int) int {
				return postForm(t, s, "/v1/oauth/token", c.ID, "kss_wrong", "", form).Status
			})
			if got[http.StatusUnauthorized] != 20 || got[http.StatusTooManyRequests] != 10 {
				t.Errorf("30 concurrent wrong client secrets answered %v, want 20 401s (failed_client_auth) and 10 429s", got)
			}
		})
	})
	t.Run("SignInsFromOneAddressWithRedis", func(t *testing.T) {
		url, prefix := redistest.URL(t)
		signInBurst(t, apptest.Start(t, storetest.SQLite(t), app.Config{Redis: url, RedisPrefix: prefix}))
	})
}
