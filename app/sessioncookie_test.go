package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// signInCookie signs in with extra request headers and returns the session
// cookie that was set.
func signInCookie(t *testing.T, s *apptest.Server, email string, header map[string]string) *http.Cookie {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+"/v1/sessions",
		strings.NewReader(`{"email":"`+email+`","password":"pw `+email+`"}`))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	r := s.Send(req).Want(t, http.StatusCreated)
	cs := (&http.Response{Header: r.Header}).Cookies()
	if len(cs) != 1 {
		t.Fatalf("sign-in set cookies %v, want one", cs)
	}
	return cs[0]
}

// me calls /v1/me with a cookie and extra headers and returns the status.
func me(t *testing.T, s *apptest.Server, c *http.Cookie, header map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/v1/me", nil)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return s.Send(req).Status
}

// TestSessionCookieIsSecureBehindHTTPS: Keysmith serves plain HTTP behind a
// TLS-terminating proxy, so the session cookie is marked Secure (and takes
// the __Host- prefix, which browsers only accept from a secure origin, for
// the whole host, so a sibling subdomain or a network attacker cannot plant
// one) when the issuer is https or a trusted proxy says the browser used
// HTTPS. An X-Forwarded-Proto from anyone else is ignored.
func TestSessionCookieIsSecureBehindHTTPS(t *testing.T) {
	const email = "cookie@example.com"
	https := map[string]string{"X-Forwarded-Proto": "https"}
	wantSecure := func(t *testing.T, c *http.Cookie) {
		t.Helper()
		if c.Name != "__Host-keysmith_session" || !c.Secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly ||
			c.SameSite != http.SameSiteLaxMode {
			t.Errorf("cookie = %+v, want Secure, HttpOnly, SameSite=Lax __Host-keysmith_session for path / without a domain", c)
		}
	}
	wantPlain := func(t *testing.T, c *http.Cookie) {
		t.Helper()
		if c.Name != "keysmith_session" || c.Secure {
			t.Errorf("cookie = %+v, want keysmith_session without Secure: the browser did not use HTTPS", c)
		}
	}

	t.Run("HTTPSIssuerMarksTheCookieSecure", func(t *testing.T) {
		s := apptest.Start(t, storetest.SQLite(t), app.Config{Issuer: "https://keysmith.example"})
		createUser(t, s, email, "developer")
		c := signInCookie(t, s, email, nil)
		wantSecure(t, c)
		if st := me(t, s, c, nil); st != http.StatusOK {
			t.Errorf("/v1/me with the __Host- cookie: %d", st)
		}
		plain := &http.Cookie{Name: "keysmith_session", Value: c.Value}
		if st := me(t, s, plain, nil); st != http.StatusUnauthorized {
			t.Errorf("/v1/me with the session under the unprefixed name: %d, want 401 (it could have been planted)", st)
		}
		req, _ := http.NewRequest("DELETE", s.URL+"/v1/sessions/current", nil)
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		out := s.Send(req).Want(t, http.StatusNoContent)
		if cs := (&http.Response{Header: out.Header}).Cookies(); len(cs) != 1 || cs[0].Name != c.Name || !cs[0].Secure || cs[0].MaxAge >= 0 {
			t.Errorf("sign-out set %v, want the Secure __Host- cookie cleared (browsers ignore a clear without Secure)", cs)
		}
	})

	t.Run("TrustedProxySayingHTTPSMarksTheCookieSecure", func(t *testing.T) {
		s := apptest.Start(t, storetest.SQLite(t), app.Config{TrustedProxies: mustPrefixes(t, "127.0.0.0/8")})
		createUser(t, s, email, "developer")
		c := signInCookie(t, s, email, https)
		wantSecure(t, c)
		if st := me(t, s, c, https); st != http.StatusOK {
			t.Errorf("/v1/me with the __Host- cookie through the proxy: %d", st)
		}
		wantPlain(t, signInCookie(t, s, email, nil))
	})

	t.Run("ZoneProxySayingHTTPSMarksTheCookieSecure", func(t *testing.T) {
		s := apptest.Start(t, storetest.SQLite(t), app.Config{})
		newZone(t, s, "edge", nil, []string{"127.0.0.1"})
		createUser(t, s, email, "developer")
		wantSecure(t, signInCookie(t, s, email, https))
	})

	t.Run("UntrustedXForwardedProtoIsIgnored", func(t *testing.T) {
		s := apptest.Start(t, storetest.SQLite(t), app.Config{})
		createUser(t, s, email, "developer")
		c := signInCookie(t, s, email, https)
		wantPlain(t, c)
		if st := me(t, s, c, nil); st != http.StatusOK {
			t.Errorf("/v1/me with the plain cookie: %d", st)
		}
	})
}
