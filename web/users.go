package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/keysmith/keysmith"
)

func (s *Server) userRoutes(mux *http.ServeMux) {
	mux.Handle("GET /users", s.page(s.usersList))
	mux.Handle("GET /users/new", s.page(s.userNew))
	mux.Handle("POST /users", s.page(s.userCreate))
	mux.Handle("GET /users/{id}", s.page(s.userPage))
	mux.Handle("POST /users/{id}", s.page(s.userUpdate))
	mux.Handle("POST /users/{id}/deactivate", s.page(s.userSetStatus(keysmith.UserInactive)))
	mux.Handle("POST /users/{id}/activate", s.page(s.userSetStatus(keysmith.UserActive)))
}

// userFields are the form fields a user error may be about, in the order
// formError tries them.
var userFields = []string{"email", "name", "role", "type", "password", "status"}

// userFormError places a user error beside its field. The store's
// duplicate e-mail message ("a user with email … exists already") does not
// start with the field's name, so a conflict that names the e-mail goes
// beside the e-mail field rather than on the form.
func userFormError(err error) map[string]string {
	if keysmith.ErrorCode(err) == keysmith.CodeConflict && strings.Contains(keysmith.ErrorMessage(err), "with email") {
		return map[string]string{"email": keysmith.ErrorMessage(err)}
	}
	return formError(err, userFields...)
}

// usersList is the directory: search by name or e-mail, filter by role and
// status, one page at a time.
func (s *Server) usersList(w http.ResponseWriter, r *http.Request, c *Caller) error {
	q := r.URL.Query()
	f := keysmith.UserFilter{Query: strings.TrimSpace(q.Get("q")), Role: keysmith.Role(q.Get("role")),
		Status: keysmith.UserStatus(q.Get("status")), Page: keysmith.Page{Cursor: q.Get("cursor")}}
	us, next, err := s.Service.FindUsers(r.Context(), c.Principal, f)
	if err != nil {
		return err
	}
	nextURL := ""
	if next != "" {
		v := url.Values{}
		for _, k := range []string{"q", "role", "status"} {
			if q.Get(k) != "" {
				v.Set(k, q.Get(k))
			}
		}
		v.Set("cursor", next)
		nextURL = "/users?" + v.Encode()
	}
	s.render(w, r, c, http.StatusOK, "users_list", "Users", map[string]any{
		"Users": us, "Next": nextURL, "Query": f.Query, "Role": string(f.Role), "Status": string(f.Status),
		"Roles": keysmith.Roles, "CanCreate": len(grantableRoles(c.User)) > 0, "Notice": peopleNotice(r),
	})
	return nil
}

// grantableRoles are the roles the caller may give a new user.
func grantableRoles(u *keysmith.User) []keysmith.Role {
	var out []keysmith.Role
	for _, r := range keysmith.Roles {
		if keysmith.CanCreateUser(u, r) == nil {
			out = append(out, r)
		}
	}
	return out
}

func (s *Server) userNew(w http.ResponseWriter, r *http.Request, c *Caller) error {
	roles := grantableRoles(c.User)
	if len(roles) == 0 {
		return keysmith.CanCreateUser(c.User, keysmith.RoleDeveloper)
	}
	f := form{Values: url.Values{"role": {string(keysmith.RoleDeveloper)}, "type": {string(keysmith.UserPerson)}}}
	s.renderUserNew(w, r, c, http.StatusOK, f)
	return nil
}

func (s *Server) renderUserNew(w http.ResponseWriter, r *http.Request, c *Caller, status int, f form) {
	s.render(w, r, c, status, "user_new", "New user", map[string]any{"Form": f, "Roles": grantableRoles(c.User)})
}

// userCreate creates a user; a person may get an initial password (typed by
// the admin, so it is not shown back), else they sign in after a setup code.
func (s *Server) userCreate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	in := keysmith.CreateUserInput{Email: r.PostForm.Get("email"), Name: strings.TrimSpace(r.PostForm.Get("name")),
		Role: keysmith.Role(r.PostForm.Get("role")), Type: keysmith.UserType(r.PostForm.Get("type"))}
	if p := r.PostForm.Get("password"); p != "" && in.Type != keysmith.UserService {
		in.Password = &p
	}
	u, err := s.Service.CreateUser(r.Context(), c.Principal, in)
	if err != nil {
		if !isFormError(err) {
			return err
		}
		vals := url.Values{}
		for _, k := range []string{"email", "name", "role", "type"} {
			vals.Set(k, r.PostForm.Get(k))
		}
		s.renderUserNew(w, r, c, statusOf(keysmith.ErrorCode(err)), form{Values: vals, Errors: userFormError(err)})
		return nil
	}
	return redirect(w, r, "/users/"+url.PathEscape(u.ID)+"?done=created")
}

// userView is what the user page shows and offers: each flag comes from
// the domain's CanUpdateUser for that very change, so a button is shown
// only to a caller the service would let use it.
type userView struct {
	User         *keysmith.User
	Groups       []*keysmith.Group
	CanSeeList   bool
	CanSeeGroups bool
	EditName     bool
	EditEmail    bool
	Roles        []keysmith.Role // roles the caller may set, the current one first; empty: none
	CanActivate  bool
	CanDeactiv   bool
	Form         form
	Notice       string
}

