package keysmith

import (
	"context"
	"time"
)

// UpdateToken applies an update (name, enabled, meta, network,
// rate_limit_percent) to a token the caller may manage: their own, or
// anyone's for org and super admins. A caller who may not manage the token
// learns nothing about their input. A revoked token cannot be changed.
// Every change takes effect on every replica when it commits.
func (s *Service) UpdateToken(ctx context.Context, p Principal, id string, u TokenUpdate) (*Token, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	t, err := s.manageableToken(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if t.RevokedAt != nil {
		return nil, Errorf(CodeConflict, "token %s is revoked; a revoked token cannot be changed", id)
	}
	t, err = s.Store.UpdateToken(ctx, id, u)
	if err != nil {
		return nil, err
	}
	s.overlayUse(t)
	return t, nil
}

// RotateToken gives a token a new secret and returns it, shown once. The
// token keeps its id, name, owner, restrictions and history; the old secret
// keeps working for grace (0..MaxRotationGrace), then verify says REVOKED.
// Only the owner rotates (CanRotateToken): the new secret acts as them.
func (s *Service) RotateToken(ctx context.Context, p Principal, id string, grace time.Duration) (*Token, Secret, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, Secret{}, err
	}
	if grace < 0 || grace > MaxRotationGrace {
		return nil, Secret{}, Errorf(CodeInvalid, "grace_seconds must be between 0 and %d", int64(MaxRotationGrace/time.Second))
	}
	t, err := s.FindTokenByID(ctx, p, id)
	if err != nil {
		return nil, Secret{}, err
	}
	var owner *User
	if t.OwnerID != p.User.ID {
		if owner, err = s.Store.FindUserByID(ctx, t.OwnerID); err != nil {
			return nil, Secret{}, err
		}
	}
	if err := CanRotateToken(p.User, t, owner); err != nil {
		return nil, Secret{}, err
	}
	now := s.Now()
	if st := t.Status(now); st == TokenRevoked || st == TokenExpired {
		return nil, Secret{}, Errorf(CodeConflict, "token %s is %s and cannot be rotated; create a new one", id, st)
	}
	secret, hash := NewAPITokenSecret()
	t, err = s.Store.RotateToken(ctx, id, hash, now.Add(grace))
	if err != nil {
		return nil, Secret{}, err
	}
	s.overlayUse(t)
	return t, secret, nil
}

// SummarizeTokens counts the tokens the caller may see.
func (s *Service) SummarizeTokens(ctx context.Context, p Principal) (*TokenSummary, error) {
	owner := ""
	if !CanSeeAllTokens(p.User) {
		owner = p.User.ID
	}
	return s.Store.SummarizeTokens(ctx, owner, s.Now())
}

// manageableToken returns a token the caller may see and manage.
func (s *Service) manageableToken(ctx context.Context, p Principal, id string) (*Token, error) {
	t, err := s.FindTokenByID(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if !CanManageToken(p.User, t) {
		return nil, Errorf(CodeForbidden, "role %s may not change other users' tokens", p.User.Role)
	}
	return t, nil
}

// CreateAgent registers an agent owned by the caller. It holds no token
// until it is activated.
func (s *Service) CreateAgent(ctx context.Context, p Principal, in CreateAgentInput) (*Agent, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	if !CanCreateTokens(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not register agents", p.User.Role)
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := s.Now()
	a := &Agent{ID: NewID("agt"), Name: in.Name, Kind: in.Kind, OwnerID: p.User.ID, Status: AgentInactive,
		CreatedAt: now, CreatedBy: p.User.ID}
	if err := s.Store.CreateAgent(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// FindAgentByID returns an agent the caller may see; one they may not see
// is CodeNotFound.
func (s *Service) FindAgentByID(ctx context.Context, p Principal, id string) (*Agent, error) {
	a, err := s.Store.FindAgentByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.OwnerID != p.User.ID && !CanSeeAllTokens(p.User) {
		return nil, Errorf(CodeNotFound, "agent %q not found", id)
	}
	return a, nil
}

// FindAgents lists the agents the caller may see.
func (s *Service) FindAgents(ctx context.Context, p Principal, f AgentFilter) ([]*Agent, string, error) {
	if f.Limit < 0 || f.Limit > MaxPageSize {
		return nil, "", Errorf(CodeInvalid, "limit must be between 1 and %d", MaxPageSize)
	}
	if !CanSeeAllTokens(p.User) {
		f.OwnerID = p.User.ID
	}
	return s.Store.FindAgents(ctx, f)
}

// ActivateAgent issues the agent a new token (type agent, owned by the
// agent's owner) and returns it with its secret, shown once. A token a
// previous activation left alive is revoked: an agent holds one token. Only
// the owner activates, while they may create tokens (CanActivateAgent).
func (s *Service) ActivateAgent(ctx context.Context, p Principal, id string) (*Agent, *Token, Secret, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, nil, Secret{}, err
	}
	a, err := s.FindAgentByID(ctx, p, id)
	if err != nil {
		return nil, nil, Secret{}, err
	}
	if err := CanActivateAgent(p.User, a); err != nil {
		return nil, nil, Secret{}, err
	}
	if a.Status == AgentActive {
		return nil, nil, Secret{}, Errorf(CodeConflict, "agent %s is active already; deactivate it first to issue a new token, or rotate its token", id)
	}
	now := s.Now()
	secret, hash := NewAPITokenSecret()
	t := &Token{ID: NewID("tok"), Name: a.Name, Type: TokenAgent, OwnerID: a.OwnerID, CreatedAt: now,
		CreatedBy: p.User.ID, IdleTTL: s.idleTTL(), AgentID: a.ID, AgentActive: true}
	a, err = s.Store.ActivateAgent(ctx, id, t, hash, p.User.ID)
	if err != nil {
		return nil, nil, Secret{}, err
	}
	if u, err := s.Store.FindUserByID(ctx, a.OwnerID); err == nil {
		t.Owner = TokenOwner{ID: u.ID, Email: u.Email, Role: u.Role}
	}
	return a, t, secret, nil
}

// DeactivateAgent marks an agent inactive; its token is revoked if its kind
// auto-revokes, and otherwise shows as suspicious while it stays alive.
func (s *Service) DeactivateAgent(ctx context.Context, p Principal, id string) (*Agent, error) {
	if _, err := s.manageableAgent(ctx, p, id); err != nil {
		return nil, err
	}
	return s.Store.DeactivateAgent(ctx, id, p.User.ID)
}

// DeleteAgent removes an agent, revoking its token if its kind auto-revokes.
func (s *Service) DeleteAgent(ctx context.Context, p Principal, id string) error {
	if _, err := s.manageableAgent(ctx, p, id); err != nil {
		return err
	}
	return s.Store.DeleteAgent(ctx, id, p.User.ID)
}

func (s *Service) manageableAgent(ctx context.Context, p Principal, id string) (*Agent, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	a, err := s.FindAgentByID(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if !CanManageAgent(p.User, a) {
		return nil, Errorf(CodeForbidden, "role %s may not change other users' agents", p.User.Role)
	}
	return a, nil
}
