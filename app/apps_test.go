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

// transferred is a developer's application with a client (two secrets)
// and an app key, for the transfer tests.
type transferred struct {
	owner, ownerToken, app string
	client                 client
	second, key            string // the client's second secret, the key
}

func newTransferred(t *testing.T, s *apptest.Server) transferred {
	t.Helper()
	var x transferred
	x.owner, x.ownerToken = s.AddUser(keysmith.RoleDeveloper, "")
	x.app = newApp(t, s, x.ownerToken, "handed over")
	x.client = newClient(t, s, x.ownerToken, map[string]any{"app_id": x.app})
	x.second = s.Do("POST", "/v1/oauth/clients/"+x.client.ID+"/secrets", x.ownerToken, nil).Want(t, http.StatusCreated).String("client_secret")
	_, x.key = newAppKey(t, s, x.ownerToken, x.app, nil)
	return x
}

func TestAppTransferAPI(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		registerAPI(t, s, "orders")
		transfer := func(caller, app string, body any) apptest.Response {
			return s.Do("POST", "/v1/apps/"+app+"/transfer", caller, body)
		}

		t.Run("TransferResetsEveryCredentialSoThePreviousOwnerHoldsNothingThatWorks", func(t *testing.T) {
			x := newTransferred(t, s)
			newOwner, newToken := s.AddUser(keysmith.RoleDeveloper, "")
			_, org := s.AddUser(keysmith.RoleOrgAdmin, "")
			issued := accessToken(t, s, x.client)
			r := transfer(org, x.app, map[string]any{"owner_id": newOwner}).Want(t, http.StatusOK)
			if r.String("owner_id") != newOwner || r.String("previous_owner_id") != x.owner || r.Body["credentials_reset"] != true ||
				r.Body["revoked_keys"] != 1.0 || r.Body["deleted_secrets"] != 2.0 || r.String("app_id") != x.app || r.String("note") == "" {
				t.Errorf("transfer: %s", r.Raw)
			}
			if bytes.Contains(r.Raw, []byte("ksc_")) || bytes.Contains(r.Raw, []byte("client_secret")) {
				t.Errorf("the transfer answers with a secret: %s", r.Raw)
			}
			// Nothing the previous owner holds works any more.
			getToken(t, s, x.client, "").Want(t, http.StatusUnauthorized)
			getToken(t, s, client{ID: x.client.ID, Secret: x.second}, "").Want(t, http.StatusUnauthorized)
			if code := verifyKey(t, s, x.key).String("code"); code != "REVOKED" {
				t.Errorf("verify the previous owner's key: %s, want REVOKED", code)
			}
			// Nor an access token issued before: its client is revoked.
			in := postForm(t, s, "/v1/oauth/introspect", "", "", admin, map[string][]string{"token": {issued}}).Want(t, http.StatusOK)
			if in.Body["active"] != false {
				t.Errorf("access token issued before the transfer: %s", in.Raw)
			}
			// The application, its client and their new credentials are the
			// new owner's; the previous owner no longer sees them.
			s.Do("GET", "/v1/apps/"+x.app, x.ownerToken, nil).Want(t, http.StatusNotFound)
			s.Do("POST", "/v1/oauth/clients/"+x.client.ID+"/secrets", x.ownerToken, nil).Want(t, http.StatusNotFound)
			s.Do("POST", "/v1/apps/"+x.app+"/keys", x.ownerToken, map[string]any{"name": "k", "environment": "sandbox"}).
				Want(t, http.StatusNotFound)
			if g := s.Do("GET", "/v1/oauth/clients/"+x.client.ID, newToken, nil).Want(t, http.StatusOK); g.String("owner_id") != newOwner {
				t.Errorf("client after the transfer: %s", g.Raw)
			}
			l := s.Do("GET", "/v1/oauth/clients/"+x.client.ID+"/secrets", newToken, nil).Want(t, http.StatusOK)
			if n := len(l.Body["items"].([]any)); n != 0 {
				t.Errorf("the client has %d secrets after the transfer, want none: %s", n, l.Raw)
			}
			// The client is revoked: the new owner generates a new one.
			s.Do("POST", "/v1/oauth/clients/"+x.client.ID+"/secrets", newToken, nil).Want(t, http.StatusConflict)
			fresh := s.Do("POST", "/v1/oauth/clients", newToken, map[string]any{"name": "new", "app_id": x.app,
				"environment": "sandbox"}).Want(t, http.StatusCreated)
			getToken(t, s, client{ID: fresh.String("client_id"), Secret: fresh.String("client_secret")}, "").Want(t, http.StatusOK)
			_, key := newAppKey(t, s, newToken, x.app, nil)
			if code := verifyKey(t, s, key).String("code"); code != "VALID" {
				t.Errorf("the new owner's key: %s", code)
			}
			ev := s.Do("GET", "/v1/logs?type=app.transferred&target="+x.app, admin, nil).Want(t, http.StatusOK)
			if !bytes.Contains(ev.Raw, []byte(`"credentials_reset":true`)) || !bytes.Contains(ev.Raw, []byte(x.owner)) {
				t.Errorf("app.transferred event: %s", ev.Raw)
			}
		})

		t.Run("OnlySuperAdminsKeepTheCredentials", func(t *testing.T) {
			x := newTransferred(t, s)
			newOwner, _ := s.AddUser(keysmith.RoleDeveloper, "")
			_, org := s.AddUser(keysmith.RoleOrgAdmin, "")
			r := transfer(org, x.app, map[string]any{"owner_id": newOwner, "keep_credentials": true}).Want(t, http.StatusForbidden)
			if !strings.Contains(r.String("error_description"), "super admins") {
				t.Errorf("refusal: %s", r.Raw)
			}
			r = transfer(admin, x.app, map[string]any{"owner_id": newOwner, "keep_credentials": true}).Want(t, http.StatusOK)
			if r.Body["credentials_reset"] != false || r.Body["revoked_keys"] != 0.0 || r.Body["deleted_secrets"] != 0.0 {
				t.Errorf("transfer keeping credentials: %s", r.Raw)
			}
			getToken(t, s, x.client, "").Want(t, http.StatusOK)
			if v := verifyKey(t, s, x.key); v.String("code") != "VALID" || v.String("owner_id") != newOwner {
				t.Errorf("the kept key, now the new owner's: %s", v.Raw)
			}
			// It follows its new owner: deactivating the previous one changes nothing.
			s.Do("POST", "/v1/users/"+x.owner+"/deactivate", admin, nil).Want(t, http.StatusOK)
			getToken(t, s, x.client, "").Want(t, http.StatusOK)
			if code := verifyKey(t, s, x.key).String("code"); code != "VALID" {
				t.Errorf("the kept key once its previous owner is deactivated: %s", code)
			}
		})

		t.Run("OnlyOrgAndSuperAdminsTransfer", func(t *testing.T) {
			x := newTransferred(t, s)
			newOwner, _ := s.AddUser(keysmith.RoleDeveloper, "")
			_, other := s.AddUser(keysmith.RoleDeveloper, "")
			body := map[string]any{"owner_id": newOwner}
			for _, role := range []keysmith.Role{keysmith.RoleGroupAdmin, keysmith.RoleGroupMembershipAdmin, keysmith.RoleReadOnlyAdmin} {
				_, tok := s.AddUser(role, "")
				transfer(tok, x.app, body).Want(t, http.StatusForbidden)
			}
			transfer(x.ownerToken, x.app, body).Want(t, http.StatusForbidden) // not even their own
			transfer(other, x.app, body).Want(t, http.StatusNotFound)
			transfer("", x.app, body).Want(t, http.StatusUnauthorized)
			getToken(t, s, x.client, "").Want(t, http.StatusOK)
			if g := s.Do("GET", "/v1/apps/"+x.app, admin, nil).Want(t, http.StatusOK); g.String("owner_id") != x.owner {
				t.Errorf("after the refusals: %s", g.Raw)
			}
		})

		t.Run("TheNewOwnerMustBeAnActiveUserWhoMayOwnApplications", func(t *testing.T) {
			x := newTransferred(t, s)
			inactive, _ := s.AddUser(keysmith.RoleDeveloper, "")
			s.Do("POST", "/v1/users/"+inactive+"/deactivate", admin, nil).Want(t, http.StatusOK)
			readOnly, _ := s.AddUser(keysmith.RoleReadOnlyAdmin, "")
			events := countRows(t, s, "events")
			for _, c := range []struct {
				body   string
				status int
				says   string
			}{
				{`{}`, http.StatusBadRequest, "owner_id is required"},
				{`{"owner_id":"usr_nobody"}`, http.StatusBadRequest, "names no user"},
				{`{"owner_id":"` + x.owner + `"}`, http.StatusBadRequest, "already belongs"},
				{`{"owner_id":"` + inactive + `"}`, http.StatusConflict, "deactivated"},
				{`{"owner_id":"` + readOnly + `"}`, http.StatusBadRequest, "may not own applications"},
				{`{"owner_id":"` + readOnly + `","reset":true}`, http.StatusBadRequest, ""},
				{`{"owner_id":1}`, http.StatusBadRequest, ""},
			} {
				r := transfer(admin, x.app, c.body).Want(t, c.status)
				if !strings.Contains(r.String("error_description"), c.says) {
					t.Errorf("%s: %s, want it to say %q", c.body, r.Raw, c.says)
				}
			}
			transfer(admin, "app_nope", map[string]any{"owner_id": x.owner}).Want(t, http.StatusNotFound)
			if n := countRows(t, s, "events"); n != events {
				t.Errorf("refused transfers recorded %d events", n-events)
			}
			getToken(t, s, x.client, "").Want(t, http.StatusOK)
		})
	})
}