// CanEdit reports whether the edit form has anything to change.
func (v userView) CanEdit() bool { return v.EditName || v.EditEmail || len(v.Roles) > 1 }

func (s *Server) loadUserView(ctx context.Context, c *Caller, id string) (*userView, error) {
	u, err := s.Service.FindUserByID(ctx, c.Principal, id)
	if err != nil {
		return nil, err
	}
	shared, err := s.Service.SharesGroup(ctx, c.User, u)
	if err != nil {
		return nil, err
	}
	may := func(up keysmith.UserUpdate) bool { return keysmith.CanUpdateUser(c.User, u, shared, &up) == nil }
	v := &userView{User: u, CanSeeList: keysmith.CanSeeUsers(c.User)}
	v.EditName = may(keysmith.UserUpdate{Name: &u.Name})
	v.EditEmail = may(keysmith.UserUpdate{Email: &u.Email})
	v.Roles = []keysmith.Role{u.Role}
	for _, role := range keysmith.Roles {
		if role != u.Role && may(keysmith.UserUpdate{Role: &role}) {
			v.Roles = append(v.Roles, role)
		}
	}
	active, inactive := keysmith.UserActive, keysmith.UserInactive
	v.CanDeactiv = u.Status == keysmith.UserActive && may(keysmith.UserUpdate{Status: &inactive})
	v.CanActivate = u.Status != keysmith.UserActive && may(keysmith.UserUpdate{Status: &active})
	v.CanSeeGroups = keysmith.CanSeeGroups(c.User)
	if v.CanSeeGroups {
		ids, err := s.Service.GroupIDsOf(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		for _, gid := range ids {
			g, err := s.Service.FindGroupByID(ctx, c.Principal, gid)
			if err != nil {
				return nil, err
			}
			v.Groups = append(v.Groups, g)
		}
		slices.SortFunc(v.Groups, func(a, b *keysmith.Group) int { return strings.Compare(a.Name, b.Name) })
	}
	v.Form = form{Values: url.Values{"name": {u.Name}, "email": {u.Email}, "role": {string(u.Role)}}}
	return v, nil
}

func (s *Server) renderUser(w http.ResponseWriter, r *http.Request, c *Caller, status int, v *userView) {
	title := v.User.Name
	if title == "" {
		title = v.User.Email
	}
	s.render(w, r, c, status, "user", title, v)
}

func (s *Server) userPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	v, err := s.loadUserView(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	v.Notice = peopleNotice(r)
	s.renderUser(w, r, c, http.StatusOK, v)
	return nil
}

// userUpdate changes the fields the form sent (name, e-mail, role); a
// field the caller may not change is not in their form, and a forged one is
// refused by the service.
func (s *Server) userUpdate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	var up keysmith.UserUpdate
	if r.PostForm.Has("name") {
		name := strings.TrimSpace(r.PostForm.Get("name"))
		up.Name = &name
	}
	if r.PostForm.Has("email") {
		email := r.PostForm.Get("email")
		up.Email = &email
	}
	if r.PostForm.Has("role") {
		role := keysmith.Role(r.PostForm.Get("role"))
		up.Role = &role
	}
	_, err := s.Service.UpdateUser(r.Context(), c.Principal, id, up)
	if err == nil {
		return redirect(w, r, "/users/"+url.PathEscape(id)+"?done=updated")
	}
	if !isFormError(err) {
		return err
	}
	v, lerr := s.loadUserView(r.Context(), c, id)
	if lerr != nil {
		return lerr
	}
	for _, k := range []string{"name", "email", "role"} {
		if r.PostForm.Has(k) {
			v.Form.Values.Set(k, r.PostForm.Get(k))
		}
	}
	v.Form.Errors = userFormError(err)
	s.renderUser(w, r, c, statusOf(keysmith.ErrorCode(err)), v)
	return nil
}

// userSetStatus activates or deactivates a user.
func (s *Server) userSetStatus(st keysmith.UserStatus) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, c *Caller) error {
		id := r.PathValue("id")
		_, err := s.Service.SetUserStatus(r.Context(), c.Principal, id, st)
		if err == nil {
			done := "activated"
			if st != keysmith.UserActive {
				done = "deactivated"
			}
			return redirect(w, r, "/users/"+url.PathEscape(id)+"?done="+done)
		}
		if !isFormError(err) {
			return err
		}
		v, lerr := s.loadUserView(r.Context(), c, id)
		if lerr != nil {
			return lerr
		}
		v.Form.Errors = map[string]string{"status": keysmith.ErrorMessage(err)}
		s.renderUser(w, r, c, statusOf(keysmith.ErrorCode(err)), v)
		return nil
	}
}

// peopleNotices are the confirmations a redirect may ask for (?done=…): fixed
// words, so a URL cannot make a page say anything else.
var peopleNotices = map[string]string{
	"created":     "Created.",
	"updated":     "Saved.",
	"activated":   "Activated: their credentials work again, except those that expired or were revoked.",
	"deactivated": "Deactivated: their tokens and sessions stop working from the next request.",
	"renamed":     "Saved.",
	"added":       "Member added.",
	"removed":     "Member removed.",
	"deleted":     "Group deleted.",
}

func peopleNotice(r *http.Request) string { return peopleNotices[r.URL.Query().Get("done")] }
