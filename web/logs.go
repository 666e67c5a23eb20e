package web

import "net/http"

func (s *Server) logRoutes(mux *http.ServeMux) {}
