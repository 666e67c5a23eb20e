package web

import "testing"

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
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
