package keysmith

import (
	"context"
	"slices"
)

// CreateGroup creates a group (org and super admins).
func (s *Service) CreateGroup(ctx context.Context, p Principal, in GroupInput) (*Group, error) {
	if err := in.Validate(true); err != nil {
		return nil, err
	}
	if err := CanManageGroups(p.User); err != nil {
		return nil, err
	}
	now := s.Now()
	g := &Group{ID: NewID("grp"), Name: *in.Name, CreatedAt: now, UpdatedAt: now}
	if in.Description != nil {
		g.Description = *in.Description
	}
	if err := s.Store.CreateGroup(ctx, g); err != nil {
		return nil, err
	}
	return g, nil
}

// FindGroupByID returns a group, for admins.
func (s *Service) FindGroupByID(ctx context.Context, p Principal, id string) (*Group, error) {
	if !CanSeeGroups(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not read groups", p.User.Role)
	}
	return s.Store.FindGroupByID(ctx, id)
}

// FindGroups lists groups, for admins.
func (s *Service) FindGroups(ctx context.Context, p Principal, f GroupFilter) ([]*Group, string, error) {
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	if !CanSeeGroups(p.User) {
		return nil, "", Errorf(CodeForbidden, "role %s may not read groups", p.User.Role)
	}
	return s.Store.FindGroups(ctx, f)
}

// FindGroupMembers lists a group's members, for admins.
func (s *Service) FindGroupMembers(ctx context.Context, p Principal, id string, f UserFilter) ([]*User, string, error) {
	if _, err := s.FindGroupByID(ctx, p, id); err != nil {
		return nil, "", err
	}
	f.GroupID = id
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	return s.Store.FindUsers(ctx, f)
}

// UpdateGroup renames or redescribes a group (org and super admins).
func (s *Service) UpdateGroup(ctx context.Context, p Principal, id string, in GroupInput) (*Group, error) {
	if _, err := s.FindGroupByID(ctx, p, id); err != nil {
		return nil, err
	}
	if err := in.Validate(false); err != nil {
		return nil, err
	}
	if err := CanManageGroups(p.User); err != nil {
		return nil, err
	}
	return s.Store.UpdateGroup(ctx, id, in)
}

// DeleteGroup deletes a group and its memberships (org and super admins).
func (s *Service) DeleteGroup(ctx context.Context, p Principal, id string) error {
	if _, err := s.FindGroupByID(ctx, p, id); err != nil {
		return err
	}
	if err := CanManageGroups(p.User); err != nil {
		return err
	}
	return s.Store.DeleteGroup(ctx, id)
}

// SetGroupMember adds (member true) or removes a user.
func (s *Service) SetGroupMember(ctx context.Context, p Principal, groupID, userID string, member bool) error {
	if _, err := s.FindGroupByID(ctx, p, groupID); err != nil {
		return err
	}
	u, err := s.FindUserByID(ctx, p, userID)
	if err != nil {
		return err
	}
	administers := false
	if p.User.Role == RoleGroupAdmin || p.User.Role == RoleGroupMembershipAdmin {
		mine, err := s.Store.FindGroupIDsOfUser(ctx, p.User.ID)
		if err != nil {
			return err
		}
		administers = slices.Contains(mine, groupID)
	}
	if err := CanManageMembership(p.User, administers, u, member); err != nil {
		return err
	}
	if err := CanChangeCredentials(p); err != nil {
		return err
	}
	if member {
		return s.Store.AddGroupMember(ctx, groupID, userID)
	}
	return s.Store.RemoveGroupMember(ctx, groupID, userID)
}
