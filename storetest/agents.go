package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// createAgent stores a new, inactive agent of owner, failing the test on
// error.
func (fx *fixture) createAgent(owner *keysmith.User, kind keysmith.AgentKind) *keysmith.Agent {
	fx.t.Helper()
	a := &keysmith.Agent{ID: keysmith.NewID("agt"), Name: string(kind) + " agent", Kind: kind, OwnerID: owner.ID,
		Status: keysmith.AgentInactive, CreatedAt: fx.clock.Now(), CreatedBy: owner.ID}
	if err := fx.db.CreateAgent(fx.ctx, a); err != nil {
		fx.t.Fatalf("CreateAgent: %v", err)
	}
	return a
}

// agentToken returns an unsaved token for agent a, with its hash.
func (fx *fixture) agentToken(owner *keysmith.User, a *keysmith.Agent) (*keysmith.Token, keysmith.Hash) {
	tok, _, h := fx.newToken(owner)
	tok.Type, tok.AgentID = keysmith.TokenAgent, a.ID
	return tok, h
}

// activate activates a with a new token, failing the test on error.
func (fx *fixture) activate(owner *keysmith.User, a *keysmith.Agent) *keysmith.Token {
	fx.t.Helper()
	tok, h := fx.agentToken(owner, a)
	if _, err := fx.db.ActivateAgent(fx.ctx, a.ID, tok, h, owner.ID); err != nil {
		fx.t.Fatalf("ActivateAgent: %v", err)
	}
	return tok
}

// revoked reports whether the stored token id is revoked.
func (fx *fixture) revoked(id string) bool {
	fx.t.Helper()
	return fx.mustFindToken(id).RevokedAt != nil
}

