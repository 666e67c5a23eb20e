package httpapi

import (
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// groupJSON is a group as the API shows it.
type groupJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func toGroupJSON(g *keysmith.Group) groupJSON {
	return groupJSON{ID: g.ID, Name: g.Name, Description: g.Description, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

func (s *Server) groupRoutes(mux routes) {
	mux.Handle("POST /v1/groups", s.authed(s.createGroup))
	mux.Handle("GET /v1/groups", s.authed(s.listGroups))
	mux.Handle("GET /v1/groups/{id}", s.authed(s.getGroup))
	mux.Handle("PATCH /v1/groups/{id}", s.authed(s.updateGroup))
	mux.Handle("DELETE /v1/groups/{id}", s.authed(s.deleteGroup))
	mux.Handle("GET /v1/groups/{id}/members", s.authed(s.listGroupMembers))
	mux.Handle("PUT /v1/groups/{id}/members/{user_id}", s.authed(s.setGroupMember(true)))
	mux.Handle("DELETE /v1/groups/{id}/members/{user_id}", s.authed(s.setGroupMember(false)))
}

type groupRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req groupRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	g, err := s.Service.CreateGroup(r.Context(), p, keysmith.GroupInput(req))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/groups/"+g.ID)
	writeJSON(w, http.StatusCreated, toGroupJSON(g))
	return nil
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	q, page, err := listQuery(r, "q")
	if err != nil {
		return err
	}
	gs, next, err := s.Service.FindGroups(r.Context(), p, keysmith.GroupFilter{Query: q.Get("q"), Page: page})
	if err != nil {
		return err
	}
	items := make([]groupJSON, len(gs))
	for i, g := range gs {
		items[i] = toGroupJSON(g)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	g, err := s.Service.FindGroupByID(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toGroupJSON(g))
	return nil
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req groupRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	g, err := s.Service.UpdateGroup(r.Context(), p, r.PathValue("id"), keysmith.GroupInput(req))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toGroupJSON(g))
	return nil
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := s.Service.DeleteGroup(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listGroupMembers(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	f, err := userFilter(r)
	if err != nil {
		return err
	}
	us, next, err := s.Service.FindGroupMembers(r.Context(), p, r.PathValue("id"), f)
	if err != nil {
		return err
	}
	writeUsers(w, us, next)
	return nil
}

// setGroupMember answers PUT (add) and DELETE (remove) of a membership;
// both are idempotent and answer 204.
func (s *Server) setGroupMember(member bool) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
		if err := s.Service.SetGroupMember(r.Context(), p, r.PathValue("id"), r.PathValue("user_id"), member); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
