package httpapi

import (
	"net/http"

	"github.com/keysmith/keysmith"
)

func (s *Server) settingsRoutes(mux routes) {
	mux.Handle("GET /v1/settings/rate-limits", s.authed(s.getRateLimits))
	mux.Handle("PUT /v1/settings/rate-limits", s.authed(s.putRateLimits))
}

// The rate limits are one flat object, group → requests per minute, the
// same shape in GET and PUT, so a script can read, edit and write back.
func (s *Server) getRateLimits(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	l, err := s.Service.RateLimits(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) putRateLimits(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req map[keysmith.APIGroup]int
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req == nil {
		return keysmith.Errorf(keysmith.CodeInvalid, "request body must be an object of group: requests per minute")
	}
	l, err := s.Service.SetRateLimits(r.Context(), p, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}
