package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// TestEscalations replays, through the real server on both engines, each
// privilege escalation a review found (issue 10), and proves it closed: no
// call hands its caller a secret that acts as anyone other than the caller,
// or with more rights than the caller has, and no sequence of allowed calls
// widens what a role controls.
func TestEscalations(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		su := s.AdminToken

		t.Run("OrgAdminCannotRotateAnotherPersonsToken", func(t *testing.T) {
			createUser(t, s, "rot-org@example.com", "org_admin")
			_, org := tokenOf(t, s, "rot-org@example.com")
			victim := s.Do("POST", "/v1/tokens", su, map[string]any{"name": "super's"}).Want(t, http.StatusCreated)
			r := s.Do("POST", "/v1/tokens/"+victim.String("id")+"/rotate", org, map[string]any{"grace_seconds": 86400}).Want(t, http.StatusForbidden)
			if r.String("token") != "" || !strings.Contains(r.String("error_description"), "only the owner rotates") {
				t.Errorf("refusal: %s", r.Raw)
			}
			if code := verifyCode(t, s, victim.String("token")); code != "VALID" {
				t.Errorf("the refused rotation changed the victim's token: %s", code)
			}
			// Taking a credential away is still theirs to do.
			s.Do("PATCH", "/v1/tokens/"+victim.String("id"), org, map[string]any{"enabled": false}).Want(t, http.StatusOK)
			s.Do("DELETE", "/v1/tokens/"+victim.String("id"), org, nil).Want(t, http.StatusNoContent)
		})

		t.Run("SuperAdminRotatesOnlyOwnTokensAndServiceAccountTokens", func(t *testing.T) {
			createUser(t, s, "rot-dev-admin@example.com", "read_only_admin")
			id, _ := tokenOf(t, s, "rot-dev-admin@example.com")
			s.Do("POST", "/v1/tokens/"+id+"/rotate", su, nil).Want(t, http.StatusForbidden)

			robot := s.Do("POST", "/v1/users", su, map[string]any{"email": "rot-robot@example.com", "name": "robot",
				"role": "org_admin", "type": "service"}).Want(t, http.StatusCreated).String("id")
			svc := s.Do("POST", "/v1/tokens", su, map[string]any{"name": "svc", "owner_id": robot}).Want(t, http.StatusCreated)
			rot := s.Do("POST", "/v1/tokens/"+svc.String("id")+"/rotate", su, nil).Want(t, http.StatusOK)
			if verifyOwner(t, s, rot.String("token")) != robot {
				t.Errorf("rotated service token does not act as the service account: %s", rot.Raw)
			}
			// An org admin may not create tokens for a super admin service
			// account, so may not rotate one either.
			superBot := s.Do("POST", "/v1/users", su, map[string]any{"email": "rot-superbot@example.com", "name": "superbot",
				"role": "super_admin", "type": "service"}).Want(t, http.StatusCreated).String("id")
			sb := s.Do("POST", "/v1/tokens", su, map[string]any{"name": "sb", "owner_id": superBot}).Want(t, http.StatusCreated)
			createUser(t, s, "rot-org2@example.com", "org_admin")
			_, org := tokenOf(t, s, "rot-org2@example.com")
			s.Do("POST", "/v1/tokens/"+sb.String("id")+"/rotate", org, nil).Want(t, http.StatusForbidden)
			s.Do("POST", "/v1/tokens/"+rot.String("id")+"/rotate", org, nil).Want(t, http.StatusOK)
		})

		t.Run("OnlyTheOwnerActivatesAnAgent", func(t *testing.T) {
			createUser(t, s, "agt-org@example.com", "org_admin")
			_, org := tokenOf(t, s, "agt-org@example.com")
			a := s.Do("POST", "/v1/agents", su, map[string]any{"name": "super's agent", "kind": "daemon"}).Want(t, http.StatusCreated).String("id")
			r := s.Do("POST", "/v1/agents/"+a+"/activate", org, nil).Want(t, http.StatusForbidden)
			if strings.Contains(string(r.Raw), "ks_") {
				t.Errorf("refused activation answered a token: %s", r.Raw)
			}
			on := s.Do("POST", "/v1/agents/"+a+"/activate", su, nil).Want(t, http.StatusOK)
			if verifyOwner(t, s, on.Body["token"].(map[string]any)["token"].(string)) != s.AdminID {
				t.Errorf("agent token does not act as its owner: %s", on.Raw)
			}
			// Deactivating is taking away, and stays an org admin's right;
			// activating again is not.
			s.Do("POST", "/v1/agents/"+a+"/deactivate", org, nil).Want(t, http.StatusOK)
			s.Do("POST", "/v1/agents/"+a+"/activate", org, nil).Want(t, http.StatusForbidden)
		})

		t.Run("DemotedOwnerCannotActivateTheirAgent", func(t *testing.T) {
			id := createUser(t, s, "agt-demoted@example.com", "read_only_admin")
			_, ro := tokenOf(t, s, "agt-demoted@example.com")
			cookie := signIn(t, s, "agt-demoted@example.com", "pw agt-demoted@example.com")
			a := s.Do("POST", "/v1/agents", ro, map[string]any{"name": "mine", "kind": "daemon"}).Want(t, http.StatusCreated).String("id")
			s.Do("PATCH", "/v1/users/"+id, su, map[string]any{"role": "developer"}).Want(t, http.StatusOK)
			s.Do("POST", "/v1/tokens", ro, map[string]any{"name": "x"}).Want(t, http.StatusForbidden)
			r := withCookie(t, s, cookie, "POST", "/v1/agents/"+a+"/activate", nil, nil).Want(t, http.StatusForbidden)
			if !strings.Contains(r.String("error_description"), "may not create API tokens") {
				t.Errorf("refusal: %s", r.Raw)
			}
			s.Do("POST", "/v1/agents/"+a+"/activate", ro, nil).Want(t, http.StatusForbidden)
		})

		t.Run("GroupAdminCannotAddMembersAndTakeThemOver", func(t *testing.T) {
			ga := createUser(t, s, "grp-admin@example.com", "group_admin")
			_, gaTok := tokenOf(t, s, "grp-admin@example.com")
			dev := createUser(t, s, "grp-victim@example.com", "developer")
			g := s.Do("POST", "/v1/groups", su, map[string]any{"name": "ga's group"}).Want(t, http.StatusCreated).String("id")
			s.Do("PUT", "/v1/groups/"+g+"/members/"+ga, su, nil).Want(t, http.StatusNoContent)
			s.Do("PUT", "/v1/groups/"+g+"/members/"+dev, gaTok, nil).Want(t, http.StatusForbidden)
			s.Do("PATCH", "/v1/users/"+dev, gaTok, map[string]any{"password": "taken over at last"}).Want(t, http.StatusForbidden)
			s.Do("POST", "/v1/sessions", "", map[string]any{"email": "grp-victim@example.com", "password": "taken over at last"}).Want(t, http.StatusUnauthorized)

			// A group membership admin adds; the group admin then manages
			// the developer, and may remove them again (narrowing).
			gma := createUser(t, s, "grp-members@example.com", "group_membership_admin")
			_, gmaTok := tokenOf(t, s, "grp-members@example.com")
			s.Do("PUT", "/v1/groups/"+g+"/members/"+gma, su, nil).Want(t, http.StatusNoContent)
			s.Do("PUT", "/v1/groups/"+g+"/members/"+dev, gmaTok, nil).Want(t, http.StatusNoContent)
			s.Do("PATCH", "/v1/users/"+dev, gaTok, map[string]any{"name": "Managed"}).Want(t, http.StatusOK)
			s.Do("DELETE", "/v1/groups/"+g+"/members/"+dev, gaTok, nil).Want(t, http.StatusNoContent)
			s.Do("PATCH", "/v1/users/"+dev, gaTok, map[string]any{"name": "Unmanaged"}).Want(t, http.StatusForbidden)
		})

		t.Run("OnlyOwnerAndOrgAdminsReceiveAnAppsClientSecrets", func(t *testing.T) {
			createUser(t, s, "app-ga@example.com", "group_admin")
			_, ga := tokenOf(t, s, "app-ga@example.com")
			createUser(t, s, "app-org@example.com", "org_admin")
			_, org := tokenOf(t, s, "app-org@example.com")
			appID := s.Do("POST", "/v1/apps", su, map[string]any{"name": "super's app"}).Want(t, http.StatusCreated).String("app_id")
			c := newClient(t, s, su, map[string]any{"app_id": appID})
			for _, path := range []string{"/v1/oauth/clients/" + c.ID + "/secrets", "/v1/oauth/clients/" + c.ID + "/secrets/reset"} {
				r := s.Do("POST", path, ga, map[string]any{}).Want(t, http.StatusForbidden)
				if r.String("client_secret") != "" {
					t.Errorf("POST %s as group admin answered a secret: %s", path, r.Raw)
				}
			}
			s.Do("POST", "/v1/oauth/clients", ga, map[string]any{"name": "into super's app", "environment": "sandbox", "app_id": appID}).Want(t, http.StatusForbidden)
			accessToken(t, s, c) // the reset was refused: the owner's secret still works
			// Org admins may, per the principle: the secret acts as the
			// application, which they administer.
			sec := s.Do("POST", "/v1/oauth/clients/"+c.ID+"/secrets", org, map[string]any{}).Want(t, http.StatusCreated)
			accessToken(t, s, client{ID: c.ID, Secret: sec.String("client_secret")})
			// Group admins keep what takes credentials away.
			s.Do("DELETE", "/v1/oauth/clients/"+c.ID+"/secrets/"+sec.String("secret_id"), ga, nil).Want(t, http.StatusNoContent)
			s.Do("DELETE", "/v1/oauth/clients/"+c.ID, ga, nil).Want(t, http.StatusNoContent)
		})

		t.Run("PreviousSecretInGraceCannotRotateOrChangeCredentials", func(t *testing.T) {
			id := createUser(t, s, "grace@example.com", "org_admin")
			dev := createUser(t, s, "grace-dev@example.com", "developer")
			ex := createUser(t, s, "grace-ex@example.com", "developer")
			s.Do("POST", "/v1/users/"+ex+"/deactivate", su, nil).Want(t, http.StatusOK)
			g := s.Do("POST", "/v1/groups", su, map[string]any{"name": "grace group"}).Want(t, http.StatusCreated).String("id")
			tokID, old := tokenOf(t, s, "grace@example.com")
			fresh := s.Do("POST", "/v1/tokens/"+tokID+"/rotate", old, map[string]any{"grace_seconds": 3600}).Want(t, http.StatusOK).String("token")
			s.Do("GET", "/v1/me", old, nil).Want(t, http.StatusOK) // calls APIs as before
			r := s.Do("POST", "/v1/tokens/"+tokID+"/rotate", old, map[string]any{"grace_seconds": 0}).Want(t, http.StatusForbidden)
			if !strings.Contains(r.String("error_description"), "use the new secret") {
				t.Errorf("refusal: %s", r.Raw)
			}
			for _, c := range []struct {
				method, path string
				body         map[string]any
			}{
				{"DELETE", "/v1/tokens/" + tokID, nil},
				{"PATCH", "/v1/tokens/" + tokID, map[string]any{"enabled": false}},
				{"POST", "/v1/tokens", map[string]any{"name": "by the old secret"}},
				{"POST", "/v1/agents", map[string]any{"name": "by the old secret", "kind": "ci"}},
				{"POST", "/v1/oauth/clients", map[string]any{"name": "by the old secret", "environment": "sandbox"}},
				{"PATCH", "/v1/users/" + id, map[string]any{"password": "locked out now"}},
				{"PATCH", "/v1/users/" + dev, map[string]any{"password": "a way back in"}},
				{"POST", "/v1/users", map[string]any{"email": "backdoor@example.com", "name": "b", "role": "org_admin", "password": "a way back in"}},
				// A way back in that outlives the grace without a password:
				// an old account of the thief's, reactivated and promoted.
				{"POST", "/v1/users/" + ex + "/activate", nil},
				{"PATCH", "/v1/users/" + dev, map[string]any{"role": "org_admin"}},
				{"PUT", "/v1/groups/" + g + "/members/" + dev, nil},
				{"POST", "/v1/zones", map[string]any{"name": "thief's", "gateways": []string{"198.51.100.0/24"}}},
			} {
				if r := s.Do(c.method, c.path, old, c.body); r.Status != http.StatusForbidden {
					t.Errorf("%s %s with the previous secret: status %d, want 403; %s", c.method, c.path, r.Status, r.Raw)
				}
			}
			if code := verifyCode(t, s, fresh); code != "VALID" {
				t.Errorf("owner's new secret after the old one's attempts: %s", code)
			}
			s.Do("POST", "/v1/groups", old, map[string]any{"name": "created as before"}).Want(t, http.StatusCreated)
			c := newClient(t, s, su, map[string]any{"token_format": "opaque"})
			at := accessToken(t, s, c)
			postForm(t, s, "/v1/oauth/revoke", "", "", old, url.Values{"token": {at}}).Want(t, http.StatusForbidden)
			if code := verifyCode(t, s, at); code != "VALID" {
				t.Errorf("access token after the old secret's revocation attempt: %s", code)
			}
			s.Do("POST", "/v1/tokens/"+tokID+"/rotate", fresh, map[string]any{"grace_seconds": 0}).Want(t, http.StatusOK)
			if code := verifyCode(t, s, old); code == "VALID" {
				t.Errorf("old secret after the owner's second rotation: %s", code)
			}
		})

		t.Run("DeactivatedOwnersClientsIssueNothingUntilReactivated", func(t *testing.T) {
			dev := createUser(t, s, "oauth-leaver@example.com", "developer")
			cookie := signIn(t, s, "oauth-leaver@example.com", "pw oauth-leaver@example.com")
			r := withCookie(t, s, cookie, "POST", "/v1/oauth/clients", map[string]any{"name": "leaver's", "environment": "sandbox"}, nil).Want(t, http.StatusCreated)
			c := client{ID: r.String("client_id"), Secret: r.String("client_secret")}
			op := withCookie(t, s, cookie, "POST", "/v1/oauth/clients", map[string]any{"name": "opaque", "environment": "sandbox", "token_format": "opaque"}, nil).Want(t, http.StatusCreated)
			co := client{ID: op.String("client_id"), Secret: op.String("client_secret")}
			jwt, opaque := accessToken(t, s, c), accessToken(t, s, co)
			admin := newClient(t, s, su, map[string]any{})

			s.Do("POST", "/v1/users/"+dev+"/deactivate", su, nil).Want(t, http.StatusOK)
			if r := getToken(t, s, c, "").Want(t, http.StatusUnauthorized); r.String("error") != "invalid_client" {
				t.Errorf("token endpoint for a deactivated owner's client: %s", r.Raw)
			}
			for _, tok := range []string{jwt, opaque} {
				if code := verifyCode(t, s, tok); code != "OWNER_INACTIVE" {
					t.Errorf("verify of a deactivated owner's access token: %s", code)
				}
				if r := introspect(t, s, admin, tok); r.Body["active"] != false {
					t.Errorf("introspection of a deactivated owner's access token: %s", r.Raw)
				}
			}
			postForm(t, s, "/v1/oauth/introspect", c.ID, c.Secret, "", url.Values{"token": {jwt}}).Want(t, http.StatusUnauthorized)

			s.Do("POST", "/v1/users/"+dev+"/activate", su, nil).Want(t, http.StatusOK)
			accessToken(t, s, c)
			for _, tok := range []string{jwt, opaque} {
				if code := verifyCode(t, s, tok); code != "VALID" {
					t.Errorf("verify after reactivation: %s", code)
				}
			}
		})
	})
}