// testAgents: every AgentStore method and its error codes; what happens to
// an agent's token by kind; concurrent re-activations leave one live token.
func testAgents(t *testing.T, fx *fixture) {
	owner, admin := fx.addUser("owner@example.com"), fx.addUser("admin@example.com")

	t.Run("CreateAgentStoresAnInactiveAgent", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createAgent(owner, keysmith.AgentCI)
		got, err := fx.db.FindAgentByID(fx.ctx, a.ID)
		if err != nil {
			t.Fatalf("FindAgentByID: %v", err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("FindAgentByID (-created +read):\n%s", diff)
		}
	})

	t.Run("FindAgentsFiltersByOwnerNewestFirst", func(t *testing.T) {
		fx := fx.in(t)
		fx.clock.Advance(time.Second)
		older := fx.createAgent(admin, keysmith.AgentDaemon)
		fx.clock.Advance(time.Second)
		newer := fx.createAgent(admin, keysmith.AgentIntegration)
		got, next, err := fx.db.FindAgents(fx.ctx, keysmith.AgentFilter{OwnerID: admin.ID})
		if err != nil || next != "" || len(got) != 2 || got[0].ID != newer.ID || got[1].ID != older.ID {
			t.Errorf("FindAgents of admin = %d agents, next %q, %v; want [newer, older]", len(got), next, err)
		}
		_, _, err = fx.db.FindAgents(fx.ctx, keysmith.AgentFilter{Page: keysmith.Page{Cursor: "garbage"}})
		wantCode(t, "FindAgents with a garbage cursor", err, keysmith.CodeInvalid)
	})

	t.Run("ActivateAgentIssuesItsTokenOnceUntilDeactivated", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createAgent(owner, keysmith.AgentCI)
		fx.clock.Advance(time.Minute)
		tok, h := fx.agentToken(owner, a)
		got, err := fx.db.ActivateAgent(fx.ctx, a.ID, tok, h, owner.ID)
		if err != nil {
			t.Fatalf("ActivateAgent: %v", err)
		}
		if got.Status != keysmith.AgentActive || got.TokenID != tok.ID || got.ActivatedAt == nil ||
			!got.ActivatedAt.Equal(fx.clock.Now()) {
			t.Errorf("ActivateAgent = %+v; want active now with token %s", got, tok.ID)
		}
		if read, err := fx.db.FindAgentByID(fx.ctx, a.ID); err != nil || !cmp.Equal(got, read) {
			t.Errorf("FindAgentByID after ActivateAgent = %+v, %v; want %+v", read, err, got)
		}
		if byHash, err := fx.db.FindTokenByHash(fx.ctx, h); err != nil || byHash.AgentID != a.ID {
			t.Errorf("the agent's token by hash = %+v, %v; want it, naming the agent", byHash, err)
		}
		again, h2 := fx.agentToken(owner, a)
		_, err = fx.db.ActivateAgent(fx.ctx, a.ID, again, h2, owner.ID)
		wantCode(t, "ActivateAgent of an active agent", err, keysmith.CodeConflict)
		_, err = fx.db.FindTokenByID(fx.ctx, again.ID)
		wantCode(t, "FindTokenByID of the refused activation's token", err, keysmith.CodeNotFound)
	})

	t.Run("DeactivatingAnAutoRevokingAgentRevokesItsToken", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createAgent(owner, keysmith.AgentAssistant)
		tok := fx.activate(owner, a)
		got, err := fx.db.DeactivateAgent(fx.ctx, a.ID, admin.ID)
		if err != nil || got.Status != keysmith.AgentInactive || got.DeactivatedAt == nil {
			t.Fatalf("DeactivateAgent = %+v, %v; want inactive", got, err)
		}
		if read := fx.mustFindToken(tok.ID); read.RevokedAt == nil || read.RevokedBy != admin.ID {
			t.Errorf("token of the deactivated assistant: revoked %v by %q, want revoked by %s", read.RevokedAt, read.RevokedBy, admin.ID)
		}
		_, err = fx.db.DeactivateAgent(fx.ctx, a.ID, admin.ID)
		wantCode(t, "DeactivateAgent of an inactive agent", err, keysmith.CodeConflict)
	})

	t.Run("ADaemonKeepsItsTokenUntilReactivationRevokesIt", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createAgent(owner, keysmith.AgentDaemon)
		old := fx.activate(owner, a)
		if _, err := fx.db.DeactivateAgent(fx.ctx, a.ID, admin.ID); err != nil {
			t.Fatal(err)
		}
		if fx.revoked(old.ID) {
			t.Fatal("deactivating a daemon revoked its token; it should live on")
		}
		fresh := fx.activate(owner, a)
		if read := fx.mustFindToken(old.ID); read.RevokedAt == nil || read.RevokedBy != owner.ID {
			t.Errorf("previous token after re-activation: revoked %v by %q, want revoked by the activating user", read.RevokedAt, read.RevokedBy)
		}
		if fx.revoked(fresh.ID) {
			t.Error("the new activation's token is revoked")
		}
	})

	t.Run("DeleteAgentRevokesItsTokenOnlyIfItsKindAutoRevokes", func(t *testing.T) {
		fx := fx.in(t)
		for kind, wantRevoked := range map[keysmith.AgentKind]bool{keysmith.AgentCI: true, keysmith.AgentIntegration: false} {
			a := fx.createAgent(owner, kind)
			tok := fx.activate(owner, a)
			if err := fx.db.DeleteAgent(fx.ctx, a.ID, admin.ID); err != nil {
				t.Fatalf("DeleteAgent of a %s agent: %v", kind, err)
			}
			_, err := fx.db.FindAgentByID(fx.ctx, a.ID)
			wantCode(t, "FindAgentByID of a deleted agent", err, keysmith.CodeNotFound)
			if got := fx.revoked(tok.ID); got != wantRevoked {
				t.Errorf("token of a deleted %s agent revoked = %v, want %v", kind, got, wantRevoked)
			}
		}
	})

	t.Run("UnknownAgentIsNotFound", func(t *testing.T) {
		fx := fx.in(t)
		unknown := &keysmith.Agent{ID: keysmith.NewID("agt")}
		_, err := fx.db.FindAgentByID(fx.ctx, unknown.ID)
		wantCode(t, "FindAgentByID of an unknown id", err, keysmith.CodeNotFound)
		tok, h := fx.agentToken(owner, unknown)
		_, err = fx.db.ActivateAgent(fx.ctx, unknown.ID, tok, h, owner.ID)
		wantCode(t, "ActivateAgent of an unknown id", err, keysmith.CodeNotFound)
		_, err = fx.db.DeactivateAgent(fx.ctx, unknown.ID, owner.ID)
		wantCode(t, "DeactivateAgent of an unknown id", err, keysmith.CodeNotFound)
		wantCode(t, "DeleteAgent of an unknown id", fx.db.DeleteAgent(fx.ctx, unknown.ID, owner.ID), keysmith.CodeNotFound)
	})

	t.Run("ConcurrentReactivationsLeaveExactlyOneLiveToken", func(t *testing.T) {
		fx := fx.in(t)
		a := fx.createAgent(owner, keysmith.AgentDaemon) // its token outlives deactivation
		old := fx.activate(owner, a)
		if _, err := fx.db.DeactivateAgent(fx.ctx, a.ID, owner.ID); err != nil {
			t.Fatal(err)
		}
		const tries = 6
		toks := make([]*keysmith.Token, tries)
		hashes := make([]keysmith.Hash, tries)
		errs := make([]error, tries)
		for i := range toks {
			toks[i], hashes[i] = fx.agentToken(owner, a)
		}
		concurrently(tries, func(i int) {
			_, errs[i] = fx.db.ActivateAgent(fx.ctx, a.ID, toks[i], hashes[i], owner.ID)
		})
		fx.checkOneActivation(a, old, toks, errs)
	})
}

// checkOneActivation checks that exactly one of concurrent activations of a
// won, the others were conflicts that stored nothing, and that the agent's
// only live token is the winner's.
func (fx *fixture) checkOneActivation(a *keysmith.Agent, old *keysmith.Token, toks []*keysmith.Token, errs []error) {
	t := fx.t
	t.Helper()
	winner := ""
	for i, err := range errs {
		switch keysmith.ErrorCode(err) {
		case "":
			if winner != "" {
				t.Errorf("activations %s and %s both succeeded", winner, toks[i].ID)
			}
			winner = toks[i].ID
		case keysmith.CodeConflict:
			_, err := fx.db.FindTokenByID(fx.ctx, toks[i].ID)
			wantCode(t, "FindTokenByID of a refused activation's token", err, keysmith.CodeNotFound)
		default:
			t.Errorf("activation %d: %v, want success or conflict", i, err)
		}
	}
	if got, err := fx.db.FindAgentByID(fx.ctx, a.ID); err != nil || got.Status != keysmith.AgentActive || got.TokenID != winner {
		t.Errorf("agent after the activations = %+v, %v; want active with the winner's token %q", got, err, winner)
	}
	var live int
	if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*) FROM tokens WHERE agent_id = $1 AND revoked_at IS NULL`,
		a.ID).Scan(&live); err != nil {
		t.Fatal(err)
	}
	if live != 1 || !fx.revoked(old.ID) {
		t.Errorf("after concurrent re-activations: %d live tokens, previous token revoked %v; want 1 and true", live, fx.revoked(old.ID))
	}
}
