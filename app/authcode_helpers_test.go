package app_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/apptest"
	"golang.org/x/oauth2"
)

// codeClient is an OAuth client of the authorization code flow, made
// through the service by the first super admin.
type codeClient struct {
	*keysmith.Client
	Secret string // "" for a public client
}

func newCodeClient(t testing.TB, s *apptest.Server, in keysmith.CreateClientInput) codeClient {
	t.Helper()
	ctx := context.Background()
	admin, err := s.App.Store.FindUserByID(ctx, s.AdminID)
	if err != nil {
		t.Fatal(err)
	}
	if in.Name == "" {
		in.Name = "code client"
	}
	if in.Environment == "" {
		in.Environment = "sandbox"
	}
	if in.GrantTypes == nil {
		in.GrantTypes = []string{keysmith.GrantAuthorizationCode, keysmith.GrantRefreshToken}
	}
	c, _, secret, err := s.App.Service.CreateClient(ctx, keysmith.Principal{User: admin}, in)
	if err != nil {
		t.Fatal(err)
	}
	out := codeClient{Client: c}
	if !c.Public() {
		out.Secret = secret.Reveal()
	}
	return out
}

// config is the x/oauth2 configuration of a client.
func (c codeClient) config(s *apptest.Server, scopes ...string) *oauth2.Config {
	style := oauth2.AuthStyleInHeader
	if c.Public() || c.TokenEndpointAuthMethod == keysmith.AuthSecretPost {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: c.RedirectURIs[0], Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/v1/oauth/authorize", TokenURL: s.URL + "/v1/oauth/token", AuthStyle: style}}
}

// authorize plays the person userID at the authorization endpoint for
// authURL: the request is checked as the endpoint checks it, consent is
// given if asked for, and the code is issued. It returns the redirect's
// query (code, state, iss), or the error of the request.
func authorize(t testing.TB, s *apptest.Server, userID, authURL string) (url.Values, error) {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	req, err := s.App.OAuth.ParseAuthorize(ctx, u.Query())
	if err != nil {
		return nil, err
	}
	user, err := s.App.Store.FindUserByID(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	need, err := s.App.OAuth.NeedsConsent(ctx, req, user)
	if err != nil {
		t.Fatal(err)
	}
	if need {
		now := s.Clock.Now()
		if err := s.App.Store.SaveConsent(ctx, &keysmith.Consent{UserID: userID, ClientID: req.Client.ID,
			Scopes: req.Scopes, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	to, err := s.App.OAuth.Approve(ctx, req, user, s.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	back, err := url.Parse(to)
	if err != nil || !strings.HasPrefix(to, req.RedirectURI) {
		t.Fatalf("redirected to %q, not the client's %q", to, req.RedirectURI)
	}
	return back.Query(), nil
}

// codeFor runs authorize and returns the code, failing the test on an error.
func codeFor(t testing.TB, s *apptest.Server, userID, authURL string) string {
	t.Helper()
	q, err := authorize(t, s, userID, authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	return q.Get("code")
}

func ptr[T any](v T) *T { return &v }
