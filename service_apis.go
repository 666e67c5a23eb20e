package keysmith

import "context"

// CreateAPI registers an API (a resource server) with its scopes. Org and
// super admins only.
func (s *Service) CreateAPI(ctx context.Context, p Principal, in CreateAPIInput) (*API, error) {
	if err := canManageAPIs(p); err != nil {
		return nil, err
	}
	a, err := in.Validate()
	if err != nil {
		return nil, err
	}
	now := s.Now()
	a.ID, a.CreatedAt, a.UpdatedAt = NewID("api"), now, now
	for i := range a.Scopes {
		a.Scopes[i].APIID = a.ID
	}
	if err := s.Store.CreateAPI(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// FindAPIs lists every API with its scopes. Every signed-in user reads
// them: a developer needs to know which scopes exist and which they may
// give.
func (s *Service) FindAPIs(ctx context.Context, p Principal) ([]*API, error) {
	return s.Store.FindAPIs(ctx)
}

// FindAPIByID returns an API with its scopes, to every signed-in user.
func (s *Service) FindAPIByID(ctx context.Context, p Principal, id string) (*API, error) {
	return s.Store.FindAPIByID(ctx, id)
}

// UpdateAPI changes an API; a new scope list replaces the old one. The
// change applies from the next token issued.
func (s *Service) UpdateAPI(ctx context.Context, p Principal, id string, u APIUpdate) (*API, error) {
	if err := canManageAPIs(p); err != nil {
		return nil, err
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	return s.Store.UpdateAPI(ctx, id, u)
}

// DeleteAPI deletes an API that no live credential uses.
func (s *Service) DeleteAPI(ctx context.Context, p Principal, id string) error {
	if err := canManageAPIs(p); err != nil {
		return err
	}
	return s.Store.DeleteAPI(ctx, id)
}

func canManageAPIs(p Principal) error {
	if !CanManageAPIs(p.User) {
		return Errorf(CodeForbidden, "role %s may not manage APIs and their scopes; org and super admins may", p.User.Role)
	}
	return CanChangeCredentials(p)
}
