package keysmith

import (
	"time"
	"unicode"
	"unicode/utf8"
)

// Environment separates an application's credentials: a sandbox client's
// tokens say env "sandbox" and are never accepted where "production" is
// asked for, and the other way round.
type Environment string

// The environments.
const (
	EnvSandbox    Environment = "sandbox"
	EnvProduction Environment = "production"
)

// ParseEnvironment checks an environment name.
func ParseEnvironment(s string) (Environment, error) {
	switch e := Environment(s); e {
	case EnvSandbox, EnvProduction:
		return e, nil
	case "":
		return "", Errorf(CodeInvalid, "environment is required: sandbox or production")
	}
	return "", Errorf(CodeInvalid, "environment %q is not known: use sandbox or production", s)
}

// App is an application: what a developer registers to get OAuth client
// credentials. Its id is public and stable.
type App struct {
	ID          string
	Name        string
	Description string
	OwnerID     string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// AppRef is how an application appears in events.
func AppRef(a *App) Ref { return Ref{Type: "app", ID: a.ID, DisplayName: a.Name} }

// CreateAppInput is what a caller supplies to register an application.
type CreateAppInput struct {
	Name        string
	Description string
}

// Validate checks the input.
func (in *CreateAppInput) Validate() error {
	if err := validateName("name", in.Name); err != nil {
		return err
	}
	return validateDescription(in.Description)
}

// AppUpdate changes the fields that are set.
type AppUpdate struct {
	Name        *string
	Description *string
}

// Validate checks the update.
func (u *AppUpdate) Validate() error {
	if u.Name == nil && u.Description == nil {
		return Errorf(CodeInvalid, "nothing to change: send name and/or description")
	}
	if u.Name != nil {
		if err := validateName("name", *u.Name); err != nil {
			return err
		}
	}
	if u.Description != nil {
		return validateDescription(*u.Description)
	}
	return nil
}

// AppFilter selects applications for FindApps.
type AppFilter struct {
	Page
	OwnerID string // "" for all owners
}

func validateDescription(s string) error {
	if !utf8.ValidString(s) {
		return Errorf(CodeInvalid, "description must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > 1000 {
		return Errorf(CodeInvalid, "description must be at most 1000 characters, got %d", n)
	}
	return validateText("description", s)
}

// validateText refuses control characters other than newline and tab in
// free text: an escape sequence in a description would rewrite the screen
// (or the clipboard) of whoever reads it in a terminal.
func validateText(field, s string) error {
	for _, r := range s {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return Errorf(CodeInvalid, "%s must not hold control characters (found U+%04X); newlines and tabs are fine", field, r)
		}
	}
	return nil
}

// The permission rules for applications and OAuth clients: a developer
// manages what they own; admins manage everything, except the read-only
// admin, who sees everything and changes nothing. Credentials of an
// application (client secrets) act as that application, so only its owner
// and org and super admins receive them (CanIssueAppCredentials).

// CanSeeAllApps: every admin role sees every application and client.
func CanSeeAllApps(u *User) bool { return IsAdmin(u.Role) }

// CanManageAllApps: admins other than the read-only admin change any
// application and client.
func CanManageAllApps(u *User) bool { return IsAdmin(u.Role) && u.Role != RoleReadOnlyAdmin }

// CanCreateApps: everyone but the read-only admin registers applications
// and clients.
func CanCreateApps(u *User) bool { return u.Role != RoleReadOnlyAdmin }

// CanSeeOwned says whether u sees an application or client owned by ownerID.
func CanSeeOwned(u *User, ownerID string) bool { return ownerID == u.ID || CanSeeAllApps(u) }

// CanManageOwned says whether u changes an application or client owned by
// ownerID.
func CanManageOwned(u *User, ownerID string) bool {
	return (ownerID == u.ID && CanCreateApps(u)) || CanManageAllApps(u)
}

// CanIssueAppCredentials says whether u may create, reset or rotate the
// credentials of an application or client owned by ownerID, receiving a
// secret that acts as it: its owner (unless a read-only admin) and org and
// super admins. Group admins may change, revoke and delete others'
// applications, but never receive their secrets.
func CanIssueAppCredentials(u *User, ownerID string) bool {
	return (ownerID == u.ID && CanCreateApps(u)) || isOrgWide(u.Role)
}

// IsAdminUser reports whether u has one of the administrator roles.
func IsAdminUser(u *User) bool { return IsAdmin(u.Role) }

// CanTransferApps: org and super admins hand an application to another
// owner. A transfer decides who may receive the application's
// credentials, so group admins, who manage others' applications but never
// receive their secrets, may not.
func CanTransferApps(u *User) bool { return isOrgWide(u.Role) }

// CanKeepCredentialsOnTransfer: only super admins transfer an application
// without resetting its credentials. A transfer resets them by default, so
// that the previous owner holds nothing that works; a super admin may
// choose continuity instead (say, handing the application of someone who
// left to their successor while its servers keep running), knowing that
// whoever held the credentials still does.
func CanKeepCredentialsOnTransfer(u *User) bool { return u.Role == RoleSuperAdmin }

// CanOwnApps says why user u may not be given an application, or nil:
// the new owner must be active and of a role that may register
// applications itself (CanCreateApps), so that the application is one they
// could manage. A service account may own one, as it may register one.
func CanOwnApps(u *User) error {
	if u.Status != UserActive {
		return Errorf(CodeConflict, "%s is deactivated: an application goes only to an active user; activate them first or choose another owner", u.Email)
	}
	if !CanCreateApps(u) {
		return Errorf(CodeInvalid, "%s is a %s, who may not own applications; choose a user whose role may register them", u.Email, u.Role)
	}
	return nil
}

// TransferAppInput is what a caller supplies to transfer an application.
type TransferAppInput struct {
	OwnerID string
	// KeepCredentials keeps the application's client secrets and app keys
	// working (super admins only); by default they are reset.
	KeepCredentials bool
}

// Validate checks the input.
func (in *TransferAppInput) Validate() error {
	if in.OwnerID == "" {
		return Errorf(CodeInvalid, "owner_id is required: the id of the user who is to own the application")
	}
	return nil
}

// AppTransfer is what a transfer did: the application as it now is, whom
// it came from, and, when its credentials were reset, how many app keys
// were revoked and client secrets deleted. No new secret is made: the new
// owner creates their own.
type AppTransfer struct {
	App              *App
	FromOwnerID      string
	CredentialsReset bool
	RevokedKeys      int
	DeletedSecrets   int
	RevokedClients   int
}

// Details are the details of its app.transferred event.
func (t *AppTransfer) Details() map[string]any {
	return map[string]any{"from": t.FromOwnerID, "to": t.App.OwnerID, "credentials_reset": t.CredentialsReset,
		"revoked_keys": t.RevokedKeys, "deleted_secrets": t.DeletedSecrets, "revoked_clients": t.RevokedClients}
}
