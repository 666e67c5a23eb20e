package app_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// page fetches a console page with a session cookie, without following
// redirects, and returns the status and body.
func page(t *testing.T, s *apptest.Server, cookie, method, path string, form url.Values) (int, string, http.Header) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, s.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "keysmith_session", Value: cookie})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestConsole: the console's pages keep the API's limits and refuse bad
// input; these run without a browser (the browser flows are in web/).
func TestConsole(t *testing.T) {
	s := apptest.Start(t, storetest.DSN(t, "sqlite"), app.Config{})
	createUser(t, s, "dev@example.com", "developer")
	createUser(t, s, "olga@example.com", "org_admin")

	t.Run("PagesCountAgainstTheUsersRateLimit", func(t *testing.T) {
		s.Do("PUT", "/v1/settings/rate-limits", s.AdminToken, map[string]any{"tokens": 4}).Want(t, http.StatusOK)
		t.Cleanup(func() { s.Do("PUT", "/v1/settings/rate-limits", s.AdminToken, map[string]any{}).Want(t, http.StatusOK) })
		dev := signIn(t, s, "dev@example.com", "pw dev@example.com")
		for i := range 20 {
			st, _, h := page(t, s, dev, "GET", "/tokens", nil)
			if st == http.StatusTooManyRequests {
				if h.Get("RateLimit-Limit") != "2" || h.Get("Retry-After") == "" {
					t.Errorf("429 headers: %v", h)
				}
				return
			}
			if st != http.StatusOK {
				t.Fatalf("request %d: status %d", i, st)
			}
		}
		t.Error("20 page loads with a tokens limit of 4 were all answered; want 429 past the session's share")
	})

	t.Run("SignInGoesOnlyToAPathOfThisServer", func(t *testing.T) {
		for _, next := range []string{"/\t/evil.example/phish", "//evil.example", "/\\evil.example", "https://evil.example"} {
			st, _, h := page(t, s, "", "POST", "/sign-in", url.Values{"email": {"olga@example.com"},
				"password": {"pw olga@example.com"}, "next": {next}})
			if st != http.StatusSeeOther || h.Get("Location") != "/" {
				t.Errorf("next=%q: status %d, Location %q, want 303 to /", next, st, h.Get("Location"))
			}
		}
	})

	t.Run("ABadEnabledValueChangesNothing", func(t *testing.T) {
		olga := signIn(t, s, "olga@example.com", "pw olga@example.com")
		_, body, _ := page(t, s, olga, "GET", "/tokens", nil)
		m := csrfRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no CSRF token on /tokens")
		}
		tok := s.Do("POST", "/v1/tokens", s.AdminToken, map[string]any{"name": "kept"}).Want(t, http.StatusCreated)
		id := tok.String("id")
		for _, v := range []string{"yes", "", "TRUE"} {
			st, _, _ := page(t, s, olga, "POST", "/tokens/"+id+"/enabled", url.Values{"csrf_token": {m[1]}, "enabled": {v}})
			if st != http.StatusBadRequest {
				t.Errorf("enabled=%q: status %d, want 400", v, st)
			}
		}
		if got := s.Do("GET", "/v1/tokens/"+id, s.AdminToken, nil).Want(t, http.StatusOK).String("status"); got != "active" {
			t.Errorf("status after refused changes: %s, want active", got)
		}
	})
}
