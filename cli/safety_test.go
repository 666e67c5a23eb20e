package cli_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// What the CLI sends, and where: never through a redirect, never in the
// clear to another machine, a token only to the server named with it; and
// what the server says reaches the terminal without its control characters.
func TestCLISafety(t *testing.T) {
	h := newHarness(t)
	s := h.s

	t.Run("RedirectsAreNotFollowed", func(t *testing.T) {
		var elsewhere atomic.Int32
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
		defer other.Close()
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
		}))
		defer proxy.Close()
		h.env = map[string]string{"KEYSMITH_URL": proxy.URL, "KEYSMITH_TOKEN": s.AdminToken}
		defer func() { h.env = map[string]string{"KEYSMITH_URL": s.URL, "KEYSMITH_TOKEN": s.AdminToken} }()
		r := h.runIn("ks_something\n", "verify", "-")
		if r.code != 5 || !strings.Contains(r.err, "redirect") || elsewhere.Load() != 0 {
			t.Fatalf("verify through a redirecting proxy: exit %d, %q; the other server was called %d times", r.code, r.err, elsewhere.Load())
		}
	})

	t.Run("PlainHTTPOnlyToThisMachine", func(t *testing.T) {
		r := h.want(2, "tokens", "list", "--server", "http://keysmith.example.com", "--token", s.AdminToken)
		if !strings.Contains(r.err, "plain http") {
			t.Errorf("plain http to another host: %q", r.err)
		}
	})

	t.Run("ATokenGoesOnlyWithItsServer", func(t *testing.T) {
		h.env = map[string]string{"KEYSMITH_TOKEN": s.AdminToken}
		defer func() { h.env = map[string]string{"KEYSMITH_URL": s.URL, "KEYSMITH_TOKEN": s.AdminToken} }()
		if r := h.want(2, "tokens", "list"); !strings.Contains(r.err, "needs --server") {
			t.Errorf("a token without its server: %q", r.err)
		}
	})

	t.Run("DescriptionsWithControlCharactersAreRefused", func(t *testing.T) {
		s.Do("POST", "/v1/apps", s.AdminToken, map[string]any{"name": "Shop", "description": "plain\x1b]52;c;Zm9v\x07text"}).
			Want(t, http.StatusBadRequest)
		s.Do("POST", "/v1/apps", s.AdminToken, map[string]any{"name": "Shop", "description": "two\nlines\tand a tab"}).
			Want(t, http.StatusCreated)
	})
}
