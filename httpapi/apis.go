package httpapi

import (
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// apiJSON is an API (resource server) as the API shows it.
type apiJSON struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Identifier string      `json:"identifier"`
	Scopes     []scopeJSON `json:"scopes"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

// scopeJSON is a scope, in an API's list and in requests.
type scopeJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	SelfService bool   `json:"self_service"`
}

func toScopesJSON(ss []keysmith.Scope) []scopeJSON {
	out := make([]scopeJSON, len(ss))
	for i, s := range ss {
		out[i] = scopeJSON{Name: s.Name, Description: s.Description, SelfService: s.SelfService}
	}
	return out
}

func toAPIJSON(a *keysmith.API) apiJSON {
	return apiJSON{ID: a.ID, Name: a.Name, Identifier: a.Identifier, Scopes: toScopesJSON(a.Scopes),
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

func scopeInputs(ss []scopeJSON) []keysmith.ScopeInput {
	out := make([]keysmith.ScopeInput, len(ss))
	for i, s := range ss {
		out[i] = keysmith.ScopeInput{Name: s.Name, Description: s.Description, SelfService: s.SelfService}
	}
	return out
}

func (s *Server) apiRoutes(mux routes) {
	mux.Handle("POST /v1/apis", s.authed(s.createAPI))
	mux.Handle("GET /v1/apis", s.authed(s.listAPIs))
	mux.Handle("GET /v1/apis/{id}", s.authed(s.getAPI))
	mux.Handle("PATCH /v1/apis/{id}", s.authed(s.updateAPI))
	mux.Handle("DELETE /v1/apis/{id}", s.authed(s.deleteAPI))
}

func (s *Server) createAPI(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Name       string      `json:"name"`
		Identifier string      `json:"identifier"`
		Scopes     []scopeJSON `json:"scopes"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	a, err := s.Service.CreateAPI(r.Context(), p, keysmith.CreateAPIInput{Name: req.Name, Identifier: req.Identifier,
		Scopes: scopeInputs(req.Scopes)})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/apis/"+a.ID)
	writeJSON(w, http.StatusCreated, toAPIJSON(a))
	return nil
}

// listAPIs answers every API and, apart, the built-in OpenID Connect
// scopes: always registered, self-service, with no API and no audience.
func (s *Server) listAPIs(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := onlyParams(r.URL.Query(), nil); err != nil {
		return err
	}
	as, err := s.Service.FindAPIs(r.Context(), p)
	if err != nil {
		return err
	}
	items := make([]apiJSON, len(as))
	for i, a := range as {
		items[i] = toAPIJSON(a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": "",
		"builtin_scopes": toScopesJSON(keysmith.BuiltinScopes)})
	return nil
}

func (s *Server) getAPI(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	a, err := s.Service.FindAPIByID(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIJSON(a))
	return nil
}

func (s *Server) updateAPI(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Name       *string      `json:"name"`
		Identifier *string      `json:"identifier"`
		Scopes     *[]scopeJSON `json:"scopes"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	u := keysmith.APIUpdate{Name: req.Name, Identifier: req.Identifier}
	if req.Scopes != nil {
		in := scopeInputs(*req.Scopes)
		u.Scopes = &in
	}
	a, err := s.Service.UpdateAPI(r.Context(), p, r.PathValue("id"), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIJSON(a))
	return nil
}

func (s *Server) deleteAPI(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := s.Service.DeleteAPI(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
