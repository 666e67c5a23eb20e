package app_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

func TestAppsAPI(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		registerScopes(t, s, "read")

		t.Run("CreateReadUpdateDelete", func(t *testing.T) {
			r := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "Billing", "description": "invoices"}).Want(t, http.StatusCreated)
			id := r.String("app_id")
			if !strings.HasPrefix(id, "app_") || r.String("owner_id") != s.AdminID || r.String("description") != "invoices" {
				t.Fatalf("create: %s", r.Raw)
			}
			if g := s.Do("GET", "/v1/apps/"+id, admin, nil).Want(t, http.StatusOK); g.String("name") != "Billing" {
				t.Errorf("get: %s", g.Raw)
			}
			s.Clock.Advance(time.Second)
			p := s.Do("PATCH", "/v1/apps/"+id, admin, map[string]any{"name": "Billing v2"}).Want(t, http.StatusOK)
			if p.String("name") != "Billing v2" || p.String("description") != "invoices" || p.String("app_id") != id {
				t.Errorf("patch: %s", p.Raw)
			}
			l := s.Do("GET", "/v1/apps", admin, nil).Want(t, http.StatusOK)
			if !bytes.Contains(l.Raw, []byte(id)) {
				t.Errorf("list lacks %s: %s", id, l.Raw)
			}
			s.Do("DELETE", "/v1/apps/"+id, admin, nil).Want(t, http.StatusNoContent)
			s.Do("GET", "/v1/apps/"+id, admin, nil).Want(t, http.StatusNotFound)
			s.Do("DELETE", "/v1/apps/"+id, admin, nil).Want(t, http.StatusNotFound)
		})

		t.Run("BadInputIsRefusedAndChangesNothing", func(t *testing.T) {
			id := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "keep"}).Want(t, http.StatusCreated).String("app_id")
			before := countRows(t, s, "apps")
			for _, body := range []string{`{}`, `{"name":""}`, `{"name":"x","owner_id":"y"}`, `{"name":"` + strings.Repeat("a", 101) + `"}`,
				`{"name":"x","description":"` + strings.Repeat("d", 1001) + `"}`, `[]`, `{"name":1}`} {
				r := s.Do("POST", "/v1/apps", admin, body).Want(t, http.StatusBadRequest)
				if r.String("error") != "invalid_request" || r.String("error_description") == "" {
					t.Errorf("%s: %s", body, r.Raw)
				}
			}
			for _, body := range []string{`{}`, `{"name":""}`, `{"app_id":"other"}`} {
				s.Do("PATCH", "/v1/apps/"+id, admin, body).Want(t, http.StatusBadRequest)
			}
			if after := countRows(t, s, "apps"); after != before {
				t.Errorf("apps: %d before, %d after", before, after)
			}
			if g := s.Do("GET", "/v1/apps/"+id, admin, nil).Want(t, http.StatusOK); g.String("name") != "keep" {
				t.Errorf("refused patch changed the app: %s", g.Raw)
			}
			s.Do("GET", "/v1/apps", "", nil).Want(t, http.StatusUnauthorized)
		})

		t.Run("DeveloperManagesOnlyTheirOwn", func(t *testing.T) {
			devID, dev := s.AddUser(keysmith.RoleDeveloper, "")
			_, other := s.AddUser(keysmith.RoleDeveloper, "")
			_, ro := s.AddUser(keysmith.RoleReadOnlyAdmin, "")
			mine := s.Do("POST", "/v1/apps", dev, map[string]any{"name": "mine"}).Want(t, http.StatusCreated)
			if mine.String("owner_id") != devID {
				t.Fatalf("owner: %s", mine.Raw)
			}
			id := mine.String("app_id")
			adminApp := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "admin's"}).Want(t, http.StatusCreated).String("app_id")

			// The other developer neither sees nor changes it.
			s.Do("GET", "/v1/apps/"+id, other, nil).Want(t, http.StatusNotFound)
			s.Do("PATCH", "/v1/apps/"+id, other, map[string]any{"name": "x"}).Want(t, http.StatusNotFound)
			s.Do("DELETE", "/v1/apps/"+id, other, nil).Want(t, http.StatusNotFound)
			s.Do("POST", "/v1/oauth/clients", other, map[string]any{"name": "c", "environment": "sandbox", "app_id": id}).Want(t, http.StatusBadRequest)
			if l := s.Do("GET", "/v1/apps", other, nil).Want(t, http.StatusOK); bytes.Contains(l.Raw, []byte(id)) {
				t.Errorf("another developer lists it: %s", l.Raw)
			}
			// The developer sees only their own.
			l := s.Do("GET", "/v1/apps", dev, nil).Want(t, http.StatusOK)
			if !bytes.Contains(l.Raw, []byte(id)) || bytes.Contains(l.Raw, []byte(adminApp)) {
				t.Errorf("developer's list: %s", l.Raw)
			}
			s.Do("GET", "/v1/apps/"+adminApp, dev, nil).Want(t, http.StatusNotFound)
			// The read-only admin sees all and changes nothing.
			s.Do("GET", "/v1/apps/"+id, ro, nil).Want(t, http.StatusOK)
			s.Do("PATCH", "/v1/apps/"+id, ro, map[string]any{"name": "x"}).Want(t, http.StatusForbidden)
			s.Do("DELETE", "/v1/apps/"+id, ro, nil).Want(t, http.StatusForbidden)
			s.Do("POST", "/v1/apps", ro, map[string]any{"name": "x"}).Want(t, http.StatusForbidden)
			// Admins manage all.
			s.Do("PATCH", "/v1/apps/"+id, admin, map[string]any{"description": "by admin"}).Want(t, http.StatusOK)

			// Clients follow the same rules, and belong to the app's owner.
			c := newClient(t, s, dev, map[string]any{"app_id": id, "scopes": []string{"read"}})
			if c.Body["owner_id"] != devID {
				t.Errorf("client owner: %v", c.Body)
			}
			ac := newClient(t, s, admin, map[string]any{"app_id": id})
			if ac.Body["owner_id"] != devID {
				t.Errorf("a client the admin adds to the developer's app belongs to %v", ac.Body["owner_id"])
			}
			s.Do("GET", "/v1/oauth/clients/"+c.ID, other, nil).Want(t, http.StatusNotFound)
			s.Do("DELETE", "/v1/oauth/clients/"+c.ID, other, nil).Want(t, http.StatusNotFound)
			s.Do("POST", "/v1/oauth/clients/"+c.ID+"/secrets", other, nil).Want(t, http.StatusNotFound)
			s.Do("GET", "/v1/oauth/clients/"+c.ID+"/secrets", ro, nil).Want(t, http.StatusOK)
			s.Do("POST", "/v1/oauth/clients/"+c.ID+"/secrets", ro, nil).Want(t, http.StatusForbidden)
			s.Do("DELETE", "/v1/oauth/clients/"+c.ID, ro, nil).Want(t, http.StatusForbidden)
			s.Do("POST", "/v1/oauth/clients", ro, map[string]any{"name": "c", "environment": "sandbox"}).Want(t, http.StatusForbidden)
			if l := s.Do("GET", "/v1/oauth/clients", other, nil).Want(t, http.StatusOK); bytes.Contains(l.Raw, []byte(c.ID)) {
				t.Errorf("another developer lists the client: %s", l.Raw)
			}
			s.Do("POST", "/v1/oauth/clients/"+c.ID+"/secrets", dev, nil).Want(t, http.StatusCreated)
			s.Do("DELETE", "/v1/oauth/clients/"+c.ID, dev, nil).Want(t, http.StatusNoContent)
		})

		t.Run("DeletingAnAppRevokesItsClientsAndTokens", func(t *testing.T) {
			id := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "doomed"}).Want(t, http.StatusCreated).String("app_id")
			c := newClient(t, s, admin, map[string]any{"app_id": id})
			op := newClient(t, s, admin, map[string]any{"app_id": id, "token_format": "opaque"})
			jwtTok, opTok := accessToken(t, s, c), accessToken(t, s, op)
			for _, tok := range []string{jwtTok, opTok} {
				if r := introspect(t, s, c, tok); r.Body["active"] != true {
					t.Fatalf("before delete: %s", r.Raw)
				}
			}
			s.Do("DELETE", "/v1/apps/"+id, admin, nil).Want(t, http.StatusNoContent)
			for _, tok := range []string{jwtTok, opTok} {
				r := postForm(t, s, "/v1/oauth/introspect", "", "", admin, map[string][]string{"token": {tok}}).Want(t, http.StatusOK)
				if r.Body["active"] != false {
					t.Errorf("token of a deleted app is active: %s", r.Raw)
				}
				if code := verifyCode(t, s, tok); code != "REVOKED" {
					t.Errorf("verify after app delete: %s", code)
				}
			}
			getToken(t, s, c, "").Want(t, http.StatusUnauthorized)
			if g := s.Do("GET", "/v1/oauth/clients/"+c.ID, admin, nil).Want(t, http.StatusOK); g.String("status") != "revoked" {
				t.Errorf("client of deleted app: %s", g.Raw)
			}
		})
	})
}
