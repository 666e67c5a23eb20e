package keysmith

import (
	"context"
	"slices"
)

// CreateUser creates a person or service account. A person's password, if
// given, is stored as an argon2id hash.
func (s *Service) CreateUser(ctx context.Context, p Principal, in CreateUserInput) (*User, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if err := CanCreateUser(p.User, in.Role); err != nil {
		return nil, err
	}
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	hash := ""
	if in.Password != nil {
		if err := s.RequireRecentAuth(p); err != nil { // a password signs in as the new user
			return nil, err
		}
		var err error
		if hash, err = s.hashPassword(*in.Password); err != nil {
			return nil, err
		}
	}
	now := s.Now()
	u := &User{ID: NewID("usr"), Email: in.Email, Name: in.Name, Role: in.Role, Type: in.Type,
		Status: UserActive, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateUser(ctx, u, hash); err != nil {
		return nil, err
	}
	return u, nil
}

// FindUserByID returns a user the caller may see; others are CodeNotFound.
func (s *Service) FindUserByID(ctx context.Context, p Principal, id string) (*User, error) {
	u, err := s.Store.FindUserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CanSeeUser(p.User, u) {
		return nil, Errorf(CodeNotFound, "user %q not found", id)
	}
	return u, nil
}

// FindUsers lists users for admins. Developers get CodeForbidden: they see
// only themselves (GET /v1/me).
func (s *Service) FindUsers(ctx context.Context, p Principal, f UserFilter) ([]*User, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	if !CanSeeUsers(p.User) {
		return nil, "", Errorf(CodeForbidden, "role %s may not list users; GET /v1/me shows your own", p.User.Role)
	}
	return s.Store.FindUsers(ctx, f)
}

// UpdateUser changes a user, activation and deactivation included. The
// store refuses (CodeConflict) a change that would leave no active super
// admin.
func (s *Service) UpdateUser(ctx context.Context, p Principal, id string, up UserUpdate) (*User, error) {
	target, err := s.FindUserByID(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if up.Empty() {
		return nil, Errorf(CodeInvalid, "nothing to change; send at least one of email, name, role, password")
	}
	if err := up.Validate(target); err != nil {
		return nil, err
	}
	shared, err := s.SharesGroup(ctx, p.User, target)
	if err != nil {
		return nil, err
	}
	if err := CanUpdateUser(p.User, target, shared, &up); err != nil {
		return nil, err
	}
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	// A password set for anyone is a credential that signs in as them, and
	// one's own e-mail is how one signs in: both need a recent password.
	if up.Password != nil || target.ID == p.User.ID && up.Email != nil {
		if err := s.RequireRecentAuth(p); err != nil {
			return nil, err
		}
	}
	if up.Password != nil {
		h, err := s.hashPassword(*up.Password)
		if err != nil {
			return nil, err
		}
		up.Password, up.PasswordHash = nil, &h
	}
	return s.Store.UpdateUser(ctx, id, up)
}

// SetUserStatus activates or deactivates a user. Deactivation rejects all of
// their tokens and sessions from the next request on; activation brings back
// the tokens that have neither expired nor been revoked.
func (s *Service) SetUserStatus(ctx context.Context, p Principal, id string, st UserStatus) (*User, error) {
	return s.UpdateUser(ctx, p, id, UserUpdate{Status: &st})
}

// GroupIDsOf returns the groups a user belongs to.
func (s *Service) GroupIDsOf(ctx context.Context, userID string) ([]string, error) {
	return s.Store.FindGroupIDsOfUser(ctx, userID)
}

// SharesGroup reports whether target is in a group c belongs to, the input
// CanUpdateUser takes; only a group admin managing a developer needs it, so
// for anyone else it is false without a lookup. Pages use it to show only
// the changes the service will allow.
func (s *Service) SharesGroup(ctx context.Context, c, target *User) (bool, error) {
	if c.Role != RoleGroupAdmin || target.Role != RoleDeveloper {
		return false, nil
	}
	mine, err := s.Store.FindGroupIDsOfUser(ctx, c.ID)
	if err != nil || len(mine) == 0 {
		return false, err
	}
	theirs, err := s.Store.FindGroupIDsOfUser(ctx, target.ID)
	if err != nil {
		return false, err
	}
	for _, g := range theirs {
		if slices.Contains(mine, g) {
			return true, nil
		}
	}
	return false, nil
}
