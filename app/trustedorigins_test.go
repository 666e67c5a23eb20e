package app_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// addTrustedOrigin lists an origin through the API and returns its id.
func addTrustedOrigin(t *testing.T, s *apptest.Server, origin string) string {
	t.Helper()
	return s.Do("POST", "/v1/trusted-origins", s.AdminToken, map[string]any{"origin": origin}).Want(t, http.StatusCreated).String("id")
}

// fromOrigin sends a request as a browser on origin would; preflight makes
// it the OPTIONS a browser sends first.
func fromOrigin(t *testing.T, s *apptest.Server, origin, method, path, token string, preflight bool) apptest.Response {
	t.Helper()
	m := method
	if preflight {
		m = http.MethodOptions
	}
	req, err := http.NewRequest(m, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	if preflight {
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.Send(req)
}

// corsHeaders returns the Access-Control-* headers of an answer.
func corsHeaders(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out[k] = v
		}
	}
	return out
}

func TestTrustedOriginsAPI(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken

		t.Run("AddListDeleteWithTheOriginNormalisedAndEvents", func(t *testing.T) {
			r := s.Do("POST", "/v1/trusted-origins", admin, map[string]any{"origin": "HTTPS://App.Example.COM:443"}).Want(t, http.StatusCreated)
			id := r.String("id")
			r.WantField(t, "origin", "https://app.example.com")
			if r.Header.Get("Location") != "/v1/trusted-origins/"+id {
				t.Errorf("Location = %q", r.Header.Get("Location"))
			}
			dup := s.Do("POST", "/v1/trusted-origins", admin, map[string]any{"origin": "https://app.example.com"}).Want(t, http.StatusConflict)
			dup.WantField(t, "error", "conflict")
			list := s.Do("GET", "/v1/trusted-origins", admin, nil).Want(t, http.StatusOK)
			if !bytes.Contains(list.Raw, []byte(`"origin":"https://app.example.com"`)) {
				t.Errorf("list: %s", list.Raw)
			}
			s.Do("DELETE", "/v1/trusted-origins/"+id, admin, nil).Want(t, http.StatusNoContent)
			s.Do("DELETE", "/v1/trusted-origins/"+id, admin, nil).Want(t, http.StatusNotFound)
			for _, typ := range []string{"trusted_origin.created", "trusted_origin.deleted"} {
				ev := s.Do("GET", "/v1/logs?type="+typ+"&target="+id, admin, nil).Want(t, http.StatusOK)
				if items, _ := ev.Body["items"].([]any); len(items) != 1 || !bytes.Contains(ev.Raw, []byte(`"origin":"https://app.example.com"`)) {
					t.Errorf("%s events: %s", typ, ev.Raw)
				}
			}
		})

		t.Run("BadOriginsAre400JSONNamingTheMistakeAndChangeNothing", func(t *testing.T) {
			before := s.Do("GET", "/v1/trusted-origins", admin, nil).Raw
			for _, c := range []struct{ origin, mention string }{
				{"", "required"},
				{"app.example.com", "scheme://host"},
				{"http://app.example.com", "only for localhost"},
				{"https://app.example.com/", "path"},
				{"https://app.example.com/app", "path"},
				{"https://user:pw@app.example.com", "user name"},
				{"https://app.example.com?x=1", "query"},
				{"https://app.example.com#top", "fragment"},
				{"https://*.example.com", "DNS name"},
				{"ftp://files.example.com", "scheme"},
				{"null", "scheme://host"},
				{"https://app.example.com:0", "port"},
				{"https://app.example.com:70000", "port"},
				{"https://bücher.example", "xn--"},
				{"https://", "host"},
			} {
				r := s.Do("POST", "/v1/trusted-origins", admin, map[string]any{"origin": c.origin}).Want(t, http.StatusBadRequest)
				if r.String("error") != "invalid_request" || !strings.Contains(r.String("error_description"), c.mention) {
					t.Errorf("origin %q: %s; want invalid_request mentioning %q", c.origin, r.Raw, c.mention)
				}
			}
			s.Do("POST", "/v1/trusted-origins", admin, map[string]any{"origin": 7}).Want(t, http.StatusBadRequest)
			s.Do("POST", "/v1/trusted-origins", admin, map[string]any{"origin": "https://a.example", "extra": 1}).Want(t, http.StatusBadRequest)
			if after := s.Do("GET", "/v1/trusted-origins", admin, nil).Raw; !bytes.Equal(before, after) {
				t.Errorf("refused additions changed the list:\n%s\n%s", before, after)
			}
		})

		t.Run("OnlyOrgAndSuperAdminsManageThem", func(t *testing.T) {
			_, org := s.AddUser(keysmith.RoleOrgAdmin, "")
			id := s.Do("POST", "/v1/trusted-origins", org, map[string]any{"origin": "https://org.example.com"}).Want(t, http.StatusCreated).String("id")
			for _, role := range []keysmith.Role{keysmith.RoleGroupAdmin, keysmith.RoleGroupMembershipAdmin, keysmith.RoleReadOnlyAdmin, keysmith.RoleDeveloper} {
				_, tok := s.AddUser(role, "")
				s.Do("POST", "/v1/trusted-origins", tok, map[string]any{"origin": "https://" + string(role) + ".example.com"}).Want(t, http.StatusForbidden)
				s.Do("DELETE", "/v1/trusted-origins/"+id, tok, nil).Want(t, http.StatusForbidden)
				want := http.StatusOK
				if role == keysmith.RoleDeveloper {
					want = http.StatusForbidden
				}
				s.Do("GET", "/v1/trusted-origins", tok, nil).Want(t, want)
			}
			s.Do("GET", "/v1/trusted-origins", "", nil).Want(t, http.StatusUnauthorized)
			s.Do("DELETE", "/v1/trusted-origins/"+id, org, nil).Want(t, http.StatusNoContent)
		})

		t.Run("CORS", func(t *testing.T) { testCORS(t, s) })
	})
}

