package web

import "net/http"

func (s *Server) rateLimitRoutes(mux *http.ServeMux) {}
