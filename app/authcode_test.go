package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/storetest"
	"golang.org/x/oauth2"
)

// codeWorld is a server with an API scope, a confidential web-app client
// and a public SPA client of the code flow, and a person who signs in.
type codeWorld struct {
	s              *apptest.Server
	web, spa       codeClient
	person, token  string // the person's id and API token
	ctx            context.Context
	provider       *oidc.Provider
	redirectWeb    string
	redirectSPA    string
	scopesForCodes []string
}

func newCodeWorld(t *testing.T, dsn string) *codeWorld {
	s := apptest.Start(t, dsn, app.Config{})
	s.AddAPI(keysmith.Scope{Name: "orders:read", Description: "Read your orders", SelfService: true})
	w := &codeWorld{s: s, ctx: context.Background(), redirectWeb: "https://web.example/callback",
		redirectSPA:    "http://127.0.0.1:7777/cb",
		scopesForCodes: []string{"openid", "profile", "email", "offline_access", "orders:read"}}
	w.web = newCodeClient(t, s, keysmith.CreateClientInput{Name: "web app", Scopes: w.scopesForCodes,
		RedirectURIs: []string{w.redirectWeb}})
	w.spa = newCodeClient(t, s, keysmith.CreateClientInput{Name: "spa", Scopes: w.scopesForCodes,
		RedirectURIs: []string{w.redirectSPA}, TokenEndpointAuthMethod: keysmith.AuthNone})
	w.person, w.token = s.AddUser(keysmith.RoleDeveloper, "")
	p, err := oidc.NewProvider(w.ctx, s.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	w.provider = p
	return w
}

// flow runs the code flow for c up to the token response.
func (w *codeWorld) flow(t *testing.T, c codeClient, scopes ...string) (*oauth2.Token, *oauth2.Config, string) {
	t.Helper()
	cfg := c.config(w.s, scopes...)
	verifier := oauth2.GenerateVerifier()
	nonce := keysmith.NewID("n")
	code := codeFor(t, w.s, w.person, cfg.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)))
	tok, err := cfg.Exchange(w.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok, cfg, nonce
}

