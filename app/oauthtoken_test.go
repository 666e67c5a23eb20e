package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func TestTokenEndpoint(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		s.Do("POST", "/v1/apis", admin, map[string]any{"name": "Shop", "identifier": "https://api.shop.example",
			"scopes": []map[string]any{{"name": "orders:read"}, {"name": "orders:write"}}}).Want(t, http.StatusCreated)
		appID := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "shop"}).Want(t, http.StatusCreated).String("app_id")
		c := newClient(t, s, admin, map[string]any{"app_id": appID, "scopes": []string{"orders:read", "orders:write"},
			"audience": "https://api.shop.example"})

		t.Run("RealClientGetsAVerifiableJWT", func(t *testing.T) {
			for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
				cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: s.URL + "/v1/oauth/token",
					Scopes: []string{"orders:read"}, AuthStyle: style}
				tok, err := cc.Token(context.Background())
				if err != nil {
					t.Fatalf("auth style %v: %v", style, err)
				}
				if tok.TokenType != "Bearer" || tok.Expiry.IsZero() || tok.Extra("scope") != "orders:read" {
					t.Errorf("token: %+v scope %v", tok, tok.Extra("scope"))
				}
				claims, hdr := verifyJWT(t, s, tok.AccessToken)
				if hdr.Algorithm != "ES256" || hdr.ExtraHeaders["typ"] != "at+jwt" {
					t.Errorf("header: alg %s typ %v", hdr.Algorithm, hdr.ExtraHeaders["typ"])
				}
				now := float64(s.Clock.Now().Unix())
				want := map[string]any{"iss": s.URL, "sub": c.ID, "aud": "https://api.shop.example", "client_id": c.ID,
					"scope": "orders:read", "env": "sandbox", "app_id": appID, "iat": now, "exp": now + 3600}
				for k, v := range want {
					if claims[k] != v {
						t.Errorf("claim %s = %v, want %v", k, claims[k], v)
					}
				}
				if jti, _ := claims["jti"].(string); jti == "" {
					t.Error("no jti")
				}
			}
		})

		t.Run("ResponseIsNotCachedAndScopeDefaultsToAll", func(t *testing.T) {
			r := postForm(t, s, "/v1/oauth/token", "", "", "", url.Values{"grant_type": {"client_credentials"},
				"client_id": {c.ID}, "client_secret": {c.Secret}}).Want(t, http.StatusOK)
			if r.Header.Get("Cache-Control") != "no-store" || r.String("token_type") != "Bearer" ||
				r.Body["expires_in"] != 3600.0 || r.String("scope") != "orders:read orders:write" {
				t.Errorf("response %s, Cache-Control %q", r.Raw, r.Header.Get("Cache-Control"))
			}
			claims, _ := verifyJWT(t, s, r.String("access_token"))
			if claims["aud"] != "https://api.shop.example" {
				t.Errorf("aud %v", claims["aud"])
			}
		})

		t.Run("AudienceDefaultsToTheIssuer", func(t *testing.T) {
			d := newClient(t, s, admin, map[string]any{})
			claims, _ := verifyJWT(t, s, accessToken(t, s, d))
			if claims["aud"] != s.URL || claims["iss"] != s.URL {
				t.Errorf("aud %v iss %v, want %s", claims["aud"], claims["iss"], s.URL)
			}
		})

		t.Run("ErrorsFollowRFC6749", func(t *testing.T) {
			grant := url.Values{"grant_type": {"client_credentials"}}
			post := func(extra url.Values) url.Values {
				v := url.Values{"client_id": {c.ID}, "client_secret": {c.Secret}}
				for k, vs := range extra {
					v[k] = vs
				}
				return v
			}
			cases := []struct {
				name       string
				user, pass string
				form       url.Values
				raw        string // a raw body instead of form
				ctype      string
				status     int
				code       string
				basicChall bool
			}{
				{"BasicWrongSecret", c.ID, "kss_wrong", grant, "", "", 401, "invalid_client", true},
				{"BasicUnknownClient", "cli_nope", c.Secret, grant, "", "", 401, "invalid_client", true},
				{"PostWrongSecret", "", "", post(url.Values{"client_secret": {"nope"}, "grant_type": {"client_credentials"}}), "", "", 401, "invalid_client", false},
				{"NoCredentials", "", "", grant, "", "", 401, "invalid_client", false},
				{"MissingGrantType", c.ID, c.Secret, url.Values{}, "", "", 400, "invalid_request", false},
				{"UnsupportedGrantType", c.ID, c.Secret, url.Values{"grant_type": {"password"}}, "", "", 400, "unsupported_grant_type", false},
				{"ScopeNotAllowed", c.ID, c.Secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read admin"}}, "", "", 400, "invalid_scope", false},
				{"TwoAuthMethods", c.ID, c.Secret, post(grant), "", "", 400, "invalid_request", false},
				{"RepeatedParameter", c.ID, c.Secret, nil, "grant_type=client_credentials&grant_type=client_credentials", "", 400, "invalid_request", false},
				{"JSONBody", c.ID, c.Secret, nil, `{"grant_type":"client_credentials"}`, "application/json", 400, "invalid_request", false},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					body := tc.raw
					if tc.form != nil {
						body = tc.form.Encode()
					}
					req, _ := http.NewRequest("POST", s.URL+"/v1/oauth/token", strings.NewReader(body))
					ct := tc.ctype
					if ct == "" {
						ct = "application/x-www-form-urlencoded"
					}
					req.Header.Set("Content-Type", ct)
					if tc.user != "" {
						req.SetBasicAuth(tc.user, tc.pass)
					}
					r := s.Send(req).Want(t, tc.status)
					if r.String("error") != tc.code || r.String("error_description") == "" {
						t.Errorf("body %s, want error %s", r.Raw, tc.code)
					}
					if r.Header.Get("Cache-Control") != "no-store" {
						t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
					}
					if got := strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic"); got != tc.basicChall {
						t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
					}
				})
			}
		})

		t.Run("OtherAlgorithms", func(t *testing.T) {
			for _, alg := range []string{"EdDSA", "RS256"} {
				t.Run(alg, func(t *testing.T) {
					s2 := apptest.Start(t, storetest.DSN(t, engineOf(dsn)), app.Config{SigningAlg: alg})
					c2 := newClient(t, s2, s2.AdminToken, map[string]any{})
					_, hdr := verifyJWT(t, s2, accessToken(t, s2, c2))
					if hdr.Algorithm != alg {
						t.Errorf("alg %s, want %s", hdr.Algorithm, alg)
					}
				})
			}
		})

		t.Run("DiscoveryDescribesTheServer", func(t *testing.T) {
			r := s.Do("GET", "/.well-known/oauth-authorization-server", "", nil).Want(t, http.StatusOK)
			want := map[string]string{"issuer": s.URL, "token_endpoint": s.URL + "/v1/oauth/token",
				"jwks_uri": s.URL + "/.well-known/jwks.json", "introspection_endpoint": s.URL + "/v1/oauth/introspect",
				"revocation_endpoint": s.URL + "/v1/oauth/revoke"}
			for k, v := range want {
				if r.String(k) != v {
					t.Errorf("%s = %q, want %q", k, r.String(k), v)
				}
			}
			if g, _ := r.Body["grant_types_supported"].([]any); len(g) != 3 || g[2] != "client_credentials" {
				t.Errorf("grant_types_supported %v", r.Body["grant_types_supported"])
			}
		})
	})
}

