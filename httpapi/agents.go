package httpapi

import (
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// agentJSON is an agent as the API shows it. Token is set only in the
// response of the activation that issues it.
type agentJSON struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Kind          string     `json:"kind"`
	AutoRevoke    bool       `json:"auto_revoke"`
	Status        string     `json:"status"`
	OwnerID       string     `json:"owner_id"`
	TokenID       string     `json:"token_id"`
	CreatedAt     time.Time  `json:"created_at"`
	CreatedBy     string     `json:"created_by"`
	ActivatedAt   *time.Time `json:"activated_at"`
	DeactivatedAt *time.Time `json:"deactivated_at"`
	Token         *tokenJSON `json:"token,omitempty"`
}

func agentOut(a *keysmith.Agent) agentJSON {
	return agentJSON{ID: a.ID, Name: a.Name, Kind: string(a.Kind), AutoRevoke: a.Kind.AutoRevokes(),
		Status: string(a.Status), OwnerID: a.OwnerID, TokenID: a.TokenID, CreatedAt: a.CreatedAt,
		CreatedBy: a.CreatedBy, ActivatedAt: a.ActivatedAt, DeactivatedAt: a.DeactivatedAt}
}

func (s *Server) agentRoutes(mux routes) {
	mux.Handle("POST /v1/agents", s.authed(s.createAgent))
	mux.Handle("GET /v1/agents", s.authed(s.listAgents))
	mux.Handle("GET /v1/agents/{id}", s.authed(s.getAgent))
	mux.Handle("POST /v1/agents/{id}/activate", s.authed(s.activateAgent))
	mux.Handle("POST /v1/agents/{id}/deactivate", s.authed(s.deactivateAgent))
	mux.Handle("DELETE /v1/agents/{id}", s.authed(s.deleteAgent))
}

func (s *Server) createAgent(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	a, err := s.Service.CreateAgent(r.Context(), p, keysmith.CreateAgentInput{Name: req.Name, Kind: keysmith.AgentKind(req.Kind)})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/agents/"+a.ID)
	writeJSON(w, http.StatusCreated, agentOut(a))
	return nil
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	_, page, err := listQuery(r)
	if err != nil {
		return err
	}
	as, next, err := s.Service.FindAgents(r.Context(), p, keysmith.AgentFilter{Page: page})
	if err != nil {
		return err
	}
	items := make([]agentJSON, len(as))
	for i, a := range as {
		items[i] = agentOut(a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	a, err := s.Service.FindAgentByID(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, agentOut(a))
	return nil
}

// activateAgent issues the agent's token; the response holds its secret,
// once, under token.token.
func (s *Server) activateAgent(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	a, t, secret, err := s.Service.ActivateAgent(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := agentOut(a)
	tj := s.tokenJSON(t)
	tj.Token = secret.Reveal()
	out.Token = &tj
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deactivateAgent(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	a, err := s.Service.DeactivateAgent(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, agentOut(a))
	return nil
}

func (s *Server) deleteAgent(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := s.Service.DeleteAgent(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
