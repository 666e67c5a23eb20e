package keysmith

import "context"

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
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
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
	if err := s.RequireRecentAuth(p); err != nil {
		return nil, nil, Secret{}, err
	}
	secret, hash := NewAPITokenSecret()
	t := NewToken(Token{ID: NewID("tok"), Name: a.Name, Type: TokenAgent, OwnerID: a.OwnerID, CreatedAt: now,
		CreatedBy: p.User.ID, IdleTTL: s.idleTTL(), AgentID: a.ID, AgentActive: true})
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
