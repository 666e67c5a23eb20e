package web

import (
	"strings"
	"testing"
)

// TestSafeNext: after sign-in the browser goes only to a path of this
// server, whatever a crafted link puts in next.
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "/",
		"/tokens?status=active": "/tokens?status=active",
		"/users/usr_1":          "/users/usr_1",
		"//evil.example":        "/",
		"/\\evil.example":       "/",
		"/\t/evil.example":      "/",
		"/\n/evil.example":      "/",
		"/ /evil.example":       "/",
		"/%2F/evil.example":     "/",
		"/%2f%2fevil.example":   "/",
		"https://evil.example":  "/",
		"evil.example":          "/",
		"javascript:alert(1)":   "/",
		"/%09/evil.example":     "/%09/evil.example", // a path on this server: %09 stays encoded
		// The authorization endpoint's return address is longer, and
		// still only a path here.
		"/v1/oauth/authorize?state=" + long(3000):                     "/v1/oauth/authorize?state=" + long(3000),
		"/v1/oauth/authorize?state=" + long(4096):                     "/",
		"/tokens?q=" + long(600):                                      "/",
		"/v1/oauth/authorizes?state=" + long(600):                     "/",
		"//evil.example/v1/oauth/authorize?state=" + long(600):        "/",
		"/v1/oauth/authorize?\\evil.example=" + long(600):             "/",
		"/v1/oauth/authorize?redirect_uri=https%3A%2F%2Fevil.example": "/v1/oauth/authorize?redirect_uri=https%3A%2F%2Fevil.example",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func long(n int) string { return strings.Repeat("a", n) }
