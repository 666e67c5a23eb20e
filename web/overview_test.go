package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/web/webtest"
)

// personWithToken stores an active person of role with the password
// "password of EMAIL" and returns their id and an API token of theirs.
func personWithToken(t *testing.T, srv *apptest.Server, role keysmith.Role, email string) (id, token string) {
	t.Helper()
	id, token = srv.AddUser(role, email)
	if _, err := srv.App.Service.SetPasswordByEmail(context.Background(), email, "password of "+email); err != nil {
		t.Fatal(err)
	}
	return id, token
}

// signIn signs b in as a new person of role and returns their API token.
func signIn(b *webtest.Browser, role keysmith.Role, email string) string {
	b.T.Helper()
	_, token := personWithToken(b.T, b.Server, role, email)
	b.SignIn(email, "password of "+email)
	return token
}

// fetch GETs a page with the browser's session cookie, as a download or a
// typed URL would, and returns the response with its body read.
func fetch(b *webtest.Browser, path string) (*http.Response, string) {
	b.T.Helper()
	req, err := http.NewRequest(http.MethodGet, b.Server.URL+path, nil)
	if err != nil {
		b.T.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "keysmith_session", Value: b.SessionCookie()})
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		b.T.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.T.Fatal(err)
	}
	return resp, string(body)
}

// TestOverviewCountsTokensByStatus: the overview counts the tokens the
// caller may see by status, each card linking to its list, and lists the
// token that expires within the week; a developer counts only their own.
func TestOverviewCountsTokensByStatus(t *testing.T) {
	b := webtest.New(t)
	olga := signIn(b, keysmith.RoleOrgAdmin, "olga@example.com")
	srv := b.Server
	create := func(name string, body map[string]any) string {
		body["name"] = name
		return srv.Do("POST", "/v1/tokens", olga, body).Want(t, http.StatusCreated).String("id")
	}
	create("still-good", map[string]any{})
	revoked := create("revoked-one", map[string]any{})
	srv.Do("DELETE", "/v1/tokens/"+revoked, olga, nil).Want(t, http.StatusNoContent)
	disabled := create("disabled-one", map[string]any{})
	srv.Do("PATCH", "/v1/tokens/"+disabled, olga, map[string]any{"enabled": false}).Want(t, http.StatusOK)
	soon := create("expires-soon", map[string]any{"expires_at": srv.Clock.Now().Add(72 * time.Hour)})
	create("expires-later", map[string]any{"expires_at": srv.Clock.Now().Add(20 * 24 * time.Hour)})
	personWithToken(t, srv, keysmith.RoleDeveloper, "dev@example.com")
	// A daemon agent keeps its token when deactivated: it shows as suspicious.
	agent := srv.Do("POST", "/v1/agents", olga, map[string]any{"name": "collector", "kind": "daemon"}).Want(t, http.StatusCreated).String("id")
	srv.Do("POST", "/v1/agents/"+agent+"/activate", olga, nil).Want(t, http.StatusOK)
	srv.Do("POST", "/v1/agents/"+agent+"/deactivate", olga, nil).Want(t, http.StatusOK)

	// What the API counts for olga, who sees every token.
	sum := srv.Do("GET", "/v1/tokens/summary", olga, nil).Want(t, http.StatusOK).Body["by_status"].(map[string]any)
	if sum["revoked"] != 1.0 || sum["disabled"] != 1.0 || sum["suspicious"] != 1.0 {
		t.Fatalf("seeded summary: %v", sum)
	}
	b.Open("/")
	for _, st := range []string{"active", "expired", "revoked", "disabled", "suspicious"} {
		want := 0
		if n, ok := sum[st].(float64); ok {
			want = int(n)
		}
		sel := fmt.Sprintf(`.stat-cards a[href="/tokens?status=%s"]`, st)
		got := b.Text(sel)
		if !strings.Contains(got, fmt.Sprint(want)) || !strings.Contains(strings.ToLower(got), st) {
			t.Errorf("card %s: %q, want %d and the word", st, got, want)
		}
	}
	expiring := b.Text("table.expiring tbody")
	if !strings.Contains(expiring, "expires-soon") || strings.Contains(expiring, "expires-later") || strings.Contains(expiring, "still-good") {
		t.Errorf("expiring list: %q", expiring)
	}
	if !b.Has(`table.expiring a[href="/tokens/` + soon + `"]`) {
		t.Error("the expiring token does not link to its page")
	}
	if got := b.Text("table.suspicious tbody"); !strings.Contains(got, "collector") {
		t.Errorf("suspicious list: %q", got)
	}
	if !b.Has(`table.recent tbody tr`) || !b.Has(`a[href="/logs"]`) {
		t.Error("an org admin sees no recent events")
	}
	shots(b, "overview")

	dev := webtest.On(t, srv)
	dev.SignIn("dev@example.com", "password of dev@example.com")
	if got := dev.Text(`.stat-cards a[href="/tokens?status=active"]`); !strings.Contains(got, "1") {
		t.Errorf("developer's active card: %q, want their one token", got)
	}
	if got := dev.Text(`.stat-cards a[href="/tokens?status=revoked"]`); !strings.Contains(got, "0") {
		t.Errorf("developer's revoked card: %q, want 0 (olga's are not theirs)", got)
	}
	if dev.Has("table.recent") || dev.Has(`a[href="/logs"]`) {
		t.Error("a developer sees the system log on the overview")
	}
}
