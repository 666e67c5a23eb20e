package keysmith

// The permission rules. Each takes the user as loaded for the current
// request, so a role change applies to the very next request of every token
// the user owns. docs/permissions.md is the table these implement.

// IsAdmin reports whether the role is one of the administrator roles.
func IsAdmin(r Role) bool {
	switch r {
	case RoleSuperAdmin, RoleOrgAdmin, RoleGroupAdmin, RoleGroupMembershipAdmin, RoleReadOnlyAdmin:
		return true
	}
	return false
}

// CanCreateTokens: every admin role may create API tokens for themselves;
// developers may not.
func CanCreateTokens(u *User) bool { return IsAdmin(u.Role) }

// CanSeeAllTokens: org, super and read-only admins see everyone's tokens.
func CanSeeAllTokens(u *User) bool {
	return u.Role == RoleSuperAdmin || u.Role == RoleOrgAdmin || u.Role == RoleReadOnlyAdmin
}

// CanSeeToken: a user sees their own tokens, and all if CanSeeAllTokens.
func CanSeeToken(u *User, t *Token) bool { return t.OwnerID == u.ID || CanSeeAllTokens(u) }

// CanRevokeToken: a user revokes their own tokens; org and super admins
// revoke anyone's.
func CanRevokeToken(u *User, t *Token) bool {
	return t.OwnerID == u.ID || u.Role == RoleSuperAdmin || u.Role == RoleOrgAdmin
}

// CanReadLogs: every admin role, read-only admins included, reads the system
// log; developers do not.
func CanReadLogs(u *User) bool { return IsAdmin(u.Role) }
