package app_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/keysmith/keysmith/apptest"
)

// client is an OAuth client made through the API.
type client struct {
	ID, Secret, SecretID string
	Body                 map[string]any
}

func newClient(t *testing.T, s *apptest.Server, caller string, body map[string]any) client {
	t.Helper()
	if body["name"] == nil {
		body["name"] = "test client"
	}
	if body["environment"] == nil {
		body["environment"] = "sandbox"
	}
	r := s.Do("POST", "/v1/oauth/clients", caller, body).Want(t, http.StatusCreated)
	return client{ID: r.String("client_id"), Secret: r.String("client_secret"), SecretID: r.String("secret_id"), Body: r.Body}
}

// postForm posts form values to path, with Basic credentials if user != ""
// and a Bearer token if bearer != "".
func postForm(t *testing.T, s *apptest.Server, path, user, pass, bearer string, form url.Values) apptest.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(user)+":"+url.QueryEscape(pass))))
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return s.Send(req)
}

// tokenRequest is a client_credentials request to the token endpoint of the
// server at base, with client_secret_basic.
func tokenRequest(t *testing.T, base, id, secret string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/v1/oauth/token", strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req
}

// getToken asks the token endpoint with client_secret_basic.
func getToken(t *testing.T, s *apptest.Server, c client, scope string) apptest.Response {
	t.Helper()
	f := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		f.Set("scope", scope)
	}
	return postForm(t, s, "/v1/oauth/token", c.ID, c.Secret, "", f)
}

func accessToken(t *testing.T, s *apptest.Server, c client) string {
	t.Helper()
	return getToken(t, s, c, "").Want(t, http.StatusOK).String("access_token")
}

// verifyJWT checks raw as a relying party would: it fetches the JWKS over
// HTTP and verifies the signature with go-jose. It returns the claims and
// the protected header.
func verifyJWT(t *testing.T, s *apptest.Server, raw string) (map[string]any, jose.Header) {
	t.Helper()
	resp, err := http.Get(s.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS (%d keys)", tok.Headers[0].KeyID, len(set.Keys))
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature does not verify with the published key: %v", err)
	}
	return claims, tok.Headers[0]
}

func introspect(t *testing.T, s *apptest.Server, c client, token string) apptest.Response {
	t.Helper()
	return postForm(t, s, "/v1/oauth/introspect", c.ID, c.Secret, "", url.Values{"token": {token}}).Want(t, http.StatusOK)
}

func countRows(t *testing.T, s *apptest.Server, table string) int {
	t.Helper()
	var n int
	if err := s.App.Store.SQL().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
