package keysmith

// The permission rules: docs/permissions.md is the table these implement.
//
// They follow from one principle: no call hands its caller a secret that
// acts as anyone other than the caller, or with more rights than the caller
// has, and no sequence of allowed calls widens what a role controls. So
// taking a credential away (revoke, disable, deactivate) is broader than
// handing one out: an org admin may revoke anyone's token but receives only
// secrets that act as themselves, as a service account they may create
// tokens for, or as an application they may manage the credentials of.
// Each takes the caller as loaded for the current request, so a role change
// applies to the very next request of every token and session the caller
// has. They are pure: what they need to know about relations (is the target
// in one of the caller's groups?) is passed in.
//
// Two answers for "no": a caller who may not even see a record gets
// CodeNotFound from the service (ids cannot be probed); one who may see it
// but not change it gets CodeForbidden, with the reason.

import "slices"

// IsAdmin reports whether the role is one of the administrator roles.
func IsAdmin(r Role) bool {
	switch r {
	case RoleSuperAdmin, RoleOrgAdmin, RoleGroupAdmin, RoleGroupMembershipAdmin, RoleReadOnlyAdmin:
		return true
	}
	return false
}

// isOrgWide reports whether the role manages the whole organisation.
func isOrgWide(r Role) bool { return r == RoleSuperAdmin || r == RoleOrgAdmin }

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
	return t.OwnerID == u.ID || isOrgWide(u.Role)
}

// CanManageToken: whoever may revoke a token may also disable, enable and
// edit it; none of that hands over a secret.
func CanManageToken(u *User, t *Token) bool { return CanRevokeToken(u, t) }

// CanRotateToken decides a rotation, which answers with the token's new
// secret: a secret that acts as the token's owner. So the owner rotates
// their own tokens, and a service account's tokens are rotated by whoever
// may create tokens for that account (CanCreateTokenFor). Nobody else,
// super admins included, receives a secret acting as another person; they
// revoke or disable the token instead.
func CanRotateToken(c *User, t *Token, owner *User) error {
	if t.OwnerID == c.ID {
		return nil
	}
	if owner != nil && owner.Type == UserService {
		if err := CanCreateTokenFor(c, owner); err != nil {
			return Errorf(CodeForbidden, "rotating hands over a new secret for %s: %s", owner.Email, ErrorMessage(err))
		}
		return nil
	}
	return Errorf(CodeForbidden, "rotating hands over the new secret, which acts as the token's owner; only the owner rotates it (you may revoke or disable it)")
}

// CanActivateAgent decides an activation, which issues a token acting as the
// agent's owner: only the owner activates their agent, and only while they
// may create API tokens (at the moment of the call, so a demoted owner can
// no longer mint tokens through agents registered earlier).
func CanActivateAgent(c *User, a *Agent) error {
	if a.OwnerID != c.ID {
		return Errorf(CodeForbidden, "activating issues a token that acts as the agent's owner; only the owner activates it (you may deactivate or delete it)")
	}
	if !CanCreateTokens(c) {
		return Errorf(CodeForbidden, "role %s may not create API tokens, so it may not activate agents", c.Role)
	}
	return nil
}

// CanManageAgent: the owner, and org and super admins, deactivate and delete
// an agent; neither hands over a secret.
func CanManageAgent(c *User, a *Agent) bool { return a.OwnerID == c.ID || isOrgWide(c.Role) }

// CanChangeCredentials refuses a caller who authenticated with an API
// token's previous secret, still inside its rotation grace: that secret may
// call APIs as before, but may not create, rotate, revoke or change
// credentials, nor change anything that decides who may do what: users
// (roles, status, passwords, e-mail, new users), group memberships,
// network zones and rate limits. Otherwise whoever leaked the old secret
// could rotate the token again and lock its owner out, or leave themselves
// a way in (a password, a reactivated or promoted account) that outlives
// the grace.
func CanChangeCredentials(p Principal) error {
	if p.Token != nil && p.Token.ViaPreviousSecret {
		return Errorf(CodeForbidden, "this API token's secret was replaced by a rotation and works only until its grace period ends; it may not create, rotate, revoke or change credentials, users, memberships, zones or rate limits; use the new secret")
	}
	return nil
}

