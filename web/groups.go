package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/keysmith/keysmith"
)

func (s *Server) groupRoutes(mux *http.ServeMux) {
	mux.Handle("GET /groups", s.page(s.groupsList))
	mux.Handle("GET /groups/new", s.page(s.groupNew))
	mux.Handle("POST /groups", s.page(s.groupCreate))
	mux.Handle("GET /groups/{id}", s.page(s.groupPage))
	mux.Handle("POST /groups/{id}", s.page(s.groupUpdate))
	mux.Handle("POST /groups/{id}/delete", s.page(s.groupDelete))
	mux.Handle("POST /groups/{id}/members", s.page(s.groupAddMember))
	mux.Handle("POST /groups/{id}/members/{user_id}/remove", s.page(s.groupRemoveMember))
}

var groupFields = []string{"name", "description"}

// groupsList lists the groups, searched by name, one page at a time.
func (s *Server) groupsList(w http.ResponseWriter, r *http.Request, c *Caller) error {
	q := r.URL.Query()
	f := keysmith.GroupFilter{Query: strings.TrimSpace(q.Get("q")), Page: keysmith.Page{Cursor: q.Get("cursor")}}
	gs, next, err := s.Service.FindGroups(r.Context(), c.Principal, f)
	if err != nil {
		return err
	}
	nextURL := ""
	if next != "" {
		v := url.Values{"cursor": {next}}
		if f.Query != "" {
			v.Set("q", f.Query)
		}
		nextURL = "/groups?" + v.Encode()
	}
	s.render(w, r, c, http.StatusOK, "groups_list", "Groups", map[string]any{
		"Groups": gs, "Next": nextURL, "Query": f.Query,
		"CanCreate": keysmith.CanManageGroups(c.User) == nil, "Notice": peopleNotice(r),
	})
	return nil
}

func (s *Server) groupNew(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if err := keysmith.CanManageGroups(c.User); err != nil {
		return err
	}
	s.render(w, r, c, http.StatusOK, "group_new", "New group", map[string]any{"Form": form{}})
	return nil
}

// groupInput reads a group form: name and description.
func groupInput(f url.Values) keysmith.GroupInput {
	var in keysmith.GroupInput
	if f.Has("name") {
		name := strings.TrimSpace(f.Get("name"))
		in.Name = &name
	}
	if f.Has("description") {
		d := strings.TrimSpace(f.Get("description"))
		in.Description = &d
	}
	return in
}

func (s *Server) groupCreate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	g, err := s.Service.CreateGroup(r.Context(), c.Principal, groupInput(r.PostForm))
	if err != nil {
		if !isFormError(err) {
			return err
		}
		f := form{Values: url.Values{"name": {r.PostForm.Get("name")}, "description": {r.PostForm.Get("description")}},
			Errors: formError(err, groupFields...)}
		s.render(w, r, c, statusOf(keysmith.ErrorCode(err)), "group_new", "New group", map[string]any{"Form": f})
		return nil
	}
	return redirect(w, r, "/groups/"+url.PathEscape(g.ID)+"?done=created")
}

// memberRow is a member as the group page lists them, with whether the
// caller may remove them (the domain's CanManageMembership).
type memberRow struct {
	User      *keysmith.User
	CanRemove bool
}

// groupView is what the group page shows and offers.
type groupView struct {
	Group      *keysmith.Group
	Members    []memberRow
	Next       string
	CanManage  bool             // rename, delete
	CanAdd     bool             // add members
	Candidates []*keysmith.User // users the caller may add, for the e-mail list
	Form       form             // rename form (name, description), add form (member)
	Notice     string
}

func (s *Server) loadGroupView(ctx context.Context, c *Caller, id, cursor string) (*groupView, error) {
	g, err := s.Service.FindGroupByID(ctx, c.Principal, id)
	if err != nil {
		return nil, err
	}
	members, next, err := s.Service.FindGroupMembers(ctx, c.Principal, id, keysmith.UserFilter{Page: keysmith.Page{Cursor: cursor}})
	if err != nil {
		return nil, err
	}
	mine, err := s.Service.GroupIDsOf(ctx, c.User.ID)
	if err != nil {
		return nil, err
	}
	administers := slices.Contains(mine, id)
	v := &groupView{Group: g, CanManage: keysmith.CanManageGroups(c.User) == nil,
		Form: form{Values: url.Values{"name": {g.Name}, "description": {g.Description}}}}
	if next != "" {
		v.Next = "/groups/" + url.PathEscape(id) + "?" + url.Values{"cursor": {next}}.Encode()
	}
	isMember := map[string]bool{}
	for _, m := range members {
		isMember[m.ID] = true
		v.Members = append(v.Members, memberRow{User: m, CanRemove: keysmith.CanManageMembership(c.User, administers, m, false) == nil})
	}
	// Developers are the members every role that adds anyone may add.
	v.CanAdd = keysmith.CanManageMembership(c.User, administers, &keysmith.User{Role: keysmith.RoleDeveloper}, true) == nil
	if v.CanAdd {
		us, _, err := s.Service.FindUsers(ctx, c.Principal, keysmith.UserFilter{Status: keysmith.UserActive,
			Page: keysmith.Page{Limit: keysmith.MaxPageSize}})
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			if !isMember[u.ID] && keysmith.CanManageMembership(c.User, administers, u, true) == nil {
				v.Candidates = append(v.Candidates, u)
			}
		}
	}
	return v, nil
}

