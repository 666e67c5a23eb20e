package keysmith

import "context"

// CreateTrustedOrigin lists an origin whose pages may call the API from a
// browser. Org and super admins only. CodeInvalid for a malformed origin,
// CodeConflict if it is listed already or MaxTrustedOrigins are.
func (s *Service) CreateTrustedOrigin(ctx context.Context, p Principal, origin string) (*TrustedOrigin, error) {
	if !CanEditTrustedOrigins(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not manage trusted origins; org and super admins may", p.User.Role)
	}
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	o, err := ParseOrigin(origin)
	if err != nil {
		return nil, err
	}
	t := &TrustedOrigin{ID: NewID("ori"), Origin: o, CreatedAt: s.Now()}
	if err := s.Store.CreateTrustedOrigin(ctx, t, MaxTrustedOrigins); err != nil {
		return nil, err
	}
	return t, nil
}

// FindTrustedOrigins lists the trusted origins, for admins.
func (s *Service) FindTrustedOrigins(ctx context.Context, p Principal) ([]*TrustedOrigin, error) {
	if !CanSeeTrustedOrigins(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not read the trusted origins", p.User.Role)
	}
	return s.Store.FindTrustedOrigins(ctx)
}

// DeleteTrustedOrigin removes an origin from the list; every replica stops
// answering its browsers' cross-origin requests with the next request.
func (s *Service) DeleteTrustedOrigin(ctx context.Context, p Principal, id string) error {
	if !CanEditTrustedOrigins(p.User) {
		return Errorf(CodeForbidden, "role %s may not manage trusted origins; org and super admins may", p.User.Role)
	}
	if err := CanChangeCredentials(p); err != nil {
		return err
	}
	return s.Store.DeleteTrustedOrigin(ctx, id)
}
