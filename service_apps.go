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

// TransferApp gives an application to another owner (org and super
// admins). By default every credential of the application is reset in the
// same transaction: its app keys are revoked and every secret of its
// clients is deleted, so the previous owner holds nothing that works (the
// access tokens already issued stay valid until they expire, as after
// deleting a secret); no new secret is made, the new owner creates their
// own. in.KeepCredentials keeps them, for super admins only
// (CanKeepCredentialsOnTransfer).
func (s *Service) TransferApp(ctx context.Context, p Principal, id string, in TransferAppInput) (*AppTransfer, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	if _, err := s.FindAppByID(ctx, p, id); err != nil {
		return nil, err
	}
	if !CanTransferApps(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not transfer applications; org and super admins do", p.User.Role)
	}
	if in.KeepCredentials && !CanKeepCredentialsOnTransfer(p.User) {
		return nil, Errorf(CodeForbidden, "only super admins transfer an application with keep_credentials: a transfer resets its credentials so that the previous owner holds nothing that works")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	to, err := s.Store.FindUserByID(ctx, in.OwnerID)
	if keysmith404(err) {
		return nil, Errorf(CodeInvalid, "owner_id %q names no user", in.OwnerID)
	}
	if err != nil {
		return nil, err
	}
	if err := CanOwnApps(to); err != nil {
		return nil, err
	}
	return s.Store.TransferApp(ctx, id, to.ID, p.User.ID, !in.KeepCredentials)
}
