package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// createUser creates a person with a password as the super admin.
func createUser(t *testing.T, s *apptest.Server, email, role string) string {
	t.Helper()
	return s.Do("POST", "/v1/users", s.AdminToken, map[string]any{"email": email, "name": email, "role": role,
		"password": "pw " + email}).Want(t, http.StatusCreated).String("id")
}

// tokenOf signs the user in and has them create an API token for
// themselves.
func tokenOf(t *testing.T, s *apptest.Server, email string) (id, secret string) {
	t.Helper()
	r := withCookie(t, s, signIn(t, s, email, "pw "+email), "POST", "/v1/tokens", map[string]any{"name": "own"}, nil).Want(t, http.StatusCreated)
	return r.String("id"), r.String("token")
}

func TestOwnership(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		su := s.AdminToken

		t.Run("DemotedOwnersTokenReadsButCannotWriteAtOnce", func(t *testing.T) {
			id := createUser(t, s, "demoted@example.com", "org_admin")
			_, tok := tokenOf(t, s, "demoted@example.com")
			s.Do("POST", "/v1/groups", tok, map[string]any{"name": "before demotion"}).Want(t, http.StatusCreated)
			s.Do("GET", "/v1/users", tok, nil).Want(t, http.StatusOK) // cached owner
			s.Do("PATCH", "/v1/users/"+id, su, map[string]any{"role": "read_only_admin"}).Want(t, http.StatusOK)
			s.Do("GET", "/v1/users", tok, nil).Want(t, http.StatusOK)
			s.Do("GET", "/v1/tokens", tok, nil).Want(t, http.StatusOK)
			s.Do("POST", "/v1/groups", tok, map[string]any{"name": "after demotion"}).Want(t, http.StatusForbidden)
			s.Do("POST", "/v1/users", tok, map[string]any{"email": "x@example.com", "name": "x", "role": "developer"}).Want(t, http.StatusForbidden)
			r := s.Do("POST", "/v1/verify", "", map[string]any{"token": tok}).Want(t, http.StatusOK)
			if o, _ := r.Body["owner"].(map[string]any); o["role"] != "read_only_admin" {
				t.Errorf("verify after demotion: owner %v, want role read_only_admin", r.Body["owner"])
			}
			// And back: promotion applies as fast.
			s.Do("PATCH", "/v1/users/"+id, su, map[string]any{"role": "org_admin"}).Want(t, http.StatusOK)
			s.Do("POST", "/v1/groups", tok, map[string]any{"name": "after promotion"}).Want(t, http.StatusCreated)
		})

		t.Run("DeactivatedOwnersTokensAreRejectedUntilReactivated", func(t *testing.T) {
			id := createUser(t, s, "leaver@example.com", "org_admin")
			_, a := tokenOf(t, s, "leaver@example.com")
			_, b := tokenOf(t, s, "leaver@example.com")
			revokedID, revoked := tokenOf(t, s, "leaver@example.com")
			exp := s.Clock.Now().Add(time.Hour).Format(time.RFC3339)
			expiring := s.Do("POST", "/v1/tokens", a, map[string]any{"name": "short", "expires_at": exp}).Want(t, http.StatusCreated).String("token")
			s.Do("DELETE", "/v1/tokens/"+revokedID, a, nil).Want(t, http.StatusNoContent)
			for _, tok := range []string{a, b, expiring} {
				if c := verifyCode(t, s, tok); c != "VALID" {
					t.Fatalf("before deactivation: %s", c)
				}
			}

			r := s.Do("POST", "/v1/users/"+id+"/deactivate", su, nil).Want(t, http.StatusOK)
			if r.String("status") != "inactive" {
				t.Errorf("deactivate answered %s", r.Raw)
			}
			for _, tok := range []string{a, b, expiring} {
				s.Do("GET", "/v1/tokens", tok, nil).Want(t, http.StatusUnauthorized)
				v := s.Do("POST", "/v1/verify", "", map[string]any{"token": tok}).Want(t, http.StatusOK)
				if v.String("code") != "OWNER_INACTIVE" || v.Body["valid"] != false {
					t.Errorf("verify of a deactivated owner's token: %s", v.Raw)
				}
			}
			s.Do("POST", "/v1/sessions", "", map[string]any{"email": "leaver@example.com", "password": "pw leaver@example.com"}).
				Want(t, http.StatusUnauthorized)

			s.Clock.Advance(2 * time.Hour) // the expiring token runs out meanwhile
			s.Do("POST", "/v1/users/"+id+"/activate", su, nil).Want(t, http.StatusOK)
			for _, tok := range []string{a, b} {
				s.Do("GET", "/v1/tokens", tok, nil).Want(t, http.StatusOK)
				if c := verifyCode(t, s, tok); c != "VALID" {
					t.Errorf("after reactivation: %s, want VALID", c)
				}
			}
			if c := verifyCode(t, s, expiring); c != "EXPIRED" {
				t.Errorf("expired token after reactivation: %s", c)
			}
			if c := verifyCode(t, s, revoked); c != "REVOKED" {
				t.Errorf("revoked token after reactivation: %s", c)
			}
		})

		t.Run("VerifyReturnsTheOwner", func(t *testing.T) {
			_, tok := newToken(t, s, su, "owner check")
			r := s.Do("POST", "/v1/verify", "", map[string]any{"token": tok}).Want(t, http.StatusOK)
			o, _ := r.Body["owner"].(map[string]any)
			if o["id"] != s.AdminID || o["email"] != "admin@localhost" || o["role"] != "super_admin" || o["status"] != "active" ||
				r.String("owner_id") != s.AdminID {
				t.Errorf("verify answered %s", r.Raw)
			}
		})

		t.Run("LastActiveSuperAdminCannotBeDemotedOrDeactivated", func(t *testing.T) {
			for _, req := range []struct {
				method, path string
				body         any
			}{
				{"PATCH", "/v1/users/" + s.AdminID, map[string]any{"role": "org_admin"}},
				{"POST", "/v1/users/" + s.AdminID + "/deactivate", nil},
			} {
				r := s.Do(req.method, req.path, su, req.body).Want(t, http.StatusConflict)
				if !strings.Contains(r.String("error_description"), "last active super admin") {
					t.Errorf("409 says %q", r.String("error_description"))
				}
			}
			me := s.Do("GET", "/v1/me", su, nil).Want(t, http.StatusOK)
			if u := me.Body["user"].(map[string]any); u["role"] != "super_admin" || u["status"] != "active" {
				t.Errorf("refused changes changed the user: %s", me.Raw)
			}
			// With a second super admin, the first may step down.
			second := createUser(t, s, "second-super@example.com", "super_admin")
			s.Do("PATCH", "/v1/users/"+s.AdminID, su, map[string]any{"role": "org_admin"}).Want(t, http.StatusOK)
			_, tok2 := tokenOf(t, s, "second-super@example.com")
			s.Do("POST", "/v1/users/"+second+"/deactivate", tok2, nil).Want(t, http.StatusConflict)
			s.Do("PATCH", "/v1/users/"+s.AdminID, tok2, map[string]any{"role": "super_admin"}).Want(t, http.StatusOK)
		})
	})
}

