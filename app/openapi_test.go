package app_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/httpapi"
	"github.com/keysmith/keysmith/storetest"
)

// TestOpenAPIIsServed: the document is public and cacheable, and is the
// one kept in the repository (which apptest holds every answer to).
func TestOpenAPIIsServed(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		r := s.Do("GET", "/v1/openapi.json", "", nil).Want(t, http.StatusOK)
		if got := r.Header.Get("Cache-Control"); got != "public, max-age=3600" {
			t.Errorf("Cache-Control %q", got)
		}
		if !bytes.Equal(r.Raw, httpapi.OpenAPI) {
			t.Errorf("served document differs from httpapi.OpenAPI")
		}
		r.WantField(t, "openapi", "3.1.0")
	})
}
