package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/apptest"
)

// signIn signs in through the API and returns the session cookie's value.
func signIn(t *testing.T, s *apptest.Server, email, password string) string {
	t.Helper()
	r := s.Do("POST", "/v1/sessions", "", map[string]any{"email": email, "password": password}).Want(t, http.StatusCreated)
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "keysmith_session" {
			return c.Value
		}
	}
	t.Fatalf("sign-in set no keysmith_session cookie: %v", r.Header)
	return ""
}

func (w *matrixWorld) signIn(email, password string) string {
	return signIn(w.t, w.Server, email, password)
}

func (w *matrixWorld) withCookie(cookie, method, path string, body any) apptest.Response {
	return withCookie(w.t, w.Server, cookie, method, path, body, nil)
}

// withCookie sends a request authenticated by a session cookie, with extra
// headers.
func withCookie(t *testing.T, s *apptest.Server, cookie, method, path string, body any, header map[string]string) apptest.Response {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.AddCookie(&http.Cookie{Name: "keysmith_session", Value: cookie})
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return s.Send(req)
}

// registerScopes registers, as the first admin, an API with the given
// self-service scopes (any developer may give them to their clients), so
// that clients may name them. It returns the API's id and identifier.
func registerScopes(t *testing.T, s *apptest.Server, names ...string) (id, identifier string) {
	t.Helper()
	scopes := make([]map[string]any, len(names))
	for i, n := range names {
		scopes[i] = map[string]any{"name": n, "self_service": true}
	}
	identifier = "https://api.test.example/" + strings.ReplaceAll(names[0], ":", "-")
	r := s.Do("POST", "/v1/apis", s.AdminToken, map[string]any{"name": "API of " + names[0], "identifier": identifier,
		"scopes": scopes}).Want(t, http.StatusCreated)
	return r.String("id"), identifier
}
