package keysmith_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
)

func TestValidateScopeName(t *testing.T) {
	for _, ok := range []string{"orders:read", "a", "api.example.com/orders.write", "user@tenant", "A-B_c", "9lives", "andor", "NOTE"} {
		if err := keysmith.ValidateScopeName(ok); err != nil {
			t.Errorf("ValidateScopeName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a(b)", "(a", "*", "orders:*", "AND", "or", "Not", ":read", "-x", "a\"b",
		"é", "a\tb", strings.Repeat("a", 101)} {
		if err := keysmith.ValidateScopeName(bad); keysmith.ErrorCode(err) != keysmith.CodeInvalid {
			t.Errorf("ValidateScopeName(%q) = %v, want invalid", bad, err)
		}
	}
}

func TestValidateAPIIdentifier(t *testing.T) {
	for _, ok := range []string{"https://api.example.com", "https://api.example.com/v1", "urn:example:orders", "http://localhost:8080"} {
		if err := keysmith.ValidateAPIIdentifier(ok); err != nil {
			t.Errorf("ValidateAPIIdentifier(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "api.example.com", "/orders", "https://", "https:///path", "https://a.example/#x",
		"https://a.example/ x", "urn:" + strings.Repeat("a", 200), "https://a.example/\x00"} {
		if err := keysmith.ValidateAPIIdentifier(bad); keysmith.ErrorCode(err) != keysmith.CodeInvalid {
			t.Errorf("ValidateAPIIdentifier(%q) = %v, want invalid", bad, err)
		}
	}
}

// TestCanGrantScope pins who may give a scope: the permission exploration
// judges grants by this rule, so it cannot notice the rule itself widening.
func TestCanGrantScope(t *testing.T) {
	self := keysmith.Scope{Name: "orders:read", SelfService: true}
	admin := keysmith.Scope{Name: "orders:admin"}
	registered := map[string]keysmith.Scope{self.Name: self, admin.Name: admin}
	for _, role := range append(slices.Clone(keysmith.Roles), "unknown") {
		u := &keysmith.User{ID: "usr_me", Role: role}
		orgWide := role == keysmith.RoleSuperAdmin || role == keysmith.RoleOrgAdmin
		if !keysmith.CanGrantScope(u, self) {
			t.Errorf("%s may not grant a self-service scope", role)
		}
		if got := keysmith.CanGrantScope(u, admin); got != orgWide {
			t.Errorf("%s may grant a scope that is not self-service: %v, want %v", role, got, orgWide)
		}
		want := keysmith.CodeForbidden
		if orgWide {
			want = ""
		}
		if err := keysmith.GrantError(u, []string{self.Name, admin.Name, "openid"}, registered); keysmith.ErrorCode(err) != want {
			t.Errorf("%s: GrantError = %v, want code %q", role, err, want)
		}
		if err := keysmith.GrantError(u, []string{"nowhere:read"}, registered); keysmith.ErrorCode(err) != keysmith.CodeInvalid {
			t.Errorf("%s: GrantError of an unregistered scope = %v, want invalid", role, err)
		}
	}
}