func (s *Server) renderGroup(w http.ResponseWriter, r *http.Request, c *Caller, status int, v *groupView) {
	s.render(w, r, c, status, "group", "Group "+v.Group.Name, v)
}

func (s *Server) groupPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	v, err := s.loadGroupView(r.Context(), c, r.PathValue("id"), r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	v.Notice = peopleNotice(r)
	s.renderGroup(w, r, c, http.StatusOK, v)
	return nil
}

// groupFormFailed shows the group page again with a form's error and the
// values typed into it.
func (s *Server) groupFormFailed(w http.ResponseWriter, r *http.Request, c *Caller, err error, errs map[string]string, fields ...string) error {
	v, lerr := s.loadGroupView(r.Context(), c, r.PathValue("id"), "")
	if lerr != nil {
		return lerr
	}
	for _, k := range fields {
		v.Form.Values.Set(k, r.PostForm.Get(k))
	}
	v.Form.Errors = errs
	s.renderGroup(w, r, c, statusOf(keysmith.ErrorCode(err)), v)
	return nil
}

// groupUpdate renames or redescribes a group.
func (s *Server) groupUpdate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	_, err := s.Service.UpdateGroup(r.Context(), c.Principal, id, groupInput(r.PostForm))
	if err == nil {
		return redirect(w, r, "/groups/"+url.PathEscape(id)+"?done=renamed")
	}
	if !isFormError(err) {
		return err
	}
	return s.groupFormFailed(w, r, c, err, formError(err, groupFields...), groupFields...)
}

func (s *Server) groupDelete(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if err := s.Service.DeleteGroup(r.Context(), c.Principal, r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/groups?done=deleted")
}

// findUser resolves what was typed in a user field (named field, for the
// error beside it): an e-mail address or a user's id. A user the caller may
// not see is not found.
func (s *Server) findUser(ctx context.Context, c *Caller, field, typed string) (*keysmith.User, error) {
	typed = strings.TrimSpace(typed)
	if typed == "" {
		return nil, keysmith.Errorf(keysmith.CodeInvalid, "%s: type the e-mail address or id of a user", field)
	}
	if !strings.Contains(typed, "@") {
		u, err := s.Service.FindUserByID(ctx, c.Principal, typed)
		if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
			return nil, keysmith.Errorf(keysmith.CodeInvalid, "%s: no user has the id %q", field, truncate(typed, 80))
		}
		return u, err
	}
	email, err := keysmith.NormalizeEmail(typed)
	if err != nil {
		return nil, keysmith.Errorf(keysmith.CodeInvalid, "%s: %s", field, keysmith.ErrorMessage(err))
	}
	us, _, err := s.Service.FindUsers(ctx, c.Principal, keysmith.UserFilter{Query: email, Page: keysmith.Page{Limit: keysmith.MaxPageSize}})
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		if u.Email == email {
			return u, nil
		}
	}
	return nil, keysmith.Errorf(keysmith.CodeInvalid, "%s: no user has the e-mail address %s", field, email)
}

func (s *Server) groupAddMember(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	u, err := s.findUser(r.Context(), c, "member", r.PostForm.Get("member"))
	if err == nil {
		err = s.Service.SetGroupMember(r.Context(), c.Principal, id, u.ID, true)
	}
	if err == nil {
		return redirect(w, r, "/groups/"+url.PathEscape(id)+"?done=added")
	}
	if !isFormError(err) {
		return err
	}
	return s.groupFormFailed(w, r, c, err, map[string]string{"member": keysmith.ErrorMessage(err)}, "member")
}

func (s *Server) groupRemoveMember(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	if err := s.Service.SetGroupMember(r.Context(), c.Principal, id, r.PathValue("user_id"), false); err != nil {
		return err
	}
	return redirect(w, r, "/groups/"+url.PathEscape(id)+"?done=removed")
}
