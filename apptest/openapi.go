package apptest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/keysmith/keysmith/httpapi"
)

// The OpenAPI document (httpapi.OpenAPI) is held to every answer a test
// receives through Do or Send: the status must be one the operation
// documents (any error status falls to its default, the Error schema),
// and the content type and JSON body must match the response's schema.
// A request answered with success must match the operation's parameters
// and request body: what the server took, the document must describe.

// openAPI is the loaded document and a mux that finds an operation the way
// the server finds its handler: the document's paths are ServeMux patterns.
type openAPI struct {
	doc    *openapi3.T
	mux    *http.ServeMux
	routes map[string]*routers.Route // by mux pattern
	errors *openapi3.Schema
}

var loadOpenAPI = sync.OnceValues(func() (*openAPI, error) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	o := &openAPI{doc: doc, mux: http.NewServeMux(), routes: map[string]*routers.Route{}}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			// {path} at the end of a path is a prefix's rest (forward
			// auth): it may hold slashes.
			pattern := method + " " + strings.Replace(path, "{path}", "{path...}", 1)
			o.mux.Handle(pattern, http.NotFoundHandler())
			o.routes[pattern] = &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}
	o.errors = doc.Components.Schemas["Error"].Value
	return o, nil
})

// checkOpenAPI reports how the answer to req departs from the document,
// or nil. A path the document does not know (console pages, 404s) is
// checked only for being an Error, when it is a JSON error from the API.
func checkOpenAPI(req *http.Request, status int, header http.Header, raw []byte) error {
	o, err := loadOpenAPI()
	if err != nil {
		return fmt.Errorf("load the OpenAPI document: %w", err)
	}
	probe := &http.Request{Method: req.Method, URL: req.URL, Host: req.URL.Host, Header: http.Header{}}
	if _, pattern := o.mux.Handler(probe); o.routes[pattern] != nil {
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: o.routes[pattern]},
			Status:                 status,
			Header:                 header,
			Body:                   io.NopCloser(bytes.NewReader(raw)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			return err
		}
		// Requests are not checked against the document yet: its request
		// schemas are stricter than the server (null lists, omitted
		// fields), and the strict decoder is what refuses bad requests.
		return nil
	}
	p := req.URL.Path
	if status < 400 || !(strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/.well-known/")) {
		return nil
	}
	if ct, _, _ := mime.ParseMediaType(header.Get("Content-Type")); ct != "application/json" {
		return fmt.Errorf("error answer of type %q, want application/json", header.Get("Content-Type"))
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return err
	}
	return o.errors.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

func decodeJSON(raw []byte) (any, error) {
	var v any
	d := jsonDecoder(raw)
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("error answer is not JSON: %w", err)
	}
	return v, nil
}
