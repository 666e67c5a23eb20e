package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/web/webtest"
)

// TestGroupsCreateAddRemoveRenameDelete: an org admin creates a group, adds
// a member by e-mail (an unknown e-mail is said beside the field), removes
// them, renames the group and deletes it.
func TestGroupsCreateAddRemoveRenameDelete(t *testing.T) {
	b := webtest.New(t)
	webtest.AddPerson(t, b.Server, keysmith.RoleOrgAdmin, "olga@example.com", "olga's password")
	dev := webtest.AddPerson(t, b.Server, keysmith.RoleDeveloper, "dev@example.com", "dev's password")
	b.Server.Do(http.MethodPost, "/v1/groups", b.Server.AdminToken,
		map[string]any{"name": "Support", "description": "Second-line support"}).Want(t, http.StatusCreated)
	b.SignIn("olga@example.com", "olga's password")

	b.Open("/groups")
	b.Run(chromedp.Click(chromedp.CSS(`a[href="/groups/new"]`)), chromedp.WaitVisible(chromedp.CSS("#name")))
	shots(b, "group-new")
	b.Run(sendKeys("#name", "Platform"), sendKeys("#description", "The platform team's developers"))
	b.Submit(`form[action="/groups"] button[type=submit]`)
	if got := b.Text("h1"); got != "Group Platform" {
		t.Fatalf("after creating, the page is %q: %s", got, b.Body())
	}
	path := strings.Split(location(b), "?")[0]

	b.Run(sendKeys("#member", "nobody@example.com"))
	b.Submit(`form[action="` + path + `/members"] button`)
	if got := b.Text(".add-member + .field-error"); !strings.Contains(got, "no user has the e-mail address nobody@example.com") {
		t.Errorf("beside the member field: %q", got)
	}
	if got := b.Value("#member"); got != "nobody@example.com" {
		t.Errorf("member field after the error: %q", got)
	}
	b.Run(chromedp.SetValue(chromedp.CSS("#member"), "dev@example.com"))
	b.Submit(`form[action="` + path + `/members"] button`)
	if got := b.Text("table tbody"); !strings.Contains(got, "dev@example.com") {
		t.Fatalf("members after adding: %q", got)
	}
	shots(b, "group")
	members := b.Server.Do(http.MethodGet, "/v1"+path+"/members", b.Server.AdminToken, nil).Want(t, http.StatusOK)
	if !strings.Contains(string(members.Raw), dev) {
		t.Errorf("the API lists the members %s", members.Raw)
	}

	b.Run(dismissConfirms())
	b.Submit(`form[action="` + path + `/members/` + dev + `/remove"] button`)
	if got := b.Text("table tbody"); !strings.Contains(got, "No members") {
		t.Errorf("members after removing: %q", got)
	}

	b.Run(chromedp.SetValue(chromedp.CSS("#name"), "Platform team"))
	b.Submit(`form[action="` + path + `"] button`)
	if got := b.Text("h1"); got != "Group Platform team" {
		t.Errorf("after renaming: %q", got)
	}

	b.Run(dismissConfirms())
	b.Submit(`form[action="` + path + `/delete"] button`)
	if got := b.Body(); !strings.Contains(got, "Group deleted") || strings.Contains(got, "Platform") || !strings.Contains(got, "Support") {
		t.Errorf("after deleting, /groups shows %q", got)
	}
	shots(b, "groups-list")
	b.Server.Do(http.MethodGet, "/v1"+path, b.Server.AdminToken, nil).Want(t, http.StatusNotFound)
}

