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
