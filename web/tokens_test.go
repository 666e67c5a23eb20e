package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/web/webtest"
)

// signedInAdmin starts a server and signs a new org admin in.
func signedInAdmin(t *testing.T) *webtest.Browser {
	t.Helper()
	b := webtest.New(t)
	webtest.AddPerson(t, b.Server, keysmith.RoleOrgAdmin, "olga@example.com", "olga's password")
	b.SignIn("olga@example.com", "olga's password")
	return b
}

// addZone creates a network zone through the JSON API and returns its id.
func addZone(b *webtest.Browser, name string, gateways ...string) string {
	b.T.Helper()
	return b.Server.Do("POST", "/v1/zones", b.Server.AdminToken,
		map[string]any{"name": name, "gateways": gateways}).Want(b.T, http.StatusCreated).String("id")
}

// addToken creates a token of the first admin through the JSON API and
// returns its id and secret.
func addToken(b *webtest.Browser, name string) (id, secret string) {
	b.T.Helper()
	r := b.Server.Do("POST", "/v1/tokens", b.Server.AdminToken, map[string]any{"name": name}).Want(b.T, http.StatusCreated)
	return r.String("id"), r.String("token")
}

// verifyCode is what POST /v1/verify answers for a secret, from 127.0.0.1.
func verifyCode(b *webtest.Browser, secret string) string {
	b.T.Helper()
	return b.Server.Do("POST", "/v1/verify", "", map[string]any{"token": secret}).Want(b.T, http.StatusOK).String("code")
}