// testCORS: preflights and requests from a listed origin get the CORS
// headers, unlisted origins and other paths none, credentials never.
func testCORS(t *testing.T, s *apptest.Server) {
	const listed, unlisted = "https://spa.example.com", "https://evil.example.com"
	id := addTrustedOrigin(t, s, listed)

	t.Run("PreflightFromAListedOriginIs204WithTheHeaders", func(t *testing.T) {
		for _, path := range []string{"/v1/tokens", "/v1/oauth/token", "/v1/oauth/introspect", "/v1/oauth/revoke", "/v1/verify"} {
			r := fromOrigin(t, s, listed, "POST", path, "", true).Want(t, http.StatusNoContent)
			h := r.Header
			if h.Get("Access-Control-Allow-Origin") != listed || h.Get("Vary") != "Origin" ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "DELETE") ||
				!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
				!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") ||
				h.Get("Access-Control-Max-Age") == "" || h.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("preflight of %s: headers %v", path, h)
			}
		}
	})

	t.Run("RequestFromAListedOriginIsReadableAndExposesTheHeaders", func(t *testing.T) {
		r := fromOrigin(t, s, listed, "GET", "/v1/tokens", s.AdminToken, false).Want(t, http.StatusOK)
		if r.Header.Get("Access-Control-Allow-Origin") != listed || r.Header.Get("Vary") != "Origin" {
			t.Errorf("headers %v", r.Header)
		}
		for _, want := range []string{"RateLimit-Remaining", "Retry-After", "X-Request-Id", "WWW-Authenticate"} {
			if !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), want) {
				t.Errorf("Access-Control-Expose-Headers %q lacks %s", r.Header.Get("Access-Control-Expose-Headers"), want)
			}
		}
		// Errors are readable too, so the page can say what went wrong.
		bad := fromOrigin(t, s, listed, "GET", "/v1/tokens", "", false).Want(t, http.StatusUnauthorized)
		if bad.Header.Get("Access-Control-Allow-Origin") != listed {
			t.Errorf("401 headers %v", bad.Header)
		}
		tok := s.Do("POST", "/v1/tokens", s.AdminToken, map[string]any{"name": "spa"}).Want(t, http.StatusCreated).String("token")
		req, _ := http.NewRequest("POST", s.URL+"/v1/verify", strings.NewReader(`{"token":"`+tok+`"}`))
		req.Header.Set("Origin", listed)
		req.Header.Set("Content-Type", "application/json")
		v := s.Send(req).Want(t, http.StatusOK)
		if v.Header.Get("Access-Control-Allow-Origin") != listed || v.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("verify headers %v", v.Header)
		}
	})

	t.Run("UnlistedOriginsAndOtherPathsGetNoCORSHeaders", func(t *testing.T) {
		for _, c := range []struct {
			origin, method, path string
			preflight            bool
		}{
			{unlisted, "GET", "/v1/tokens", false},
			{unlisted, "POST", "/v1/tokens", true},
			{"null", "POST", "/v1/oauth/token", true},
			{listed + ":8443", "POST", "/v1/tokens", true},
			{"http://spa.example.com", "GET", "/v1/tokens", false},
			{listed, "GET", "/v1/forward-auth", true}, // a proxy's 2xx lets a request through
			{listed, "GET", "/v1/forward-auth", false},
			{listed, "GET", "/", false}, // the console
			{listed, "POST", "/v1/oauth/authorize", true},
		} {
			r := fromOrigin(t, s, c.origin, c.method, c.path, s.AdminToken, c.preflight)
			if h := corsHeaders(r.Header); len(h) != 0 {
				t.Errorf("%s %s from %s (preflight %v): CORS headers %v", c.method, c.path, c.origin, c.preflight, h)
			}
			if c.preflight && r.Status == http.StatusNoContent {
				t.Errorf("%s %s from %s: preflight answered 204", c.method, c.path, c.origin)
			}
		}
	})

	t.Run("ADeletedOriginIsRefusedWithTheNextRequest", func(t *testing.T) {
		s.Do("DELETE", "/v1/trusted-origins/"+id, s.AdminToken, nil).Want(t, http.StatusNoContent)
		r := fromOrigin(t, s, listed, "POST", "/v1/tokens", "", true)
		if h := corsHeaders(r.Header); len(h) != 0 || r.Status == http.StatusNoContent {
			t.Errorf("preflight after the delete: %d %v", r.Status, h)
		}
	})
}

// TestTrustedOriginsReachOtherReplicas: an origin added or deleted on one
// replica applies on another through the change feed (PostgreSQL), without
// a restart: the origin list is cached in memory, not read per request.
func TestTrustedOriginsReachOtherReplicas(t *testing.T) {
	a := apptest.Start(t, storetest.Postgres(t), app.Config{})
	b := apptest.StartReplica(t, a, app.Config{})
	const origin = "https://replicated.example.com"
	allowed := func() bool {
		return fromOrigin(t, b, origin, "GET", "/v1/tokens", "", true).Header.Get("Access-Control-Allow-Origin") == origin
	}
	if allowed() { // and B has now cached a list without it
		t.Fatal("replica B allows the origin before it was added")
	}
	id := addTrustedOrigin(t, a, origin)
	waitFor(t, "replica B to allow the added origin", allowed)
	a.Do("DELETE", "/v1/trusted-origins/"+id, a.AdminToken, nil).Want(t, http.StatusNoContent)
	waitFor(t, "replica B to refuse the deleted origin", func() bool { return !allowed() })
}