// TestEscalationsAcrossReplicas proves that a deactivation on one replica
// stops the owner's OAuth clients on another at once (PostgreSQL only:
// SQLite runs one replica).
func TestEscalationsAcrossReplicas(t *testing.T) {
	a := apptest.Start(t, storetest.Postgres(t), app.Config{})
	b := apptest.StartReplica(t, a, app.Config{})
	dev := createUser(t, a, "replica-leaver@example.com", "developer")
	cookie := signIn(t, a, "replica-leaver@example.com", "pw replica-leaver@example.com")
	r := withCookie(t, a, cookie, "POST", "/v1/oauth/clients", map[string]any{"name": "c", "environment": "sandbox"}, nil).Want(t, http.StatusCreated)
	c := client{ID: r.String("client_id"), Secret: r.String("client_secret")}
	tok := accessToken(t, b, c) // b caches the client and its owner
	a.Do("POST", "/v1/users/"+dev+"/deactivate", a.AdminToken, nil).Want(t, http.StatusOK)
	waitFor(t, "replica B to see the owner deactivated", func() bool { return verifyCode(t, b, tok) == "OWNER_INACTIVE" })
	getToken(t, b, c, "").Want(t, http.StatusUnauthorized)
}

// verifyOwner returns the owner id verify reports for a valid API token.
func verifyOwner(t *testing.T, s *apptest.Server, token string) string {
	t.Helper()
	r := s.Do("POST", "/v1/verify", "", map[string]any{"token": token}).Want(t, http.StatusOK)
	if r.String("code") != "VALID" {
		t.Fatalf("verify: %s", r.Raw)
	}
	return r.String("owner_id")
}