func TestAuthorizationCodeFlow(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		w := newCodeWorld(t, dsn)
		s := w.s

		for _, c := range []codeClient{w.web, w.spa} {
			t.Run("OIDCLibraryAcceptsTheIDToken/"+c.Name, func(t *testing.T) {
				tok, _, nonce := w.flow(t, c, "openid", "profile", "email", "offline_access", "orders:read")
				raw, _ := tok.Extra("id_token").(string)
				v := w.provider.Verifier(&oidc.Config{ClientID: c.ID, Now: s.Clock.Now})
				idt, err := v.Verify(w.ctx, raw)
				if err != nil {
					t.Fatalf("go-oidc refused the ID token: %v", err)
				}
				if idt.Subject != w.person || idt.Nonce != nonce {
					t.Errorf("sub %q nonce %q, want %q %q", idt.Subject, idt.Nonce, w.person, nonce)
				}
				if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
					t.Errorf("at_hash: %v", err)
				}
				var cl struct {
					Email    string `json:"email"`
					AuthTime int64  `json:"auth_time"`
				}
				if err := idt.Claims(&cl); err != nil || cl.Email == "" || cl.AuthTime != s.Clock.Now().Unix() {
					t.Errorf("claims %+v (%v)", cl, err)
				}
				if tok.RefreshToken == "" || tok.Extra("scope") != "openid profile email offline_access orders:read" {
					t.Errorf("refresh %q scope %v", tok.RefreshToken, tok.Extra("scope"))
				}
				info, err := w.provider.UserInfo(w.ctx, oauth2.StaticTokenSource(tok))
				if err != nil || info.Subject != w.person || info.Email == "" {
					t.Errorf("userinfo %+v (%v)", info, err)
				}
				// The access token acts for the person at verify, and
				// nowhere in Keysmith's own API.
				r := s.Do("POST", "/v1/verify", "", map[string]any{"token": tok.AccessToken}).Want(t, http.StatusOK)
				if r.Body["valid"] != true || r.String("user_id") != w.person || r.String("client_id") != c.ID {
					t.Errorf("verify: %v", r.Body)
				}
				s.Do("GET", "/v1/tokens", tok.AccessToken, nil).Want(t, http.StatusUnauthorized)
				s.Do("GET", "/v1/users/me", raw, nil).Want(t, http.StatusUnauthorized)
				// An ID token is not an access token.
				if r := s.Do("POST", "/v1/verify", "", map[string]any{"token": raw}); r.Body["valid"] == true {
					t.Errorf("an ID token verified as an access token: %v", r.Body)
				}
			})
		}

		t.Run("RefreshRotatesAndReuseRevokesTheGrant", func(t *testing.T) {
			tok, _, _ := w.flow(t, w.spa, "openid", "offline_access", "orders:read")
			first := tok.RefreshToken
			r := refresh(t, s, w.spa, first, "").Want(t, http.StatusOK)
			second := r.String("refresh_token")
			if second == "" || second == first || r.String("id_token") == "" {
				t.Fatalf("refresh answer %v", r.Body)
			}
			if got := refresh(t, s, w.spa, second, "orders:read").Want(t, http.StatusOK); got.String("scope") != "orders:read" {
				t.Errorf("narrowed scope %v", got.Body)
			}
			// second was used; presenting first (used before) again revokes
			// the whole grant, with every access token it issued.
			refresh(t, s, w.spa, first, "").Want(t, http.StatusBadRequest).WantField(t, "error", "invalid_grant")
			if r := s.Do("POST", "/v1/verify", "", map[string]any{"token": tok.AccessToken}); r.Body["valid"] == true {
				t.Errorf("an access token of a revoked grant still verifies: %v", r.Body)
			}
			if !hasEvent(t, s, "oauth_grant.revoked", keysmith.GrantRevokedRefreshReused) {
				t.Error("no oauth_grant.revoked event for the reuse")
			}
		})

		t.Run("RefreshCannotWidenTheScope", func(t *testing.T) {
			tok, _, _ := w.flow(t, w.spa, "offline_access")
			refresh(t, s, w.spa, tok.RefreshToken, "orders:read").Want(t, http.StatusBadRequest).WantField(t, "error", "invalid_scope")
		})

		t.Run("RefreshTokenOfAnotherClientIsRefused", func(t *testing.T) {
			tok, _, _ := w.flow(t, w.web, "offline_access")
			refresh(t, s, w.spa, tok.RefreshToken, "").Want(t, http.StatusBadRequest).WantField(t, "error", "invalid_grant")
		})

		t.Run("DeactivationAndConsentRevocationEndTheGrant", func(t *testing.T) {
			tok, _, _ := w.flow(t, w.spa, "offline_access", "orders:read")
			if err := s.App.Store.RevokeConsent(w.ctx, w.person, w.spa.ID); err != nil {
				t.Fatal(err)
			}
			refresh(t, s, w.spa, tok.RefreshToken, "").Want(t, http.StatusBadRequest).WantField(t, "error", "invalid_grant")
			if r := s.Do("POST", "/v1/verify", "", map[string]any{"token": tok.AccessToken}); r.Body["valid"] == true {
				t.Errorf("access token valid after consent revoked: %v", r.Body)
			}
			other, _ := s.AddUser(keysmith.RoleReadOnlyAdmin, "")
			cfg := w.spa.config(s, "offline_access")
			v := oauth2.GenerateVerifier()
			code := codeFor(t, s, other, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
			tok2, err := cfg.Exchange(w.ctx, code, oauth2.VerifierOption(v))
			if err != nil {
				t.Fatal(err)
			}
			s.Do("POST", "/v1/users/"+other+"/deactivate", s.AdminToken, nil).Want(t, http.StatusOK)
			refresh(t, s, w.spa, tok2.RefreshToken, "").Want(t, http.StatusBadRequest).WantField(t, "error", "invalid_grant")
			if r := s.Do("POST", "/v1/verify", "", map[string]any{"token": tok2.AccessToken}); r.Body["valid"] == true {
				t.Errorf("access token valid after its person was deactivated: %v", r.Body)
			}
		})

		t.Run("OnlyOwnerAndOrgAdminsRedirectAClient", func(t *testing.T) {
			// A redirect URI routes the tokens of everyone who consented:
			// a group admin, who may manage the client, may not add one.
			_, ga := s.AddUser(keysmith.RoleGroupAdmin, "")
			_, dev := s.AddUser(keysmith.RoleDeveloper, "")
			c := newClient(t, s, dev, map[string]any{"token_endpoint_auth_method": "none",
				"grant_types": []string{"authorization_code"}, "redirect_uris": []string{"https://dev.example/cb"}})
			for _, body := range []map[string]any{{"redirect_uris": []string{"https://dev.example/cb", "https://evil.example/cb"}},
				{"post_logout_redirect_uris": []string{"https://evil.example/"}}, {"grant_types": []string{"authorization_code", "refresh_token"}}} {
				s.Do("PATCH", "/v1/oauth/clients/"+c.ID, ga, body).Want(t, http.StatusForbidden)
			}
			s.Do("PATCH", "/v1/oauth/clients/"+c.ID, ga, map[string]any{"name": "renamed by the group admin"}).Want(t, http.StatusOK)
			s.Do("PATCH", "/v1/oauth/clients/"+c.ID, dev, map[string]any{"redirect_uris": []string{"https://dev.example/cb2"}}).Want(t, http.StatusOK)
			s.Do("PATCH", "/v1/oauth/clients/"+c.ID, s.AdminToken, map[string]any{"redirect_uris": []string{"https://dev.example/cb3"}}).Want(t, http.StatusOK)
		})

		t.Run("RefreshTokensNeedOfflineAccess", func(t *testing.T) {
			tok, _, _ := w.flow(t, w.spa, "openid", "orders:read")
			if tok.RefreshToken != "" {
				t.Errorf("a refresh token without offline_access consented")
			}
		})

		t.Run("APersonsTokenLivesAtMostAnHour", func(t *testing.T) {
			long := newCodeClient(t, s, keysmith.CreateClientInput{Scopes: []string{"orders:read"}, TokenFormat: "opaque",
				TokenTTLSeconds: ptr(int64(10 * 365 * 24 * 3600)), RedirectURIs: []string{w.redirectWeb}})
			tok, _, _ := w.flow(t, long, "orders:read")
			if d := time.Until(tok.Expiry); d > time.Hour+time.Minute {
				t.Errorf("a person's access token lives %v", d)
			}
		})

		t.Run("DiscoveryDescribesTheCodeFlow", func(t *testing.T) {
			r := s.Do("GET", "/.well-known/openid-configuration", "", nil).Want(t, http.StatusOK)
			for _, k := range []string{"authorization_endpoint", "userinfo_endpoint", "end_session_endpoint"} {
				if r.String(k) == "" {
					t.Errorf("no %s", k)
				}
			}
			if rt, _ := r.Body["response_types_supported"].([]any); len(rt) != 1 || rt[0] != "code" {
				t.Errorf("response_types_supported %v", r.Body["response_types_supported"])
			}
			if r.Body["authorization_response_iss_parameter_supported"] != true {
				t.Error("iss parameter not advertised")
			}
		})
	})
}

