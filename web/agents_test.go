package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/web/webtest"
)

// TestAgentLifecycle: an admin registers an agent, activates it and sees
// its token once (it verifies; reloading the page does not show it again),
// deactivates it (a CI agent's token is revoked) and deletes it.
func TestAgentLifecycle(t *testing.T) {
	b := webtest.New(t)
	srv := b.Server
	signIn(b, keysmith.RoleOrgAdmin, "olga@example.com")
	b.Open("/agents")
	b.Run(sendKeys("#agent-name", "deploy-bot"))
	b.Submit(`form[action="/agents"] button[type=submit]`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "registered") {
		t.Fatalf("after registering: %q", got)
	}
	agentPath := strings.TrimPrefix(webtest.Get(b, chromedp.Location()), srv.URL)
	agentPath = strings.SplitN(agentPath, "?", 2)[0]

	b.Submit(`form[action$="/activate"] button`)
	secret := b.Value("#agent-token")
	if secret == "" || !b.Has(`button[data-copy="agent-token"]`) {
		t.Fatalf("no token shown after activating: %q", b.Body())
	}
	shots(b, "agent-activated")
	v := srv.Do("POST", "/v1/verify", "", map[string]any{"token": secret}).Want(t, http.StatusOK)
	if v.Body["valid"] != true || v.String("type") != "agent" {
		t.Errorf("verify of the shown token: %s", v.Raw)
	}
	b.Open(agentPath)
	if b.Has("#agent-token") || strings.Contains(b.Body(), secret) {
		t.Error("the token is shown again on reload")
	}
	if got := b.Text("dl.facts"); !strings.Contains(got, "Active") {
		t.Errorf("agent after activation: %q", got)
	}
	shots(b, "agent")

	b.Run(dismissConfirms())
	b.Submit(`form[action$="/deactivate"] button`)
	if got := b.Text("dl.facts"); !strings.Contains(got, "Inactive") {
		t.Errorf("agent after deactivation: %q", got)
	}
	if v := srv.Do("POST", "/v1/verify", "", map[string]any{"token": secret}); v.Body["valid"] != false {
		t.Errorf("a deactivated CI agent's token still verifies: %s", v.Raw)
	}
	b.Open("/agents")
	shots(b, "agents")
	b.Open(agentPath)
	b.Run(dismissConfirms())
	b.Submit(`form[action$="/delete"] button`)
	if got := b.Body(); !strings.Contains(got, "deleted") || strings.Contains(got, "deploy-bot") {
		t.Errorf("after deleting: %q", got)
	}
}

// TestAgentsRefusedWithoutTheRight: a read-only admin sees another's agent
// without buttons, and forged posts to activate, deactivate or delete it
// are refused; a developer is not offered registration and a forged one is
// refused. Nothing changes.
func TestAgentsRefusedWithoutTheRight(t *testing.T) {
	b := webtest.New(t)
	srv := b.Server
	id := srv.Do("POST", "/v1/agents", srv.AdminToken, map[string]any{"name": "collector", "kind": "daemon"}).
		Want(t, http.StatusCreated).String("id")
	srv.Do("POST", "/v1/agents/"+id+"/activate", srv.AdminToken, nil).Want(t, http.StatusOK)

	signIn(b, keysmith.RoleReadOnlyAdmin, "rita@example.com")
	b.Open("/agents/" + id)
	if got := b.Text("dl.facts"); !strings.Contains(got, "Active") || !strings.Contains(got, "admin@localhost") {
		t.Errorf("read-only view of the agent: %q", got)
	}
	if b.Has("main form") {
		t.Error("a read-only admin is shown a button on another's agent")
	}
	token := b.CSRF()
	for _, action := range []string{"activate", "deactivate", "delete"} {
		if resp := b.PostForm("/agents/"+id+"/"+action, url.Values{"csrf_token": {token}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("read-only forged %s: %d, want 403", action, resp.StatusCode)
		}
	}
	if got := srv.Do("GET", "/v1/agents/"+id, srv.AdminToken, nil).Want(t, http.StatusOK).String("status"); got != "active" {
		t.Errorf("agent status after forged posts: %q", got)
	}

	dev := webtest.On(t, srv)
	signIn(dev, keysmith.RoleDeveloper, "dev@example.com")
	dev.Open("/agents")
	if dev.Has(`form[action="/agents"]`) {
		t.Error("a developer is offered to register an agent")
	}
	if resp := dev.PostForm("/agents", url.Values{"csrf_token": {dev.CSRF()}, "name": {"sneaky"}, "kind": {"ci"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("developer forged registration: %d, want 403", resp.StatusCode)
	}
	items := srv.Do("GET", "/v1/agents", srv.AdminToken, nil).Want(t, http.StatusOK).Body["items"].([]any)
	if len(items) != 1 {
		t.Errorf("agents after forged posts: %v", items)
	}
}
