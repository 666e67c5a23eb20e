package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/keymanager"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/storetest"
)

// kmSource stands in for the store's key managers and client mapping
// (the store's own implementation is another branch's, held to its
// contract by the storetest suite): what this test is about is how verify,
// forward auth and introspection answer for an external manager's tokens.
type kmSource struct {
	mu       sync.Mutex
	managers []*keysmith.KeyManager
	clients  map[string]*keysmith.Client
	subs     []func(keysmith.Change)
}

func (s *kmSource) FindKeyManagers(context.Context) ([]*keysmith.KeyManager, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*keysmith.KeyManager
	for _, m := range s.managers {
		c := *m
		out = append(out, &c)
	}
	return out, nil
}

func (s *kmSource) FindClientByExternalID(_ context.Context, km, id string) (*keysmith.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[km+"/"+id]; c != nil {
		cc := *c
		return &cc, nil
	}
	return nil, keysmith.Errorf(keysmith.CodeNotFound, "no such client")
}

func (s *kmSource) Subscribe(f func(keysmith.Change)) { s.subs = append(s.subs, f) }

func (s *kmSource) change(kind keysmith.ChangeKind, f func()) {
	s.mu.Lock()
	f()
	s.mu.Unlock()
	for _, sub := range s.subs {
		sub(keysmith.Change{Kind: kind, ID: "km1"})
	}
}

