package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/client"
	"github.com/keysmith/keysmith/storetest"
)

// start runs a real Keysmith server and answers it with a client for its
// first super admin.
func start(t *testing.T) (*apptest.Server, *client.Client) {
	t.Helper()
	s := apptest.Start(t, storetest.SQLite(t), app.Config{})
	return s, newClient(t, s.URL, s.AdminToken)
}

func newClient(t *testing.T, url, token string) *client.Client {
	t.Helper()
	c, err := client.New(url, token, client.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// must answers v, failing the test on err: must(c.GetToken(ctx, id))(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// wantError fails the test unless err is an *Error with status and code.
func wantError(t *testing.T, err error, status int, code string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *client.Error", err, err)
	}
	if e.Status != status || e.Code != code || e.Description == "" {
		t.Fatalf("error %d %q %q, want %d %q with a description", e.Status, e.Code, e.Description, status, code)
	}
	return e
}

func ptr[T any](v T) *T { return &v }

// TestClient runs every call of the client against one real server; the
// rate-limit test comes last, as it spends the admin's budget.
func TestClient(t *testing.T) {
	s, c := start(t)
	s.AddAPI(keysmith.Scope{Name: "orders:read"}, keysmith.Scope{Name: "orders:write"})
	for _, tc := range []struct {
		name string
		test func(*testing.T, *apptest.Server, *client.Client)
	}{
		{"Tokens", testTokens}, {"Verify", testVerify}, {"AppsAndKeys", testAppsAndKeys},
		{"OAuthClientsAndSecrets", testOAuthClientsAndSecrets}, {"APIs", testAPIs},
		{"UsersAndGroups", testUsersAndGroups}, {"ZonesSettingsAndLogs", testZonesSettingsAndLogs},
		{"ErrorsCarryRetryAfter", testErrorsCarryRetryAfter},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, s, c) })
	}
}

func TestNewRefusesABaseURLThatIsNotAbsoluteHTTP(t *testing.T) {
	for _, u := range []string{"", "keysmith.example", "ftp://keysmith.example", "http://", "https://k.example/?a=b", "https://u:p@k.example"} {
		if _, err := client.New(u, ""); err == nil {
			t.Errorf("New(%q) = nil error, want one", u)
		}
	}
	if _, err := client.New("https://keysmith.example/", "ks_x"); err != nil {
		t.Errorf("New with a trailing slash: %v", err)
	}
}

