package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// matrixRoles are the columns of the table in docs/permissions.md.
var matrixRoles = []string{"super_admin", "org_admin", "group_admin", "group_membership_admin", "read_only_admin", "developer"}

// documentedMatrix reads the role × operation table of docs/permissions.md:
// operation → one status per role (0 where the case does not arise).
func documentedMatrix(t *testing.T) (ops []string, want map[string][]int) {
	t.Helper()
	b, err := os.ReadFile("../docs/permissions.md")
	if err != nil {
		t.Fatal(err)
	}
	want = map[string][]int{}
	inMatrix := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "## ") {
			inMatrix = line == "## Matrix"
			continue
		}
		if !inMatrix || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) != 1+len(matrixRoles) {
			t.Fatalf("docs/permissions.md: row %q has %d cells, want %d", line, len(cells), 1+len(matrixRoles))
		}
		op := strings.TrimSpace(cells[0])
		var row []int
		for _, c := range cells[1:] {
			c = strings.TrimSpace(c)
			n, err := strconv.Atoi(c)
			if err != nil && c != "–" {
				t.Fatalf("docs/permissions.md: %s: cell %q is neither a status nor –", op, c)
			}
			row = append(row, n)
		}
		ops = append(ops, op)
		want[op] = row
	}
	if len(ops) == 0 {
		t.Fatal("docs/permissions.md has no matrix rows")
	}
	return ops, want
}

// caller is one user per role, with the credential it calls with.
type caller struct {
	role, id string
	token    string // API token, or "" for a session caller
	cookie   string // session cookie value
}

// do sends a request as c. A url.Values body goes as a form, as the OAuth
// endpoints take it.
func (s *matrixWorld) do(c caller, method, path string, body any) apptest.Response {
	s.t.Helper()
	if form, ok := body.(url.Values); ok {
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(form.Encode()))
		if err != nil {
			s.t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		} else {
			req.AddCookie(&http.Cookie{Name: "keysmith_session", Value: c.cookie})
		}
		return s.Send(req)
	}
	if c.token != "" {
		return s.Do(method, path, c.token, body)
	}
	return s.withCookie(c.cookie, method, path, body)
}

// matrixWorld is the population the matrix runs against.
type matrixWorld struct {
	*apptest.Server
	t       *testing.T
	callers map[string]caller
	// Targets: ownGroup has the group_admin and group_membership_admin
	// callers and devIn as members; otherGroup has nobody.
	ownGroup, otherGroup       string
	devIn, devOut, org, super2 string
	service, super2Token       string
	n                          int
}

func (w *matrixWorld) uniq() int { w.n++; return w.n }

// keyManagerProvider is an identity provider for a key manager case to
// add: a new one each time, since an issuer is one manager's.
func (w *matrixWorld) keyManagerProvider() *apptest.DCRProvider {
	return apptest.NewDCRProvider(w.t)
}

// newKeyManager adds a key manager as the bootstrap super admin.
func (w *matrixWorld) newKeyManager() string {
	return w.Do("POST", "/v1/key-managers", w.AdminToken, map[string]any{"name": fmt.Sprint("km", w.uniq()), "type": "oidc",
		"issuer": w.keyManagerProvider().Issuer}).Want(w.t, 201).String("id")
}

// request builds one case: the request to send as c, and what to undo (as
// the bootstrap super admin) if it succeeded, so that every case starts
// from the same state.
type request struct {
	method, path string
	body         any
	undo         func()
}