// TestVerifyExternalKeyManager: tokens of an external manager (a JWT
// checked by its key set, an opaque token by its RFC 7662 endpoint) pass
// verify, forward auth and introspection with the mapped app, environment
// and narrowed scopes, requirements apply to them, and disabling the
// manager refuses them at once.
func TestVerifyExternalKeyManager(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "ext-1", Algorithm: "ES256", Use: "sig"}
	var intros atomic.Int64
	mgr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/keys":
			json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
		case "/introspect": // RFC 7662 §2.1: POST form, client authenticated
			intros.Add(1)
			id, secret, ok := r.BasicAuth()
			if !ok || id != "keysmith" || secret != "s3cret" || r.PostFormValue("token") != "opaque-from-manager" {
				json.NewEncoder(w).Encode(map[string]any{"active": false})
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"active": true, "client_id": "ext-client", "scope": "orders:read orders:write",
				"sub": "ext-client", "exp": time.Now().Add(time.Hour).Unix(), "token_type": "Bearer"})
		}
	}))
	defer mgr.Close()

	mk := oauth.NewMasterKey()
	sealed, _ := mk.Seal("s3cret", "key_manager:km1")
	src := &kmSource{managers: []*keysmith.KeyManager{{ID: "km1", Name: "ext", Type: keysmith.KeyManagerOIDC, Issuer: mgr.URL,
		Enabled: true, Audience: "api://orders", JWKSURI: mgr.URL + "/keys", IntrospectionEndpoint: mgr.URL + "/introspect",
		IntrospectionClientID: "keysmith", IntrospectionSecretSealed: sealed}},
		clients: map[string]*keysmith.Client{"km1/ext-client": {ID: "cl_ext", AppID: "app_ext", Environment: keysmith.EnvSandbox,
			Scopes: []string{"orders:read"}, KeyManagerID: "km1", ExternalClientID: "ext-client"}}}
	s := apptest.StartPrepared(t, storetest.SQLite(t), app.Config{}, func(a *app.App) {
		// The manager's tokens carry the real time, not the test clock's.
		a.HTTP.External = keymanager.NewVerifier(src, mk, keymanager.NewHTTP(keymanager.Options{AllowInsecure: true}),
			keymanager.VerifierOptions{Limiter: a.Verifier.Limiter(), Limits: a.Verifier.Limits})
	})
	sig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "ext-1"}}, nil)
	tok, _ := jwt.Signed(sig).Claims(map[string]any{"iss": mgr.URL, "aud": "api://orders", "cid": "ext-client",
		"scp": []string{"orders:read", "orders:write"}, "sub": "ext-client", "jti": "x1",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}).Serialize()

	for _, raw := range []string{tok, "opaque-from-manager"} {
		r := s.Do("POST", "/v1/verify", "", map[string]any{"token": raw}).Want(t, http.StatusOK)
		if r.Body["valid"] != true || r.String("key_manager") != "km1" || r.String("client_id") != "ext-client" ||
			r.String("app_id") != "app_ext" || r.String("env") != "sandbox" || r.String("scope") != "orders:read" {
			t.Fatalf("verify: %s", r.Raw)
		}
		if scopes, _ := r.Body["scopes"].([]any); !slices.Equal(scopes, []any{"orders:read"}) {
			t.Fatalf("scopes not narrowed to the Keysmith client's: %s", r.Raw)
		}
		// Requirements apply as to Keysmith's own tokens.
		s.Do("POST", "/v1/verify", "", map[string]any{"token": raw, "scopes": []string{"orders:write"}}).
			Want(t, http.StatusOK).WantField(t, "code", "INSUFFICIENT_PERMISSIONS")
		s.Do("POST", "/v1/verify", "", map[string]any{"token": raw, "environment": "production"}).
			Want(t, http.StatusOK).WantField(t, "code", "WRONG_ENVIRONMENT")

		f := forward(t, s, "GET", "?scope=orders:read", bearerHeader(raw)).Want(t, http.StatusOK)
		if f.Header.Get("X-Keysmith-Key-Manager") != "km1" || f.Header.Get("X-Keysmith-App-Id") != "app_ext" ||
			f.Header.Get("X-Keysmith-Client-Id") != "ext-client" || f.Header.Get("X-Keysmith-Scopes") != "orders:read" ||
			f.Header.Get("X-Keysmith-Credential-Kind") != "access_token" {
			t.Fatalf("forward auth headers: %v", f.Header)
		}
		forward(t, s, "GET", "?scope=orders:write", bearerHeader(raw)).Want(t, http.StatusForbidden)

		in := postForm(t, s, "/v1/oauth/introspect", "", "", s.AdminToken, map[string][]string{"token": {raw}}).Want(t, http.StatusOK)
		if in.Body["active"] != true || in.String("key_manager") != "km1" || in.String("app_id") != "app_ext" ||
			in.String("scope") != "orders:read" {
			t.Fatalf("introspect: %s", in.Raw)
		}
	}
	if n := intros.Load(); n != 1 {
		t.Fatalf("the manager's introspection was called %d times, want once (answers are cached)", n)
	}

	// A credential in the form of Keysmith's own API tokens is never asked
	// of a manager: no manager issues it.
	s.Do("POST", "/v1/verify", "", map[string]any{"token": "ks_nope"}).Want(t, http.StatusOK).WantField(t, "code", "MALFORMED")
	forward(t, s, "GET", "", bearerHeader("ks_nope")).Want(t, http.StatusUnauthorized)
	if n := intros.Load(); n != 1 {
		t.Fatalf("a ks_ token was sent to the manager's introspection")
	}

	src.change(keysmith.ChangeKeyManager, func() { src.managers[0].Enabled = false })
	s.Do("POST", "/v1/verify", "", map[string]any{"token": tok}).Want(t, http.StatusOK).WantField(t, "code", "DISABLED")
	forward(t, s, "GET", "", bearerHeader(tok)).Want(t, http.StatusUnauthorized)
	s.Do("POST", "/v1/verify", "", map[string]any{"token": "opaque-from-manager"}).Want(t, http.StatusOK).
		WantField(t, "code", "NOT_FOUND")
	in := postForm(t, s, "/v1/oauth/introspect", "", "", s.AdminToken, map[string][]string{"token": {tok}}).Want(t, http.StatusOK)
	if in.Body["active"] != false {
		t.Fatalf("introspect after disabling: %s", in.Raw)
	}
}
