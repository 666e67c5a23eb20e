package app_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

func tokenStatus(t *testing.T, s *apptest.Server, id string) (status string, color any) {
	t.Helper()
	g := get(t, s, s.AdminToken, id)
	return g.String("status"), g.Body["color"]
}

func TestAgents(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken

		t.Run("ActivateIssuesAnAgentTokenOnce", func(t *testing.T) {
			a := s.Do("POST", "/v1/agents", admin, map[string]any{"name": "ci runner", "kind": "ci"}).Want(t, http.StatusCreated)
			if a.String("status") != "inactive" || a.Body["auto_revoke"] != true || a.String("owner_id") != s.AdminID {
				t.Fatalf("new agent: %s", a.Raw)
			}
			id := a.String("id")
			r := s.Do("POST", "/v1/agents/"+id+"/activate", admin, nil).Want(t, http.StatusOK)
			tok := r.Body["token"].(map[string]any)
			secret := tok["token"].(string)
			if r.String("status") != "active" || tok["type"] != "agent" || tok["owner_id"] != s.AdminID ||
				tok["agent_id"] != id || r.String("token_id") != tok["id"] || r.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("activation: %s", r.Raw)
			}
			if code := verifyCode(t, s, secret); code != "VALID" {
				t.Errorf("agent token: %s", code)
			}
			for _, path := range []string{"/v1/agents", "/v1/agents/" + id, "/v1/tokens/" + tok["id"].(string)} {
				if g := s.Do("GET", path, admin, nil).Want(t, http.StatusOK); strings.Contains(string(g.Raw), secret) {
					t.Errorf("GET %s shows the agent's secret", path)
				}
			}
			if st, c := tokenStatus(t, s, tok["id"].(string)); st != "active" || c == "yellow" {
				t.Errorf("token of an active agent: %s %v", st, c)
			}
			s.Do("POST", "/v1/agents/"+id+"/activate", admin, nil).Want(t, http.StatusConflict)
			noPlaintext(t, s, secret)
			if o := tok["owner"].(map[string]any); o["email"] != "admin@localhost" {
				t.Errorf("agent token's owner: %v", o)
			}
		})

		t.Run("AgentTokenCannotBeRevokedWhileTheAgentIsActive", func(t *testing.T) {
			agent, tokID, secret := addAgent(t, s, "assistant", "assistant")
			r := s.Do("DELETE", "/v1/tokens/"+tokID, admin, nil).Want(t, http.StatusConflict)
			if !strings.Contains(r.String("error_description"), "deactivate the agent first") {
				t.Errorf("409 message: %s", r.Raw)
			}
			if code := verifyCode(t, s, secret); code != "VALID" {
				t.Errorf("after a refused revoke: %s", code)
			}
			// An auto-revoking kind loses its token on deactivation.
			d := s.Do("POST", "/v1/agents/"+agent+"/deactivate", admin, nil).Want(t, http.StatusOK)
			if d.String("status") != "inactive" || d.String("deactivated_at") == "" {
				t.Errorf("deactivated: %s", d.Raw)
			}
			if code := verifyCode(t, s, secret); code != "REVOKED" {
				t.Errorf("token of a deactivated assistant: %s, want REVOKED", code)
			}
			if st, _ := tokenStatus(t, s, tokID); st != "revoked" {
				t.Errorf("status %s, want revoked", st)
			}
			s.Do("POST", "/v1/agents/"+agent+"/deactivate", admin, nil).Want(t, http.StatusConflict)
			// Ordinary tokens are always revocable.
			id, _ := newToken(t, s, admin, "plain")
			s.Do("DELETE", "/v1/tokens/"+id, admin, nil).Want(t, http.StatusNoContent)
		})

		t.Run("DeactivatedDaemonKeepsASuspiciousToken", func(t *testing.T) {
			agent, tokID, secret := addAgent(t, s, "collector", "daemon")
			s.Do("POST", "/v1/agents/"+agent+"/deactivate", admin, nil).Want(t, http.StatusOK)
			if code := verifyCode(t, s, secret); code != "VALID" {
				t.Errorf("daemon's token after deactivation: %s, want VALID (kept)", code)
			}
			if st, c := tokenStatus(t, s, tokID); st != "suspicious" || c != "yellow" {
				t.Errorf("daemon's token: %s %v, want suspicious yellow", st, c)
			}
			if got := ids(list(t, s, "status=suspicious", 50)); !slices.Contains(got, tokID) {
				t.Errorf("status=suspicious lists %v, want %s among them", got, tokID)
			}
			// Reactivation issues a new token and retires the old one.
			r := s.Do("POST", "/v1/agents/"+agent+"/activate", admin, nil).Want(t, http.StatusOK)
			newID := r.Body["token"].(map[string]any)["id"].(string)
			if st, _ := tokenStatus(t, s, tokID); st != "revoked" {
				t.Errorf("old token after reactivation: %s, want revoked", st)
			}
			if st, c := tokenStatus(t, s, newID); st != "active" || c == "yellow" {
				t.Errorf("new token: %s %v", st, c)
			}
		})

		t.Run("DeletedAgentLeavesASuspiciousTokenThatCanBeRevoked", func(t *testing.T) {
			agent, tokID, secret := addAgent(t, s, "sidecar", "integration")
			s.Do("DELETE", "/v1/agents/"+agent, admin, nil).Want(t, http.StatusNoContent)
			s.Do("GET", "/v1/agents/"+agent, admin, nil).Want(t, http.StatusNotFound)
			if st, c := tokenStatus(t, s, tokID); st != "suspicious" || c != "yellow" {
				t.Errorf("token of a deleted agent: %s %v, want suspicious yellow", st, c)
			}
			s.Do("DELETE", "/v1/tokens/"+tokID, admin, nil).Want(t, http.StatusNoContent)
			if code := verifyCode(t, s, secret); code != "REVOKED" {
				t.Errorf("revoked suspicious token: %s", code)
			}
			// Deleting an auto-revoking agent revokes its token.
			ci, ciTok, _ := addAgent(t, s, "pipeline", "ci")
			s.Do("DELETE", "/v1/agents/"+ci, admin, nil).Want(t, http.StatusNoContent)
			if st, _ := tokenStatus(t, s, ciTok); st != "revoked" {
				t.Errorf("token of a deleted ci agent: %s, want revoked", st)
			}
		})

		t.Run("ListAndBadInput", func(t *testing.T) {
			before := s.Do("GET", "/v1/agents?limit=200", admin, nil).Want(t, http.StatusOK)
			n := len(before.Body["items"].([]any))
			for _, body := range []string{`{}`, `{"name": "x"}`, `{"name": "x", "kind": "robot"}`, `{"name": "", "kind": "ci"}`,
				`{"name": "x", "kind": "ci", "extra": 1}`, `nope`} {
				r := s.Do("POST", "/v1/agents", admin, body).Want(t, http.StatusBadRequest)
				if r.String("error_description") == "" {
					t.Errorf("%s: %s", body, r.Raw)
				}
			}
			after := s.Do("GET", "/v1/agents?limit=200", admin, nil).Want(t, http.StatusOK)
			if len(after.Body["items"].([]any)) != n {
				t.Errorf("agents: %d before, %d after refused requests", n, len(after.Body["items"].([]any)))
			}
			s.Do("GET", "/v1/agents?limit=0", admin, nil).Want(t, http.StatusBadRequest)
			s.Do("GET", "/v1/agents?cursor=bad!", admin, nil).Want(t, http.StatusBadRequest)
			for _, path := range []string{"/v1/agents/agt_none/activate", "/v1/agents/agt_none/deactivate"} {
				s.Do("POST", path, admin, nil).Want(t, http.StatusNotFound)
			}
			s.Do("DELETE", "/v1/agents/agt_none", admin, nil).Want(t, http.StatusNotFound)
			s.Do("GET", "/v1/agents", "", nil).Want(t, http.StatusUnauthorized)
		})
	})
}
