package web

import "net/http"

func (s *Server) zoneRoutes(mux *http.ServeMux) {}