func engineOf(dsn string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return "postgres"
	}
	return "sqlite"
}

func TestSigningKeyRotation(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{KeyRotation: 30 * 24 * time.Hour})
		c := newClient(t, s, s.AdminToken, map[string]any{})
		ctx := context.Background()

		old := accessToken(t, s, c)
		_, oldHdr := verifyJWT(t, s, old)
		if rotated, err := s.App.OAuth.RotateIfDue(ctx); err != nil || rotated {
			t.Fatalf("fresh key rotated: %v %v", rotated, err)
		}
		if _, err := s.App.OAuth.Rotate(ctx, ""); err != nil {
			t.Fatal(err)
		}
		fresh := accessToken(t, s, c)
		_, freshHdr := verifyJWT(t, s, fresh)
		if freshHdr.KeyID == oldHdr.KeyID {
			t.Fatal("rotation did not change the signing key")
		}
		// Both keys are published: the old token still verifies, over HTTP.
		verifyJWT(t, s, old)
		if in := introspect(t, s, c, old); in.Body["active"] != true {
			t.Errorf("token of the retired key: %s", in.Raw)
		}

		// On schedule: 30 days later the next rotation is due; by then every
		// token of the first key has expired and its public key is gone.
		s.Clock.Advance(31 * 24 * time.Hour)
		if rotated, err := s.App.OAuth.RotateIfDue(ctx); err != nil || !rotated {
			t.Fatalf("due rotation: %v %v", rotated, err)
		}
		jwks := s.Do("GET", "/.well-known/jwks.json", "", nil).Want(t, http.StatusOK)
		if strings.Contains(string(jwks.Raw), oldHdr.KeyID) {
			t.Errorf("the first key is still published long after its tokens expired")
		}
		if !strings.Contains(string(jwks.Raw), freshHdr.KeyID) {
			t.Errorf("the key retired just now is not published")
		}
		var types []string
		rows, _ := s.App.Store.SQL().Query(`SELECT type FROM events WHERE type LIKE 'signing_key.%' ORDER BY seq`)
		for rows.Next() {
			var ty string
			rows.Scan(&ty)
			types = append(types, ty)
		}
		rows.Close()
		if strings.Join(types, " ") != "signing_key.created signing_key.rotated signing_key.rotated" {
			t.Errorf("signing key events: %v", types)
		}
	})
}