func (w *matrixWorld) cases() map[string]func(c caller) request {
	su := w.AdminToken
	patch := func(id string, body any) func(caller) request {
		return func(caller) request { return request{method: "PATCH", path: "/v1/users/" + id, body: body} }
	}
	reactivate := func(id string) func() {
		return func() { w.Do("POST", "/v1/users/"+id+"/activate", su, nil).Want(w.t, 200) }
	}
	setRole := func(id, role string) func() {
		return func() { w.Do("PATCH", "/v1/users/"+id, su, map[string]any{"role": role}).Want(w.t, 200) }
	}
	member := func(method, group, user string) func() {
		return func() { w.Do(method, "/v1/groups/"+group+"/members/"+user, su, nil).Want(w.t, 204) }
	}
	newToken := func(token string) string {
		return w.Do("POST", "/v1/tokens", token, map[string]any{"name": fmt.Sprint("t", w.uniq())}).Want(w.t, 201).String("id")
	}
	newAgent := func(token string, active bool) string {
		id := w.Do("POST", "/v1/agents", token, map[string]any{"name": fmt.Sprint("a", w.uniq()), "kind": "ci"}).Want(w.t, 201).String("id")
		if active {
			w.Do("POST", "/v1/agents/"+id+"/activate", token, nil).Want(w.t, 200)
		}
		return id
	}
	codeClient := func(firstParty bool) map[string]any {
		return map[string]any{"name": fmt.Sprint("c", w.uniq()), "environment": "sandbox", "grant_types": []string{"authorization_code"},
			"redirect_uris": []string{"https://app.example/cb"}, "first_party": firstParty}
	}
	newClientOf := func(token string) string {
		return w.Do("POST", "/v1/oauth/clients", token, map[string]any{"name": fmt.Sprint("c", w.uniq()), "environment": "sandbox"}).Want(w.t, 201).String("client_id")
	}
	newAPI := func() string {
		return w.Do("POST", "/v1/apis", su, map[string]any{"name": "an API", "identifier": "urn:" + keysmith.NewID("api")}).Want(w.t, 201).String("id")
	}
	// keyOf is a key of a new application of super2's: its path.
	keyOf := func() string {
		app := w.Do("POST", "/v1/apps", w.super2Token, map[string]any{"name": fmt.Sprint("keyed", w.uniq())}).Want(w.t, 201).String("app_id")
		id := w.Do("POST", "/v1/apps/"+app+"/keys", w.super2Token, map[string]any{"name": "k", "environment": "sandbox"}).
			Want(w.t, 201).String("id")
		return "/v1/apps/" + app + "/keys/" + id
	}
	return map[string]func(c caller) request{
		"`POST /v1/apps/{app_id}/keys` (own app)": func(c caller) request {
			app := w.do(c, "POST", "/v1/apps", map[string]any{"name": fmt.Sprint("mine", w.uniq())}).Want(w.t, 201).String("app_id")
			return request{method: "POST", path: "/v1/apps/" + app + "/keys", body: map[string]any{"name": "k", "environment": "sandbox"}}
		},
		"`POST /v1/apps/{app_id}/keys` (another user's app)": func(caller) request {
			app := w.Do("POST", "/v1/apps", w.super2Token, map[string]any{"name": "super2's"}).Want(w.t, 201).String("app_id")
			return request{method: "POST", path: "/v1/apps/" + app + "/keys", body: map[string]any{"name": "k", "environment": "sandbox"}}
		},
		"`GET /v1/apps/{app_id}/keys` (another user's app)": func(caller) request {
			path := keyOf()
			return request{method: "GET", path: path[:strings.LastIndex(path, "/")]}
		},
		"`PATCH /v1/apps/{app_id}/keys/{id}` (another user's app)": func(caller) request {
			return request{method: "PATCH", path: keyOf(), body: map[string]any{"name": "renamed"}}
		},
		"`POST /v1/apps/{app_id}/keys/{id}/rotate` (another user's app)": func(caller) request {
			return request{method: "POST", path: keyOf() + "/rotate"}
		},
		"`DELETE /v1/apps/{app_id}/keys/{id}` (another user's app)": func(caller) request {
			return request{method: "DELETE", path: keyOf()}
		},
		"`POST /v1/apps/{id}/transfer` (own app)": func(c caller) request {
			app := w.do(c, "POST", "/v1/apps", map[string]any{"name": fmt.Sprint("mine", w.uniq())}).Want(w.t, 201).String("app_id")
			return request{method: "POST", path: "/v1/apps/" + app + "/transfer", body: map[string]any{"owner_id": w.devOut}}
		},
		"`POST /v1/apps/{id}/transfer` (another user's app)": func(caller) request {
			app := w.Do("POST", "/v1/apps", w.super2Token, map[string]any{"name": "super2's"}).Want(w.t, 201).String("app_id")
			return request{method: "POST", path: "/v1/apps/" + app + "/transfer", body: map[string]any{"owner_id": w.devOut}}
		},
		"`POST /v1/apps/{id}/transfer` (another user's app, keep_credentials)": func(caller) request {
			app := w.Do("POST", "/v1/apps", w.super2Token, map[string]any{"name": "super2's"}).Want(w.t, 201).String("app_id")
			return request{method: "POST", path: "/v1/apps/" + app + "/transfer",
				body: map[string]any{"owner_id": w.devOut, "keep_credentials": true}}
		},
		"`GET /v1/me`": func(caller) request { return request{method: "GET", path: "/v1/me"} },
		"`POST /v1/users` (role developer)": func(caller) request {
			return request{method: "POST", path: "/v1/users", body: map[string]any{
				"email": fmt.Sprintf("new%d@example.com", w.uniq()), "name": "New", "role": "developer"}}
		},
		"`POST /v1/users` (role super_admin)": func(caller) request {
			return request{method: "POST", path: "/v1/users", body: map[string]any{
				"email": fmt.Sprintf("new%d@example.com", w.uniq()), "name": "New", "role": "super_admin"}}
		},
		"`GET /v1/users`":                     func(caller) request { return request{method: "GET", path: "/v1/users"} },
		"`GET /v1/users/{id}` (self)":         func(c caller) request { return request{method: "GET", path: "/v1/users/" + c.id} },
		"`GET /v1/users/{id}` (another user)": func(caller) request { return request{method: "GET", path: "/v1/users/" + w.org} },
		"`PATCH /v1/users/{id}` (own name)": func(c caller) request {
			return request{method: "PATCH", path: "/v1/users/" + c.id, body: map[string]any{"name": "Me " + c.role}}
		},
		"`PATCH /v1/users/{id}` (own role to super_admin)": func(c caller) request {
			return request{method: "PATCH", path: "/v1/users/" + c.id, body: map[string]any{"role": "super_admin"}, undo: setRole(c.id, c.role)}
		},
		"`PATCH /v1/users/{id}` (name of developer in own group)":    patch(w.devIn, map[string]any{"name": "Dev In"}),
		"`PATCH /v1/users/{id}` (name of developer in no own group)": patch(w.devOut, map[string]any{"name": "Dev Out"}),
		"`PATCH /v1/users/{id}` (name of org admin)":                 patch(w.org, map[string]any{"name": "Org"}),
		"`PATCH /v1/users/{id}` (name of super admin)":               patch(w.super2, map[string]any{"name": "Super 2"}),
		"`PATCH /v1/users/{id}` (role of developer in own group)": func(caller) request {
			return request{method: "PATCH", path: "/v1/users/" + w.devIn, body: map[string]any{"role": "read_only_admin"},
				undo: setRole(w.devIn, "developer")}
		},
		"`PATCH /v1/users/{id}` (developer to super_admin)": func(caller) request {
			return request{method: "PATCH", path: "/v1/users/" + w.devOut, body: map[string]any{"role": "super_admin"},
				undo: setRole(w.devOut, "developer")}
		},
		"`POST /v1/users/{id}/deactivate` (developer in own group)": func(caller) request {
			return request{method: "POST", path: "/v1/users/" + w.devIn + "/deactivate", undo: reactivate(w.devIn)}
		},
		"`POST /v1/users/{id}/deactivate` (developer in no own group)": func(caller) request {
			return request{method: "POST", path: "/v1/users/" + w.devOut + "/deactivate", undo: reactivate(w.devOut)}
		},
		"`POST /v1/users/{id}/deactivate` (super admin)": func(caller) request {
			return request{method: "POST", path: "/v1/users/" + w.super2 + "/deactivate", undo: reactivate(w.super2)}
		},
		"`POST /v1/users/{id}/activate` (developer in own group)": func(caller) request {
			return request{method: "POST", path: "/v1/users/" + w.devIn + "/activate"}
		},
		"`POST /v1/groups`": func(caller) request {
			return request{method: "POST", path: "/v1/groups", body: map[string]any{"name": fmt.Sprint("group ", w.uniq())}}
		},
		"`GET /v1/groups`":              func(caller) request { return request{method: "GET", path: "/v1/groups"} },
		"`GET /v1/groups/{id}`":         func(caller) request { return request{method: "GET", path: "/v1/groups/" + w.ownGroup} },
		"`GET /v1/groups/{id}/members`": func(caller) request { return request{method: "GET", path: "/v1/groups/" + w.ownGroup + "/members"} },
		"`PATCH /v1/groups/{id}`": func(caller) request {
			return request{method: "PATCH", path: "/v1/groups/" + w.otherGroup, body: map[string]any{"description": fmt.Sprint("d", w.uniq())}}
		},
		"`DELETE /v1/groups/{id}`": func(caller) request {
			id := w.Do("POST", "/v1/groups", su, map[string]any{"name": fmt.Sprint("doomed ", w.uniq())}).Want(w.t, 201).String("id")
			return request{method: "DELETE", path: "/v1/groups/" + id}
		},
		"`PUT /v1/groups/{id}/members/{user_id}` (developer into own group)": func(caller) request {
			return request{method: "PUT", path: "/v1/groups/" + w.ownGroup + "/members/" + w.devOut, undo: member("DELETE", w.ownGroup, w.devOut)}
		},
		"`PUT /v1/groups/{id}/members/{user_id}` (developer into another group)": func(caller) request {
			return request{method: "PUT", path: "/v1/groups/" + w.otherGroup + "/members/" + w.devOut, undo: member("DELETE", w.otherGroup, w.devOut)}
		},
		"`PUT /v1/groups/{id}/members/{user_id}` (org admin into own group)": func(caller) request {
			return request{method: "PUT", path: "/v1/groups/" + w.ownGroup + "/members/" + w.org, undo: member("DELETE", w.ownGroup, w.org)}
		},
		"`DELETE /v1/groups/{id}/members/{user_id}` (developer from own group)": func(caller) request {
			return request{method: "DELETE", path: "/v1/groups/" + w.ownGroup + "/members/" + w.devIn, undo: member("PUT", w.ownGroup, w.devIn)}
		},
		"`POST /v1/tokens` (for oneself)": func(caller) request {
			return request{method: "POST", path: "/v1/tokens", body: map[string]any{"name": "mine"}}
		},
		"`POST /v1/tokens` (owner_id of a service account)": func(caller) request {
			return request{method: "POST", path: "/v1/tokens", body: map[string]any{"name": "svc", "owner_id": w.service}}
		},
		"`POST /v1/tokens` (owner_id of another person)": func(caller) request {
			return request{method: "POST", path: "/v1/tokens", body: map[string]any{"name": "theirs", "owner_id": w.devOut}}
		},
		"`GET /v1/tokens`": func(caller) request { return request{method: "GET", path: "/v1/tokens"} },
		"`GET /v1/tokens/{id}` (own)": func(c caller) request {
			return request{method: "GET", path: "/v1/tokens/" + newToken(c.token)}
		},
		"`GET /v1/tokens/{id}` (another user's)": func(caller) request {
			return request{method: "GET", path: "/v1/tokens/" + newToken(w.super2Token)}
		},
		"`DELETE /v1/tokens/{id}` (own)": func(c caller) request {
			return request{method: "DELETE", path: "/v1/tokens/" + newToken(c.token)}
		},
		"`DELETE /v1/tokens/{id}` (another user's)": func(caller) request {
			return request{method: "DELETE", path: "/v1/tokens/" + newToken(w.super2Token)}
		},
		"`POST /v1/tokens/{id}/rotate` (own)": func(c caller) request {
			return request{method: "POST", path: "/v1/tokens/" + newToken(c.token) + "/rotate"}
		},
		"`POST /v1/tokens/{id}/rotate` (another person's)": func(caller) request {
			return request{method: "POST", path: "/v1/tokens/" + newToken(w.super2Token) + "/rotate"}
		},
		"`POST /v1/tokens/{id}/rotate` (service account's)": func(caller) request {
			id := w.Do("POST", "/v1/tokens", su, map[string]any{"name": fmt.Sprint("svc", w.uniq()), "owner_id": w.service}).Want(w.t, 201).String("id")
			return request{method: "POST", path: "/v1/tokens/" + id + "/rotate"}
		},
		"`POST /v1/agents/{id}/activate` (own)": func(c caller) request {
			return request{method: "POST", path: "/v1/agents/" + newAgent(c.token, false) + "/activate"}
		},
		"`POST /v1/agents/{id}/activate` (another user's)": func(caller) request {
			return request{method: "POST", path: "/v1/agents/" + newAgent(w.super2Token, false) + "/activate"}
		},
		"`POST /v1/agents/{id}/deactivate` (another user's)": func(caller) request {
			return request{method: "POST", path: "/v1/agents/" + newAgent(w.super2Token, true) + "/deactivate"}
		},
		"`POST /v1/oauth/clients` (app_id of another user's app)": func(caller) request {
			app := w.Do("POST", "/v1/apps", w.super2Token, map[string]any{"name": "super2's"}).Want(w.t, 201).String("app_id")
			return request{method: "POST", path: "/v1/oauth/clients", body: map[string]any{"name": "c", "environment": "sandbox", "app_id": app}}
		},
		"`POST /v1/oauth/clients/{id}/secrets` (own client)": func(c caller) request {
			id := w.do(c, "POST", "/v1/oauth/clients", map[string]any{"name": "mine", "environment": "sandbox"}).Want(w.t, 201).String("client_id")
			return request{method: "POST", path: "/v1/oauth/clients/" + id + "/secrets", body: map[string]any{}}
		},
		"`POST /v1/oauth/clients/{id}/secrets` (another user's client)": func(caller) request {
			return request{method: "POST", path: "/v1/oauth/clients/" + newClientOf(w.super2Token) + "/secrets", body: map[string]any{}}
		},
		"`POST /v1/oauth/clients/{id}/secrets/reset` (another user's client)": func(caller) request {
			return request{method: "POST", path: "/v1/oauth/clients/" + newClientOf(w.super2Token) + "/secrets/reset", body: map[string]any{}}
		},
		"`POST /v1/oauth/revoke` (access token of another user's client)": func(caller) request {
			r := w.Do("POST", "/v1/oauth/clients", w.super2Token, map[string]any{"name": fmt.Sprint("c", w.uniq()),
				"environment": "sandbox", "scopes": []string{"read"}}).Want(w.t, 201)
			tok := w.Send(tokenRequest(w.t, w.URL, r.String("client_id"), r.String("client_secret"))).Want(w.t, 200).String("access_token")
			return request{method: "POST", path: "/v1/oauth/revoke", body: url.Values{"token": {tok}}}
		},
		"`PATCH /v1/oauth/clients/{id}` (own client, adding a scope that is not self-service)": func(c caller) request {
			id := w.do(c, "POST", "/v1/oauth/clients", map[string]any{"name": "mine", "environment": "sandbox"}).Want(w.t, 201).String("client_id")
			return request{method: "PATCH", path: "/v1/oauth/clients/" + id, body: map[string]any{"scopes": []string{"admin:only"}}}
		},
		"`PATCH /v1/oauth/clients/{id}` (name of another user's client)": func(caller) request {
			return request{method: "PATCH", path: "/v1/oauth/clients/" + newClientOf(w.super2Token), body: map[string]any{"name": "renamed"}}
		},
		"`POST /v1/oauth/clients` (first_party)": func(caller) request {
			return request{method: "POST", path: "/v1/oauth/clients", body: codeClient(true)}
		},
		"`PATCH /v1/oauth/clients/{id}` (first_party of own client)": func(c caller) request {
			id := w.do(c, "POST", "/v1/oauth/clients", codeClient(false)).Want(w.t, 201).String("client_id")
			return request{method: "PATCH", path: "/v1/oauth/clients/" + id, body: map[string]any{"first_party": true}}
		},
		"`PATCH /v1/oauth/clients/{id}` (redirect URIs of another user's first-party client)": func(caller) request {
			id := w.Do("POST", "/v1/oauth/clients", w.super2Token, codeClient(true)).Want(w.t, 201).String("client_id")
			return request{method: "PATCH", path: "/v1/oauth/clients/" + id, body: map[string]any{"redirect_uris": []string{"https://other.example/cb"}}}
		},
		"`POST /v1/oauth/clients/{id}/secrets` (own public client)": func(c caller) request {
			body := codeClient(false)
			body["token_endpoint_auth_method"] = "none"
			id := w.do(c, "POST", "/v1/oauth/clients", body).Want(w.t, 201).String("client_id")
			return request{method: "POST", path: "/v1/oauth/clients/" + id + "/secrets", body: map[string]any{}}
		},
		"`GET /v1/apis`": func(caller) request { return request{method: "GET", path: "/v1/apis"} },
		"`POST /v1/apis`": func(caller) request {
			return request{method: "POST", path: "/v1/apis", body: map[string]any{"name": "an API", "identifier": "urn:" + keysmith.NewID("api")}}
		},
		"`PATCH /v1/apis/{id}`": func(caller) request {
			return request{method: "PATCH", path: "/v1/apis/" + newAPI(), body: map[string]any{"name": "renamed"}}
		},
		"`DELETE /v1/apis/{id}`": func(caller) request {
			return request{method: "DELETE", path: "/v1/apis/" + newAPI()}
		},
		"`GET /v1/zones`": func(caller) request { return request{method: "GET", path: "/v1/zones"} },
		"`POST /v1/zones`": func(caller) request {
			return request{method: "POST", path: "/v1/zones", body: map[string]any{"name": keysmith.NewID("zone"), "gateways": []string{"192.0.2.0/24"}}}
		},
		"`GET /v1/key-managers`": func(caller) request { return request{method: "GET", path: "/v1/key-managers"} },
		"`POST /v1/key-managers`": func(caller) request {
			return request{method: "POST", path: "/v1/key-managers", body: map[string]any{"name": fmt.Sprint("km", w.uniq()),
				"type": "oidc", "issuer": w.keyManagerProvider().Issuer}}
		},
		"`PATCH /v1/key-managers/{id}`": func(caller) request {
			return request{method: "PATCH", path: "/v1/key-managers/" + w.newKeyManager(), body: map[string]any{"enabled": false}}
		},
		"`DELETE /v1/key-managers/{id}`": func(caller) request {
			return request{method: "DELETE", path: "/v1/key-managers/" + w.newKeyManager()}
		},
		"`GET /v1/trusted-origins`": func(caller) request { return request{method: "GET", path: "/v1/trusted-origins"} },
		"`POST /v1/trusted-origins`": func(caller) request {
			return request{method: "POST", path: "/v1/trusted-origins", body: map[string]any{"origin": fmt.Sprintf("https://o%d.example.com", w.uniq())}}
		},
		"`POST /v1/oauth/registration-tokens`": func(caller) request {
			app := w.Do("POST", "/v1/apps", su, map[string]any{"name": fmt.Sprint("dcr", w.uniq())}).Want(w.t, 201).String("app_id")
			return request{method: "POST", path: "/v1/oauth/registration-tokens", body: map[string]any{"app_id": app, "environment": "sandbox"}}
		},
		"`GET /v1/oauth/registration-tokens`": func(caller) request {
			return request{method: "GET", path: "/v1/oauth/registration-tokens"}
		},
		"`DELETE /v1/oauth/registration-tokens/{id}`": func(caller) request {
			app := w.Do("POST", "/v1/apps", su, map[string]any{"name": fmt.Sprint("dcr", w.uniq())}).Want(w.t, 201).String("app_id")
			id := w.Do("POST", "/v1/oauth/registration-tokens", su, map[string]any{"app_id": app, "environment": "sandbox"}).Want(w.t, 201).String("id")
			return request{method: "DELETE", path: "/v1/oauth/registration-tokens/" + id}
		},
		"`DELETE /v1/trusted-origins/{id}`": func(caller) request {
			id := w.Do("POST", "/v1/trusted-origins", su, map[string]any{"origin": fmt.Sprintf("https://o%d.example.com", w.uniq())}).Want(w.t, 201).String("id")
			return request{method: "DELETE", path: "/v1/trusted-origins/" + id}
		},
		"`GET /v1/settings/rate-limits`": func(caller) request { return request{method: "GET", path: "/v1/settings/rate-limits"} },
		"`PUT /v1/settings/rate-limits`": func(caller) request {
			return request{method: "PUT", path: "/v1/settings/rate-limits", body: map[string]any{}}
		},
		"`GET /v1/signing-keys`": func(caller) request { return request{method: "GET", path: "/v1/signing-keys"} },
		"`POST /v1/signing-keys/rotate`": func(caller) request {
			return request{method: "POST", path: "/v1/signing-keys/rotate"}
		},
		"`GET /v1/logs`": func(caller) request { return request{method: "GET", path: "/v1/logs?limit=1"} },
		"`GET /v1/apps`": func(caller) request { return request{method: "GET", path: "/v1/apps"} },
		"`POST /v1/apps`": func(caller) request {
			return request{method: "POST", path: "/v1/apps", body: map[string]any{"name": "an app"}}
		},
		"`GET /v1/oauth/clients`": func(caller) request { return request{method: "GET", path: "/v1/oauth/clients"} },
		"`GET /v1/agents`":        func(caller) request { return request{method: "GET", path: "/v1/agents"} },
		"`POST /v1/agents`": func(caller) request {
			return request{method: "POST", path: "/v1/agents", body: map[string]any{"name": "an agent", "kind": "ci"}}
		},
	}
}

