package app_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// from sends a request as if from ip: the server trusts 127.0.0.0/8 as a
// proxy, so X-Forwarded-For names the client.
func from(t *testing.T, s *apptest.Server, ip, method, path, token, cookie string, header map[string]string) apptest.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", ip)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "keysmith_session", Value: cookie})
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return s.Send(req)
}

func TestDenials(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		log := &logBuffer{}
		s := apptest.Start(t, dsn, app.Config{TrustedProxies: mustPrefixes(t, "127.0.0.0/8"),
			Log: slog.New(slog.NewTextHandler(log, nil))})
		admin := s.AdminToken
		setLimits := func(t *testing.T, limits map[string]any) {
			t.Helper()
			s.Do("PUT", "/v1/settings/rate-limits", admin, limits).Want(t, http.StatusOK)
			t.Cleanup(func() { s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{}).Want(t, http.StatusOK) })
		}

		t.Run("AThiefOutsideTheZoneGets429PastTheDeniedBudgetAndLeavesTheSharesAlone", func(t *testing.T) {
			setLimits(t, map[string]any{"denied": 5, "tokens": 4}) // the token's share of tokens: 2
			zid := newZone(t, s, "office", []string{"203.0.113.0/24"}, nil)
			_, stolen := newPolicyToken(t, s, "in_zones", zid)
			before := countEvents(t, s)
			long := "/v1/tokens/tok_" + strings.Repeat("x", 30<<10)
			got := map[int]int{}
			for range 8 {
				r := from(t, s, "198.51.100.1", "GET", long, stolen, "", nil)
				got[r.Status]++
				if r.Status == http.StatusTooManyRequests && (r.Header.Get("Retry-After") == "" || r.Header.Get("RateLimit-Limit") != "5") {
					t.Errorf("429 headers: %v", r.Header)
				}
			}
			if got[http.StatusForbidden] != 5 || got[http.StatusTooManyRequests] != 3 {
				t.Errorf("8 requests from outside the zone answered %v, want 5 403s and 3 429s", got)
			}
			if n := countEvents(t, s) - before; n != 5 {
				t.Errorf("%d events recorded, want one per 403, 5", n)
			}
			rows, err := s.App.Store.SQL().Query(`SELECT data FROM events WHERE type = 'access.denied'`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var data string
				rows.Scan(&data)
				if len(data) > 2048 {
					t.Errorf("an access.denied event holds %d bytes; request strings must be cut to 256", len(data))
				}
			}
			for line := range strings.Lines(log.String()) {
				if len(line) > 2048 {
					t.Errorf("a log line holds %d bytes: %.200s…", len(line), line)
				}
			}
			// The owner, inside the zone, still has the whole share.
			for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
				if r := from(t, s, "203.0.113.7", "GET", "/v1/tokens", stolen, "", nil); r.Status != want {
					t.Errorf("owner's request %d inside the zone: %d, want %d", i+1, r.Status, want)
				}
			}
		})

		t.Run("RefusalsWithoutACredentialCountPerAddress", func(t *testing.T) {
			setLimits(t, map[string]any{"denied": 3})
			createUser(t, s, "csrf@example.com", "org_admin")
			c := signIn(t, s, "csrf@example.com", "pw csrf@example.com")
			cross := map[string]string{"Origin": "https://evil.example"}
			for i, want := range []int{403, 403, 403, 429} {
				if r := from(t, s, "198.51.100.2", "DELETE", "/v1/sessions/current", "", c, cross); r.Status != want {
					t.Errorf("cross-origin request %d: %d, want %d", i+1, r.Status, want)
				}
			}
			from(t, s, "198.51.100.3", "DELETE", "/v1/sessions/current", "", c, cross).Want(t, http.StatusForbidden)
		})

		t.Run("SessionsAreRateLimitedPerUser", func(t *testing.T) {
			createUser(t, s, "cookie@example.com", "org_admin")
			createUser(t, s, "other@example.com", "org_admin")
			c := signIn(t, s, "cookie@example.com", "pw cookie@example.com")
			other := signIn(t, s, "other@example.com", "pw other@example.com")
			setLimits(t, map[string]any{"users": 4}) // a session's share: 2
			for i := range 2 {
				r := withCookie(t, s, c, "GET", "/v1/me", nil, nil).Want(t, http.StatusOK)
				if r.Header.Get("RateLimit-Limit") != "2" || r.Header.Get("RateLimit-Remaining") != []string{"1", "0"}[i] {
					t.Errorf("request %d headers: %v", i+1, r.Header)
				}
			}
			r := withCookie(t, s, c, "GET", "/v1/me", nil, nil).Want(t, http.StatusTooManyRequests)
			if r.Header.Get("Retry-After") == "" || r.String("error") != "rate_limited" {
				t.Errorf("429: %s %v", r.Raw, r.Header)
			}
			withCookie(t, s, other, "GET", "/v1/me", nil, nil).Want(t, http.StatusOK)
		})

		t.Run("AgentsHaveARateLimitGroup", func(t *testing.T) {
			setLimits(t, map[string]any{"agents": 2}) // the admin's share: 1
			r := s.Do("GET", "/v1/agents", admin, nil).Want(t, http.StatusOK)
			if r.Header.Get("RateLimit-Limit") != "1" {
				t.Errorf("agents headers: %v", r.Header)
			}
			s.Do("GET", "/v1/agents", admin, nil).Want(t, http.StatusTooManyRequests)
			s.Do("GET", "/v1/tokens", admin, nil).Want(t, http.StatusOK)
		})
	})
}
