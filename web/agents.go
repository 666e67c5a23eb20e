package web

import "net/http"

func (s *Server) agentRoutes(mux *http.ServeMux) {}
