package app_test

import (
	"net/http"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// TestMethodNotAllowed: a wrong method on a path the API serves answers 405
// with Allow naming the methods that serve it (in the general routes or the
// gateway's), in the usual JSON error; a path no method serves is 404.
func TestMethodNotAllowed(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		for _, c := range []struct {
			method, path string
			status       int
			allow        string
		}{
			{"GET", "/v1/verify", 405, "POST"},
			{"PUT", "/v1/verify", 405, "POST"},
			{"DELETE", "/v1/tokens", 405, "GET, HEAD, POST"},
			{"PUT", "/v1/tokens/tok_x", 405, "GET, HEAD, PATCH, DELETE"},
			{"PATCH", "/v1/tokens/tok_x/rotate", 405, "POST"},
			{"POST", "/healthz", 405, "GET, HEAD"},
			{"DELETE", "/.well-known/jwks.json", 405, "GET, HEAD"},
			{"PATCH", "/v1/tokens/tok_x/unknown", 404, ""},
			{"GET", "/v1/no-such-thing", 404, ""},
		} {
			r := s.Do(c.method, c.path, s.AdminToken, nil).Want(t, c.status)
			if got := r.Header.Get("Allow"); got != c.allow {
				t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
			}
			want := "not_found"
			if c.status == http.StatusMethodNotAllowed {
				want = "method_not_allowed"
			}
			r.WantField(t, "error", want)
			if r.String("error_description") == "" {
				t.Errorf("%s %s: no error_description: %s", c.method, c.path, r.Raw)
			}
		}
	})
}
