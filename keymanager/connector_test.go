package keymanager

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/keysmith/keysmith"
)

// provider is a test server standing for an identity provider: its
// discovery document and JWKS, plus whatever registration handlers a test
// adds. It records the registration requests it receives.
type provider struct {
	*httptest.Server
	mux *http.ServeMux
	doc map[string]any

	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	Method, Path, Auth string
	Body               map[string]any
}

func newProvider(t *testing.T, issuerPath string) *provider {
	t.Helper()
	p := &provider{mux: http.NewServeMux()}
	p.Server = httptest.NewServer(p.mux)
	t.Cleanup(p.Close)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
	iss := p.URL + issuerPath
	p.doc = map[string]any{"issuer": iss, "jwks_uri": p.URL + "/keys", "token_endpoint": iss + "/token"}
	p.mux.HandleFunc("GET "+issuerPath+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(p.doc)
	})
	p.mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(jwks) })
	return p
}

func (p *provider) issuer(path string) string { return p.URL + path }

// record notes a request and decodes its JSON body.
func (p *provider) record(r *http.Request) seenRequest {
	s := seenRequest{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization")}
	json.NewDecoder(r.Body).Decode(&s.Body)
	p.mu.Lock()
	p.seen = append(p.seen, s)
	p.mu.Unlock()
	return s
}

func (p *provider) last(t *testing.T) seenRequest {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seen) == 0 {
		t.Fatal("the provider received no registration request")
	}
	return p.seen[len(p.seen)-1]
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func testConnector() *Connector { return &Connector{HTTP: NewHTTP(Options{AllowInsecure: true})} }

func discover(t *testing.T, c *Connector, typ keysmith.KeyManagerType, name, issuer string) *keysmith.KeyManager {
	t.Helper()
	d, err := c.Discover(context.Background(), typ, issuer)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	return &keysmith.KeyManager{ID: "km_1", Name: name, Type: typ, Issuer: issuer, Enabled: true, JWKSURI: d.JWKSURI,
		RegistrationEndpoint: d.RegistrationEndpoint, TokenEndpoint: d.TokenEndpoint}
}

var codeClient = keysmith.ClientMetadata{Name: "Shop web", GrantTypes: []string{"authorization_code", "refresh_token"},
	RedirectURIs: []string{"https://shop.example.com/cb"}, Scopes: []string{"openid", "orders:read"},
	TokenEndpointAuthMethod: "client_secret_basic"}

// TestKeyManagerOkta: Okta's Dynamic Client Registration API, as documented at
// https://developer.okta.com/docs/reference/api/oauth-clients/ ("Dynamic
// Client Registration API", also the "Client" tag of the Okta OAuth
// OpenAPI, https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/Client/):
//   - POST https://{org}/oauth2/v1/clients with "Authorization: SSWS
//     {api_token}" and the RFC 7591 client metadata plus application_type
//     ("web", "browser", "native", "service"); 201 with client_id,
//     client_secret, client_id_issued_at, client_secret_expires_at and the
//     metadata, and no registration_access_token;
//   - PUT /oauth2/v1/clients/{clientId} (SSWS) replaces the metadata, 200;
//   - DELETE /oauth2/v1/clients/{clientId} (SSWS), 204;
//   - a refused registration answers 400 {"error": "invalid_client_metadata",
//     "error_description": …}; a bad API token 401 with Okta's error object
//     {"errorCode": "E0000011", "errorSummary": "Invalid token provided", …}
//     (developer.okta.com/docs/reference/error-codes/).
func TestKeyManagerOkta(t *testing.T) {
	p := newProvider(t, "/oauth2/default")
	// Okta's discovery document for a custom authorization server names
	// the org's registration endpoint.
	p.doc["registration_endpoint"] = p.URL + "/oauth2/v1/clients"
	p.mux.HandleFunc("POST /oauth2/v1/clients", func(w http.ResponseWriter, r *http.Request) {
		s := p.record(r)
		if s.Auth != "SSWS 00okta-api-token" {
			reply(w, 401, map[string]any{"errorCode": "E0000011", "errorSummary": "Invalid token provided",
				"errorLink": "E0000011", "errorId": "oae1", "errorCauses": []any{}})
			return
		}
		if s.Body["client_name"] == "bad" {
			reply(w, 400, map[string]any{"error": "invalid_client_metadata",
				"error_description": "The 'redirect_uris' field is required for this application type."})
			return
		}
		reply(w, 201, map[string]any{"client_id": "0oa1okta", "client_secret": "okta-secret", "client_id_issued_at": 1700000000,
			"client_secret_expires_at": 0, "client_name": s.Body["client_name"], "application_type": s.Body["application_type"],
			"redirect_uris": s.Body["redirect_uris"], "grant_types": s.Body["grant_types"], "response_types": s.Body["response_types"],
			"token_endpoint_auth_method": "client_secret_basic"})
	})
	p.mux.HandleFunc("PUT /oauth2/v1/clients/{id}", func(w http.ResponseWriter, r *http.Request) {
		s := p.record(r)
		reply(w, 200, map[string]any{"client_id": r.PathValue("id"), "client_name": s.Body["client_name"]})
	})
	p.mux.HandleFunc("DELETE /oauth2/v1/clients/{id}", func(w http.ResponseWriter, r *http.Request) {
		p.record(r)
		w.WriteHeader(http.StatusNoContent)
	})
	c := testConnector()
	m := discover(t, c, keysmith.KeyManagerOkta, "Okta", p.issuer("/oauth2/default"))
	ctx := context.Background()

	reg, err := c.Register(ctx, m, "00okta-api-token", codeClient)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if reg.ClientID != "0oa1okta" || reg.Secret.Reveal() != "okta-secret" || reg.RegistrationClientURI != p.URL+"/oauth2/v1/clients/0oa1okta" {
		t.Errorf("Register = %+v (secret %q)", reg, reg.Secret.Reveal())
	}
	got := p.last(t)
	if got.Auth != "SSWS 00okta-api-token" || got.Body["client_name"] != "Shop web" || got.Body["application_type"] != "web" ||
		got.Body["token_endpoint_auth_method"] != "client_secret_basic" || got.Body["scope"] != nil ||
		!slices.Equal(strs(got.Body["response_types"]), []string{"code"}) ||
		!slices.Equal(strs(got.Body["redirect_uris"]), codeClient.RedirectURIs) {
		t.Errorf("Okta received %+v", got)
	}

	svc := keysmith.ClientMetadata{Name: "batch", GrantTypes: []string{"client_credentials"}}
	if _, err := c.Register(ctx, m, "00okta-api-token", svc); err != nil {
		t.Fatal(err)
	}
	if got := p.last(t); got.Body["application_type"] != "service" {
		t.Errorf("a client_credentials client registered as %v, want application_type service", got.Body["application_type"])
	}

	next, err := c.UpdateRegistration(ctx, m, "00okta-api-token", reg, keysmith.ClientMetadata{Name: "renamed", GrantTypes: codeClient.GrantTypes, RedirectURIs: codeClient.RedirectURIs})
	if err != nil {
		t.Fatalf("UpdateRegistration: %v", err)
	}
	if got := p.last(t); got.Method != "PUT" || got.Path != "/oauth2/v1/clients/0oa1okta" || got.Auth != "SSWS 00okta-api-token" ||
		got.Body["client_name"] != "renamed" || got.Body["client_id"] != "0oa1okta" {
		t.Errorf("Okta received %+v", got)
	}
	if next.ClientID != "0oa1okta" || next.RegistrationClientURI != reg.RegistrationClientURI {
		t.Errorf("UpdateRegistration = %+v", next)
	}
	if err := c.DeleteRegistration(ctx, m, "00okta-api-token", next); err != nil {
		t.Fatalf("DeleteRegistration: %v", err)
	}
	if got := p.last(t); got.Method != "DELETE" || got.Path != "/oauth2/v1/clients/0oa1okta" || got.Auth != "SSWS 00okta-api-token" {
		t.Errorf("Okta received %+v", got)
	}

	t.Run("RefusedMetadataIsInvalidWithOktasWords", func(t *testing.T) {
		_, err := c.Register(ctx, m, "00okta-api-token", keysmith.ClientMetadata{Name: "bad", GrantTypes: []string{"authorization_code"}})
		if keysmith.ErrorCode(err) != keysmith.CodeInvalid || !strings.Contains(err.Error(), "redirect_uris' field is required") {
			t.Errorf("got %v, want CodeInvalid with Okta's description", err)
		}
	})
	t.Run("ABadAPITokenIsAnUpstreamErrorWithOktasSummary", func(t *testing.T) {
		_, err := c.Register(ctx, m, "wrong", svc)
		if keysmith.ErrorCode(err) != keysmith.CodeUpstream || !strings.Contains(err.Error(), "answered 401: Invalid token provided") {
			t.Errorf("got %v, want CodeUpstream with Okta's errorSummary", err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("the error repeats the token: %v", err)
		}
	})
	t.Run("WithoutAnAPITokenNothingIsSent", func(t *testing.T) {
		n := len(p.seen)
		if _, err := c.Register(ctx, m, "", svc); keysmith.ErrorCode(err) != keysmith.CodeInvalid || len(p.seen) != n {
			t.Errorf("got %v and %d requests, want CodeInvalid and none", err, len(p.seen)-n)
		}
	})
	t.Run("WithoutRegistrationEndpointInDiscoveryTheOrgsIsUsed", func(t *testing.T) {
		delete(p.doc, "registration_endpoint")
		m := discover(t, c, keysmith.KeyManagerOkta, "Okta", p.issuer("/oauth2/default"))
		if m.RegistrationEndpoint != p.URL+"/oauth2/v1/clients" {
			t.Errorf("registration endpoint %q", m.RegistrationEndpoint)
		}
	})
}

// TestKeyManagerKeycloak: Keycloak's client registration service with the
// openid-connect provider, as documented at
// https://www.keycloak.org/securing-apps/client-registration ("Client
// registration service"):
//   - POST {server}/realms/{realm}/clients-registrations/openid-connect with
//     "Authorization: Bearer {initial access token}" and the OpenID Connect
//     client metadata; 201 with client_id, client_secret,
//     registration_access_token and registration_client_uri
//     ({…}/clients-registrations/openid-connect/{client_id});
//   - PUT and DELETE registration_client_uri with "Authorization: Bearer
//     {registration access token}"; "every time the registration access
//     token is used … a new one is returned" (the update's answer carries
//     the new registration_access_token; the old one no longer works);
//     DELETE answers 204;
//   - refusals answer {"error": …, "error_description": …}.
func TestKeyManagerKeycloak(t *testing.T) {
	const realm = "/realms/shop"
	p := newProvider(t, realm)
	p.doc["registration_endpoint"] = p.issuer(realm) + "/clients-registrations/openid-connect"
	var mu sync.Mutex
	rat := "rat-1"
	p.mux.HandleFunc("POST "+realm+"/clients-registrations/openid-connect", func(w http.ResponseWriter, r *http.Request) {
		s := p.record(r)
		if s.Auth != "Bearer initial-access-token" {
			reply(w, 401, map[string]any{"error": "invalid_token", "error_description": "Failed decode token"})
			return
		}
		reply(w, 201, map[string]any{"client_id": "kc-client-1", "client_secret": "kc-secret", "registration_access_token": rat,
			"registration_client_uri": p.issuer(realm) + "/clients-registrations/openid-connect/kc-client-1",
			"client_name":             s.Body["client_name"], "redirect_uris": s.Body["redirect_uris"], "grant_types": s.Body["grant_types"]})
	})
	p.mux.HandleFunc("PUT "+realm+"/clients-registrations/openid-connect/{id}", func(w http.ResponseWriter, r *http.Request) {
		s := p.record(r)
		mu.Lock()
		defer mu.Unlock()
		if s.Auth != "Bearer "+rat {
			reply(w, 401, map[string]any{"error": "invalid_token", "error_description": "Not authorized to view client. Not valid token or client credentials provided."})
			return
		}
		rat = "rat-2"
		reply(w, 200, map[string]any{"client_id": r.PathValue("id"), "registration_access_token": rat,
			"registration_client_uri": p.issuer(realm) + "/clients-registrations/openid-connect/" + r.PathValue("id")})
	})
	p.mux.HandleFunc("DELETE "+realm+"/clients-registrations/openid-connect/{id}", func(w http.ResponseWriter, r *http.Request) {
		p.record(r)
		w.WriteHeader(http.StatusNoContent)
	})
	c := testConnector()
	m := discover(t, c, keysmith.KeyManagerKeycloak, "Keycloak", p.issuer(realm))
	ctx := context.Background()

	reg, err := c.Register(ctx, m, "initial-access-token", codeClient)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if reg.ClientID != "kc-client-1" || reg.Secret.Reveal() != "kc-secret" || reg.RegistrationAccessToken != "rat-1" ||
		!strings.HasSuffix(reg.RegistrationClientURI, "/openid-connect/kc-client-1") {
		t.Errorf("Register = %+v", reg)
	}
	got := p.last(t)
	if got.Auth != "Bearer initial-access-token" || got.Body["scope"] != "openid orders:read" || got.Body["client_name"] != "Shop web" ||
		!slices.Equal(strs(got.Body["grant_types"]), codeClient.GrantTypes) {
		t.Errorf("Keycloak received %+v", got)
	}

	next, err := c.UpdateRegistration(ctx, m, "initial-access-token", reg, codeClient)
	if err != nil {
		t.Fatalf("UpdateRegistration: %v", err)
	}
	if got := p.last(t); got.Auth != "Bearer rat-1" || got.Body["client_id"] != "kc-client-1" {
		t.Errorf("Keycloak received %+v, want the registration access token and the client_id", got)
	}
	if next.RegistrationAccessToken != "rat-2" {
		t.Errorf("after the update the registration access token is %q, want the rotated rat-2", next.RegistrationAccessToken)
	}
	// The old token no longer works: the manager's words come back.
	_, err = c.UpdateRegistration(ctx, m, "", reg, codeClient)
	if keysmith.ErrorCode(err) != keysmith.CodeUpstream || !strings.Contains(err.Error(), "Not authorized to view client") {
		t.Errorf("update with the rotated-out token: %v", err)
	}
	if err := c.DeleteRegistration(ctx, m, "", next); err != nil {
		t.Fatalf("DeleteRegistration: %v", err)
	}
	if got := p.last(t); got.Method != "DELETE" || got.Auth != "Bearer rat-2" {
		t.Errorf("Keycloak received %+v", got)
	}
}

// TestKeyManagerDiscover: which of discovery and JWKS failed, and why.
func TestKeyManagerDiscover(t *testing.T) {
	ctx := context.Background()
	c := testConnector()
	t.Run("WrongIssuerIsADiscoveryFailure", func(t *testing.T) {
		p := newProvider(t, "/a")
		p.doc["issuer"] = "https://elsewhere.example.com"
		_, err := c.Discover(ctx, keysmith.KeyManagerOIDC, p.issuer("/a"))
		if keysmith.ErrorCode(err) != keysmith.CodeInvalid || !strings.Contains(err.Error(), "discovery failed") || !strings.Contains(err.Error(), "elsewhere") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("MissingDocumentIsADiscoveryFailure", func(t *testing.T) {
		p := newProvider(t, "/a")
		_, err := c.Discover(ctx, keysmith.KeyManagerOIDC, p.issuer("/nothing-here"))
		if !strings.Contains(err.Error(), "discovery failed") || !strings.Contains(err.Error(), "404") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("EmptyKeySetIsAJWKSFailure", func(t *testing.T) {
		p := newProvider(t, "/a")
		p.mux.HandleFunc("GET /empty", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":[]}`)) })
		p.doc["jwks_uri"] = p.URL + "/empty"
		_, err := c.Discover(ctx, keysmith.KeyManagerOIDC, p.issuer("/a"))
		if !strings.Contains(err.Error(), "JWKS failed") || !strings.Contains(err.Error(), "no keys") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("UnreachableKeySetIsAJWKSFailure", func(t *testing.T) {
		p := newProvider(t, "/a")
		p.doc["jwks_uri"] = p.URL + "/missing"
		_, err := c.Discover(ctx, keysmith.KeyManagerOIDC, p.issuer("/a"))
		if !strings.Contains(err.Error(), "JWKS failed") || !strings.Contains(err.Error(), "404") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("AnEndpointKeysmithMayNotCallIsRefused", func(t *testing.T) {
		p := newProvider(t, "/a")
		p.doc["registration_endpoint"] = "http://169.254.169.254/latest"
		_, err := c.Discover(ctx, keysmith.KeyManagerOIDC, p.issuer("/a"))
		if !strings.Contains(err.Error(), "registration_endpoint") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("ARegistrationEndpointOnAnotherHostIsRefused", func(t *testing.T) {
		p := newProvider(t, "/a")
		p.doc["registration_endpoint"] = "http://localhost:1/register" // another host than 127.0.0.1
		_, err := c.Discover(ctx, keysmith.KeyManagerOIDC, p.issuer("/a"))
		if err == nil || !strings.Contains(err.Error(), "not on the issuer's host") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("PlainHTTPWithoutTheFlagIsRefusedBeforeAnyCall", func(t *testing.T) {
		p := newProvider(t, "/a")
		_, err := (&Connector{HTTP: NewHTTP(Options{})}).Discover(ctx, keysmith.KeyManagerOIDC, p.issuer("/a"))
		if keysmith.ErrorCode(err) != keysmith.CodeInvalid || !strings.Contains(err.Error(), "https only") {
			t.Errorf("got %v", err)
		}
	})
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