// refresh posts a refresh_token grant for c (its secret by Basic, or its id
// alone for a public client).
func refresh(t *testing.T, s *apptest.Server, c codeClient, token, scope string) apptest.Response {
	t.Helper()
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	if scope != "" {
		f.Set("scope", scope)
	}
	if c.Public() {
		f.Set("client_id", c.ID)
		return postForm(t, s, "/v1/oauth/token", "", "", "", f)
	}
	return postForm(t, s, "/v1/oauth/token", c.ID, c.Secret, "", f)
}

// hasEvent reports whether the system log holds an event of the type whose
// data has that reason.
func hasEvent(t *testing.T, s *apptest.Server, typ, reason string) bool {
	t.Helper()
	r := s.Do("GET", "/v1/logs?type="+typ, s.AdminToken, nil).Want(t, http.StatusOK)
	items, _ := r.Body["items"].([]any)
	for _, it := range items {
		e, _ := it.(map[string]any)
		if d, _ := e["details"].(map[string]any); d["reason"] == reason {
			return true
		}
	}
	return false
}

// exchange posts an authorization_code grant by hand, for the cases a
// library would not send.
func exchange(t *testing.T, s *apptest.Server, c codeClient, code, redirect, verifier string) apptest.Response {
	t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	if c.Public() {
		f.Set("client_id", c.ID)
		return postForm(t, s, "/v1/oauth/token", "", "", "", f)
	}
	return postForm(t, s, "/v1/oauth/token", c.ID, c.Secret, "", f)
}