// TestCreateTokenShowsItsSecretOnce: a token made with the form (a zone, a
// 30 % share on the slider) shows its secret once with a copy button; a
// reload or going back never shows it again, and the secret verifies with
// the settings chosen.
func TestCreateTokenShowsItsSecretOnce(t *testing.T) {
	b := signedInAdmin(t)
	addZone(b, "office", "127.0.0.1/32")

	b.Open("/tokens")
	b.Submit(`a[href="/tokens/new"]`)
	shots(b, "token-new")
	b.Run(sendKeys("#name", "deploy bot"), chromedp.Click(chromedp.CSS("#network-in_zones")),
		chromedp.WaitVisible(chromedp.CSS("#zones_in")), sendKeys("#zones_in", "office"),
		chromedp.SetValue(chromedp.CSS("#rate_limit_percent"), "30"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#rate_limit_percent").dispatchEvent(new Event("input")); undefined`))
	if got := b.Text("#rate-out"); got != "30 %" {
		t.Errorf("slider shows %q, want 30 %%", got)
	}
	b.Submit(`form[action="/tokens"] button[type=submit]`)
	if got := b.Body(); !strings.Contains(got, "Token created successfully!") {
		t.Fatalf("after create: %q", got)
	}
	if !b.Has(`button.copy[data-copy="token-secret"]`) {
		t.Error("no Copy to clipboard button beside the secret")
	}
	secret := b.Value("#token-secret")
	if !strings.HasPrefix(secret, "ks") {
		t.Fatalf("secret %q", secret)
	}
	href := webtest.Get(b, chromedp.Evaluate[string](`document.querySelector("[data-shown-once] a.button").getAttribute("href")`))
	id := strings.TrimPrefix(href, "/tokens/")
	shots(b, "token-created")

	// Away to the token's page, then back: the secret is gone.
	b.Submit(`[data-shown-once] a.button`)
	b.Run(chromedp.Evaluate[chromedp.Void](`history.back(); undefined`))
	// Back on the entry of the result: kept in the back/forward cache
	// (the secret removed) or loaded again (a GET: the list).
	b.Run(chromedp.WaitVisible(chromedp.CSS(`p.once-gone, table.tokens`)))
	if b.Has("#token-secret") || strings.Contains(b.Body(), secret) {
		t.Error("going back shows the secret again")
	}
	b.Run(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1")))
	if b.Has("#token-secret") || strings.Contains(b.Body(), secret) {
		t.Error("a reload shows the secret again")
	}
	list := b.Server.Do("GET", "/v1/tokens?q=deploy", b.Server.AdminToken, nil).Want(t, http.StatusOK)
	if items, _ := list.Body["items"].([]any); len(items) != 1 {
		t.Errorf("%d tokens named deploy bot, want 1 (a reload must not create another)", len(items))
	}

	if code := verifyCode(b, secret); code != "VALID" {
		t.Errorf("verify from 127.0.0.1 in zone office: %s, want VALID", code)
	}
	tok := b.Server.Do("GET", "/v1/tokens/"+id, b.Server.AdminToken, nil).Want(t, http.StatusOK)
	if got := tok.Body["rate_limit_percent"]; got != float64(30) {
		t.Errorf("rate_limit_percent %v, want 30", got)
	}
	if nw, _ := tok.Body["network"].(map[string]any); nw["mode"] != "in_zones" {
		t.Errorf("network %v, want in_zones", nw)
	}
}

// TestTokenListSearchesSortsAndFilters: the list searches by name, sorts,
// and filters by type with the counts on the left.
func TestTokenListSearchesSortsAndFilters(t *testing.T) {
	b := signedInAdmin(t)
	for _, n := range []string{"alpha one", "alpha two", "beta"} {
		addToken(b, n)
	}
	for _, n := range []string{"builder", "indexer"} {
		id := b.Server.Do("POST", "/v1/agents", b.Server.AdminToken, map[string]any{"name": n, "kind": "daemon"}).
			Want(t, http.StatusCreated).String("id")
		b.Server.Do("POST", "/v1/agents/"+id+"/activate", b.Server.AdminToken, nil).Want(t, http.StatusOK)
	}
	sum := b.Server.Do("GET", "/v1/tokens/summary", b.Server.AdminToken, nil).Want(t, http.StatusOK)
	byType, _ := sum.Body["by_type"].(map[string]any)

	b.Open("/tokens")
	shots(b, "tokens")
	side := strings.Join(strings.Fields(b.Text("nav.side")), " ")
	for label, n := range map[string]any{"All": sum.Body["total"], "User tokens": byType["user"], "Agent tokens": float64(2)} {
		f, _ := n.(float64)
		if want := fmt.Sprintf("%s %d", label, int(f)); !strings.Contains(side, want) {
			t.Errorf("side shows %q, want %q", side, want)
		}
	}

	b.Run(sendKeys("#q", "alpha\n"), chromedp.WaitVisible(chromedp.CSS(`input#q[value="alpha"]`)))
	if got := names(b); got != "alpha two,alpha one" && got != "alpha one,alpha two" {
		t.Errorf("search alpha: %s", got)
	}
	b.Open("/tokens?q=alpha")
	// As without JavaScript: choose both, then Apply.
	b.Run(chromedp.Evaluate[chromedp.Void](`document.querySelector("#sort").value = "name"; document.querySelector("#order").value = "asc"; undefined`))
	b.Submit(`form[role=search] button[type=submit]`)
	if got := names(b); got != "alpha one,alpha two" {
		t.Errorf("search alpha by name ascending: %s", got)
	}

	// More than a page: the Next link keeps the filters.
	ctx := context.Background()
	admin, err := b.Server.App.Store.FindUserByID(ctx, b.Server.AdminID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range keysmith.DefaultPageSize {
		if _, _, err := b.Server.App.Service.CreateToken(ctx, keysmith.Principal{User: admin},
			keysmith.CreateTokenInput{Name: fmt.Sprintf("gamma %02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b.Open("/tokens?type=user&sort=name&order=asc")
	b.Submit(`nav.pager a[rel=next]`)
	if loc := b.Text("nav.side a[aria-current]"); !strings.HasPrefix(loc, "User tokens") {
		t.Errorf("page 2 lost the type filter: current is %q", loc)
	}
	if got := names(b); !strings.HasPrefix(got, "gamma 4") || strings.Contains(got, "alpha") {
		t.Errorf("page 2 by name: %s", got)
	}

	b.Open("/tokens?sort=name&order=asc")
	b.Submit(`nav.side a[href*="type=agent"]`)
	if got := names(b); got != "builder,indexer" {
		t.Errorf("agent tokens: %s", got)
	}
	if !b.Has(`nav.side a[aria-current="true"][href*="type=agent"]`) {
		t.Error("the agent entry is not marked current")
	}
}

// names lists the names in the table, in order.
func names(b *webtest.Browser) string {
	b.T.Helper()
	return webtest.Get(b, chromedp.Evaluate[string](
		`[...document.querySelectorAll("table.tokens tbody td:first-child a")].map(a => a.textContent).join(",")`))
}

// TestTokenPageEditsNetworkAndRevokes: a network option changed on the
// token page applies to the next verify, and so does a revoke.
func TestTokenPageEditsNetworkAndRevokes(t *testing.T) {
	b := signedInAdmin(t)
	addZone(b, "elsewhere", "203.0.113.0/24")
	id, secret := addToken(b, "ci runner")
	if code := verifyCode(b, secret); code != "VALID" {
		t.Fatalf("verify before: %s", code)
	}

	b.Open("/tokens/" + id)
	shots(b, "token")
	b.Run(chromedp.Click(chromedp.CSS(`section[aria-labelledby=h-security] summary`)),
		chromedp.Click(chromedp.CSS("#network-in_zones")), chromedp.WaitVisible(chromedp.CSS("#zones_in")),
		sendKeys("#zones_in", "nowhere"))
	b.Submit(`form[action$="/network"] button[type=submit]`)
	if got := b.Text("#zones_in ~ .field-error"); !strings.Contains(got, `no network zone named "nowhere"`) {
		t.Errorf("an unknown zone: %q", got)
	}
	b.CheckAccessibility()
	b.Run(chromedp.Evaluate[chromedp.Void](`document.querySelector("#zones_in").value = ""; undefined`), sendKeys("#zones_in", "elsewhere"))
	b.Submit(`form[action$="/network"] button[type=submit]`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "network option is saved") {
		t.Fatalf("after saving the network: %q", b.Body())
	}
	if got := b.Text("section[aria-labelledby=h-security] p"); !strings.Contains(got, "In specific zones: elsewhere") {
		t.Errorf("security section: %q", got)
	}
	if code := verifyCode(b, secret); code != "IP_FORBIDDEN" {
		t.Errorf("verify from 127.0.0.1 outside the zone: %s, want IP_FORBIDDEN", code)
	}

	b.Submit(`form[action$="/enabled"] button`)
	if got := b.Text(".token-head"); !strings.Contains(got, "Disabled") {
		t.Errorf("after disabling, the page says %q", got)
	}
	if code := verifyCode(b, secret); code != "DISABLED" {
		t.Errorf("verify of a disabled token: %s, want DISABLED", code)
	}
	b.Submit(`form[action$="/enabled"] button`)
	if got := b.Text(".token-head"); !strings.Contains(got, "Active") {
		t.Errorf("after enabling, the page says %q", got)
	}

	b.Run(dismissConfirms())
	b.Submit(`form[action$="/revoke"] button`)
	if got := b.Text(".token-head"); !strings.Contains(got, "Revoked") {
		t.Errorf("after revoking, the page says %q", got)
	}
	if b.Has(`form[action$="/revoke"]`) {
		t.Error("a revoked token still offers Revoke")
	}
	if code := verifyCode(b, secret); code != "REVOKED" {
		t.Errorf("verify after revoking: %s, want REVOKED", code)
	}
}

// TestAgentTokenIsRevokedThroughItsAgent: an active agent's token offers
// Revoke disabled, with the reason and a link to the agent; once the agent
// is deactivated, Revoke works.
func TestAgentTokenIsRevokedThroughItsAgent(t *testing.T) {
	b := signedInAdmin(t)
	agentID := b.Server.Do("POST", "/v1/agents", b.Server.AdminToken, map[string]any{"name": "nightly", "kind": "daemon"}).
		Want(t, http.StatusCreated).String("id")
	act := b.Server.Do("POST", "/v1/agents/"+agentID+"/activate", b.Server.AdminToken, nil).Want(t, http.StatusOK)
	tok, _ := act.Body["token"].(map[string]any)
	id, _ := tok["id"].(string)

	b.Open("/tokens/" + id)
	if !b.Has(`button.danger[disabled]`) || b.Has(`form[action$="/revoke"]`) {
		t.Error("an active agent's token offers a working Revoke")
	}
	b.CheckAccessibility()
	b.Shot("token-agent-desktop")
	if got := b.Text("#revoke-why"); !strings.Contains(got, "active agent") {
		t.Errorf("reason: %q", got)
	}
	if !b.Has(`#revoke-why a[href="/agents/` + agentID + `"]`) {
		t.Error("no link to the agent beside the reason")
	}

	b.Server.Do("POST", "/v1/agents/"+agentID+"/deactivate", b.Server.AdminToken, nil).Want(t, http.StatusOK)
	b.Open("/tokens/" + id)
	if b.Has(`button.danger[disabled]`) || !b.Has(`form[action$="/revoke"] button:not([disabled])`) {
		t.Error("after deactivating the agent, Revoke is still disabled")
	}
	if got := b.Text(".token-head"); !strings.Contains(got, "Suspicious") {
		t.Errorf("status: %q, want Suspicious", got)
	}
}

// TestTokenButtonsFollowTheRole: a developer sees no Create button and a
// forged create is refused; a read-only admin sees no Revoke on another's
// token and a forged revoke is refused. Neither changes anything.
func TestTokenButtonsFollowTheRole(t *testing.T) {
	b := webtest.New(t)
	webtest.AddPerson(t, b.Server, keysmith.RoleDeveloper, "dev@example.com", "dev's password")
	b.SignIn("dev@example.com", "dev's password")
	b.Open("/tokens")
	if b.Has(`a[href="/tokens/new"]`) {
		t.Error("a developer sees Create token")
	}
	if got := names(b); got != "seeded token" {
		t.Errorf("a developer's list: %s, want only their own token", got)
	}
	resp := b.PostForm("/tokens", url.Values{"csrf_token": {b.CSRF()}, "name": {"forged"}, "network": {"any"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged create: status %d, want 403", resp.StatusCode)
	}
	list := b.Server.Do("GET", "/v1/tokens?q=forged", b.Server.AdminToken, nil).Want(t, http.StatusOK)
	if items, _ := list.Body["items"].([]any); len(items) != 0 {
		t.Errorf("a forged create made %d tokens", len(items))
	}

	id, secret := addToken(b, "admin's token")
	webtest.AddPerson(t, b.Server, keysmith.RoleReadOnlyAdmin, "rita@example.com", "rita's password")
	r := webtest.On(t, b.Server)
	r.SignIn("rita@example.com", "rita's password")
	r.Open("/tokens/" + id)
	if r.Has(`form[action$="/revoke"]`) || r.Has(`form[action$="/network"]`) || r.Has(`form[action$="/rotate"]`) {
		t.Error("a read-only admin sees buttons that change another's token")
	}
	resp = r.PostForm("/tokens/"+id+"/revoke", url.Values{"csrf_token": {r.CSRF()}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged revoke: status %d, want 403", resp.StatusCode)
	}
	if code := verifyCode(b, secret); code != "VALID" {
		t.Errorf("after a forged revoke, verify says %s", code)
	}
}

// TestTokensWorkWithoutJavaScript: with scripts off, a token is still
// created (its secret shown), rotated (the new one shown) and revoked.
func TestTokensWorkWithoutJavaScript(t *testing.T) {
	b := signedInAdmin(t)
	b.NoScript()
	b.Open("/tokens/new")
	b.Run(sendKeys("#name", "no script"))
	b.Submit(`form[action="/tokens"] button[type=submit]`)
	secret := b.Value("#token-secret")
	if secret == "" {
		t.Fatalf("no secret after create: %q", b.Body())
	}
	b.Submit(`[data-shown-once] a.button`)
	b.Submit(`form[action$="/rotate"] button`)
	rotated := b.Value("#token-secret")
	if rotated == "" || rotated == secret {
		t.Fatalf("after rotating: %q", b.Body())
	}
	if code := verifyCode(b, secret); code == "VALID" {
		t.Error("the secret replaced by a rotation still verifies")
	}
	secret = rotated
	b.Submit(`[data-shown-once] a.button`)
	b.Submit(`form[action$="/revoke"] button`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "revoked") {
		t.Errorf("after revoking: %q", got)
	}
	if code := verifyCode(b, secret); code != "REVOKED" {
		t.Errorf("verify after revoking: %s", code)
	}
}
