package apptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// DCRProvider stands for a third-party OpenID provider in tests: it
// serves a discovery document, a JWKS and RFC 7591/7592 dynamic client
// registration (POST /register with a Bearer initial access token; GET,
// PUT, DELETE /register/{client_id} with the registration access token,
// rotated on every update). It is not Keysmith code: start Keysmith with
// Config.AllowInsecureKeyManagers to use it as an "oidc" key manager.
type DCRProvider struct {
	*httptest.Server
	// Issuer is its issuer: the server's URL.
	Issuer string
	// InitialAccessToken is what registration requires.
	InitialAccessToken string

	mu      sync.Mutex
	clients map[string]map[string]any // by client_id: the metadata registered
	rats    map[string]string         // client_id → registration access token
	// Refuse, when set, makes the next registrations fail with this
	// RFC 7591 error description (invalid_client_metadata).
	Refuse string
	// FailDeletes makes deletions answer 503.
	FailDeletes bool
	// DiscoveryDown and JWKSDown make those answer 500.
	DiscoveryDown, JWKSDown bool
	n                       int
}

// NewDCRProvider starts a provider on 127.0.0.1, stopped when the test
// ends.
func NewDCRProvider(t testing.TB) *DCRProvider {
	t.Helper()
	p := &DCRProvider{InitialAccessToken: "iat-" + rand.Text(), clients: map[string]map[string]any{}, rats: map[string]string{}}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "test-1", Algorithm: "ES256", Use: "sig"}}}
	mux := http.NewServeMux()
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	p.Issuer = p.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if p.down(&p.DiscoveryDown) {
			http.Error(w, "down", 500)
			return
		}
		dcrReply(w, 200, map[string]any{"issuer": p.Issuer, "jwks_uri": p.URL + "/jwks", "token_endpoint": p.URL + "/token",
			"registration_endpoint": p.URL + "/register", "introspection_endpoint": p.URL + "/introspect"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		if p.down(&p.JWKSDown) {
			http.Error(w, "down", 500)
			return
		}
		dcrReply(w, 200, jwks)
	})
	mux.HandleFunc("POST /register", p.register)
	mux.HandleFunc("PUT /register/{id}", p.update)
	mux.HandleFunc("DELETE /register/{id}", p.delete)
	return p
}

func (p *DCRProvider) down(b *bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return *b
}

// Set changes the provider's behaviour under its lock.
func (p *DCRProvider) Set(f func(p *DCRProvider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

// Client returns the metadata registered for clientID, nil if none.
func (p *DCRProvider) Client(clientID string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clients[clientID]
}

// Clients is how many clients are registered.
func (p *DCRProvider) Clients() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}

func dcrReply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (p *DCRProvider) register(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+p.InitialAccessToken {
		dcrReply(w, 401, map[string]any{"error": "invalid_token", "error_description": "the initial access token is not valid"})
		return
	}
	if p.Refuse != "" {
		dcrReply(w, 400, map[string]any{"error": "invalid_client_metadata", "error_description": p.Refuse})
		return
	}
	var md map[string]any
	if err := json.NewDecoder(r.Body).Decode(&md); err != nil {
		dcrReply(w, 400, map[string]any{"error": "invalid_client_metadata", "error_description": "not JSON"})
		return
	}
	p.n++
	id := "ext-client-" + strings.ToLower(rand.Text()[:8])
	p.clients[id], p.rats[id] = md, "rat-"+rand.Text()
	out := map[string]any{"client_id": id, "client_secret": "ext-secret-" + rand.Text(), "registration_access_token": p.rats[id],
		"registration_client_uri": p.URL + "/register/" + id, "client_id_issued_at": 1, "client_secret_expires_at": 0}
	for k, v := range md {
		out[k] = v
	}
	dcrReply(w, 201, out)
}

func (p *DCRProvider) authorized(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if _, ok := p.clients[id]; !ok {
		dcrReply(w, 401, map[string]any{"error": "invalid_token"}) // RFC 7592 §2: unknown client is 401
		return id, false
	}
	if r.Header.Get("Authorization") != "Bearer "+p.rats[id] {
		dcrReply(w, 401, map[string]any{"error": "invalid_token", "error_description": "wrong registration access token"})
		return id, false
	}
	return id, true
}

func (p *DCRProvider) update(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id, ok := p.authorized(w, r)
	if !ok {
		return
	}
	var md map[string]any
	json.NewDecoder(r.Body).Decode(&md)
	p.clients[id], p.rats[id] = md, "rat-"+rand.Text()
	out := map[string]any{"client_id": id, "registration_access_token": p.rats[id], "registration_client_uri": p.URL + "/register/" + id}
	for k, v := range md {
		out[k] = v
	}
	dcrReply(w, 200, out)
}

func (p *DCRProvider) delete(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.FailDeletes {
		dcrReply(w, 503, map[string]any{"error": "temporarily_unavailable", "error_description": "the registration store is down"})
		return
	}
	id, ok := p.authorized(w, r)
	if !ok {
		return
	}
	delete(p.clients, id)
	delete(p.rats, id)
	w.WriteHeader(http.StatusNoContent)
}

// RegistrationAccessToken is the token that manages clientID now.
func (p *DCRProvider) RegistrationAccessToken(clientID string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rats[clientID]
}
