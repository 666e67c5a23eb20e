package httpapi

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 description of the JSON API, kept beside the
// handlers it describes. The tests hold it to the routes registered here
// and to every answer the HTTP tests receive (package apptest).
//
//go:embed openapi.json
var OpenAPI []byte

func (s *Server) openAPIRoutes(mux routes) {
	mux.HandleFunc("GET /v1/openapi.json", s.openAPI)
}

// openAPI answers the document: public (it describes the API, not a
// tenant's data) and the same until the binary changes, so caches may keep
// it for an hour.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["X-Content-Type-Options"] = nosniff
	h.Set("Cache-Control", "public, max-age=3600")
	w.Write(OpenAPI)
}
