package client_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/client"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// protected is a handler behind v requiring scopes: it answers 200 with
// the verified credential's id.
func protected(v *client.Verifier, scopes ...string) http.Handler {
	return v.Middleware(scopes...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := client.IdentityFrom(r.Context())
		if !ok {
			http.Error(w, "no identity", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, id.TokenID)
	}))
}

// call sends GET / to h with the headers (name, value pairs) and answers
// the recorded response.
func call(h http.Handler, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func bearer(secret string) []string { return []string{"Authorization", "Bearer " + secret} }

// wantRefusal fails the test unless w is a refusal with status, the JSON
// error code and, when authenticate is not "", that WWW-Authenticate.
func wantRefusal(t *testing.T, w *httptest.ResponseRecorder, status int, code, authenticate string) {
	t.Helper()
	var body map[string]string
	json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != status || body["error"] != code {
		t.Fatalf("answer %d %s, want %d {\"error\":%q}", w.Code, w.Body, status, code)
	}
	if got := w.Header().Get("WWW-Authenticate"); got != authenticate {
		t.Fatalf("WWW-Authenticate %q, want %q", got, authenticate)
	}
	if w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("Content-Type %q", w.Header().Get("Content-Type"))
	}
}

func wantAdmitted(t *testing.T, w *httptest.ResponseRecorder, tokenID string) {
	t.Helper()
	if w.Code != http.StatusOK || w.Body.String() != tokenID {
		t.Fatalf("answer %d %s, want 200 %s", w.Code, w.Body, tokenID)
	}
}

const (
	invalidToken      = `Bearer error="invalid_token"`
	insufficientScope = `Bearer error="insufficient_scope"`
)

