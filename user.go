package keysmith

import (
	"net/mail"
	"strings"
	"time"
)

// Role is what a user may do in Keysmith. Tokens act with their owner's role
// as it is at the moment of each request, never a copy taken at creation.
type Role string

// The roles, from most to least powerful.
const (
	RoleSuperAdmin           Role = "super_admin"
	RoleOrgAdmin             Role = "org_admin"
	RoleGroupAdmin           Role = "group_admin"
	RoleGroupMembershipAdmin Role = "group_membership_admin"
	RoleReadOnlyAdmin        Role = "read_only_admin"
	RoleDeveloper            Role = "developer"
)

// UserType distinguishes people from service accounts, which own long-lived
// tokens that no person's departure should break.
type UserType string

// The user types.
const (
	UserPerson  UserType = "person"
	UserService UserType = "service"
)

// UserStatus says whether a user's credentials work.
type UserStatus string

// The user statuses.
const (
	UserActive   UserStatus = "active"
	UserInactive UserStatus = "inactive"
)

// User is a person or service account that owns credentials.
type User struct {
	ID        string
	Email     string // stored lower-cased; unique
	Name      string
	Role      Role
	Type      UserType
	Status    UserStatus
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NormalizeEmail validates an e-mail address and returns its canonical
// (lower-cased, trimmed) form, which is what uniqueness is checked on.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", Errorf(CodeInvalid, "email is required")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		if len(s) > 80 {
			s = s[:80] + "…"
		}
		return "", Errorf(CodeInvalid, "email %q is not a valid address (expected something like name@example.com)", s)
	}
	return s, nil
}