// CanCreateTokenFor: org and super admins create tokens for service
// accounts (org admins not for a super admin one). Tokens for people are
// created by the people themselves, so nobody can act as another person.
func CanCreateTokenFor(c, owner *User) error {
	if !isOrgWide(c.Role) {
		return Errorf(CodeForbidden, "role %s may not create API tokens for other users; org and super admins create them for service accounts", c.Role)
	}
	if owner.Type != UserService {
		return Errorf(CodeForbidden, "%s is a person; people create their own API tokens, and owner_id may only name a service account", owner.Email)
	}
	if owner.Role == RoleSuperAdmin && c.Role != RoleSuperAdmin {
		return Errorf(CodeForbidden, "only super admins create API tokens for a super admin service account")
	}
	return nil
}

// CanSeeUsers: every admin role sees the directory of users (group admins
// need it to pick members); developers see only themselves.
func CanSeeUsers(c *User) bool { return IsAdmin(c.Role) }

// CanSeeUser: a user sees themselves, admins see everyone.
func CanSeeUser(c, target *User) bool { return c.ID == target.ID || CanSeeUsers(c) }

// CanCreateUser: org admins create users of every role but super_admin;
// super admins create any.
func CanCreateUser(c *User, role Role) error {
	if !isOrgWide(c.Role) {
		return Errorf(CodeForbidden, "role %s may not create users; org and super admins do", c.Role)
	}
	if role == RoleSuperAdmin && c.Role != RoleSuperAdmin {
		return Errorf(CodeForbidden, "only super admins grant the super_admin role")
	}
	return nil
}

// managesUser reports whether c administers target: super admins everyone,
// org admins everyone but super admins, group admins the developers in the
// groups they belong to (inCallersGroups).
func managesUser(c, target *User, inCallersGroups bool) bool {
	switch c.Role {
	case RoleSuperAdmin:
		return true
	case RoleOrgAdmin:
		return target.Role != RoleSuperAdmin
	case RoleGroupAdmin:
		return target.Role == RoleDeveloper && inCallersGroups
	}
	return false
}

// CanUpdateUser decides a change to target (including activation and
// deactivation). Everyone may change their own name and password. Anything
// else needs c to manage target; role changes need an org-wide role, and
// only super admins grant or revoke super_admin. The last active super admin
// rule is the store's (it needs a consistent count).
func CanUpdateUser(c, target *User, inCallersGroups bool, up *UserUpdate) error {
	selfService := c.ID == target.ID && up.Email == nil && up.Role == nil && up.Status == nil
	if selfService {
		return nil
	}
	if !managesUser(c, target, inCallersGroups) {
		switch c.Role {
		case RoleOrgAdmin:
			return Errorf(CodeForbidden, "only super admins change a super admin")
		case RoleGroupAdmin:
			return Errorf(CodeForbidden, "group admins manage only developers who are members of their groups")
		}
		if c.ID == target.ID {
			return Errorf(CodeForbidden, "you may change only your own name and password")
		}
		return Errorf(CodeForbidden, "role %s may not change users", c.Role)
	}
	if up.Role != nil && *up.Role != target.Role {
		if !isOrgWide(c.Role) {
			return Errorf(CodeForbidden, "role %s may not change roles; org and super admins do", c.Role)
		}
		if *up.Role == RoleSuperAdmin && c.Role != RoleSuperAdmin {
			return Errorf(CodeForbidden, "only super admins grant the super_admin role")
		}
	}
	return nil
}

// CanSeeGroups: every admin role sees the groups and their members.
func CanSeeGroups(c *User) bool { return IsAdmin(c.Role) }

// CanManageGroups: org and super admins create, rename and delete groups.
func CanManageGroups(c *User) error {
	if !isOrgWide(c.Role) {
		return Errorf(CodeForbidden, "role %s may not create, change or delete groups; org and super admins do", c.Role)
	}
	return nil
}