func TestIntrospectionAndRevocation(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		registerScopes(t, s, "a")
		sandbox := newClient(t, s, admin, map[string]any{"scopes": []string{"a"}})
		peer := newClient(t, s, admin, map[string]any{})
		prod := newClient(t, s, admin, map[string]any{"environment": "production"})
		opaque := newClient(t, s, admin, map[string]any{"token_format": "opaque", "token_ttl_seconds": 60})

		for _, tc := range []struct {
			name  string
			owner client
		}{{"JWT", sandbox}, {"Opaque", opaque}} {
			t.Run(tc.name, func(t *testing.T) {
				tok := accessToken(t, s, tc.owner)
				in := introspect(t, s, peer, tok)
				if in.Body["active"] != true || in.String("client_id") != tc.owner.ID || in.String("env") != "sandbox" ||
					in.String("token_type") != "Bearer" || in.String("iss") != s.URL || in.String("jti") == "" ||
					in.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("introspection: %s", in.Raw)
				}
				// Credentials of one environment never work in the other.
				if in := introspect(t, s, prod, tok); in.Body["active"] != false || len(in.Body) != 1 {
					t.Errorf("production client sees a sandbox token: %s", in.Raw)
				}
				if r := postForm(t, s, "/v1/oauth/introspect", "", "", admin, url.Values{"token": {tok}}).Want(t, http.StatusOK); r.Body["active"] != true {
					t.Errorf("admin introspection: %s", r.Raw)
				}
				if code := verifyCode(t, s, tok); code != "VALID" {
					t.Errorf("verify: %s", code)
				}
				// Another client's revocation leaves it alone (and says nothing).
				postForm(t, s, "/v1/oauth/revoke", peer.ID, peer.Secret, "", url.Values{"token": {tok}}).Want(t, http.StatusOK)
				if in := introspect(t, s, peer, tok); in.Body["active"] != true {
					t.Errorf("revoked by another client: %s", in.Raw)
				}
				postForm(t, s, "/v1/oauth/revoke", tc.owner.ID, tc.owner.Secret, "", url.Values{"token": {tok}, "token_type_hint": {"access_token"}}).Want(t, http.StatusOK)
				if in := introspect(t, s, peer, tok); in.Body["active"] != false {
					t.Errorf("after revocation: %s", in.Raw)
				}
				if code := verifyCode(t, s, tok); code != "REVOKED" {
					t.Errorf("verify after revocation: %s", code)
				}
				r := s.Do("GET", "/v1/tokens", tok, nil).Want(t, http.StatusUnauthorized)
				if r.String("error") != "unauthorized" {
					t.Errorf("Keysmith API with a revoked access token: %s", r.Raw)
				}
				// Revoking again, or garbage, is still 200.
				postForm(t, s, "/v1/oauth/revoke", tc.owner.ID, tc.owner.Secret, "", url.Values{"token": {tok}}).Want(t, http.StatusOK)
				postForm(t, s, "/v1/oauth/revoke", tc.owner.ID, tc.owner.Secret, "", url.Values{"token": {"garbage"}}).Want(t, http.StatusOK)
			})
		}

		t.Run("ExpiredTokens", func(t *testing.T) {
			jwtTok, opTok := accessToken(t, s, sandbox), accessToken(t, s, opaque)
			s.Clock.Advance(time.Hour)
			for _, tok := range []string{jwtTok, opTok} {
				if in := introspect(t, s, peer, tok); in.Body["active"] != false {
					t.Errorf("expired: %s", in.Raw)
				}
				if code := verifyCode(t, s, tok); code != "EXPIRED" {
					t.Errorf("verify expired: %s", code)
				}
				r := s.Do("GET", "/v1/tokens", tok, nil).Want(t, http.StatusUnauthorized)
				if r.String("error") != "unauthorized" {
					t.Errorf("Keysmith API with an expired access token: %s", r.Raw)
				}
			}
		})

		t.Run("VerifyCodesForAccessTokens", func(t *testing.T) {
			tok := accessToken(t, s, sandbox)
			r := s.Do("POST", "/v1/verify", "", map[string]any{"token": tok}).Want(t, http.StatusOK)
			if r.Body["valid"] != true || r.String("type") != "access_token" || r.String("client_id") != sandbox.ID ||
				r.String("env") != "sandbox" || r.String("scope") != "a" || r.String("token_id") == "" {
				t.Errorf("verify: %s", r.Raw)
			}
			parts := strings.Split(tok, ".")
			forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
			for _, c := range []struct{ tok, code string }{
				{forged, "NOT_FOUND"},
				{"a.b.c", "MALFORMED"},
				{"ksa_0000000000000000000000000000000000000000", "MALFORMED"},
			} {
				if got := verifyCode(t, s, c.tok); got != c.code {
					t.Errorf("verify %.20s…: %s, want %s", c.tok, got, c.code)
				}
			}
			// A valid access token is still no key to Keysmith's own API.
			s.Do("GET", "/v1/tokens", tok, nil).Want(t, http.StatusUnauthorized)
		})

		t.Run("CallerMustBeAClientOrAnAdmin", func(t *testing.T) {
			tok := accessToken(t, s, sandbox)
			_, dev := s.AddUser(keysmith.RoleDeveloper, "")
			_, ro := s.AddUser(keysmith.RoleReadOnlyAdmin, "")
			postForm(t, s, "/v1/oauth/introspect", "", "", "", url.Values{"token": {tok}}).Want(t, http.StatusUnauthorized)
			postForm(t, s, "/v1/oauth/introspect", sandbox.ID, "kss_wrong", "", url.Values{"token": {tok}}).Want(t, http.StatusUnauthorized)
			postForm(t, s, "/v1/oauth/introspect", "", "", dev, url.Values{"token": {tok}}).Want(t, http.StatusForbidden)
			postForm(t, s, "/v1/oauth/introspect", "", "", ro, url.Values{"token": {tok}}).Want(t, http.StatusOK)
			postForm(t, s, "/v1/oauth/revoke", "", "", ro, url.Values{"token": {tok}}).Want(t, http.StatusForbidden)
			postForm(t, s, "/v1/oauth/introspect", peer.ID, peer.Secret, "", url.Values{}).Want(t, http.StatusBadRequest)
			if in := introspect(t, s, peer, tok); in.Body["active"] != true {
				t.Errorf("refused calls changed the token: %s", in.Raw)
			}
			postForm(t, s, "/v1/oauth/revoke", "", "", admin, url.Values{"token": {tok}}).Want(t, http.StatusOK)
			if in := introspect(t, s, peer, tok); in.Body["active"] != false {
				t.Errorf("admin revocation: %s", in.Raw)
			}
		})

		t.Run("EveryAdminButReadOnlyRevokesAccessTokens", func(t *testing.T) {
			tok := accessToken(t, s, sandbox)
			_, ga := s.AddUser(keysmith.RoleGroupAdmin, "")
			_, ro := s.AddUser(keysmith.RoleReadOnlyAdmin, "")
			_, dev := s.AddUser(keysmith.RoleDeveloper, "")
			for _, refused := range []string{ro, dev} {
				r := postForm(t, s, "/v1/oauth/revoke", "", "", refused, url.Values{"token": {tok}}).Want(t, http.StatusForbidden)
				if r.String("error") != "forbidden" || r.String("error_description") == "" {
					t.Errorf("refused revocation: %s", r.Raw)
				}
			}
			if in := introspect(t, s, peer, tok); in.Body["active"] != true {
				t.Fatalf("refused revocations revoked the token: %s", in.Raw)
			}
			postForm(t, s, "/v1/oauth/revoke", "", "", ga, url.Values{"token": {tok}}).Want(t, http.StatusOK)
			if in := introspect(t, s, peer, tok); in.Body["active"] != false {
				t.Errorf("a group admin's revocation: %s", in.Raw)
			}
		})
	})
}
