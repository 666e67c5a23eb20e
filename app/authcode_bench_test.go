package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
	"golang.org/x/oauth2"
)

// The user-facing grants over HTTP, one request at a time, beside a bare
// net/http handler answering the same form posts through the same client:
//
//	go test -run '^$' -bench 'Hello|CodeExchange|RefreshGrant' -benchtime 2000x ./app/
//
// The code exchange spends a code made beforehand (outside the timing) and
// answers a JWT access token, a refresh token and an ID token; the refresh
// grant rotates the refresh token it got from the previous request. Both on
// SQLite: every request writes (the code spent, the tokens stored).

// BenchmarkHelloForm is the bare handler: read the form, answer 200.
func BenchmarkHelloForm(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {strings.Repeat("x", 42)}, "client_id": {"cli_x"}}.Encode()
	c := srv.Client()
	b.ResetTimer()
	for range b.N {
		post(b, c, srv.URL, body)
	}
}

func post(b *testing.B, c *http.Client, u, body string) []byte {
	req, _ := http.NewRequest("POST", u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	return out
}

func benchWorld(b *testing.B) (*apptest.Server, codeClient, string) {
	s := apptest.Start(b, storetest.SQLite(b), app.Config{})
	spa := newCodeClient(b, s, keysmith.CreateClientInput{Scopes: []string{"openid", "offline_access"},
		RedirectURIs: []string{"http://127.0.0.1:9/cb"}, TokenEndpointAuthMethod: keysmith.AuthNone})
	person, _ := s.AddUser(keysmith.RoleDeveloper, "")
	// The test clock stands still, so no rate-limit window ever ends.
	s.Do("PUT", "/v1/settings/rate-limits", s.AdminToken, map[string]any{"token_issuance": keysmith.MaxRateLimit,
		"failed_client_auth": keysmith.MaxRateLimit}).Want(b, http.StatusOK)
	return s, spa, person
}

// BenchmarkCodeExchange is the authorization_code grant of a public client
// with PKCE (S256), scope openid offline_access.
func BenchmarkCodeExchange(b *testing.B) {
	s, spa, person := benchWorld(b)
	cfg := spa.config(s, "openid", "offline_access")
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier))
	bodies := make([]string, b.N)
	for i := range bodies {
		bodies[i] = url.Values{"grant_type": {"authorization_code"}, "client_id": {spa.ID}, "code_verifier": {verifier},
			"redirect_uri": {spa.RedirectURIs[0]}, "code": {codeFor(b, s, person, authURL)}}.Encode()
	}
	c := &http.Client{}
	b.ResetTimer()
	for i := range b.N {
		post(b, c, s.URL+"/v1/oauth/token", bodies[i])
	}
}

// BenchmarkRefreshGrant is the refresh_token grant of a public client, each
// request presenting the refresh token the previous one returned.
func BenchmarkRefreshGrant(b *testing.B) {
	s, spa, person := benchWorld(b)
	cfg := spa.config(s, "openid", "offline_access")
	verifier := oauth2.GenerateVerifier()
	tok, err := cfg.Exchange(context.Background(), codeFor(b, s, person, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier))),
		oauth2.VerifierOption(verifier))
	if err != nil {
		b.Fatal(err)
	}
	rt := tok.RefreshToken
	c := &http.Client{}
	b.ResetTimer()
	for range b.N {
		out := post(b, c, s.URL+"/v1/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {spa.ID},
			"refresh_token": {rt}}.Encode())
		i := strings.Index(string(out), `"refresh_token":"`)
		if i < 0 {
			b.Fatalf("no refresh token: %s", out)
		}
		rest := string(out[i+len(`"refresh_token":"`):])
		rt = rest[:strings.IndexByte(rest, '"')]
	}
}