// TestPeopleEachRoleSeesOnlyItsButtons: for each role below org admin, the
// users page, a user page and a group page offer only what the role may do,
// and a forged post for what it may not do is refused with 403 and changes
// nothing.
func TestPeopleEachRoleSeesOnlyItsButtons(t *testing.T) {
	srv := newServer(t)
	admin := srv.AdminToken
	ops := srv.Do(http.MethodPost, "/v1/groups", admin, map[string]any{"name": "Ops"}).Want(t, http.StatusCreated).String("id")
	// dana is a developer in Ops; the admins below are members of Ops,
	// so group admins manage her and group membership admins her membership.
	dana := webtest.AddPerson(t, srv, keysmith.RoleDeveloper, "dana@example.com", "dana's password")
	join := func(id string) {
		srv.Do(http.MethodPut, "/v1/groups/"+ops+"/members/"+id, admin, nil).Want(t, http.StatusNoContent)
	}
	join(dana)
	users := map[keysmith.Role]string{}
	for _, role := range []keysmith.Role{keysmith.RoleDeveloper, keysmith.RoleReadOnlyAdmin, keysmith.RoleGroupMembershipAdmin, keysmith.RoleGroupAdmin} {
		users[role] = webtest.AddPerson(t, srv, role, string(role)+"@example.com", "a password for "+string(role))
		join(users[role])
	}

	type want struct {
		usersList              int  // status of /users
		newUser                bool // New user button
		danaPage               int  // status of dana's page
		edit, role, deactivate bool // on dana's page
		groupPage              int  // status of the group page
		addMember, removeDana  bool
		removeAdmin, manageGrp bool // remove the read-only admin; rename or delete the group
	}
	cases := []struct {
		role   keysmith.Role
		want   want
		forged func(b *webtest.Browser, csrf string) (path string, form url.Values, unchanged func() bool)
	}{
		{keysmith.RoleDeveloper, want{usersList: 403, danaPage: 404, groupPage: 403},
			func(b *webtest.Browser, csrf string) (string, url.Values, func() bool) {
				return "/groups", url.Values{"csrf_token": {csrf}, "name": {"Forged"}}, func() bool {
					return !strings.Contains(string(srv.Do(http.MethodGet, "/v1/groups", admin, nil).Raw), "Forged")
				}
			}},
		{keysmith.RoleReadOnlyAdmin, want{usersList: 200, danaPage: 200, groupPage: 200},
			func(b *webtest.Browser, csrf string) (string, url.Values, func() bool) {
				return "/users", url.Values{"csrf_token": {csrf}, "email": {"forged@example.com"}, "name": {"Forged"},
						"role": {"developer"}, "type": {"person"}}, func() bool {
						return !strings.Contains(string(srv.Do(http.MethodGet, "/v1/users?q=forged", admin, nil).Raw), "forged@")
					}
			}},
		{keysmith.RoleGroupMembershipAdmin, want{usersList: 200, danaPage: 200, groupPage: 200, addMember: true, removeDana: true},
			func(b *webtest.Browser, csrf string) (string, url.Values, func() bool) {
				return "/users/" + dana, url.Values{"csrf_token": {csrf}, "role": {"org_admin"}}, func() bool {
					return srv.Do(http.MethodGet, "/v1/users/"+dana, admin, nil).String("role") == "developer"
				}
			}},
		{keysmith.RoleGroupAdmin, want{usersList: 200, danaPage: 200, edit: true, deactivate: true, groupPage: 200, removeDana: true},
			func(b *webtest.Browser, csrf string) (string, url.Values, func() bool) {
				return "/groups/" + ops + "/members", url.Values{"csrf_token": {csrf}, "member": {"newdev@example.com"}}, func() bool {
					return !strings.Contains(string(srv.Do(http.MethodGet, "/v1/groups/"+ops+"/members", admin, nil).Raw), "newdev@")
				}
			}},
	}
	webtest.AddPerson(t, srv, keysmith.RoleDeveloper, "newdev@example.com", "newdev's password")
	for _, tc := range cases {
		t.Run(string(tc.role), func(t *testing.T) {
			t.Parallel() // a browser of its own; nothing here changes what another case sees
			b := webtest.On(t, srv)
			b.SignIn(string(tc.role)+"@example.com", "a password for "+string(tc.role))
			w := tc.want
			check := func(what string, got, want bool) {
				t.Helper()
				if got != want {
					t.Errorf("%s: shown %v, want %v", what, got, want)
				}
			}
			status := func(path string, want int) bool {
				t.Helper()
				if got := pageStatus(t, srv, b, path); got != want {
					t.Errorf("GET %s: status %d, want %d", path, got, want)
				}
				return want == http.StatusOK
			}
			check("Users in the menu", b.Has(`header nav a[href="/users"]`), w.usersList == 200)
			if status("/users", w.usersList) {
				b.Open("/users")
				check("New user", b.Has(`a[href="/users/new"]`), w.newUser)
			}
			if status("/users/"+dana, w.danaPage) {
				b.Open("/users/" + dana)
				check("edit form", b.Has(`form[action="/users/`+dana+`"]`), w.edit)
				check("role select", b.Has(`select#role`), w.role)
				check("deactivate", b.Has(`form[action="/users/`+dana+`/deactivate"]`), w.deactivate)
			}
			if status("/groups/"+ops, w.groupPage) {
				b.Open("/groups/" + ops)
				check("add member", b.Has(`form[action="/groups/`+ops+`/members"]`), w.addMember)
				check("remove dana", b.Has(`form[action="/groups/`+ops+`/members/`+dana+`/remove"]`), w.removeDana)
				check("remove an admin", b.Has(`form[action="/groups/`+ops+`/members/`+users[keysmith.RoleReadOnlyAdmin]+`/remove"]`), w.removeAdmin)
				check("rename or delete", b.Has(`form[action="/groups/`+ops+`/delete"]`) || b.Has(`form[action="/groups/`+ops+`"]`), w.manageGrp)
			}
			if tc.role == keysmith.RoleDeveloper {
				// A developer's own page: their name only.
				b.Open("/users/" + users[tc.role])
				check("own name", b.Has(`#name`), true)
				check("own role", b.Has(`select#role`), false)
				check("own deactivate", b.Has(`form[action$="/deactivate"]`), false)
			}

			path, form, unchanged := tc.forged(b, b.CSRF())
			if resp := b.PostForm(path, form); resp.StatusCode != http.StatusForbidden {
				t.Errorf("forged POST %s: status %d, want 403", path, resp.StatusCode)
			}
			if !unchanged() {
				t.Errorf("forged POST %s changed something", path)
			}
		})
	}
}

// pageStatus is the status a GET of path answers with the browser's
// session.
func pageStatus(t *testing.T, srv *apptest.Server, b *webtest.Browser, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: "keysmith_session", Value: b.SessionCookie()})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