// TestVerifier runs the middleware against one real server; the rate
// limit and the server's stop come last.
func TestVerifier(t *testing.T) {
	s, c := start(t)
	ctx := context.Background()
	s.AddAPI(keysmith.Scope{Name: "orders:read"}, keysmith.Scope{Name: "orders:write"})
	newToken := func(t *testing.T, in client.CreateToken) *client.Token {
		t.Helper()
		if in.Name == "" {
			in.Name = "caller"
		}
		return must(c.CreateToken(ctx, in))(t)
	}
	const ttl = 3 * time.Second
	v := client.NewVerifier(newClient(t, s.URL, ""), client.VerifierOptions{CacheTTL: ttl, Log: quiet, Now: s.Clock.Now})
	read := protected(v, "orders:read")
	tok := newToken(t, client.CreateToken{Scopes: []string{"orders:read"}})

	t.Run("AdmitsAValidTokenWithItsIdentity", func(t *testing.T) {
		wantAdmitted(t, call(read, bearer(tok.Secret)...), tok.ID)
		wantAdmitted(t, call(protected(v), "Authorization", "bearer  "+tok.Secret), tok.ID)
	})
	t.Run("RefusesAMissingCredential", func(t *testing.T) {
		wantRefusal(t, call(read), http.StatusUnauthorized, "unauthorized", invalidToken)
		wantRefusal(t, call(read, "Authorization", "Basic "+tok.Secret), http.StatusUnauthorized, "unauthorized", invalidToken)
		wantRefusal(t, call(read, "Authorization", "Bearer "), http.StatusUnauthorized, "unauthorized", invalidToken)
	})
	t.Run("RefusesGarbage", func(t *testing.T) {
		for _, g := range []string{"garbage", "ks_" + strings.Repeat("A", 40), "ks_\xff\xfe", strings.Repeat("x", 5000)} {
			wantRefusal(t, call(read, bearer(g)...), http.StatusUnauthorized, "unauthorized", invalidToken)
		}
	})
	t.Run("RefusesAMissingScopeWith403", func(t *testing.T) {
		// The answer cached for orders:read admits nothing else.
		wantRefusal(t, call(protected(v, "orders:write"), bearer(tok.Secret)...), http.StatusForbidden, "forbidden", insufficientScope)
		wantRefusal(t, call(protected(v, "orders:read", "orders:write"), bearer(tok.Secret)...), http.StatusForbidden, "forbidden", insufficientScope)
	})
	t.Run("RequireChecksPermissionsAndEnvironment", func(t *testing.T) {
		h := func(need client.Requirement) http.Handler {
			return v.Require(need)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		}
		if w := call(h(client.Requirement{Permissions: "orders:read OR orders:write"}), bearer(tok.Secret)...); w.Code != http.StatusOK {
			t.Fatalf("a met permission query: %d %s", w.Code, w.Body)
		}
		wantRefusal(t, call(h(client.Requirement{Permissions: "orders:write"}), bearer(tok.Secret)...), http.StatusForbidden, "forbidden", insufficientScope)
		// API tokens work in no environment.
		wantRefusal(t, call(h(client.Requirement{Environment: "production"}), bearer(tok.Secret)...), http.StatusForbidden, "forbidden", insufficientScope)
	})
	t.Run("ReadsTheConfiguredHeaderFirst", func(t *testing.T) {
		hv := client.NewVerifier(newClient(t, s.URL, ""), client.VerifierOptions{Header: "X-API-Key", Log: quiet, Now: s.Clock.Now})
		wantAdmitted(t, call(protected(hv), "X-API-Key", tok.Secret), tok.ID)
		wantAdmitted(t, call(protected(hv), "X-API-Key", tok.Secret, "Authorization", "Bearer garbage"), tok.ID)
		wantAdmitted(t, call(protected(hv), bearer(tok.Secret)...), tok.ID)
	})
	t.Run("ChecksTheNetworkPolicyAtTheClientIP", func(t *testing.T) {
		z := must(c.CreateZone(ctx, client.ZoneInput{Name: ptr("office"), Gateways: &[]string{"203.0.113.0/24"}}))(t)
		zoned := newToken(t, client.CreateToken{Network: &client.Network{Mode: "in_zones", Zones: []string{z.ID}}})
		iv := client.NewVerifier(newClient(t, s.URL, ""), client.VerifierOptions{Log: quiet, Now: s.Clock.Now,
			ClientIP: func(r *http.Request) string { return r.Header.Get("X-Test-Client") }})
		wantAdmitted(t, call(protected(iv), append(bearer(zoned.Secret), "X-Test-Client", "203.0.113.7")...), zoned.ID)
		// The valid answer cached for one address admits no other.
		wantRefusal(t, call(protected(iv), append(bearer(zoned.Secret), "X-Test-Client", "198.51.100.1")...), http.StatusForbidden, "forbidden", "")
		// Not one address: refused, not checked against another one.
		wantRefusal(t, call(protected(iv), append(bearer(zoned.Secret), "X-Test-Client", "203.0.113.7, 10.0.0.1")...),
			http.StatusServiceUnavailable, "temporarily_unavailable", "")
		wantAdmitted(t, call(protected(iv), append(bearer(zoned.Secret), "X-Test-Client", "::ffff:203.0.113.7")...), zoned.ID)
	})
	t.Run("RevokedIsRefusedOnceTheCacheTTLHasPassed", func(t *testing.T) {
		victim := newToken(t, client.CreateToken{})
		h := protected(v)
		wantAdmitted(t, call(h, bearer(victim.Secret)...), victim.ID)
		if err := c.RevokeToken(ctx, victim.ID); err != nil {
			t.Fatal(err)
		}
		// The documented revocation delay: the valid answer is reused
		// until the TTL has passed.
		wantAdmitted(t, call(h, bearer(victim.Secret)...), victim.ID)
		s.Clock.Advance(ttl)
		wantRefusal(t, call(h, bearer(victim.Secret)...), http.StatusUnauthorized, "unauthorized", invalidToken)
	})
	t.Run("CacheEndsWhenTheCredentialExpires", func(t *testing.T) {
		exp := s.Clock.Now().Add(time.Second)
		short := newToken(t, client.CreateToken{ExpiresAt: &exp})
		h := protected(v)
		wantAdmitted(t, call(h, bearer(short.Secret)...), short.ID)
		s.Clock.Advance(time.Second) // less than the TTL
		wantRefusal(t, call(h, bearer(short.Secret)...), http.StatusUnauthorized, "unauthorized", invalidToken)
	})
	t.Run("RefusalsAreNotCached", func(t *testing.T) {
		off := newToken(t, client.CreateToken{})
		must(c.UpdateToken(ctx, off.ID, client.UpdateToken{Enabled: ptr(false)}))(t)
		h := protected(v)
		wantRefusal(t, call(h, bearer(off.Secret)...), http.StatusUnauthorized, "unauthorized", invalidToken)
		must(c.UpdateToken(ctx, off.ID, client.UpdateToken{Enabled: ptr(true)}))(t)
		wantAdmitted(t, call(h, bearer(off.Secret)...), off.ID)
	})
	t.Run("CacheIsBoundedInEntries", func(t *testing.T) {
		bv := client.NewVerifier(newClient(t, s.URL, ""), client.VerifierOptions{CacheSize: 2, Log: quiet, Now: s.Clock.Now})
		for range 3 {
			tk := newToken(t, client.CreateToken{})
			wantAdmitted(t, call(protected(bv), bearer(tk.Secret)...), tk.ID)
		}
		if n := bv.CacheLen(); n != 2 {
			t.Fatalf("cache holds %d answers, want 2", n)
		}
	})
	t.Run("NoCacheAsksEveryTime", func(t *testing.T) {
		nv := client.NewVerifier(newClient(t, s.URL, ""), client.VerifierOptions{CacheTTL: -1, Log: quiet})
		victim := newToken(t, client.CreateToken{})
		wantAdmitted(t, call(protected(nv), bearer(victim.Secret)...), victim.ID)
		if err := c.RevokeToken(ctx, victim.ID); err != nil {
			t.Fatal(err)
		}
		wantRefusal(t, call(protected(nv), bearer(victim.Secret)...), http.StatusUnauthorized, "unauthorized", invalidToken)
		if n := nv.CacheLen(); n != 0 {
			t.Fatalf("cache holds %d answers, want none", n)
		}
	})
	t.Run("ConcurrentIdenticalMissesShareOneCall", func(t *testing.T) {
		var calls atomic.Int32
		release := make(chan struct{})
		target, _ := url.Parse(s.URL)
		proxy := httputil.NewSingleHostReverseProxy(target)
		counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				<-release // the first call waits until every other request waits for it
			}
			proxy.ServeHTTP(w, r)
		}))
		defer counting.Close()
		var waiting atomic.Int32
		client.SetFlightWaitHook(t, func() { waiting.Add(1) })
		sv := client.NewVerifier(newClient(t, counting.URL, ""), client.VerifierOptions{Log: quiet, Now: s.Clock.Now})
		tk := newToken(t, client.CreateToken{})
		const n = 8
		answers := make(chan *httptest.ResponseRecorder, n)
		for range n {
			go func() { answers <- call(protected(sv), bearer(tk.Secret)...) }()
		}
		for deadline := time.Now().Add(10 * time.Second); waiting.Load() < n-1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				close(release)
				t.Fatalf("%d requests wait for the first call, want %d", waiting.Load(), n-1)
			}
		}
		close(release)
		for range n {
			wantAdmitted(t, <-answers, tk.ID)
		}
		if c := calls.Load(); c != 1 {
			t.Fatalf("%d calls to verify, want 1", c)
		}
	})
	t.Run("RateLimitedIs429WithRetryAfter", func(t *testing.T) {
		// 2 verified requests a minute at the default share of 50 %: the
		// first is asked (1 left), the second served from the cache, the
		// third asked: Keysmith, which has counted one, says 0 left, and
		// the one the cache admitted makes it over the limit.
		must(c.SetRateLimits(ctx, client.RateLimits{"verified": 4}))(t)
		limited := newToken(t, client.CreateToken{})
		h := protected(v)
		wantAdmitted(t, call(h, bearer(limited.Secret)...), limited.ID)
		wantAdmitted(t, call(h, bearer(limited.Secret)...), limited.ID)
		w := call(h, bearer(limited.Secret)...)
		wantRefusal(t, w, http.StatusTooManyRequests, "rate_limited", "")
		if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q, want seconds", ra)
		}
	})
	t.Run("FailsClosedWhenKeysmithIsDown", func(t *testing.T) {
		fresh := newToken(t, client.CreateToken{})
		s.Stop()
		wantRefusal(t, call(protected(v), bearer(fresh.Secret)...), http.StatusServiceUnavailable, "temporarily_unavailable", "")
	})
}

