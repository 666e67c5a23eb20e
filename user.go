package keysmith

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
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

// Roles lists every role, from most to least powerful.
var Roles = []Role{RoleSuperAdmin, RoleOrgAdmin, RoleGroupAdmin, RoleGroupMembershipAdmin, RoleReadOnlyAdmin, RoleDeveloper}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	for _, v := range Roles {
		if r == v {
			return true
		}
	}
	return false
}

// Valid reports whether t is one of the user types.
func (t UserType) Valid() bool { return t == UserPerson || t == UserService }

// Valid reports whether s is one of the user statuses.
func (s UserStatus) Valid() bool { return s == UserActive || s == UserInactive }

// Password length bounds. The upper bound keeps hashing cost bounded; 8 is
// NIST SP 800-63B's minimum for memorised secrets.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

// validatePassword checks a new password's length in characters.
func validatePassword(p string) error {
	n := utf8.RuneCountInString(p)
	switch {
	case !utf8.ValidString(p):
		return Errorf(CodeInvalid, "password must be valid UTF-8")
	case n < MinPasswordLen:
		return Errorf(CodeInvalid, "password must be at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return Errorf(CodeInvalid, "password must be at most %d characters", MaxPasswordLen)
	}
	return nil
}

// CreateUserInput is what a caller supplies to create a user.
type CreateUserInput struct {
	Email    string
	Name     string
	Role     Role
	Type     UserType // "" means person
	Password *string  // people only; nil for none (the user cannot sign in yet)
}

// Validate checks the input and normalises the e-mail address.
func (in *CreateUserInput) Validate() error {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return err
	}
	in.Email = email
	if err := validateName("name", in.Name); err != nil {
		return err
	}
	if !in.Role.Valid() {
		return Errorf(CodeInvalid, "role %q is not a role; use one of %s", in.Role, roleList())
	}
	if in.Type == "" {
		in.Type = UserPerson
	}
	if !in.Type.Valid() {
		return Errorf(CodeInvalid, "type %q is not a user type; use person or service", in.Type)
	}
	if in.Password != nil {
		if in.Type == UserService {
			return Errorf(CodeInvalid, "service accounts cannot have a password; they authenticate with API tokens only")
		}
		return validatePassword(*in.Password)
	}
	return nil
}

// UserUpdate is a partial change to a user: nil fields stay as they are.
// PasswordHash is set by the service, never by callers.
type UserUpdate struct {
	Email        *string
	Name         *string
	Role         *Role
	Status       *UserStatus
	Password     *string // plaintext from the caller; the service hashes it
	PasswordHash *string // what the store writes
}

// Empty reports whether the update changes nothing.
func (u *UserUpdate) Empty() bool {
	return u.Email == nil && u.Name == nil && u.Role == nil && u.Status == nil && u.Password == nil && u.PasswordHash == nil
}

// Validate checks the fields that are set, against the user they change.
func (u *UserUpdate) Validate(target *User) error {
	if u.Email != nil {
		email, err := NormalizeEmail(*u.Email)
		if err != nil {
			return err
		}
		u.Email = &email
	}
	if u.Name != nil {
		if err := validateName("name", *u.Name); err != nil {
			return err
		}
	}
	if u.Role != nil && !u.Role.Valid() {
		return Errorf(CodeInvalid, "role %q is not a role; use one of %s", *u.Role, roleList())
	}
	if u.Status != nil && !u.Status.Valid() {
		return Errorf(CodeInvalid, "status %q is not a status; use active or inactive", *u.Status)
	}
	if u.Password != nil {
		if target.Type == UserService {
			return Errorf(CodeInvalid, "service accounts cannot have a password; they authenticate with API tokens only")
		}
		return validatePassword(*u.Password)
	}
	return nil
}

// UserFilter selects users for FindUsers.
type UserFilter struct {
	Query   string     // substring of e-mail or name, case-insensitive; "" for all
	Role    Role       // "" for all
	Status  UserStatus // "" for all
	GroupID string     // members of this group only; "" for all
	Page
}

// Validate checks the filter's values.
func (f *UserFilter) Validate() error {
	if f.Role != "" && !f.Role.Valid() {
		return Errorf(CodeInvalid, "role %q is not a role; use one of %s", f.Role, roleList())
	}
	if f.Status != "" && !f.Status.Valid() {
		return Errorf(CodeInvalid, "status %q is not a status; use active or inactive", f.Status)
	}
	if err := f.Page.Validate(); err != nil {
		return err
	}
	if utf8.RuneCountInString(f.Query) > 254 {
		return Errorf(CodeInvalid, "q must be at most 254 characters")
	}
	return nil
}

func roleList() string {
	s := make([]string, len(Roles))
	for i, r := range Roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// Apply returns old as the update leaves it and the events the change
// records: user.updated listing the fields that differ (a new password
// always does), user.role_changed, and user.activated or
// user.deactivated. No events means that nothing changes, and nothing is
// written.
func (u *UserUpdate) Apply(old *User) (*User, []EventDraft) {
	nu := *old
	var changed []string
	set := func(field string, differs bool) {
		if differs {
			changed = append(changed, field)
		}
	}
	if u.Email != nil {
		set("email", *u.Email != nu.Email)
		nu.Email = *u.Email
	}
	if u.Name != nil {
		set("name", *u.Name != nu.Name)
		nu.Name = *u.Name
	}
	if u.PasswordHash != nil {
		set("password", true)
	}
	roleChanged := u.Role != nil && *u.Role != old.Role
	statusChanged := u.Status != nil && *u.Status != old.Status
	if roleChanged {
		nu.Role = *u.Role
	}
	if statusChanged {
		nu.Status = *u.Status
	}
	ref := []Ref{UserRef(&nu)}
	var evs []EventDraft
	if len(changed) > 0 {
		evs = append(evs, EventDraft{Type: EventUserUpdated, Details: map[string]any{"fields": changed}, Targets: ref})
	}
	if roleChanged {
		evs = append(evs, EventDraft{Type: EventUserRoleChanged, Details: map[string]any{"from": old.Role, "to": nu.Role}, Targets: ref})
	}
	if statusChanged {
		typ := EventUserActivated
		if nu.Status != UserActive {
			typ = EventUserDeactivated
		}
		evs = append(evs, EventDraft{Type: typ, Targets: ref})
	}
	return &nu, evs
}
