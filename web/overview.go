package web

import "net/http"

func (s *Server) overviewRoutes(mux *http.ServeMux) {
	mux.Handle("GET /{$}", s.page(s.overview))
}

// overview is what an admin checks each morning.
func (s *Server) overview(w http.ResponseWriter, r *http.Request, c *Caller) error {
	s.render(w, r, c, http.StatusOK, "overview", "Overview", nil)
	return nil
}
