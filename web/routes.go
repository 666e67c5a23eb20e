package web

import "net/http"

// routes registers the resource pages, one file per resource.
func (s *Server) routes(mux *http.ServeMux) {
	s.tokenRoutes(mux)
	s.userRoutes(mux)
	s.groupRoutes(mux)
	s.zoneRoutes(mux)
	s.trustedOriginRoutes(mux)
	s.keyManagerRoutes(mux)
	s.rateLimitRoutes(mux)
	s.agentRoutes(mux)
	s.logRoutes(mux)
	s.appRoutes(mux)
	s.appKeyRoutes(mux)
	s.apiRoutes(mux)
	s.developerRoutes(mux)
	s.oauthRoutes(mux)
	s.consentRoutes(mux)
}
