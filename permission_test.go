package keysmith_test

import (
	"testing"

	"github.com/keysmith/keysmith"
)

func TestPermissions(t *testing.T) {
	type can struct{ create, seeAll, seeOthers, revokeOthers bool }
	tests := []struct {
		role keysmith.Role
		want can
	}{
		{keysmith.RoleSuperAdmin, can{create: true, seeAll: true, seeOthers: true, revokeOthers: true}},
		{keysmith.RoleOrgAdmin, can{create: true, seeAll: true, seeOthers: true, revokeOthers: true}},
		{keysmith.RoleReadOnlyAdmin, can{create: true, seeAll: true, seeOthers: true}},
		{keysmith.RoleGroupAdmin, can{create: true}},
		{keysmith.RoleGroupMembershipAdmin, can{create: true}},
		{keysmith.RoleDeveloper, can{}},
		{keysmith.Role("unknown"), can{}},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			u := &keysmith.User{ID: "usr_me", Role: tt.role}
			own := &keysmith.Token{OwnerID: "usr_me"}
			others := &keysmith.Token{OwnerID: "usr_other"}
			got := can{
				create:       keysmith.CanCreateTokens(u),
				seeAll:       keysmith.CanSeeAllTokens(u),
				seeOthers:    keysmith.CanSeeToken(u, others),
				revokeOthers: keysmith.CanRevokeToken(u, others),
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if !keysmith.CanSeeToken(u, own) || !keysmith.CanRevokeToken(u, own) {
				t.Errorf("every role must see and revoke its own tokens")
			}
		})
	}
}

// TestFirstParty: only org and super admins mark a client first-party or
// take the mark away, and only they change a first-party client; anyone who
// manages an ordinary client may change it.
func TestFirstParty(t *testing.T) {
	ordinary, firstParty := &keysmith.Client{ID: "cli_a"}, &keysmith.Client{ID: "cli_b", FirstParty: true}
	for _, role := range []keysmith.Role{keysmith.RoleSuperAdmin, keysmith.RoleOrgAdmin, keysmith.RoleGroupAdmin,
		keysmith.RoleGroupMembershipAdmin, keysmith.RoleReadOnlyAdmin, keysmith.RoleDeveloper} {
		u := &keysmith.User{ID: "usr_me", Role: role}
		admin := role == keysmith.RoleSuperAdmin || role == keysmith.RoleOrgAdmin
		if err := keysmith.CanSetFirstParty(u); (err == nil) != admin || err != nil && keysmith.ErrorCode(err) != keysmith.CodeForbidden {
			t.Errorf("%s: CanSetFirstParty = %v", role, err)
		}
		if err := keysmith.CanChangeFirstParty(u, ordinary, true); (err == nil) != admin {
			t.Errorf("%s: setting first_party: %v", role, err)
		}
		if err := keysmith.CanChangeFirstParty(u, firstParty, false); (err == nil) != admin {
			t.Errorf("%s: changing a first-party client: %v", role, err)
		}
		if err := keysmith.CanChangeFirstParty(u, ordinary, false); err != nil {
			t.Errorf("%s: changing an ordinary client without first_party: %v", role, err)
		}
	}
}
