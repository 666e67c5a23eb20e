package httpapi

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIDocumentsEveryRoute: the OpenAPI document is valid OpenAPI
// 3.1 and names exactly the operations that the muxes serve, as
// registered (a route added without its documentation, or documentation
// left behind by a removed route, fails here).
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	documented := map[string]bool{} // "METHOD /path"
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}

	// With Pages set, so that the routes handed to the console count too.
	s := &Server{Pages: http.NotFoundHandler()}
	s.Handler()
	served := map[string]bool{}
	for _, p := range s.patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			method, path = "", p
		}
		switch {
		case path == "/" || path == "/v1/":
			continue // the catch-alls: 404 or 405
		case strings.HasSuffix(path, "/"):
			path += "{path}" // a prefix; OpenAPI has no such thing
		}
		if method != "" {
			served[method+" "+path] = true
			if !documented[method+" "+path] {
				t.Errorf("%s is served but not documented", p)
			}
			continue
		}
		// A pattern without a method serves every one: the document
		// says which ones a client uses.
		n := 0
		for op := range documented {
			if _, p, _ := strings.Cut(op, " "); p == path {
				served[op] = true
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s is served but not documented", p)
		}
	}
	for _, op := range slices.Sorted(maps.Keys(documented)) {
		if !served[op] {
			t.Errorf("%s is documented but not served", op)
		}
	}
}