// TestPermissionMatrix sends every operation of docs/permissions.md as
// every role, through the real server, and expects exactly the documented
// status. One server per engine; each case undoes what it changed.
func TestPermissionMatrix(t *testing.T) {
	ops, want := documentedMatrix(t)
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		w := newMatrixWorld(t, apptest.Start(t, dsn, app.Config{AllowInsecureKeyManagers: true}))
		cases := w.cases()
		for _, op := range ops {
			if cases[op] == nil {
				t.Errorf("docs/permissions.md documents %s, which the test does not know how to send", op)
			}
		}
		if len(cases) != len(ops) {
			t.Errorf("the test knows %d operations, docs/permissions.md documents %d", len(cases), len(ops))
		}
		for _, op := range ops {
			build := cases[op]
			if build == nil {
				continue
			}
			for i, role := range matrixRoles {
				if want[op][i] == 0 {
					continue
				}
				c := w.callers[role]
				req := build(c)
				r := w.do(c, req.method, req.path, req.body)
				if r.Status != want[op][i] {
					t.Errorf("%s as %s: status %d, documented %d; body %s", op, role, r.Status, want[op][i], r.Raw)
				}
				if r.Status >= 400 && (r.String("error") == "" || r.String("error_description") == "") {
					t.Errorf("%s as %s: error body %s lacks error or error_description", op, role, r.Raw)
				}
				if r.Status < 300 && req.undo != nil {
					req.undo()
				}
			}
		}
	})
}

