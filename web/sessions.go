package web

import (
	"net/http"
)

func (s *Server) sessionRoutes(mux *http.ServeMux) {
	mux.Handle("GET /sessions", s.page(s.sessionsPage))
	mux.Handle("POST /sessions/end-all", s.page(s.endSessions))
}

func (s *Server) sessionsPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	ss, err := s.Service.FindSessions(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	s.render(w, r, c, http.StatusOK, "sessions", "Your sessions", map[string]any{"Sessions": ss})
	return nil
}

// endSessions signs the caller out of every browser, this one included.
func (s *Server) endSessions(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if _, err := s.Service.EndSessions(r.Context(), c.Principal); err != nil {
		return err
	}
	s.Gate.ClearSessionCookie(w, r)
	return redirect(w, r, "/sign-in?done=signed-out")
}
