package web

import "net/http"

func (s *Server) tokenRoutes(mux *http.ServeMux) {}
