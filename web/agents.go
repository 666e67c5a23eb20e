package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/keysmith/keysmith"
)

func (s *Server) agentRoutes(mux *http.ServeMux) {
	mux.Handle("GET /agents", s.page(s.agentsPage))
	mux.Handle("POST /agents", s.page(s.createAgent))
	mux.Handle("GET /agents/{id}", s.page(s.agentPage))
	mux.Handle("POST /agents/{id}/activate", s.page(s.activateAgent))
	mux.Handle("POST /agents/{id}/deactivate", s.page(s.deactivateAgent))
	mux.Handle("POST /agents/{id}/delete", s.page(s.deleteAgent))
}

// agentRow is an agent as the pages show it, with what the caller may do
// to it (decided by the domain's rules; the service decides again).
type agentRow struct {
	*keysmith.Agent
	Owner                                 string // the owner's e-mail, or id if the caller may not see them
	CanActivate, CanDeactivate, CanDelete bool
}

// agentRows adds owners and the caller's buttons to agents; owners are
// looked up once each.
func (s *Server) agentRows(ctx context.Context, c *Caller, as []*keysmith.Agent) []agentRow {
	owners := map[string]string{}
	rows := make([]agentRow, len(as))
	for i, a := range as {
		name, ok := owners[a.OwnerID]
		if !ok {
			name = a.OwnerID
			if u, err := s.Service.FindUserByID(ctx, c.Principal, a.OwnerID); err == nil {
				name = u.Email
			}
			owners[a.OwnerID] = name
		}
		manage := keysmith.CanManageAgent(c.User, a)
		rows[i] = agentRow{Agent: a, Owner: name,
			CanActivate:   a.Status != keysmith.AgentActive && keysmith.CanActivateAgent(c.User, a) == nil,
			CanDeactivate: a.Status == keysmith.AgentActive && manage,
			CanDelete:     manage,
		}
	}
	return rows
}

func (s *Server) agentsPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	notice := ""
	if r.URL.Query().Get("done") == "deleted" {
		notice = "The agent was deleted."
	}
	return s.renderAgents(w, r, c, http.StatusOK, form{}, notice)
}

func (s *Server) renderAgents(w http.ResponseWriter, r *http.Request, c *Caller, status int, f form, notice string) error {
	cursor := r.URL.Query().Get("cursor")
	as, next, err := s.Service.FindAgents(r.Context(), c.Principal, keysmith.AgentFilter{Page: keysmith.Page{Cursor: cursor}})
	if err != nil {
		return err
	}
	nextURL := ""
	if next != "" {
		nextURL = "/agents?" + url.Values{"cursor": {next}}.Encode()
	}
	if f.Values == nil {
		f.Values = url.Values{"kind": {string(keysmith.AgentCI)}}
	}
	s.render(w, r, c, status, "agents_list", "Agents", map[string]any{
		"Agents": s.agentRows(r.Context(), c, as), "Next": nextURL, "Form": f, "Notice": notice,
		"CanRegister": keysmith.CanCreateTokens(c.User), "Kinds": agentKinds(),
	})
	return nil
}

// agentKind is a kind as the register form offers it.
type agentKind struct {
	Kind keysmith.AgentKind
	Help string
}

func agentKinds() []agentKind {
	help := map[keysmith.AgentKind]string{
		keysmith.AgentCI:          "CI/CD pipeline; its token is revoked when it is deactivated",
		keysmith.AgentAssistant:   "AI assistant acting for you; its token is revoked when it is deactivated",
		keysmith.AgentDaemon:      "Long-running service; its token is kept (and shows as suspicious) while deactivated",
		keysmith.AgentIntegration: "Third-party integration; its token is kept while deactivated",
	}
	out := make([]agentKind, len(keysmith.AgentKinds))
	for i, k := range keysmith.AgentKinds {
		out[i] = agentKind{k, help[k]}
	}
	return out
}

// createAgent registers an agent owned by the caller, then shows it: it
// holds no token until it is activated.
func (s *Server) createAgent(w http.ResponseWriter, r *http.Request, c *Caller) error {
	in := keysmith.CreateAgentInput{Name: strings.TrimSpace(r.PostForm.Get("name")), Kind: keysmith.AgentKind(r.PostForm.Get("kind"))}
	a, err := s.Service.CreateAgent(r.Context(), c.Principal, in)
	if isFormError(err) {
		return s.renderAgents(w, r, c, http.StatusBadRequest, form{Values: r.PostForm, Errors: formError(err, "name", "kind")}, "")
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/agents/"+a.ID+"?done=created")
}

func (s *Server) agentPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	a, err := s.Service.FindAgentByID(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "created":
		notice = "The agent is registered. Activate it to issue its token."
	case "deactivated":
		notice = "The agent is deactivated."
	}
	return s.renderAgent(w, r, c, http.StatusOK, a, "", notice, "")
}

// renderAgent shows an agent; secret is the token an activation just
// issued, shown in this response only.
func (s *Server) renderAgent(w http.ResponseWriter, r *http.Request, c *Caller, status int, a *keysmith.Agent, secret, notice, formErr string) error {
	row := s.agentRows(r.Context(), c, []*keysmith.Agent{a})[0]
	var tok *keysmith.Token
	if a.TokenID != "" {
		if t, err := s.Service.FindTokenByID(r.Context(), c.Principal, a.TokenID); err == nil {
			tok = t
		}
	}
	data := map[string]any{"Agent": row, "Notice": notice, "Error": formErr, "AutoRevokes": a.Kind.AutoRevokes()}
	if secret != "" {
		data["Secret"] = map[string]string{"Label": "The agent's API token", "Value": secret, "ID": "agent-token"}
	}
	if tok != nil {
		data["Token"] = tok
		data["TokenStatus"] = tok.Status(s.Service.Now())
	}
	if secret != "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	s.render(w, r, c, status, "agent", "Agent "+a.Name, data)
	return nil
}

// activateAgent issues the agent's token and shows its secret in this
// response, the only time it is shown: never redirected, never stored.
func (s *Server) activateAgent(w http.ResponseWriter, r *http.Request, c *Caller) error {
	a, _, secret, err := s.Service.ActivateAgent(r.Context(), c.Principal, r.PathValue("id"))
	if isFormError(err) {
		a, ferr := s.Service.FindAgentByID(r.Context(), c.Principal, r.PathValue("id"))
		if ferr != nil {
			return ferr
		}
		return s.renderAgent(w, r, c, http.StatusConflict, a, "", "", keysmith.ErrorMessage(err))
	}
	if err != nil {
		return err
	}
	return s.renderAgent(w, r, c, http.StatusOK, a, secret.Reveal(), "The agent is active and holds a new token.", "")
}

func (s *Server) deactivateAgent(w http.ResponseWriter, r *http.Request, c *Caller) error {
	a, err := s.Service.DeactivateAgent(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return redirect(w, r, "/agents/"+a.ID+"?done=deactivated")
}

func (s *Server) deleteAgent(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if err := s.Service.DeleteAgent(r.Context(), c.Principal, r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/agents?done=deleted")
}