func testTokens(t *testing.T, s *apptest.Server, c *client.Client) {
	ctx := context.Background()

	created := must(c.CreateToken(ctx, client.CreateToken{Name: "deploy", Scopes: []string{"orders:read"},
		Meta: json.RawMessage(`{"team":"ops"}`)}))(t)
	if !strings.HasPrefix(created.Secret, "ks_") || created.ID == "" || created.Status != "active" ||
		!slices.Equal(created.Scopes, []string{"orders:read"}) {
		t.Fatalf("created %+v", created)
	}

	t.Run("GetShowsNoSecret", func(t *testing.T) {
		got := must(c.GetToken(ctx, created.ID))(t)
		if got.Secret != "" || got.Name != "deploy" || got.OwnerID != s.AdminID || got.Owner.Email != "admin@localhost" {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("UnknownIsNotFound", func(t *testing.T) {
		_, err := c.GetToken(ctx, "tok_nope")
		wantError(t, err, http.StatusNotFound, "not_found")
	})
	t.Run("AnIDStaysInItsPathSegment", func(t *testing.T) {
		// Escaped once: "../summary" is an id, not a way to another path.
		for _, id := range []string{"../summary", "a/b", "x?y", "50%"} {
			_, err := c.GetToken(ctx, id)
			wantError(t, err, http.StatusNotFound, "not_found")
		}
	})
	t.Run("ListPagesWithTheCursor", func(t *testing.T) {
		for i := range 3 {
			must(c.CreateToken(ctx, client.CreateToken{Name: "page " + string(rune('a'+i))}))(t)
		}
		first := must(c.ListTokens(ctx, client.TokenFilter{ListOptions: client.ListOptions{Limit: 2}, Query: "page"}))(t)
		if len(first.Items) != 2 || first.NextCursor == "" {
			t.Fatalf("first page %d items, cursor %q", len(first.Items), first.NextCursor)
		}
		var names []string
		for tok, err := range client.All(ctx, func(ctx context.Context, cursor string) (*client.Page[client.Token], error) {
			return c.ListTokens(ctx, client.TokenFilter{ListOptions: client.ListOptions{Limit: 2, Cursor: cursor}, Query: "page"})
		}) {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, tok.Name)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"page a", "page b", "page c"}) {
			t.Fatalf("All walked %v", names)
		}
	})
	t.Run("AllStopsAtTheFirstError", func(t *testing.T) {
		n := 0
		for _, err := range client.All(ctx, func(ctx context.Context, cursor string) (*client.Page[client.Token], error) {
			return c.ListTokens(ctx, client.TokenFilter{Status: "no-such-status"})
		}) {
			n++
			wantError(t, err, http.StatusBadRequest, "invalid_request")
		}
		if n != 1 {
			t.Fatalf("yielded %d times, want 1", n)
		}
	})
	t.Run("Update", func(t *testing.T) {
		got := must(c.UpdateToken(ctx, created.ID, client.UpdateToken{Name: ptr("renamed"), Enabled: ptr(false)}))(t)
		if got.Name != "renamed" || got.Enabled || got.Status != "disabled" {
			t.Fatalf("updated %+v", got)
		}
		must(c.UpdateToken(ctx, created.ID, client.UpdateToken{Enabled: ptr(true)}))(t)
	})
	t.Run("RotateAnswersANewSecret", func(t *testing.T) {
		got := must(c.RotateToken(ctx, created.ID, 0))(t)
		if got.Secret == "" || got.Secret == created.Secret || got.RotatedAt == nil {
			t.Fatalf("rotated %+v", got)
		}
		v := must(c.Verify(ctx, client.VerifyRequest{Token: created.Secret}))(t)
		if v.Valid {
			t.Fatalf("the old secret still verifies: %+v", v)
		}
		created.Secret = got.Secret
	})
	t.Run("Revoke", func(t *testing.T) {
		if err := c.RevokeToken(ctx, created.ID); err != nil {
			t.Fatal(err)
		}
		if got := must(c.GetToken(ctx, created.ID))(t); got.Status != "revoked" {
			t.Fatalf("status %q after revoke", got.Status)
		}
	})
	t.Run("ABadTokenIsUnauthorized", func(t *testing.T) {
		_, err := newClient(t, s.URL, "ks_garbage").ListTokens(ctx, client.TokenFilter{})
		wantError(t, err, http.StatusUnauthorized, "unauthorized")
	})
}

func testVerify(t *testing.T, s *apptest.Server, c *client.Client) {
	ctx := context.Background()
	tok := must(c.CreateToken(ctx, client.CreateToken{Name: "v", Scopes: []string{"orders:read"}}))(t)
	// Verify needs no token of its own.
	anon := newClient(t, s.URL, "")

	v := must(anon.Verify(ctx, client.VerifyRequest{Token: tok.Secret, Scopes: []string{"orders:read"}}))(t)
	if !v.Valid || v.Code != client.CodeValid || v.TokenID != tok.ID || v.OwnerID != s.AdminID || v.Owner == nil ||
		v.RateLimit == nil || v.Type != "user" {
		t.Fatalf("valid: %+v", v)
	}
	v = must(anon.Verify(ctx, client.VerifyRequest{Token: tok.Secret, Permissions: "orders:write"}))(t)
	if v.Valid || v.Code != client.CodeInsufficientPermissions || !slices.Equal(v.Missing, []string{"orders:write"}) {
		t.Fatalf("missing a scope: %+v", v)
	}
	v = must(anon.Verify(ctx, client.VerifyRequest{Token: "ks_nope"}))(t)
	if v.Valid || v.Code != client.CodeMalformed {
		t.Fatalf("garbage: %+v", v)
	}
	_, err := anon.Verify(ctx, client.VerifyRequest{Token: tok.Secret, IP: "not an address"})
	wantError(t, err, http.StatusBadRequest, "invalid_request")
}

func testAppsAndKeys(t *testing.T, s *apptest.Server, c *client.Client) {
	ctx := context.Background()

	a := must(c.CreateApp(ctx, client.CreateApp{Name: "shop", Description: "the shop"}))(t)
	if a.ID == "" || a.OwnerID != s.AdminID {
		t.Fatalf("created %+v", a)
	}
	if got := must(c.GetApp(ctx, a.ID))(t); got.Name != "shop" {
		t.Fatalf("got %+v", got)
	}
	if got := must(c.UpdateApp(ctx, a.ID, client.UpdateApp{Name: ptr("store")}))(t); got.Name != "store" || got.Description != "the shop" {
		t.Fatalf("updated %+v", got)
	}
	if l := must(c.ListApps(ctx, client.ListOptions{}))(t); !slices.ContainsFunc(l.Items, func(x client.App) bool { return x.ID == a.ID }) {
		t.Fatalf("listed %+v", l)
	}

	k := must(c.CreateAppKey(ctx, a.ID, client.CreateAppKey{Name: "backend", Environment: "production", Scopes: []string{"orders:read"}}))(t)
	if !strings.HasPrefix(k.Secret, "ksk_") || k.AppID != a.ID || k.Environment != "production" {
		t.Fatalf("key %+v", k)
	}
	if got := must(c.GetAppKey(ctx, a.ID, k.ID))(t); got.Secret != "" || got.Name != "backend" {
		t.Fatalf("got key %+v", got)
	}
	if l := must(c.ListAppKeys(ctx, a.ID, client.AppKeyFilter{Status: "active"}))(t); len(l.Items) != 1 {
		t.Fatalf("listed keys %+v", l)
	}
	if got := must(c.UpdateAppKey(ctx, a.ID, k.ID, client.UpdateToken{Name: ptr("api")}))(t); got.Name != "api" {
		t.Fatalf("updated key %+v", got)
	}
	rot := must(c.RotateAppKey(ctx, a.ID, k.ID, time.Hour))(t)
	if rot.Secret == "" || rot.Secret == k.Secret || rot.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotated key %+v", rot)
	}
	v := must(c.Verify(ctx, client.VerifyRequest{Token: rot.Secret, Environment: "production"}))(t)
	if !v.Valid || v.AppID != a.ID || v.Environment != "production" || v.Type != "app_key" {
		t.Fatalf("verify the key: %+v", v)
	}
	if err := c.RevokeAppKey(ctx, a.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	if got := must(c.GetAppKey(ctx, a.ID, k.ID))(t); got.Status != "revoked" {
		t.Fatalf("status %q after revoke", got.Status)
	}
	if err := c.DeleteApp(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetApp(ctx, a.ID)
	wantError(t, err, http.StatusNotFound, "not_found")
}

func testOAuthClientsAndSecrets(t *testing.T, s *apptest.Server, c *client.Client) {
	ctx := context.Background()
	a := must(c.CreateApp(ctx, client.CreateApp{Name: "shop"}))(t)

	oc := must(c.CreateOAuthClient(ctx, client.CreateOAuthClient{Name: "worker", AppID: a.ID, Environment: "sandbox",
		Scopes: []string{"orders:read"}}))(t)
	if oc.ID == "" || oc.Secret == "" || oc.SecretID == "" || oc.AppID != a.ID || oc.RecordID != oc.ID || oc.KeyManager != "keysmith" {
		t.Fatalf("created %+v", oc)
	}
	if got := must(c.GetOAuthClient(ctx, oc.ID))(t); got.Secret != "" || got.Name != "worker" {
		t.Fatalf("got %+v", got)
	}
	if l := must(c.ListOAuthClients(ctx, client.OAuthClientFilter{AppID: a.ID}))(t); len(l.Items) != 1 || l.Items[0].ID != oc.ID {
		t.Fatalf("listed %+v", l)
	}
	got := must(c.UpdateOAuthClient(ctx, oc.ID, client.UpdateOAuthClient{Scopes: &[]string{"orders:read", "orders:write"}}))(t)
	if !slices.Equal(got.Scopes, []string{"orders:read", "orders:write"}) {
		t.Fatalf("updated %+v", got)
	}

	second := must(c.CreateClientSecret(ctx, oc.ID, client.CreateClientSecret{Description: "next"}))(t)
	if second.Secret == "" || second.ID == "" || second.Description != "next" {
		t.Fatalf("second secret %+v", second)
	}
	secs := must(c.ListClientSecrets(ctx, oc.ID))(t)
	if len(secs) != 2 || secs[0].Secret != "" || secs[1].Secret != "" {
		t.Fatalf("listed secrets %+v", secs)
	}
	if err := c.DeleteClientSecret(ctx, oc.ID, oc.SecretID); err != nil {
		t.Fatal(err)
	}
	reset := must(c.ResetClientSecrets(ctx, oc.ID, client.CreateClientSecret{}))(t)
	if reset.Secret == "" {
		t.Fatalf("reset %+v", reset)
	}
	if secs := must(c.ListClientSecrets(ctx, oc.ID))(t); len(secs) != 1 || secs[0].ID != reset.ID {
		t.Fatalf("after reset %+v", secs)
	}
	if err := c.RevokeOAuthClient(ctx, oc.ID); err != nil {
		t.Fatal(err)
	}
	if got := must(c.GetOAuthClient(ctx, oc.ID))(t); got.Status != "revoked" || got.RevokedAt == nil {
		t.Fatalf("after revoke %+v", got)
	}
}

func testAPIs(t *testing.T, s *apptest.Server, c *client.Client) {
	ctx := context.Background()
	a := must(c.CreateAPI(ctx, client.CreateAPI{Name: "Catalog", Identifier: "https://catalog.example",
		Scopes: []client.Scope{{Name: "catalog:read", SelfService: true}}}))(t)
	if a.ID == "" || len(a.Scopes) != 1 || !a.Scopes[0].SelfService {
		t.Fatalf("created %+v", a)
	}
	if got := must(c.GetAPI(ctx, a.ID))(t); got.Identifier != "https://catalog.example" {
		t.Fatalf("got %+v", got)
	}
	got := must(c.UpdateAPI(ctx, a.ID, client.UpdateAPI{Scopes: &[]client.Scope{{Name: "catalog:read"}, {Name: "catalog:write"}}}))(t)
	if len(got.Scopes) != 2 {
		t.Fatalf("updated %+v", got)
	}
	l := must(c.ListAPIs(ctx))(t)
	if !slices.ContainsFunc(l.Items, func(x client.API) bool { return x.ID == a.ID }) || len(l.BuiltinScopes) == 0 {
		t.Fatalf("listed %+v", l)
	}
	_, err := c.CreateAPI(ctx, client.CreateAPI{Name: "Catalog again", Identifier: "https://catalog.example"})
	wantError(t, err, http.StatusConflict, "conflict")
	if err := c.DeleteAPI(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
}

func testUsersAndGroups(t *testing.T, s *apptest.Server, c *client.Client) {
	ctx := context.Background()
	u := must(c.CreateUser(ctx, client.CreateUser{Email: "ann@example.com", Name: "Ann", Role: "developer"}))(t)
	if u.ID == "" || u.Status != "active" || u.Type != "person" {
		t.Fatalf("created %+v", u)
	}
	if got := must(c.GetUser(ctx, u.ID))(t); got.Email != "ann@example.com" {
		t.Fatalf("got %+v", got)
	}
	if got := must(c.UpdateUser(ctx, u.ID, client.UpdateUser{Name: ptr("Ann B")}))(t); got.Name != "Ann B" {
		t.Fatalf("updated %+v", got)
	}
	if l := must(c.ListUsers(ctx, client.UserFilter{Role: "developer"}))(t); len(l.Items) != 1 || l.Items[0].ID != u.ID {
		t.Fatalf("listed %+v", l)
	}
	if got := must(c.DeactivateUser(ctx, u.ID))(t); got.Status != "inactive" {
		t.Fatalf("deactivated %+v", got)
	}
	if got := must(c.ActivateUser(ctx, u.ID))(t); got.Status != "active" {
		t.Fatalf("activated %+v", got)
	}

	g := must(c.CreateGroup(ctx, client.GroupInput{Name: ptr("ops")}))(t)
	if got := must(c.GetGroup(ctx, g.ID))(t); got.Name != "ops" {
		t.Fatalf("got group %+v", got)
	}
	if got := must(c.UpdateGroup(ctx, g.ID, client.GroupInput{Description: ptr("on call")}))(t); got.Description != "on call" {
		t.Fatalf("updated group %+v", got)
	}
	if l := must(c.ListGroups(ctx, client.GroupFilter{Query: "op"}))(t); len(l.Items) != 1 {
		t.Fatalf("listed groups %+v", l)
	}
	if err := c.AddGroupMember(ctx, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if l := must(c.ListGroupMembers(ctx, g.ID, client.UserFilter{}))(t); len(l.Items) != 1 || l.Items[0].ID != u.ID {
		t.Fatalf("members %+v", l)
	}
	if err := c.RemoveGroupMember(ctx, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if l := must(c.ListGroupMembers(ctx, g.ID, client.UserFilter{}))(t); len(l.Items) != 0 {
		t.Fatalf("members after removal %+v", l)
	}
	if err := c.DeleteGroup(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
}

func testZonesSettingsAndLogs(t *testing.T, s *apptest.Server, c *client.Client) {
	ctx := context.Background()
	z := must(c.CreateZone(ctx, client.ZoneInput{Name: ptr("office"), Gateways: &[]string{"203.0.113.0/24"}}))(t)
	if z.ID == "" || !slices.Equal(z.Gateways, []string{"203.0.113.0/24"}) {
		t.Fatalf("created %+v", z)
	}
	if got := must(c.GetZone(ctx, z.ID))(t); got.Name != "office" {
		t.Fatalf("got %+v", got)
	}
	if got := must(c.UpdateZone(ctx, z.ID, client.ZoneInput{Proxies: &[]string{"10.0.0.1"}}))(t); len(got.Proxies) != 1 {
		t.Fatalf("updated %+v", got)
	}
	if zs := must(c.ListZones(ctx))(t); len(zs) != 1 || zs[0].ID != z.ID {
		t.Fatalf("listed %+v", zs)
	}
	if err := c.DeleteZone(ctx, z.ID); err != nil {
		t.Fatal(err)
	}

	limits := must(c.RateLimits(ctx))(t)
	if limits["verified"] == 0 {
		t.Fatalf("limits %v", limits)
	}
	if got := must(c.SetRateLimits(ctx, client.RateLimits{"tokens": 1234}))(t); got["tokens"] != 1234 || got["verified"] != limits["verified"] {
		t.Fatalf("set limits %v", got)
	}
	_, err := c.SetRateLimits(ctx, client.RateLimits{"no_such_group": 1})
	wantError(t, err, http.StatusBadRequest, "invalid_request")

	p := must(c.ListLogs(ctx, client.LogFilter{Type: "zone.created", ListOptions: client.ListOptions{Limit: 10}}))(t)
	if len(p.Items) != 1 || p.Items[0].Hash == "" || p.Items[0].Actor.ID == "" {
		t.Fatalf("logs %+v", p)
	}
	p = must(c.ListLogs(ctx, client.LogFilter{Since: s.Clock.Now().Add(24 * time.Hour)}))(t)
	if len(p.Items) != 0 {
		t.Fatalf("logs from tomorrow %+v", p.Items)
	}
}

func testErrorsCarryRetryAfter(t *testing.T, s *apptest.Server, c *client.Client) {
	ctx := context.Background()
	must(c.SetRateLimits(ctx, client.RateLimits{"tokens": 2}))(t) // 1 a minute for a token at 50 %
	var last error
	for range 3 {
		if _, last = c.ListTokens(ctx, client.TokenFilter{}); last != nil {
			break
		}
	}
	e := wantError(t, last, http.StatusTooManyRequests, "rate_limited")
	if e.RetryAfter <= 0 || client.StatusOf(last) != http.StatusTooManyRequests {
		t.Fatalf("error %+v: want a Retry-After", e)
	}
}