// TestVerifierFailsClosedOnUnexpectedAnswers points a Verifier at servers
// that answer what Keysmith never would: it admits none.
func TestVerifierFailsClosedOnUnexpectedAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter)
		status int
		code   string
	}{
		{"ServerError", func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }, http.StatusServiceUnavailable, "temporarily_unavailable"},
		{"NotJSON", func(w http.ResponseWriter) { io.WriteString(w, "<html>valid</html>") }, http.StatusServiceUnavailable, "temporarily_unavailable"},
		{"BadRequest", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_request","error_description":"bad scope"}`)
		}, http.StatusServiceUnavailable, "temporarily_unavailable"},
		{"ValidWithAnotherCode", func(w http.ResponseWriter) { io.WriteString(w, `{"valid":true,"code":"SOMETHING_NEW"}`) }, http.StatusUnauthorized, "unauthorized"},
		{"CodeWithoutValid", func(w http.ResponseWriter) { io.WriteString(w, `{"code":"VALID"}`) }, http.StatusUnauthorized, "unauthorized"},
		{"Redirect", func(w http.ResponseWriter) {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusFound)
		}, http.StatusServiceUnavailable, "temporarily_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					io.WriteString(w, `{"valid":true,"code":"VALID"}`)
					return
				}
				tc.answer(w)
			}))
			defer srv.Close()
			v := client.NewVerifier(newClient(t, srv.URL, ""), client.VerifierOptions{Log: quiet})
			w := call(protected(v), bearer("ks_whatever")...)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), `"`+tc.code+`"`) {
				t.Fatalf("answer %d %s, want %d %s", w.Code, w.Body, tc.status, tc.code)
			}
		})
	}
	t.Run("Timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		defer srv.Close()
		defer close(release)
		c, err := client.New(srv.URL, "", client.WithHTTPClient(&http.Client{Timeout: 50 * time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		w := call(protected(client.NewVerifier(c, client.VerifierOptions{Log: quiet})), bearer("ks_whatever")...)
		if w.Code != http.StatusServiceUnavailable {
			t.Fatalf("answer %d %s, want 503", w.Code, w.Body)
		}
	})
}
