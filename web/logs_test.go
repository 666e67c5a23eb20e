package web_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/web/webtest"
)

// TestSystemLogFiltersAndExports: filtering by type or by target shows only
// matching events, and the export of a filter (with the browser's session)
// is a download of exactly those events, as NDJSON or CSV. A developer has
// no link and is refused the page and the export.
func TestSystemLogFiltersAndExports(t *testing.T) {
	b := webtest.New(t)
	srv := b.Server
	var zones []string
	for _, name := range []string{"alpha", "beta", "gamma"} {
		zones = append(zones, srv.Do("POST", "/v1/zones", srv.AdminToken, map[string]any{"name": name}).
			Want(t, http.StatusCreated).String("id"))
	}
	srv.Do("PATCH", "/v1/zones/"+zones[1], srv.AdminToken, map[string]any{"gateways": []string{"192.0.2.0/24"}}).Want(t, http.StatusOK)
	signIn(b, keysmith.RoleOrgAdmin, "olga@example.com")

	b.Open("/logs")
	b.Run(chromedp.SetValue(chromedp.CSS("#log-type"), "zone.created"))
	b.Submit(`form.log-filter button[type=submit]`)
	types := webtest.Get(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.events tbody td:nth-child(2) .id")].map(e => e.textContent)`))
	if len(types) != 3 {
		t.Errorf("filtered by zone.created: %d rows %v, want 3", len(types), types)
	}
	for _, ty := range types {
		if ty != "zone.created" {
			t.Errorf("filtered by zone.created, a row of %q", ty)
		}
	}
	shots(b, "logs")

	b.Open("/logs")
	b.Run(sendKeys("#log-target", zones[1]))
	b.Submit(`form.log-filter button[type=submit]`)
	types = webtest.Get(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.events tbody td:nth-child(2) .id")].map(e => e.textContent)`))
	if strings.Join(types, ",") != "zone.updated,zone.created" {
		t.Errorf("filtered by target %s: %v, want its update and creation, newest first", zones[1], types)
	}

	resp, body := fetch(b, "/logs/export?type=zone.created&format=ndjson")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		var ev keysmith.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		if ev.Type != keysmith.EventZoneCreated {
			t.Errorf("export of zone.created holds %s", ev.Type)
		}
		names = append(names, ev.Targets[0].DisplayName)
	}
	if strings.Join(names, ",") != "alpha,beta,gamma" {
		t.Errorf("export: zones %v, want alpha, beta, gamma oldest first", names)
	}
	resp, body = fetch(b, "/logs/export?target="+zones[1]+"&format=csv")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv export: %d %v %q", resp.StatusCode, err, body)
	}
	if len(rows) != 3 || rows[0][3] != "type" || rows[1][3] != "zone.created" || rows[2][3] != "zone.updated" {
		t.Errorf("csv export of target %s: %q", zones[1], rows)
	}

	// A time range: nothing after the clock's now; until before since is
	// said above the form.
	later := srv.Clock.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04")
	if resp, body := fetch(b, "/logs?since="+later); resp.StatusCode != http.StatusOK || !strings.Contains(body, "No events match") {
		t.Errorf("events since %s: %d", later, resp.StatusCode)
	}
	if resp, body := fetch(b, "/logs?since="+later+"&until=2001-01-01T00:00"); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body, "until must be later than since") {
		t.Errorf("until before since: %d", resp.StatusCode)
	}

	dev := webtest.On(t, srv)
	signIn(dev, keysmith.RoleDeveloper, "dev@example.com")
	if dev.Has(`nav a[href="/logs"]`) {
		t.Error("a developer is shown the system log link")
	}
	for _, path := range []string{"/logs", "/logs/export?format=csv"} {
		if resp, body := fetch(dev, path); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "zone.created") {
			t.Errorf("developer GET %s: %d", path, resp.StatusCode)
		}
	}
}