func TestUsersAPI(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		su := s.AdminToken
		count := func() int {
			return len(s.Do("GET", "/v1/users?limit=200", su, nil).Want(t, http.StatusOK).Body["items"].([]any))
		}

		t.Run("CreateReadListSearchAndFilter", func(t *testing.T) {
			r := s.Do("POST", "/v1/users", su, map[string]any{"email": "  Carol@Example.COM ", "name": "Carol Jones",
				"role": "group_admin", "password": "long enough"}).Want(t, http.StatusCreated)
			id := r.String("id")
			if r.String("email") != "carol@example.com" || r.String("type") != "person" || r.String("status") != "active" ||
				r.Header.Get("Location") != "/v1/users/"+id {
				t.Errorf("create answered %s (Location %q)", r.Raw, r.Header.Get("Location"))
			}
			if strings.Contains(string(r.Raw), "password") {
				t.Errorf("a user shows a password field: %s", r.Raw)
			}
			s.Do("GET", "/v1/users/"+id, su, nil).Want(t, http.StatusOK)
			createUser(t, s, "dave@example.com", "developer")
			for _, c := range []struct {
				query string
				want  []string
			}{
				{"q=CAROL", []string{"carol@example.com"}},
				{"q=jones", []string{"carol@example.com"}},
				{"q=%25", nil}, // LIKE wildcards are literal
				{"role=developer", []string{"dave@example.com"}},
				{"role=group_admin&status=active", []string{"carol@example.com"}},
				{"status=inactive", nil},
			} {
				items := s.Do("GET", "/v1/users?"+c.query, su, nil).Want(t, http.StatusOK).Body["items"].([]any)
				var got []string
				for _, it := range items {
					got = append(got, it.(map[string]any)["email"].(string))
				}
				if strings.Join(got, ",") != strings.Join(c.want, ",") {
					t.Errorf("GET /v1/users?%s = %v, want %v", c.query, got, c.want)
				}
			}
			page := s.Do("GET", "/v1/users?limit=1", su, nil).Want(t, http.StatusOK)
			next := page.String("next_cursor")
			if next == "" {
				t.Fatalf("limit=1 gave no next_cursor: %s", page.Raw)
			}
			s.Do("GET", "/v1/users?limit=1&cursor="+next, su, nil).Want(t, http.StatusOK)
		})

		t.Run("EmailIsUniqueRegardlessOfCase", func(t *testing.T) {
			createUser(t, s, "erin@example.com", "developer")
			before := count()
			s.Do("POST", "/v1/users", su, map[string]any{"email": "ERIN@example.com", "name": "Erin 2", "role": "developer"}).
				Want(t, http.StatusConflict)
			other := createUser(t, s, "frank@example.com", "developer")
			s.Do("PATCH", "/v1/users/"+other, su, map[string]any{"email": "Erin@Example.com"}).Want(t, http.StatusConflict)
			if after := count(); after != before+1 {
				t.Errorf("users: %d, want %d", after, before+1)
			}
		})

		t.Run("BadInputIsRefusedAndChangesNothing", func(t *testing.T) {
			target := createUser(t, s, "grace@example.com", "developer")
			before := count()
			for _, c := range []struct {
				name, method, path string
				body               any
				status             int
			}{
				{"NoEmail", "POST", "/v1/users", map[string]any{"name": "x", "role": "developer"}, 400},
				{"BadEmail", "POST", "/v1/users", map[string]any{"email": "nope", "name": "x", "role": "developer"}, 400},
				{"NoName", "POST", "/v1/users", map[string]any{"email": "h@example.com", "role": "developer"}, 400},
				{"UnknownRole", "POST", "/v1/users", map[string]any{"email": "h@example.com", "name": "x", "role": "admin"}, 400},
				{"UnknownType", "POST", "/v1/users", map[string]any{"email": "h@example.com", "name": "x", "role": "developer", "type": "robot"}, 400},
				{"ShortPassword", "POST", "/v1/users", map[string]any{"email": "h@example.com", "name": "x", "role": "developer", "password": "short"}, 400},
				{"ServiceWithPassword", "POST", "/v1/users", map[string]any{"email": "h@example.com", "name": "x", "role": "developer", "type": "service", "password": "long enough"}, 400},
				{"UnknownField", "POST", "/v1/users", map[string]any{"email": "h@example.com", "name": "x", "role": "developer", "admin": true}, 400},
				{"StatusViaPatch", "PATCH", "/v1/users/" + target, map[string]any{"status": "inactive"}, 400},
				{"EmptyPatch", "PATCH", "/v1/users/" + target, map[string]any{}, 400},
				{"PatchBadRole", "PATCH", "/v1/users/" + target, map[string]any{"role": "boss"}, 400},
				{"PatchMissingUser", "PATCH", "/v1/users/usr_missing", map[string]any{"name": "x"}, 404},
				{"DeactivateMissingUser", "POST", "/v1/users/usr_missing/deactivate", nil, 404},
				{"BadFilter", "GET", "/v1/users?role=boss", nil, 400},
				{"BadLimit", "GET", "/v1/users?limit=0", nil, 400},
				{"BadCursor", "GET", "/v1/users?cursor=not-a-cursor", nil, 400},
			} {
				t.Run(c.name, func(t *testing.T) {
					r := s.Do(c.method, c.path, su, c.body).Want(t, c.status)
					if r.String("error") == "" || r.String("error_description") == "" {
						t.Errorf("error body %s", r.Raw)
					}
				})
			}
			if after := count(); after != before {
				t.Errorf("users: %d before, %d after refused requests", before, after)
			}
			u := s.Do("GET", "/v1/users/"+target, su, nil).Want(t, http.StatusOK)
			if u.String("role") != "developer" || u.String("status") != "active" || u.String("name") != "grace@example.com" {
				t.Errorf("refused patches changed the user: %s", u.Raw)
			}
		})

		t.Run("GroupsAndMembers", func(t *testing.T) {
			g := s.Do("POST", "/v1/groups", su, map[string]any{"name": "Payments", "description": "the payments team"}).Want(t, http.StatusCreated)
			id := g.String("id")
			s.Do("POST", "/v1/groups", su, map[string]any{"name": "PAYMENTS"}).Want(t, http.StatusConflict)
			s.Do("POST", "/v1/groups", su, map[string]any{}).Want(t, http.StatusBadRequest)
			s.Do("PATCH", "/v1/groups/"+id, su, map[string]any{}).Want(t, http.StatusBadRequest)
			u := createUser(t, s, "member@example.com", "developer")
			s.Do("PUT", "/v1/groups/"+id+"/members/"+u, su, nil).Want(t, http.StatusNoContent)
			s.Do("PUT", "/v1/groups/"+id+"/members/"+u, su, nil).Want(t, http.StatusNoContent) // idempotent
			s.Do("PUT", "/v1/groups/"+id+"/members/usr_missing", su, nil).Want(t, http.StatusNotFound)
			s.Do("PUT", "/v1/groups/grp_missing/members/"+u, su, nil).Want(t, http.StatusNotFound)
			m := s.Do("GET", "/v1/groups/"+id+"/members", su, nil).Want(t, http.StatusOK).Body["items"].([]any)
			if len(m) != 1 || m[0].(map[string]any)["id"] != u {
				t.Errorf("members = %v", m)
			}
			s.Do("PATCH", "/v1/groups/"+id, su, map[string]any{"name": "Payments Team"}).Want(t, http.StatusOK)
			s.Do("DELETE", "/v1/groups/"+id, su, nil).Want(t, http.StatusNoContent)
			s.Do("GET", "/v1/groups/"+id, su, nil).Want(t, http.StatusNotFound)
			s.Do("DELETE", "/v1/groups/"+id, su, nil).Want(t, http.StatusNotFound)
		})

		t.Run("ChangesAreInTheSystemLog", func(t *testing.T) {
			id := createUser(t, s, "logged@example.com", "developer")
			s.Do("PATCH", "/v1/users/"+id, su, map[string]any{"role": "read_only_admin", "password": "new password"}).Want(t, http.StatusOK)
			s.Do("POST", "/v1/users/"+id+"/deactivate", su, nil).Want(t, http.StatusOK)
			s.Do("POST", "/v1/users/"+id+"/activate", su, nil).Want(t, http.StatusOK)
			rows, err := s.App.Store.SQL().Query(`SELECT type, data FROM events ORDER BY seq`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var types []string
			for rows.Next() {
				var typ, data string
				if err := rows.Scan(&typ, &data); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(data, id) {
					types = append(types, typ)
				}
				if strings.Contains(data, "new password") || strings.Contains(data, "argon2") {
					t.Errorf("event %s holds a password or its hash: %s", typ, data)
				}
			}
			want := "user.created,user.updated,user.role_changed,user.deactivated,user.activated"
			if got := strings.Join(types, ","); got != want {
				t.Errorf("events about the user: %s, want %s", got, want)
			}
		})
	})
}
