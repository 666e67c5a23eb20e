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

// registerAPI registers an API through the store (its endpoints are not
// this file's): "<prefix>:read" is self-service, "<prefix>:admin" is not.
func registerAPI(t *testing.T, s *apptest.Server, prefix string) {
	t.Helper()
	now := s.Clock.Now()
	a := &keysmith.API{ID: keysmith.NewID("api"), Name: prefix, Identifier: "https://" + prefix + ".example",
		Scopes:    []keysmith.Scope{{Name: prefix + ":read", SelfService: true}, {Name: prefix + ":admin"}},
		CreatedAt: now, UpdatedAt: now}
	if err := s.App.Store.CreateAPI(t.Context(), a); err != nil {
		t.Fatal(err)
	}
}

// newApp registers an application as caller and returns its id.
func newApp(t *testing.T, s *apptest.Server, caller, name string) string {
	t.Helper()
	return s.Do("POST", "/v1/apps", caller, map[string]any{"name": name}).Want(t, http.StatusCreated).String("app_id")
}

// newAppKey creates a key of appID as caller and returns its id and secret.
func newAppKey(t *testing.T, s *apptest.Server, caller, appID string, body map[string]any) (id, key string) {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	if body["name"] == nil {
		body["name"] = "server key"
	}
	if body["environment"] == nil {
		body["environment"] = "sandbox"
	}
	r := s.Do("POST", "/v1/apps/"+appID+"/keys", caller, body).Want(t, http.StatusCreated)
	return r.String("id"), r.String("key")
}

func verifyKey(t *testing.T, s *apptest.Server, key string) apptest.Response {
	t.Helper()
	return s.Do("POST", "/v1/verify", "", map[string]any{"token": key}).Want(t, http.StatusOK)
}

