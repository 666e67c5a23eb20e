package keysmith

import (
	"slices"
	"strings"
	"time"
)

// API is a resource server: an API that trusts Keysmith's credentials. Its
// Identifier is the audience of the access tokens issued for it; its scopes
// are what credentials may be allowed to do there. Admins register APIs
// (Auth0's "APIs", WSO2's scopes): a credential names only registered
// scopes, and who may grant each is decided by the scope, not by whoever
// creates the credential.
type API struct {
	ID         string
	Name       string
	Identifier string // a URI, unique; the "aud" of tokens for this API
	Scopes     []Scope
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Scope is a permission a credential may carry. Names are unique across all
// APIs, so a bare name is never ambiguous.
type Scope struct {
	Name        string
	Description string
	// SelfService scopes may be given by any developer to their own app's
	// clients and keys; the others only by org and super admins.
	SelfService bool
	APIID       string // "" for the built-in OpenID Connect scopes
}

// BuiltinScopes are the OpenID Connect scopes: always registered,
// self-service, with no API and no audience.
var BuiltinScopes = []Scope{
	{Name: "openid", Description: "Sign in with OpenID Connect", SelfService: true},
	{Name: "offline_access", Description: "Refresh tokens", SelfService: true},
	{Name: "profile", Description: "The person's name", SelfService: true},
	{Name: "email", Description: "The person's e-mail address", SelfService: true},
}

// BuiltinScope returns the built-in scope of that name.
func BuiltinScope(name string) (Scope, bool) {
	i := slices.IndexFunc(BuiltinScopes, func(s Scope) bool { return s.Name == name })
	if i < 0 {
		return Scope{}, false
	}
	return BuiltinScopes[i], true
}

// APIRef is how an API appears in events.
func APIRef(a *API) Ref { return Ref{Type: "api", ID: a.ID, DisplayName: a.Name} }

// CanManageAPIs: org and super admins register, change and delete APIs and
// their scopes; every signed-in user reads them.
func CanManageAPIs(u *User) bool { return isOrgWide(u.Role) }

// CanGrantScope says whether u may give the scope to a credential u
// manages: a self-service scope anyone may; the others only org and super
// admins. Taking a scope away needs no grant.
func CanGrantScope(u *User, s Scope) bool { return s.SelfService || isOrgWide(u.Role) }

// GrantError explains why u may not give a credential the scopes in added
// (those it does not name yet), or returns nil. registered holds every
// registered scope among them; a name missing there is not registered.
// Unregistered names are CodeInvalid (the caller must fix the request),
// scopes u may not grant CodeForbidden.
func GrantError(u *User, added []string, registered map[string]Scope) error {
	var unknown, denied []string
	for _, name := range added {
		s, ok := registered[name]
		if !ok {
			s, ok = BuiltinScope(name)
		}
		switch {
		case !ok:
			unknown = append(unknown, name)
		case !CanGrantScope(u, s):
			denied = append(denied, name)
		}
	}
	if len(unknown) > 0 {
		return &Error{Code: CodeInvalid, Message: "scope " + quoteList(unknown) +
			" is not registered: register it under an API first (POST /v1/apis), or ask an org admin", Reason: "invalid_scope"}
	}
	if len(denied) > 0 {
		return Errorf(CodeForbidden, "scope %s is not self-service: only org and super admins grant it", quoteList(denied))
	}
	return nil
}

// AddedScopes returns the scopes of next that current does not name.
func AddedScopes(current, next []string) []string {
	var added []string
	for _, s := range next {
		if !slices.Contains(current, s) {
			added = append(added, s)
		}
	}
	return added
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = `"` + n + `"`
	}
	return strings.Join(q, ", ")
}