// newMatrixWorld creates one caller per role (admins with an API token they
// created after signing in, the developer with a session) and the targets.
func newMatrixWorld(t *testing.T, s *apptest.Server) *matrixWorld {
	t.Helper()
	w := &matrixWorld{Server: s, t: t, callers: map[string]caller{}}
	su := s.AdminToken
	mk := func(email, role, typ string) string {
		body := map[string]any{"email": email, "name": email, "role": role, "type": typ}
		if typ == "person" {
			body["password"] = "password " + email
		}
		return s.Do("POST", "/v1/users", su, body).Want(t, 201).String("id")
	}
	w.callers["super_admin"] = caller{role: "super_admin", id: s.AdminID, token: su}
	registerScopes(t, s, "read")
	s.Do("POST", "/v1/apis", su, map[string]any{"name": "admin API", "identifier": "urn:admin",
		"scopes": []map[string]any{{"name": "admin:only"}}}).Want(t, 201)
	for _, role := range matrixRoles[1:] {
		email := role + "@example.com"
		id := mk(email, role, "person")
		cookie := w.signIn(email, "password "+email)
		c := caller{role: role, id: id, cookie: cookie}
		if role != "developer" {
			c.token = w.withCookie(cookie, "POST", "/v1/tokens", map[string]any{"name": "matrix"}).Want(t, 201).String("token")
		}
		w.callers[role] = c
	}
	w.devIn = mk("dev-in@example.com", "developer", "person")
	w.devOut = mk("dev-out@example.com", "developer", "person")
	w.org = mk("org@example.com", "org_admin", "person")
	w.super2 = mk("super2@example.com", "super_admin", "person")
	w.super2Token = w.withCookie(w.signIn("super2@example.com", "password super2@example.com"), "POST", "/v1/tokens",
		map[string]any{"name": "super2"}).Want(t, 201).String("token")
	w.service = mk("robot@example.com", "read_only_admin", "service")
	w.ownGroup = s.Do("POST", "/v1/groups", su, map[string]any{"name": "Own"}).Want(t, 201).String("id")
	w.otherGroup = s.Do("POST", "/v1/groups", su, map[string]any{"name": "Other"}).Want(t, 201).String("id")
	for _, m := range []string{w.callers["group_admin"].id, w.callers["group_membership_admin"].id, w.devIn} {
		s.Do("PUT", "/v1/groups/"+w.ownGroup+"/members/"+m, su, nil).Want(t, 204)
	}
	return w
}
