package keysmith

import (
	"context"
)

// CreateApp registers an application owned by the caller.
func (s *Service) CreateApp(ctx context.Context, p Principal, in CreateAppInput) (*App, error) {
	if !CanCreateApps(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not create applications", p.User.Role)
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := s.Now()
	a := &App{ID: NewID("app"), Name: in.Name, Description: in.Description, OwnerID: p.User.ID, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateApp(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// FindAppByID returns an application the caller may see; one they may not
// see is CodeNotFound, so ids cannot be probed.
func (s *Service) FindAppByID(ctx context.Context, p Principal, id string) (*App, error) {
	a, err := s.Store.FindAppByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CanSeeOwned(p.User, a.OwnerID) {
		return nil, Errorf(CodeNotFound, "application %q not found", id)
	}
	return a, nil
}

// FindApps lists the applications the caller may see.
func (s *Service) FindApps(ctx context.Context, p Principal, f AppFilter) ([]*App, string, error) {
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	if !CanSeeAllApps(p.User) {
		f.OwnerID = p.User.ID
	}
	return s.Store.FindApps(ctx, f)
}

// manageableApp returns an application the caller may change.
func (s *Service) manageableApp(ctx context.Context, p Principal, id string) (*App, error) {
	a, err := s.FindAppByID(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if !CanManageOwned(p.User, a.OwnerID) {
		return nil, Errorf(CodeForbidden, "role %s may not change this application", p.User.Role)
	}
	return a, nil
}

// UpdateApp changes an application's name or description.
func (s *Service) UpdateApp(ctx context.Context, p Principal, id string, u AppUpdate) (*App, error) {
	if _, err := s.manageableApp(ctx, p, id); err != nil {
		return nil, err
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	return s.Store.UpdateApp(ctx, id, u)
}

// DeleteApp deletes an application and revokes all its clients and so their
// tokens.
func (s *Service) DeleteApp(ctx context.Context, p Principal, id string) error {
	if err := CanChangeCredentials(p); err != nil {
		return err
	}
	if _, err := s.manageableApp(ctx, p, id); err != nil {
		return err
	}
	return s.Store.DeleteApp(ctx, id, p.User.ID)
}