// CanManageMembership decides adding member to (add), or removing them
// from, a group. Org and super admins manage every group's members. Group
// membership admins add and remove developers in the groups they belong to
// (administers): they manage nothing about users, so a membership widens
// nothing they control. Group admins manage the developers of their groups,
// so adding one would widen their own reach: they only remove developers
// from their groups. Appointing admins stays with org admins.
func CanManageMembership(c *User, administers bool, member *User, add bool) error {
	switch c.Role {
	case RoleSuperAdmin, RoleOrgAdmin:
		return nil
	case RoleGroupAdmin, RoleGroupMembershipAdmin:
		if !administers {
			return Errorf(CodeForbidden, "%s manages only the members of groups they belong to", c.Role)
		}
		if member.Role != RoleDeveloper {
			return Errorf(CodeForbidden, "%s adds and removes only developers; an org admin manages admins' memberships", c.Role)
		}
		if add && c.Role == RoleGroupAdmin {
			return Errorf(CodeForbidden, "group admins manage the developers of their groups, so they may not add members (that would widen their own reach); a group membership admin or an org admin adds them")
		}
		return nil
	}
	return Errorf(CodeForbidden, "role %s may not change group memberships", c.Role)
}

// CanReadLogs: every admin role, read-only admins included, reads the system
// log; developers do not.
func CanReadLogs(u *User) bool { return IsAdmin(u.Role) }

// CanSetFirstParty: only org and super admins mark an OAuth client
// first-party, or take the mark away. A first-party client skips the
// consent page, so whoever sets the mark decides that every signed-in
// person hands the client tokens without being asked.
func CanSetFirstParty(u *User) error {
	if !isOrgWide(u.Role) {
		return Errorf(CodeForbidden, "role %s may not set first_party; org and super admins mark a client first-party (it skips the consent page)", u.Role)
	}
	return nil
}

// CanChangeFirstParty decides a change to client c that sets first_party
// (setsFirstParty) or changes a client already first-party. Its other
// settings (redirect URIs, scopes, grant types) decide what a first-party
// client receives without consent: were its owner or a group admin to add
// a redirect URI of their own to it, any signed-in person who followed a
// link would hand them tokens unasked. So only org and super admins
// change a first-party client; others may still revoke it and delete its
// secrets.
func CanChangeFirstParty(u *User, c *Client, setsFirstParty bool) error {
	if setsFirstParty {
		return CanSetFirstParty(u)
	}
	if c.FirstParty && !isOrgWide(u.Role) {
		return Errorf(CodeForbidden, "OAuth client %q is first-party (it skips consent); only org and super admins change it (you may revoke it)", c.ID)
	}
	return nil
}

// CanChangeSignInSettings decides a change from before to after of where and
// how a client's codes and tokens for people go: redirect URIs, grant
// types, client authentication, PKCE and refresh lifetimes. A redirect URI
// routes tokens acting for everyone who consented to the client, so, like a
// secret, only the client's owner and org and super admins change these
// (CanIssueAppCredentials); other admins may still rename, rescope or
// revoke the client.
func CanChangeSignInSettings(u *User, before, after *Client) error {
	if CanIssueAppCredentials(u, before.OwnerID) || !signInSettingsChanged(before, after) {
		return nil
	}
	return Errorf(CodeForbidden, "redirect URIs, grant types, client authentication, PKCE and refresh lifetimes route tokens that act for the people who consent to the client; only its owner and org and super admins change them")
}

func signInSettingsChanged(a, b *Client) bool {
	return !slices.Equal(a.RedirectURIs, b.RedirectURIs) || !slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs) ||
		!slices.Equal(a.GrantTypes, b.GrantTypes) || a.TokenEndpointAuthMethod != b.TokenEndpointAuthMethod ||
		a.PKCERequired != b.PKCERequired || a.PKCEAllowPlain != b.PKCEAllowPlain ||
		a.RefreshTokenTTL != b.RefreshTokenTTL || a.RefreshTokenIdleTTL != b.RefreshTokenIdleTTL
}