func TestAppKeysAPI(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		registerAPI(t, s, "orders")
		devID, dev := s.AddUser(keysmith.RoleDeveloper, "")

		t.Run("CreateShowsTheKeyOnceAndVerifyKnowsItsAppAndEnvironment", func(t *testing.T) {
			appID := newApp(t, s, dev, "shop")
			r := s.Do("POST", "/v1/apps/"+appID+"/keys", dev, map[string]any{"name": "backend", "environment": "production",
				"scopes": []string{"orders:read"}, "meta": map[string]any{"team": "shop"}}).Want(t, http.StatusCreated)
			id, key := r.String("id"), r.String("key")
			if !strings.HasPrefix(key, "ksk_") || len(key) != keysmith.AppKeyForm.Len() {
				t.Fatalf("key = %q, want a ksk_ key", key)
			}
			if r.String("app_id") != appID || r.String("environment") != "production" || r.String("status") != "active" ||
				r.String("owner_id") != devID || r.String("type") != "app_key" || r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("create: %s", r.Raw)
			}
			for _, f := range []string{"created_at", "expires_at", "last_used_at", "meta", "rate_limit_percent", "network", "scopes"} {
				if _, ok := r.Body[f]; !ok {
					t.Errorf("create lacks %s: %s", f, r.Raw)
				}
			}
			v := verifyKey(t, s, key)
			if v.String("code") != "VALID" || v.String("type") != "app_key" || v.String("token_id") != id ||
				v.String("owner_id") != devID || v.String("app_id") != appID || v.String("env") != "production" {
				t.Errorf("verify: %s", v.Raw)
			}
			// Never again: not in get, not in the list.
			g := s.Do("GET", "/v1/apps/"+appID+"/keys/"+id, dev, nil).Want(t, http.StatusOK)
			l := s.Do("GET", "/v1/apps/"+appID+"/keys", dev, nil).Want(t, http.StatusOK)
			for _, raw := range [][]byte{g.Raw, l.Raw} {
				if bytes.Contains(raw, []byte(key)) || bytes.Contains(raw, []byte(`"key"`)) {
					t.Errorf("the secret is shown again: %s", raw)
				}
			}
			if g.String("name") != "backend" || !bytes.Contains(l.Raw, []byte(id)) || !bytes.Contains(g.Raw, []byte(`"orders:read"`)) {
				t.Errorf("get %s / list %s", g.Raw, l.Raw)
			}
			storetest.AssertNoPlaintext(t, s.App.Store.SQL(), s.App.Store.Engine(), key, strings.TrimPrefix(key, "ksk_"))
		})

		t.Run("PatchRotateAndDeleteManageTheKey", func(t *testing.T) {
			appID := newApp(t, s, dev, "patched")
			id, key := newAppKey(t, s, dev, appID, nil)
			p := s.Do("PATCH", "/v1/apps/"+appID+"/keys/"+id, dev, map[string]any{"name": "renamed", "scopes": []string{"orders:read"},
				"rate_limit_percent": 20}).Want(t, http.StatusOK)
			if p.String("name") != "renamed" || p.Body["rate_limit_percent"] != float64(20) || !bytes.Contains(p.Raw, []byte(`"orders:read"`)) {
				t.Errorf("patch: %s", p.Raw)
			}
			s.Do("PATCH", "/v1/apps/"+appID+"/keys/"+id, dev, map[string]any{"enabled": false}).Want(t, http.StatusOK)
			if c := verifyCode(t, s, key); c != "DISABLED" {
				t.Errorf("a disabled key verifies %s", c)
			}
			s.Do("PATCH", "/v1/apps/"+appID+"/keys/"+id, dev, map[string]any{"enabled": true}).Want(t, http.StatusOK)
			s.Do("PATCH", "/v1/apps/"+appID+"/keys/"+id, dev, map[string]any{}).Want(t, http.StatusBadRequest)

			r := s.Do("POST", "/v1/apps/"+appID+"/keys/"+id+"/rotate", dev, map[string]any{"grace_seconds": 60}).Want(t, http.StatusOK)
			fresh := r.String("key")
			if !strings.HasPrefix(fresh, "ksk_") || fresh == key || r.String("id") != id {
				t.Fatalf("rotate: %s", r.Raw)
			}
			if verifyCode(t, s, fresh) != "VALID" || verifyCode(t, s, key) != "VALID" {
				t.Errorf("during the grace both secrets work")
			}
			s.Clock.Advance(61 * time.Second)
			if c := verifyCode(t, s, key); c != "REVOKED" {
				t.Errorf("the old secret after the grace: %s", c)
			}
			s.Do("DELETE", "/v1/apps/"+appID+"/keys/"+id, dev, nil).Want(t, http.StatusNoContent)
			if c := verifyCode(t, s, fresh); c != "REVOKED" {
				t.Errorf("a revoked key verifies %s", c)
			}
			if g := s.Do("GET", "/v1/apps/"+appID+"/keys/"+id, dev, nil).Want(t, http.StatusOK); g.String("status") != "revoked" {
				t.Errorf("after delete: %s", g.Raw)
			}
			s.Do("PATCH", "/v1/apps/"+appID+"/keys/"+id, dev, map[string]any{"name": "x"}).Want(t, http.StatusConflict)
			s.Do("POST", "/v1/apps/"+appID+"/keys/"+id+"/rotate", dev, nil).Want(t, http.StatusConflict)
		})

		t.Run("AnExpiredKeyIsExpired", func(t *testing.T) {
			appID := newApp(t, s, dev, "short")
			_, key := newAppKey(t, s, dev, appID, map[string]any{"expires_at": s.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
			s.Clock.Advance(time.Hour + time.Second)
			if c := verifyCode(t, s, key); c != "EXPIRED" {
				t.Errorf("an expired key verifies %s", c)
			}
		})

		t.Run("AKeyIDUnderAnotherAppOrUnderTokensIsNotFound", func(t *testing.T) {
			a, b := newApp(t, s, dev, "a"), newApp(t, s, dev, "b")
			id, _ := newAppKey(t, s, dev, a, nil)
			tok, _ := newToken(t, s, admin, "an API token")
			for _, c := range []struct{ method, path string }{
				{"GET", "/v1/apps/" + b + "/keys/" + id}, {"PATCH", "/v1/apps/" + b + "/keys/" + id},
				{"DELETE", "/v1/apps/" + b + "/keys/" + id}, {"POST", "/v1/apps/" + b + "/keys/" + id + "/rotate"},
				{"GET", "/v1/apps/" + a + "/keys/" + tok}, {"DELETE", "/v1/apps/" + a + "/keys/" + tok},
			} {
				var body any
				if c.method == "PATCH" {
					body = map[string]any{"name": "x"}
				}
				s.Do(c.method, c.path, admin, body).Want(t, http.StatusNotFound)
			}
			// The token endpoints know no app key, whoever asks.
			_, group := s.AddUser(keysmith.RoleGroupAdmin, "")
			for _, caller := range []string{admin, dev, group} {
				s.Do("GET", "/v1/tokens/"+id, caller, nil).Want(t, http.StatusNotFound)
				s.Do("PATCH", "/v1/tokens/"+id, caller, map[string]any{"name": "x"}).Want(t, http.StatusNotFound)
				s.Do("POST", "/v1/tokens/"+id+"/rotate", caller, nil).Want(t, http.StatusNotFound)
				s.Do("DELETE", "/v1/tokens/"+id, caller, nil).Want(t, http.StatusNotFound)
				if l := s.Do("GET", "/v1/tokens", caller, nil).Want(t, http.StatusOK); bytes.Contains(l.Raw, []byte(id)) {
					t.Errorf("GET /v1/tokens lists the key: %s", l.Raw)
				}
			}
			if l := s.Do("GET", "/v1/tokens?owner="+devID, admin, nil).Want(t, http.StatusOK); bytes.Contains(l.Raw, []byte(id)) {
				t.Errorf("GET /v1/tokens?owner lists the key: %s", l.Raw)
			}
			s.Do("GET", "/v1/tokens?type=app_key", admin, nil).Want(t, http.StatusBadRequest)
			if sum := s.Do("GET", "/v1/tokens/summary", admin, nil).Want(t, http.StatusOK); bytes.Contains(sum.Raw, []byte("app_key")) {
				t.Errorf("the summary counts keys: %s", sum.Raw)
			}
			if g := s.Do("GET", "/v1/apps/"+a+"/keys/"+id, dev, nil).Want(t, http.StatusOK); g.String("status") != "active" {
				t.Errorf("the refused calls changed the key: %s", g.Raw)
			}
		})

		t.Run("AKeyNeverAuthenticatesToKeysmith", func(t *testing.T) {
			appID := newApp(t, s, admin, "admin's")
			_, key := newAppKey(t, s, admin, appID, nil)
			for _, path := range []string{"/v1/tokens", "/v1/users", "/v1/apps", "/v1/apps/" + appID + "/keys", "/v1/logs", "/v1/me"} {
				r := s.Do("GET", path, key, nil).Want(t, http.StatusUnauthorized)
				if !strings.Contains(r.String("error_description"), "/v1/verify") {
					t.Errorf("GET %s with a key: %s", path, r.Raw)
				}
			}
			s.Do("POST", "/v1/tokens", key, map[string]any{"name": "escalate"}).Want(t, http.StatusUnauthorized)
			s.Do("POST", "/v1/apps/"+appID+"/keys", key, map[string]any{"name": "more", "environment": "sandbox"}).Want(t, http.StatusUnauthorized)
			// A malformed key is refused the same way: the prefix decides.
			s.Do("GET", "/v1/tokens", key[:len(key)-1]+"x", nil).Want(t, http.StatusUnauthorized)
			if v := verifyKey(t, s, key); v.String("code") != "VALID" {
				t.Errorf("the key after the refusals: %s", v.Raw)
			}
		})

		t.Run("ScopesMustBeRegisteredAndGrantable", func(t *testing.T) {
			appID := newApp(t, s, dev, "scoped")
			path := "/v1/apps/" + appID + "/keys"
			before := countRows(t, s, "tokens")
			r := s.Do("POST", path, dev, map[string]any{"name": "k", "environment": "sandbox", "scopes": []string{"orders:admin"}}).
				Want(t, http.StatusForbidden)
			if !strings.Contains(r.String("error_description"), "orders:admin") {
				t.Errorf("not self-service: %s", r.Raw)
			}
			r = s.Do("POST", path, dev, map[string]any{"name": "k", "environment": "sandbox", "scopes": []string{"nobody:registered"}}).
				Want(t, http.StatusBadRequest)
			if r.String("error") != "invalid_scope" || !strings.Contains(r.String("error_description"), "nobody:registered") {
				t.Errorf("unregistered: %s", r.Raw)
			}
			for _, body := range []string{`{"name":"k"}`, `{"name":"k","environment":"staging"}`, `{"environment":"sandbox"}`,
				`{"name":"k","environment":"sandbox","scopes":["a b"]}`, `{"name":"k","environment":"sandbox","rate_limit_percent":0}`,
				`{"name":"k","environment":"sandbox","expires_at":"2000-01-01T00:00:00Z"}`, `{"name":"k","environment":"sandbox","owner_id":"x"}`} {
				s.Do("POST", path, dev, body).Want(t, http.StatusBadRequest)
			}
			if after := countRows(t, s, "tokens"); after != before {
				t.Errorf("refused creates stored %d tokens", after-before)
			}
			// An org admin gives the developer's key the admin-only scope;
			// the developer may keep it, drop it, but not add it back.
			_, org := s.AddUser(keysmith.RoleOrgAdmin, "")
			r = s.Do("POST", path, org, map[string]any{"name": "k", "environment": "sandbox", "scopes": []string{"orders:admin"}}).
				Want(t, http.StatusCreated)
			id := r.String("id")
			if r.String("owner_id") != devID {
				t.Errorf("a key the admin adds belongs to %s, want the app's owner", r.String("owner_id"))
			}
			s.Do("PATCH", path+"/"+id, dev, map[string]any{"scopes": []string{"orders:admin", "orders:read"}}).Want(t, http.StatusOK)
			s.Do("PATCH", path+"/"+id, dev, map[string]any{"scopes": []string{"orders:read"}}).Want(t, http.StatusOK)
			s.Do("PATCH", path+"/"+id, dev, map[string]any{"scopes": []string{"orders:admin"}}).Want(t, http.StatusForbidden)
			if g := s.Do("GET", path+"/"+id, dev, nil).Want(t, http.StatusOK); !bytes.Contains(g.Raw, []byte(`"scopes":["orders:read"]`)) {
				t.Errorf("after the refused patch: %s", g.Raw)
			}
		})

		t.Run("OnlyTheOwnerAndOrgAdminsManageKeys", func(t *testing.T) {
			appID := newApp(t, s, dev, "guarded")
			id, key := newAppKey(t, s, dev, appID, nil)
			_, other := s.AddUser(keysmith.RoleDeveloper, "")
			_, group := s.AddUser(keysmith.RoleGroupAdmin, "")
			_, ro := s.AddUser(keysmith.RoleReadOnlyAdmin, "")
			base := "/v1/apps/" + appID + "/keys"
			writes := []struct {
				method, path string
				body         any
			}{
				{"POST", base, map[string]any{"name": "k", "environment": "sandbox"}},
				{"PATCH", base + "/" + id, map[string]any{"name": "taken"}},
				{"POST", base + "/" + id + "/rotate", nil},
				{"DELETE", base + "/" + id, nil},
			}
			for _, c := range []struct {
				caller string
				status int
			}{{other, http.StatusNotFound}, {group, http.StatusForbidden}, {ro, http.StatusForbidden}} {
				for _, w := range writes {
					r := s.Do(w.method, w.path, c.caller, w.body).Want(t, c.status)
					if bytes.Contains(r.Raw, []byte("ksk_")) {
						t.Errorf("%s %s hands a refused caller a key: %s", w.method, w.path, r.Raw)
					}
				}
			}
			// Reading: every admin role sees the keys, masked; another developer nothing.
			s.Do("GET", base, other, nil).Want(t, http.StatusNotFound)
			s.Do("GET", base+"/"+id, other, nil).Want(t, http.StatusNotFound)
			for _, caller := range []string{group, ro} {
				if l := s.Do("GET", base, caller, nil).Want(t, http.StatusOK); !bytes.Contains(l.Raw, []byte(id)) {
					t.Errorf("an admin does not see the key: %s", l.Raw)
				}
			}
			if g := s.Do("GET", base+"/"+id, dev, nil).Want(t, http.StatusOK); g.String("name") != "server key" || g.String("status") != "active" {
				t.Errorf("the refused calls changed the key: %s", g.Raw)
			}
			if c := verifyCode(t, s, key); c != "VALID" {
				t.Errorf("the key after the refused calls: %s", c)
			}
			// An org admin manages it, and the rotated key still belongs to the owner.
			_, org := s.AddUser(keysmith.RoleOrgAdmin, "")
			r := s.Do("POST", base+"/"+id+"/rotate", org, nil).Want(t, http.StatusOK)
			if r.String("owner_id") != devID || verifyKey(t, s, r.String("key")).String("owner_id") != devID {
				t.Errorf("rotated by an org admin: %s", r.Raw)
			}
			s.Do("DELETE", base+"/"+id, org, nil).Want(t, http.StatusNoContent)
		})

		t.Run("DeletingTheAppRevokesItsKeysAtOnce", func(t *testing.T) {
			appID := newApp(t, s, dev, "doomed")
			_, k1 := newAppKey(t, s, dev, appID, map[string]any{"scopes": []string{"orders:read"}})
			_, k2 := newAppKey(t, s, dev, appID, map[string]any{"environment": "production"})
			verifyCode(t, s, k1) // cached
			s.Do("DELETE", "/v1/apps/"+appID, dev, nil).Want(t, http.StatusNoContent)
			for _, k := range []string{k1, k2} {
				if c := verifyCode(t, s, k); c != "REVOKED" {
					t.Errorf("a key of a deleted app verifies %s", c)
				}
			}
			s.Do("GET", "/v1/apps/"+appID+"/keys", dev, nil).Want(t, http.StatusNotFound)
			s.Do("POST", "/v1/apps/"+appID+"/keys", dev, map[string]any{"name": "k", "environment": "sandbox"}).Want(t, http.StatusNotFound)
		})

		t.Run("ADeactivatedOwnersKeyIsOwnerInactive", func(t *testing.T) {
			ownerID, owner := s.AddUser(keysmith.RoleDeveloper, "")
			appID := newApp(t, s, owner, "owned")
			_, key := newAppKey(t, s, owner, appID, nil)
			verifyCode(t, s, key)
			s.Do("POST", "/v1/users/"+ownerID+"/deactivate", admin, nil).Want(t, http.StatusOK)
			if c := verifyCode(t, s, key); c != "OWNER_INACTIVE" {
				t.Errorf("the key of a deactivated owner verifies %s", c)
			}
		})

		t.Run("NetworkZonesApplyToKeys", func(t *testing.T) {
			zone := newZone(t, s, "key office", []string{"203.0.113.0/24"}, nil)
			appID := newApp(t, s, dev, "zoned")
			_, key := newAppKey(t, s, dev, appID, map[string]any{"network": map[string]any{"mode": "in_zones", "zones": []string{zone}}})
			for ip, want := range map[string]string{"203.0.113.9": "VALID", "198.51.100.1": "IP_FORBIDDEN"} {
				r := s.Do("POST", "/v1/verify", "", map[string]any{"token": key, "ip": ip}).Want(t, http.StatusOK)
				if r.String("code") != want {
					t.Errorf("from %s: %s, want %s", ip, r.Raw, want)
				}
			}
		})

		t.Run("RateLimitsApplyToKeys", func(t *testing.T) {
			s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"verified": 10}).Want(t, http.StatusOK)
			appID := newApp(t, s, dev, "limited")
			id, key := newAppKey(t, s, dev, appID, map[string]any{"rate_limit_percent": 20}) // 2 a minute
			for range 2 {
				if c := verifyCode(t, s, key); c != "VALID" {
					t.Fatalf("within the share: %s", c)
				}
			}
			r := verifyKey(t, s, key)
			if r.String("code") != "RATE_LIMITED" || r.String("token_id") != id {
				t.Errorf("over the share: %s", r.Raw)
			}
		})
	})
}
