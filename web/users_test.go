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

// shots checks a page's accessibility and saves it at desktop and phone
// widths.
func shots(b *webtest.Browser, name string) {
	b.T.Helper()
	b.CheckAccessibility()
	b.Shot(name + "-desktop")
	b.Phone()
	b.Shot(name + "-phone")
	b.Desktop()
}

// TestUsersOrgAdminCreatesFindsEditsAndDeactivates: an org admin creates a
// user through the form, finds them by search, makes them a read-only
// admin and deactivates them; the JSON API shows the change.
func TestUsersOrgAdminCreatesFindsEditsAndDeactivates(t *testing.T) {
	b := webtest.New(t)
	webtest.AddPerson(t, b.Server, keysmith.RoleOrgAdmin, "olga@example.com", "olga's password")
	b.SignIn("olga@example.com", "olga's password")

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

	res := b.Server.Do(http.MethodGet, "/v1/users/"+id, b.Server.AdminToken, nil).Want(t, http.StatusOK)
	if res.String("role") != "read_only_admin" || res.String("status") != "inactive" || res.String("email") != "pat@example.com" {
		t.Errorf("the API shows %s", res.Raw)
	}
}

// TestUsersDuplicateEmailIsShownBesideTheField: creating a user with an
// e-mail that is taken says so beside the e-mail field and keeps what was
// typed (but never the password).
func TestUsersDuplicateEmailIsShownBesideTheField(t *testing.T) {
	b := webtest.New(t)
	webtest.AddPerson(t, b.Server, keysmith.RoleOrgAdmin, "olga@example.com", "olga's password")
	webtest.AddPerson(t, b.Server, keysmith.RoleDeveloper, "dev@example.com", "dev's password")
	b.SignIn("olga@example.com", "olga's password")
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
}

// TestUsersLastSuperAdminIsSaidOnTheForm: the store's refusal to leave no
// active super admin is shown on the page, and nothing changes.
func TestUsersLastSuperAdminIsSaidOnTheForm(t *testing.T) {
	b := webtest.New(t)
	sup := webtest.AddPerson(t, b.Server, keysmith.RoleSuperAdmin, "sue@example.com", "sue's password")
	// The bootstrap admin is the other super admin: deactivate them first.
	b.Server.Do(http.MethodPost, "/v1/users/"+b.Server.AdminID+"/deactivate", b.Server.AdminToken, nil).Want(t, http.StatusOK)
	b.SignIn("sue@example.com", "sue's password")
	b.Open("/users/" + sup)
	b.Run(dismissConfirms())
	b.Submit(`form[action="/users/` + sup + `/deactivate"] button`)
	if got := b.Text(".alert-error"); !strings.Contains(got, "last active super admin") {
		t.Errorf("error shown: %q", got)
	}
	if got := b.Text("dl.facts"); !strings.Contains(got, "Active") {
		t.Errorf("status after the refusal: %q", got)
	}
}
