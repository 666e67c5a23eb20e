package web

import "net/http"

func (s *Server) userRoutes(mux *http.ServeMux) {}
