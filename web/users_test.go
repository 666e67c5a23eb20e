package web_test

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/web/webtest"
)

// location is the path and query of the page shown now.
func location(b *webtest.Browser) string {
	b.T.Helper()
	loc := webtest.Get(b, chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		b.T.Fatal(err)
	}
	return u.RequestURI()
}

// newServer starts a server on a fresh SQLite file, without a browser.
func newServer(t *testing.T) *apptest.Server {
	t.Helper()
	return apptest.Start(t, filepath.Join(t.TempDir(), "keysmith.db"), app.Config{})
}

// TestUsers: the users pages as an org admin and a super admin use them,
// on one server (in order: the last case leaves one active super admin).
func TestUsers(t *testing.T) {
	srv := newServer(t)
	webtest.AddPerson(t, srv, keysmith.RoleOrgAdmin, "olga@example.com", "olga's password")
	webtest.AddPerson(t, srv, keysmith.RoleDeveloper, "dev@example.com", "dev's password")
	b := webtest.On(t, srv)
	b.SignIn("olga@example.com", "olga's password")

	// An org admin creates a user through the form, finds them by
	// search, makes them a read-only admin and deactivates them; the JSON
	// API shows the change.
	t.Run("OrgAdminCreatesFindsEditsAndDeactivates", func(t *testing.T) {
		b.T = t
		b.Open("/users")
		if !b.Has(`a[href="/users/new"]`) {
			t.Fatal("an org admin sees no New user button")
		}
		b.Open("/users/new")
		// An org admin may not grant super_admin, so it is not offered.
		if b.Has(`#role option[value="super_admin"]`) || !b.Has(`#role option[value="org_admin"]`) {
			t.Error("the role list is not the roles an org admin may grant")
		}
		shots(b, "user-new")
		b.Run(sendKeys("#email", "Pat@Example.com"), sendKeys("#name", "Pat Doe"),
			chromedp.SetValue(chromedp.CSS("#role"), "developer"), sendKeys("#password", "pat's first password"))
		b.Submit(`form[action="/users"] button[type=submit]`)
		if got := b.Text("h1"); got != "Pat Doe" {
			t.Fatalf("after creating, the page is %q (%s)", got, b.Body())
		}
		id := strings.TrimPrefix(strings.Split(location(b), "?")[0], "/users/")
		if got := b.Text(".alert-ok"); !strings.Contains(got, "Created") {
			t.Errorf("notice: %q", got)
		}

		b.Open("/users?q=pat%40exa")
		if got := b.Text("table.users tbody"); !strings.Contains(got, "pat@example.com") || strings.Contains(got, "olga@") {
			t.Errorf("search for pat@exa lists %q", got)
		}
		shots(b, "users-list")
		b.Run(chromedp.Click(chromedp.CSS(`a[href="/users/`+id+`"]`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/users/`+id+`"]`)))
		shots(b, "user")

		b.Run(chromedp.SetValue(chromedp.CSS("#role"), "read_only_admin"))
		b.Submit(`form[action="/users/` + id + `"] button[type=submit]`)
		if got := b.Text("dl.facts"); !strings.Contains(got, "Read-only admin") {
			t.Errorf("after the role change the page shows %q", got)
		}
		b.Run(dismissConfirms())
		b.Submit(`form[action="/users/` + id + `/deactivate"] button`)
		if got := b.Text("dl.facts"); !strings.Contains(got, "Inactive") {
			t.Errorf("after deactivating the page shows %q", got)
		}
		if !b.Has(`form[action="/users/`+id+`/activate"]`) || b.Has(`form[action="/users/`+id+`/deactivate"]`) {
			t.Error("an inactive user is offered deactivation, or not activation")
		}

		res := srv.Do(http.MethodGet, "/v1/users/"+id, srv.AdminToken, nil).Want(t, http.StatusOK)
		if res.String("role") != "read_only_admin" || res.String("status") != "inactive" || res.String("email") != "pat@example.com" {
			t.Errorf("the API shows %s", res.Raw)
		}
	})

	// Creating a user with an e-mail that is taken says so beside the
	// e-mail field and keeps what was typed (but never the password); the
	// form works with JavaScript off.
	t.Run("DuplicateEmailIsShownBesideTheField", func(t *testing.T) {
		b.T = t
		b.NoScript()
		b.Open("/users/new")
		b.Run(sendKeys("#email", "dev@example.com"), sendKeys("#name", "Second Dev"),
			chromedp.SetValue(chromedp.CSS("#role"), "group_admin"), sendKeys("#password", "a password typed"))
		b.Submit(`form[action="/users"] button[type=submit]`)
		if got := b.Text(`#email + .field-error`); !strings.Contains(got, "exists already") {
			t.Errorf("beside the e-mail field: %q", got)
		}
		b.CheckAccessibility()
		b.Shot("user-new-error-desktop")
		for sel, want := range map[string]string{"#email": "dev@example.com", "#name": "Second Dev", "#role": "group_admin", "#password": ""} {
			if got := b.Value(sel); got != want {
				t.Errorf("%s after the error: %q, want %q", sel, got, want)
			}
		}
	})

	// A super admin deactivates the other super admin, then cannot
	// deactivate themselves: the store's refusal to leave no active super
	// admin is shown on the page, and nothing changes.
	t.Run("LastSuperAdminIsSaidOnThePage", func(t *testing.T) {
		sup := webtest.AddPerson(t, srv, keysmith.RoleSuperAdmin, "sue@example.com", "sue's password")
		b := webtest.On(t, srv)
		b.SignIn("sue@example.com", "sue's password")
		b.Open("/users/" + srv.AdminID)
		b.Run(dismissConfirms())
		b.Submit(`form[action="/users/` + srv.AdminID + `/deactivate"] button`)
		if got := b.Text("dl.facts"); !strings.Contains(got, "Inactive") {
			t.Fatalf("the other super admin after deactivating: %q", got)
		}
		b.Open("/users/" + sup)
		b.Run(dismissConfirms())
		b.Submit(`form[action="/users/` + sup + `/deactivate"] button`)
		if got := b.Text(".alert-error"); !strings.Contains(got, "last active super admin") {
			t.Errorf("error shown: %q", got)
		}
		if got := b.Text("dl.facts"); strings.Contains(got, "Inactive") {
			t.Errorf("status after the refusal: %q", got)
		}
	})
}
