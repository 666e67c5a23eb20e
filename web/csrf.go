package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// csrfToken is the per-session token every form carries: an HMAC of a fixed
// label under the session cookie's secret. Only someone who holds the
// cookie can compute it, the server needs no state to check it, every
// replica agrees on it, and it changes with each session. The secret cannot
// be recovered from it.
func csrfToken(sessionSecret string) string {
	m := hmac.New(sha256.New, []byte(sessionSecret))
	m.Write([]byte("keysmith console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validCSRF compares a form's token with the expected one in constant time.
func validCSRF(want, got string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
