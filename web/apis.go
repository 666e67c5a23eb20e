package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/keysmith/keysmith"
)

// The APIs pages: the registered APIs (resource servers) and their scopes,
// which every signed-in user reads, so that a developer knows which scopes
// exist and which they may give (self-service); org and super admins
// register, change and delete them. Scopes are typed one per line (see
// parseScopeLines), so that the form works without JavaScript.
func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.Handle("GET /apis", s.page(s.apisList))
	mux.Handle("GET /apis/new", s.page(s.apiNew))
	mux.Handle("POST /apis", s.page(s.apiCreate))
	mux.Handle("GET /apis/{id}", s.page(s.apiPage))
	mux.Handle("POST /apis/{id}", s.page(s.apiUpdate))
	mux.Handle("POST /apis/{id}/delete", s.page(s.apiDelete))
}

// selfServiceMark ends a scope line to make the scope self-service.
const selfServiceMark = "[self-service]"

// apisList lists every API with its scopes, and the built-in OpenID
// Connect scopes.
func (s *Server) apisList(w http.ResponseWriter, r *http.Request, c *Caller) error {
	apis, err := s.Service.FindAPIs(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	notice := ""
	if r.URL.Query().Get("done") == "deleted" {
		notice = "The API is deleted with its scopes."
	}
	s.render(w, r, c, http.StatusOK, "apis_list", "APIs", map[string]any{
		"APIs": apis, "Builtin": keysmith.BuiltinScopes, "CanManage": keysmith.CanManageAPIs(c.User), "Notice": notice,
	})
	return nil
}

// apiNew shows the register form (org and super admins).
func (s *Server) apiNew(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if !keysmith.CanManageAPIs(c.User) {
		return keysmith.Errorf(keysmith.CodeForbidden, "role %s may not manage APIs and their scopes; org and super admins may", c.User.Role)
	}
	s.render(w, r, c, http.StatusOK, "api", "Register an API", map[string]any{"New": true, "Form": form{Values: url.Values{}}})
	return nil
}

// apiCreate registers an API, then shows it.
func (s *Server) apiCreate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	v := r.PostForm
	scopes, err := parseScopeLines(v.Get("scopes"))
	var a *keysmith.API
	if err == nil {
		a, err = s.Service.CreateAPI(r.Context(), c.Principal, keysmith.CreateAPIInput{
			Name: strings.TrimSpace(v.Get("name")), Identifier: strings.TrimSpace(v.Get("identifier")), Scopes: scopes})
	}
	if isFormError(err) {
		s.render(w, r, c, statusOf(keysmith.ErrorCode(err)), "api", "Register an API", map[string]any{
			"New": true, "Form": form{Values: v, Errors: apiFormError(err)}})
		return nil
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/apis/"+url.PathEscape(a.ID)+"?done=created")
}

// apiNotices are the confirmations shown after a change (?done=...).
var apiNotices = map[string]string{
	"created": "The API is registered; its scopes may be given from now on.",
	"saved":   "The API is saved; the change applies from the next token issued.",
}

// apiPage shows one API, with the edit and delete forms for those who may.
func (s *Server) apiPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	a, err := s.Service.FindAPIByID(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.render(w, r, c, http.StatusOK, "api", a.Name, map[string]any{
		"API": a, "Form": apiFormValues(a), "CanManage": keysmith.CanManageAPIs(c.User),
		"Notice": apiNotices[r.URL.Query().Get("done")],
	})
	return nil
}

// apiFormValues is the edit form of a: its scopes one per line.
func apiFormValues(a *keysmith.API) form {
	lines := make([]string, len(a.Scopes))
	for i, sc := range a.Scopes {
		l := sc.Name
		if sc.Description != "" {
			l += " " + sc.Description
		}
		if sc.SelfService {
			l += " " + selfServiceMark
		}
		lines[i] = l
	}
	return form{Values: url.Values{"name": {a.Name}, "identifier": {a.Identifier}, "scopes": {strings.Join(lines, "\n")}}}
}

// apiFailed shows the API page again with the error beside its field
// (edit) or above the page (delete), or returns err when it is not the
// user's to fix.
func (s *Server) apiFailed(w http.ResponseWriter, r *http.Request, c *Caller, err error, edit bool) error {
	if !isFormError(err) {
		return err
	}
	a, ferr := s.Service.FindAPIByID(r.Context(), c.Principal, r.PathValue("id"))
	if ferr != nil {
		return ferr
	}
	d := map[string]any{"API": a, "Form": apiFormValues(a), "CanManage": keysmith.CanManageAPIs(c.User)}
	if edit {
		d["Form"] = form{Values: r.PostForm, Errors: apiFormError(err)}
		d["EditOpen"] = true
	} else {
		d["Error"] = keysmith.ErrorMessage(err)
	}
	s.render(w, r, c, statusOf(keysmith.ErrorCode(err)), "api", a.Name, d)
	return nil
}

// apiUpdate changes an API's name, identifier and scopes (the whole list:
// a scope left out is deleted, which the store refuses while a credential
// names it).
func (s *Server) apiUpdate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	v := r.PostForm
	id := r.PathValue("id")
	scopes, err := parseScopeLines(v.Get("scopes"))
	if err == nil {
		name, ident := strings.TrimSpace(v.Get("name")), strings.TrimSpace(v.Get("identifier"))
		_, err = s.Service.UpdateAPI(r.Context(), c.Principal, id, keysmith.APIUpdate{Name: &name, Identifier: &ident, Scopes: &scopes})
	}
	if err != nil {
		return s.apiFailed(w, r, c, err, true)
	}
	return redirect(w, r, "/apis/"+url.PathEscape(id)+"?done=saved")
}

// apiDelete deletes an API that no live credential uses; otherwise the
// page says which credentials hold its scopes (409).
func (s *Server) apiDelete(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if err := s.Service.DeleteAPI(r.Context(), c.Principal, r.PathValue("id")); err != nil {
		return s.apiFailed(w, r, c, err, false)
	}
	return redirect(w, r, "/apis?done=deleted")
}

// parseScopeLines reads the scopes field: one scope per line, its name,
// then optionally its description after white space, and "[self-service]"
// at the end of the line for a scope any developer may give. Blank lines
// are skipped; the domain checks the names.
func parseScopeLines(text string) ([]keysmith.ScopeInput, error) {
	out := []keysmith.ScopeInput{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var in keysmith.ScopeInput
		if l := strings.ToLower(line); strings.HasSuffix(l, selfServiceMark) {
			in.SelfService = true
			line = strings.TrimSpace(line[:len(line)-len(selfServiceMark)])
		}
		if line == "" {
			return nil, keysmith.Errorf(keysmith.CodeInvalid, "scopes, line %d: give the scope's name before %s", i+1, selfServiceMark)
		}
		name := strings.Fields(line)[0]
		in.Name, in.Description = name, strings.TrimSpace(line[len(name):])
		out = append(out, in)
	}
	return out, nil
}

// apiFormError places an API error beside its field: the domain's scope
// messages ("scope ...", "an API has at most ...") go to the scopes field.
func apiFormError(err error) map[string]string {
	e := formError(err, "name", "identifier", "scopes")
	if msg, ok := e[""]; ok {
		low := strings.ToLower(msg)
		if strings.HasPrefix(low, "scope") || strings.HasPrefix(low, "a scope") || strings.HasPrefix(low, "an api has") {
			return map[string]string{"scopes": msg}
		}
	}
	return e
}
