package httpapi

import (
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// trustedOriginJSON is a trusted origin as the API shows it.
type trustedOriginJSON struct {
	ID        string    `json:"id"`
	Origin    string    `json:"origin"`
	CreatedAt time.Time `json:"created_at"`
}

func toTrustedOriginJSON(o *keysmith.TrustedOrigin) trustedOriginJSON {
	return trustedOriginJSON{ID: o.ID, Origin: o.Origin, CreatedAt: o.CreatedAt}
}

// trustedOriginRequest is the body of POST /v1/trusted-origins.
type trustedOriginRequest struct {
	Origin string `json:"origin"`
}

func (s *Server) trustedOriginRoutes(mux routes) {
	mux.Handle("POST /v1/trusted-origins", s.authed(s.createTrustedOrigin))
	mux.Handle("GET /v1/trusted-origins", s.authed(s.listTrustedOrigins))
	mux.Handle("DELETE /v1/trusted-origins/{id}", s.authed(s.deleteTrustedOrigin))
}

func (s *Server) createTrustedOrigin(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req trustedOriginRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	o, err := s.Service.CreateTrustedOrigin(r.Context(), p, req.Origin)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/trusted-origins/"+o.ID)
	writeJSON(w, http.StatusCreated, toTrustedOriginJSON(o))
	return nil
}

func (s *Server) listTrustedOrigins(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := onlyParams(r.URL.Query(), nil); err != nil {
		return err
	}
	os, err := s.Service.FindTrustedOrigins(r.Context(), p)
	if err != nil {
		return err
	}
	items := make([]trustedOriginJSON, len(os))
	for i, o := range os {
		items[i] = toTrustedOriginJSON(o)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": ""})
	return nil
}

func (s *Server) deleteTrustedOrigin(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := s.Service.DeleteTrustedOrigin(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
