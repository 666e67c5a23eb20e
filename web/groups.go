package web

import "net/http"

func (s *Server) groupRoutes(mux *http.ServeMux) {}
