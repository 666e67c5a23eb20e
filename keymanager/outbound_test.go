package keymanager

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "https://example.com/elsewhere", http.StatusFound)
		case "/big":
			w.Write([]byte(strings.Repeat("x", 2048)))
		default:
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	var v struct{ OK bool }

	t.Run("PlainHTTPIsRefusedWithoutTheInsecureFlag", func(t *testing.T) {
		err := NewHTTP(Options{}).GetJSON(ctx, srv.URL+"/ok", &v)
		if err == nil || !strings.Contains(err.Error(), "https only") {
			t.Fatalf("got %v, want a refusal of plain http", err)
		}
	})
	t.Run("LoopbackIsRefusedAfterResolutionWithoutTheInsecureFlag", func(t *testing.T) {
		h := NewHTTP(Options{})
		if err := h.allowedAddr(mustAddr("127.0.0.1")); err == nil {
			t.Fatal("loopback allowed")
		}
		if err := h.allowedAddr(mustAddr("169.254.169.254")); err == nil {
			t.Fatal("link-local (cloud metadata) allowed")
		}
		for _, meta := range []string{"100.100.100.200", "fd00:ec2::254", "fe80::1"} {
			if err := h.allowedAddr(mustAddr(meta)); err == nil {
				t.Fatalf("cloud metadata address %s allowed", meta)
			}
		}
		if err := h.allowedAddr(mustAddr("10.1.2.3")); err != nil {
			t.Fatalf("a private address (an internal Keycloak) refused: %v", err)
		}
		if err := NewHTTP(Options{AllowInsecure: true}).allowedAddr(mustAddr("169.254.169.254")); err == nil {
			t.Fatal("link-local allowed with the insecure flag")
		}
	})
	t.Run("InsecureAllowsLoopbackHTTPOnly", func(t *testing.T) {
		h := NewHTTP(Options{AllowInsecure: true})
		if err := h.GetJSON(ctx, srv.URL+"/ok", &v); err != nil || !v.OK {
			t.Fatalf("got %v %v", v, err)
		}
		if _, err := h.CheckURL("http://example.com/x"); err == nil {
			t.Fatal("plain http to a non-loopback host allowed")
		}
		if _, err := h.CheckURL("https://user:pw@example.com/x"); err == nil {
			t.Fatal("user info allowed")
		}
	})
	t.Run("RedirectsAreNotFollowed", func(t *testing.T) {
		err := NewHTTP(Options{AllowInsecure: true}).GetJSON(ctx, srv.URL+"/redirect", &v)
		if err == nil || !strings.Contains(err.Error(), "does not follow") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("AnswersOverTheSizeLimitAreRefused", func(t *testing.T) {
		err := NewHTTP(Options{AllowInsecure: true, MaxBody: 1024}).GetJSON(ctx, srv.URL+"/big", &v)
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("got %v", err)
		}
	})
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
