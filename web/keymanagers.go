package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/keysmith/keysmith"
)

// The console's key managers: the external identity providers developers
// may generate keys at. Every admin reads the list; org and super admins
// add, change, enable, disable and delete them. Secrets typed into these
// forms are never shown again, not even in a form returned with errors.
func (s *Server) keyManagerRoutes(mux *http.ServeMux) {
	mux.Handle("GET /key-managers", s.page(s.keyManagersPage))
	mux.Handle("POST /key-managers", s.page(s.createKeyManager))
	mux.Handle("GET /key-managers/{id}", s.page(s.keyManagerPage))
	mux.Handle("POST /key-managers/{id}", s.page(s.updateKeyManager))
	mux.Handle("POST /key-managers/{id}/enabled", s.page(s.toggleKeyManager))
	mux.Handle("POST /key-managers/{id}/delete", s.page(s.deleteKeyManager))
}

// keyManagerFields are the form's fields, in the order errors are matched.
var keyManagerFields = []string{"opaque_token_prefix", "name", "type", "issuer", "audience", "registration_token", "introspection_client_id",
	"introspection_client_secret", "a key manager secret", "discovery", "JWKS", "key manager"}

// keyManagerSecrets are the fields never shown again.
var keyManagerSecrets = []string{"registration_token", "introspection_client_secret"}

// withoutSecrets is a submitted form without its secret fields.
func withoutSecrets(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = vs
	}
	for _, k := range keyManagerSecrets {
		delete(out, k)
	}
	return out
}

var keyManagerNotices = map[string]string{
	"created":  "The key manager is added: its discovery document and keys were read.",
	"saved":    "The key manager is saved.",
	"enabled":  "The key manager is enabled: developers may generate keys at it.",
	"disabled": "The key manager is disabled: no keys are generated at it and its tokens are refused.",
	"deleted":  "The key manager is deleted, and every client registered at it revoked in Keysmith.",
}

func (s *Server) keyManagersPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	return s.renderKeyManagers(w, r, c, http.StatusOK, form{Values: url.Values{"type": {"oidc"}}}, keyManagerNotices[r.URL.Query().Get("done")])
}

func (s *Server) renderKeyManagers(w http.ResponseWriter, r *http.Request, c *Caller, status int, f form, notice string) error {
	if !keysmith.IsAdmin(c.User.Role) {
		return keysmith.Errorf(keysmith.CodeForbidden, "the key managers page is for admins; developers pick a key manager on their application's page")
	}
	ms, err := s.Service.FindKeyManagers(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	s.render(w, r, c, status, "key_managers_list", "Key managers", map[string]any{
		"Managers": ms, "CanEdit": keysmith.CanManageKeyManagers(c.User), "Form": f, "Notice": notice,
	})
	return nil
}

func (s *Server) createKeyManager(w http.ResponseWriter, r *http.Request, c *Caller) error {
	v := r.PostForm
	_, err := s.Service.CreateKeyManager(r.Context(), c.Principal, keysmith.CreateKeyManagerInput{
		Name: strings.TrimSpace(v.Get("name")), Type: v.Get("type"), Issuer: strings.TrimSpace(v.Get("issuer")),
		Audience: strings.TrimSpace(v.Get("audience")), RegistrationToken: keysmith.NewSecret(strings.TrimSpace(v.Get("registration_token"))),
		IntrospectionClientID:     strings.TrimSpace(v.Get("introspection_client_id")),
		IntrospectionClientSecret: keysmith.NewSecret(strings.TrimSpace(v.Get("introspection_client_secret"))),
		OpaqueTokenPrefix:         strings.TrimSpace(v.Get("opaque_token_prefix")),
		AcceptUnregisteredClients: v.Get("accept_unregistered_clients") == "true"})
	if isFormError(err) {
		return s.renderKeyManagers(w, r, c, http.StatusBadRequest, form{Values: withoutSecrets(v), Errors: formError(err, keyManagerFields...)}, "")
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/key-managers?done=created")
}

func (s *Server) keyManagerPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	return s.renderKeyManager(w, r, c, http.StatusOK, form{}, keyManagerNotices[r.URL.Query().Get("done")])
}

func (s *Server) renderKeyManager(w http.ResponseWriter, r *http.Request, c *Caller, status int, f form, notice string) error {
	if !keysmith.IsAdmin(c.User.Role) {
		return keysmith.Errorf(keysmith.CodeForbidden, "the key managers page is for admins")
	}
	m, err := s.Service.FindKeyManagerByID(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	if f.Values == nil {
		f.Values = url.Values{"name": {m.Name}, "issuer": {m.Issuer}, "audience": {m.Audience},
			"introspection_client_id": {m.IntrospectionClientID}, "opaque_token_prefix": {m.OpaqueTokenPrefix}}
		if m.AcceptUnregisteredClients {
			f.Values.Set("accept_unregistered_clients", "true")
		}
	}
	s.render(w, r, c, status, "key_manager", m.Name, map[string]any{
		"Manager": m, "CanEdit": keysmith.CanManageKeyManagers(c.User), "Form": f, "Notice": notice,
	})
	return nil
}

func (s *Server) updateKeyManager(w http.ResponseWriter, r *http.Request, c *Caller) error {
	v := r.PostForm
	name, iss, aud, icid := strings.TrimSpace(v.Get("name")), strings.TrimSpace(v.Get("issuer")),
		strings.TrimSpace(v.Get("audience")), strings.TrimSpace(v.Get("introspection_client_id"))
	prefix, accept := strings.TrimSpace(v.Get("opaque_token_prefix")), v.Get("accept_unregistered_clients") == "true"
	u := keysmith.KeyManagerUpdate{Name: &name, Issuer: &iss, Audience: &aud, IntrospectionClientID: &icid,
		OpaqueTokenPrefix: &prefix, AcceptUnregisteredClients: &accept}
	// A secret field left empty keeps the secret; "clear" boxes remove it.
	for _, f := range []struct {
		field string
		dst   **keysmith.Secret
	}{{"registration_token", &u.RegistrationToken}, {"introspection_client_secret", &u.IntrospectionClientSecret}} {
		if t := strings.TrimSpace(v.Get(f.field)); t != "" || v.Get("clear_"+f.field) == "true" {
			sec := keysmith.NewSecret(t)
			*f.dst = &sec
		}
	}
	_, err := s.Service.UpdateKeyManager(r.Context(), c.Principal, r.PathValue("id"), u)
	if isFormError(err) {
		return s.renderKeyManager(w, r, c, http.StatusBadRequest, form{Values: withoutSecrets(v), Errors: formError(err, keyManagerFields...)}, "")
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/key-managers/"+url.PathEscape(r.PathValue("id"))+"?done=saved")
}

func (s *Server) toggleKeyManager(w http.ResponseWriter, r *http.Request, c *Caller) error {
	on := r.PostForm.Get("enabled") == "true"
	if _, err := s.Service.UpdateKeyManager(r.Context(), c.Principal, r.PathValue("id"), keysmith.KeyManagerUpdate{Enabled: &on}); err != nil {
		return err
	}
	done := "disabled"
	if on {
		done = "enabled"
	}
	return redirect(w, r, "/key-managers?done="+done)
}

func (s *Server) deleteKeyManager(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if err := s.Service.DeleteKeyManager(r.Context(), c.Principal, r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/key-managers?done=deleted")
}
