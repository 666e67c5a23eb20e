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

// zoneNames lists the zones the JSON API knows, by name, with gateways.
func zoneNames(b *webtest.Browser) map[string][]any {
	b.T.Helper()
	items := b.Server.Do("GET", "/v1/zones", b.Server.AdminToken, nil).Want(b.T, http.StatusOK).Body["items"].([]any)
	out := map[string][]any{}
	for _, it := range items {
		z := it.(map[string]any)
		out[z["name"].(string)] = z["gateways"].([]any)
	}
	return out
}

// TestZonesThroughTheForms: an org admin creates, edits and deletes a zone
// through the forms; a bad range is shown beside its field; the JSON API
// agrees at each step.
func TestZonesThroughTheForms(t *testing.T) {
	b := webtest.New(t)
	signIn(b, keysmith.RoleOrgAdmin, "olga@example.com")
	b.Open("/zones")
	b.Submit(`a[href="/zones/new"]`)
	b.CheckAccessibility()
	b.Run(sendKeys("#zone-name", "office"), sendKeys("#zone-gateways", "203.0.113.0/24\n2001:db8::/48"),
		sendKeys("#zone-proxies", "10.1.2.3"))
	b.Submit(`form[action="/zones"] button[type=submit]`)
	if got := b.Text("table.zones tbody"); !strings.Contains(got, "office") || !strings.Contains(got, "2001:db8::/48") || !strings.Contains(got, "10.1.2.3") {
		t.Fatalf("zones after create: %q", got)
	}
	if got := zoneNames(b)["office"]; len(got) != 2 {
		t.Fatalf("API: office has gateways %v", got)
	}
	shots(b, "zones")

	b.Submit(`table.zones a`) // a link: the next page's heading is the zone's
	b.Run(chromedp.SetValue(chromedp.CSS("#zone-gateways"), "203.0.113.7/24"))
	b.Submit(`form[action^="/zones/zone"] button.primary`)
	if got := b.Text("#zone-gateways-err"); !strings.Contains(got, "203.0.113.7/24") || !strings.Contains(got, "203.0.113.0/24") {
		t.Errorf("error beside gateways: %q, want the bad entry and the fix", got)
	}
	if got := b.Value("#zone-gateways"); got != "203.0.113.7/24" {
		t.Errorf("the form shows %q, want what was typed", got)
	}
	b.CheckAccessibility()
	b.Run(chromedp.SetValue(chromedp.CSS("#zone-gateways"), "198.51.100.0/24"), chromedp.SetValue(chromedp.CSS("#zone-name"), "head office"))
	b.Submit(`form[action^="/zones/zone"] button.primary`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "saved") {
		t.Errorf("after saving: %q", got)
	}
	if got := zoneNames(b)["head office"]; len(got) != 1 || got[0] != "198.51.100.0/24" {
		t.Errorf("API after edit: %v", zoneNames(b))
	}
	shots(b, "zone")

	// A zone a live token names is not deleted, and the page says why;
	// once the token is revoked, it is.
	items := b.Server.Do("GET", "/v1/zones", b.Server.AdminToken, nil).Body["items"].([]any)
	zoneID := items[0].(map[string]any)["id"].(string)
	tok := b.Server.Do("POST", "/v1/tokens", b.Server.AdminToken, map[string]any{"name": "office only",
		"network": map[string]any{"mode": "in_zones", "zones": []string{zoneID}}}).Want(t, http.StatusCreated).String("id")
	b.Run(dismissConfirms())
	b.Submit(`form[action$="/delete"] button`)
	if got := b.Text(".alert-error"); !strings.Contains(got, tok) {
		t.Errorf("deleting a zone in use: %q, want the token that uses it", got)
	}
	b.Server.Do("DELETE", "/v1/tokens/"+tok, b.Server.AdminToken, nil).Want(t, http.StatusNoContent)
	b.Run(dismissConfirms())
	b.Submit(`form[action$="/delete"] button`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "deleted") {
		t.Errorf("after deleting: %q", got)
	}
	if got := zoneNames(b); len(got) != 0 {
		t.Errorf("API after delete: %v", got)
	}
}

// TestZonesReadOnlyAdminCannotChange: a read-only admin sees zones but no
// form or button, and a forged post is refused and changes nothing.
func TestZonesReadOnlyAdminCannotChange(t *testing.T) {
	b := webtest.New(t)
	srv := b.Server
	id := srv.Do("POST", "/v1/zones", srv.AdminToken, map[string]any{"name": "vpn", "gateways": []string{"192.0.2.0/24"}}).
		Want(t, http.StatusCreated).String("id")
	signIn(b, keysmith.RoleReadOnlyAdmin, "rita@example.com")
	b.Open("/zones/" + id)
	if got := b.Body(); !strings.Contains(got, "192.0.2.0/24") {
		t.Errorf("read-only zone page: %q", got)
	}
	if b.Has("main form") {
		t.Error("a read-only admin is shown a form on a zone")
	}
	b.Open("/zones")
	if b.Has(`a[href="/zones/new"]`) {
		t.Error("a read-only admin is offered a new zone")
	}
	if resp, _ := fetch(b, "/zones/new"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("read-only GET /zones/new: %d, want 403", resp.StatusCode)
	}
	token := b.CSRF()
	for path, form := range map[string]url.Values{
		"/zones":                   {"name": {"forged"}, "gateways": {"0.0.0.0/0"}},
		"/zones/" + id:             {"name": {"renamed"}},
		"/zones/" + id + "/delete": {},
	} {
		form.Set("csrf_token", token)
		if resp := b.PostForm(path, form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("forged post to %s: status %d, want 403", path, resp.StatusCode)
		}
	}
	if got := zoneNames(b); len(got) != 1 || got["vpn"] == nil {
		t.Errorf("zones after forged posts: %v", got)
	}
}