func TestAuthorizationCodeNegativeCases(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		w := newCodeWorld(t, dsn)
		s := w.s
		// code returns a fresh code for c with an S256 challenge of verifier.
		code := func(t *testing.T, c codeClient, verifier string) string {
			t.Helper()
			return codeFor(t, s, w.person, c.config(s, "orders:read").AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
		}
		bad := func(t *testing.T, r apptest.Response, want string) {
			t.Helper()
			r.Want(t, http.StatusBadRequest).WantField(t, "error", want)
		}

		t.Run("WrongOrMissingVerifier", func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			bad(t, exchange(t, s, w.spa, code(t, w.spa, v), w.redirectSPA, oauth2.GenerateVerifier()), "invalid_grant")
			bad(t, exchange(t, s, w.spa, code(t, w.spa, v), w.redirectSPA, ""), "invalid_grant")
		})

		t.Run("PlainRefusedUnlessAllowed", func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			q := url.Values{"response_type": {"code"}, "client_id": {w.spa.ID}, "redirect_uri": {w.redirectSPA},
				"code_challenge": {v}, "code_challenge_method": {"plain"}, "state": {"s"}}
			_, err := s.App.OAuth.ParseAuthorize(w.ctx, q)
			var ae *oauth.AuthorizeError
			if !errors.As(err, &ae) || ae.RedirectTo == "" || ae.Code != "invalid_request" {
				t.Fatalf("plain: %v", err)
			}
			if _, _, _, err := s.App.Service.CreateClient(w.ctx, keysmith.Principal{User: adminUser(t, s)}, keysmith.CreateClientInput{
				Name: "public plain", Environment: "sandbox", GrantTypes: []string{keysmith.GrantAuthorizationCode},
				RedirectURIs: []string{w.redirectSPA}, TokenEndpointAuthMethod: keysmith.AuthNone, PKCEAllowPlain: ptr(true)}); keysmith.ErrorCode(err) != keysmith.CodeInvalid {
				t.Errorf("a public client allowing plain: %v, want invalid", err)
			}
			plain := newCodeClient(t, s, keysmith.CreateClientInput{Scopes: []string{"orders:read"},
				RedirectURIs: []string{w.redirectSPA}, PKCEAllowPlain: ptr(true)})
			q.Set("client_id", plain.ID)
			if _, err := s.App.OAuth.ParseAuthorize(w.ctx, q); err != nil {
				t.Fatalf("plain allowed: %v", err)
			}
			c := codeFor(t, s, w.person, (&url.URL{Scheme: "http", Host: "x", RawQuery: q.Encode()}).String())
			exchange(t, s, plain, c, w.redirectSPA, v).Want(t, http.StatusOK)
		})

		t.Run("PublicClientNeedsAChallenge", func(t *testing.T) {
			_, err := authorize(t, s, w.person, w.spa.config(s).AuthCodeURL("s"))
			var ae *oauth.AuthorizeError
			if !errors.As(err, &ae) || ae.Code != "invalid_request" {
				t.Fatalf("no challenge: %v", err)
			}
		})

		t.Run("CodeReusedRevokesTheFirstExchange", func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			c := code(t, w.web, v)
			first := exchange(t, s, w.web, c, w.redirectWeb, v).Want(t, http.StatusOK)
			bad(t, exchange(t, s, w.web, c, w.redirectWeb, v), "invalid_grant")
			if r := s.Do("POST", "/v1/verify", "", map[string]any{"token": first.String("access_token")}); r.Body["valid"] == true {
				t.Errorf("the first exchange's access token survives a reuse: %v", r.Body)
			}
			refresh(t, s, w.web, first.String("refresh_token"), "").Want(t, http.StatusBadRequest)
			if !hasEvent(t, s, "oauth_grant.revoked", keysmith.GrantRevokedCodeReused) {
				t.Error("no oauth_grant.revoked event for the code reuse")
			}
		})

		t.Run("CodeOfAnotherClient", func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			bad(t, exchange(t, s, w.web, code(t, w.spa, v), w.redirectSPA, v), "invalid_grant")
		})

		t.Run("RedirectURIMustMatchTheCodes", func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			bad(t, exchange(t, s, w.spa, code(t, w.spa, v), w.redirectSPA+"/", v), "invalid_grant")
		})

		t.Run("ExpiredCode", func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			c := code(t, w.spa, v)
			s.Clock.Advance(61 * time.Second)
			bad(t, exchange(t, s, w.spa, c, w.redirectSPA, v), "invalid_grant")
		})

		t.Run("ConfidentialClientWithoutItsSecret", func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			c := code(t, w.web, v)
			r := postForm(t, s, "/v1/oauth/token", "", "", "", url.Values{"grant_type": {"authorization_code"},
				"code": {c}, "redirect_uri": {w.redirectWeb}, "code_verifier": {v}, "client_id": {w.web.ID}})
			r.Want(t, http.StatusUnauthorized).WantField(t, "error", "invalid_client")
		})

		t.Run("PublicClientCannotUseClientCredentials", func(t *testing.T) {
			r := postForm(t, s, "/v1/oauth/token", "", "", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {w.spa.ID}})
			r.Want(t, http.StatusBadRequest).WantField(t, "error", "unauthorized_client")
		})

		t.Run("VerifierWithoutChallengeIsADowngrade", func(t *testing.T) {
			loose := newCodeClient(t, s, keysmith.CreateClientInput{Scopes: []string{"orders:read"},
				RedirectURIs: []string{w.redirectWeb}, PKCERequired: ptr(false)})
			c := codeFor(t, s, w.person, loose.config(s).AuthCodeURL("s"))
			bad(t, exchange(t, s, loose, c, w.redirectWeb, oauth2.GenerateVerifier()), "invalid_grant")
		})

		t.Run("UnregisteredRedirectURIsAreNeverRedirectedTo", func(t *testing.T) {
			for _, uri := range []string{w.redirectSPA + "/", "HTTP://127.0.0.1:7777/cb", w.redirectSPA + "?x=1",
				"http://user@127.0.0.1:7777/cb", "http://127.0.0.1:7778/cb", "http://127.0.0.1:7777/cb#f", ""} {
				q := url.Values{"response_type": {"code"}, "client_id": {w.spa.ID}, "redirect_uri": {uri},
					"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
				if uri == "" {
					q.Set("redirect_uri", "https://evil.example/cb")
				}
				_, err := s.App.OAuth.ParseAuthorize(w.ctx, q)
				var ae *oauth.AuthorizeError
				if !errors.As(err, &ae) || ae.RedirectTo != "" {
					t.Errorf("redirect_uri %q: %v (redirect to %q)", uri, err, ae.RedirectTo)
				}
			}
		})

		t.Run("ErrorsCarryStateAndIssuer", func(t *testing.T) {
			q := url.Values{"response_type": {"token"}, "client_id": {w.spa.ID}, "redirect_uri": {w.redirectSPA}, "state": {"xyz"}}
			_, err := s.App.OAuth.ParseAuthorize(w.ctx, q)
			var ae *oauth.AuthorizeError
			if !errors.As(err, &ae) || ae.RedirectTo == "" {
				t.Fatalf("%v", err)
			}
			to, _ := url.Parse(ae.RedirectTo)
			if g := to.Query(); g.Get("error") != "unsupported_response_type" || g.Get("state") != "xyz" || g.Get("iss") != s.URL {
				t.Errorf("error redirect %s", ae.RedirectTo)
			}
		})

		t.Run("UserinfoNeedsOpenID", func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			tok := exchange(t, s, w.spa, code(t, w.spa, v), w.redirectSPA, v).Want(t, http.StatusOK).String("access_token")
			s.Do("GET", "/v1/oauth/userinfo", tok, nil).Want(t, http.StatusForbidden)
			s.Do("GET", "/v1/oauth/userinfo", "ksa_garbage", nil).Want(t, http.StatusUnauthorized)
		})
	})
}

func adminUser(t *testing.T, s *apptest.Server) *keysmith.User {
	t.Helper()
	u, err := s.App.Store.FindUserByID(context.Background(), s.AdminID)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
