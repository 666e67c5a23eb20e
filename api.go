package keysmith

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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

type granterKey struct{}

// WithGranter returns ctx naming the user on whose behalf a store call
// grants scopes. The store checks each scope it grants anew against that
// user (CanGrantScope) under the scope's row lock, so that a scope made
// admin-only between the service's check and the write is not granted.
// Without one (system work such as seeding) the store does not check.
func WithGranter(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, granterKey{}, u)
}

// GranterFrom returns the user WithGranter put in ctx, or nil.
func GranterFrom(ctx context.Context) *User {
	u, _ := ctx.Value(granterKey{}).(*User)
	return u
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

// Limits of an API's registration.
const (
	MaxScopesPerAPI     = 100
	maxAPIIdentifierLen = 200
)

// ScopeInput is a scope as a caller registers it.
type ScopeInput struct {
	Name        string
	Description string
	SelfService bool
}

// CreateAPIInput is what a caller supplies to register an API.
type CreateAPIInput struct {
	Name       string
	Identifier string
	Scopes     []ScopeInput
}

// Validate checks the input and returns the API it describes (without id
// and times).
func (in *CreateAPIInput) Validate() (*API, error) {
	if err := validateName("name", in.Name); err != nil {
		return nil, err
	}
	if err := ValidateAPIIdentifier(in.Identifier); err != nil {
		return nil, err
	}
	scopes, err := validateScopeInputs(in.Scopes)
	if err != nil {
		return nil, err
	}
	return &API{Name: in.Name, Identifier: in.Identifier, Scopes: scopes}, nil
}

// APIUpdate is a change to an API; nil fields stay. Scopes, when set,
// replaces the whole list: a scope it leaves out is deleted, which the
// store refuses while a credential names it.
type APIUpdate struct {
	Name       *string
	Identifier *string
	Scopes     *[]ScopeInput
}

// Validate checks the change.
func (u *APIUpdate) Validate() error {
	if u.Name != nil {
		if err := validateName("name", *u.Name); err != nil {
			return err
		}
	}
	if u.Identifier != nil {
		if err := ValidateAPIIdentifier(*u.Identifier); err != nil {
			return err
		}
	}
	if u.Scopes != nil {
		if _, err := validateScopeInputs(*u.Scopes); err != nil {
			return err
		}
	}
	return nil
}

// ScopeList returns the scopes of a validated update (nil when it keeps
// them), in order.
func (u *APIUpdate) ScopeList() []Scope {
	if u.Scopes == nil {
		return nil
	}
	out, _ := validateScopeInputs(*u.Scopes)
	return out
}

func validateScopeInputs(in []ScopeInput) ([]Scope, error) {
	if len(in) > MaxScopesPerAPI {
		return nil, Errorf(CodeInvalid, "an API has at most %d scopes, got %d", MaxScopesPerAPI, len(in))
	}
	out := make([]Scope, 0, len(in))
	for i, s := range in {
		if err := ValidateScopeName(s.Name); err != nil {
			return nil, err
		}
		if err := validateDescription(s.Description); err != nil {
			return nil, Errorf(CodeInvalid, "scope %q: %s", s.Name, ErrorMessage(err))
		}
		for _, prev := range in[:i] {
			if prev.Name == s.Name {
				return nil, Errorf(CodeInvalid, "scope %q is listed twice", s.Name)
			}
		}
		out = append(out, Scope{Name: s.Name, Description: s.Description, SelfService: s.SelfService})
	}
	return out, nil
}

// ValidateScopeName checks the name of a scope being registered: 1 to 100
// characters, starting with a letter or digit, of ASCII letters, digits
// and ":", ".", "_", "-", "/", "@". No spaces (scope parameters are
// space-separated), no parentheses, quotes or "*", and not the words AND,
// OR or NOT in any case: verify's permission queries combine scope names
// with those.
func ValidateScopeName(name string) error {
	if name == "" || len(name) > 100 {
		return Errorf(CodeInvalid, "a scope name must be 1 to 100 characters, got %d", len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return Errorf(CodeInvalid, "scope %q must start with a letter or a digit", printable(name))
		}
		if !alnum && !strings.ContainsRune(":._-/@", rune(c)) {
			return Errorf(CodeInvalid, "scope %q may hold only ASCII letters, digits and : . _ - / @ (like orders:read)", printable(name))
		}
	}
	switch strings.ToUpper(name) {
	case "AND", "OR", "NOT":
		return Errorf(CodeInvalid, "scope %q is a word of verify's permission queries; choose another name", name)
	}
	return nil
}

// ValidateAPIIdentifier checks an API identifier (the audience of its
// tokens): an absolute URI with a scheme, like https://api.example.com or
// urn:example:orders, at most 200 characters, without spaces or fragment.
func ValidateAPIIdentifier(id string) error {
	const want = "identifier must be an absolute URI of at most 200 characters without spaces or #fragment, like https://api.example.com or urn:example:orders"
	if id == "" || len(id) > maxAPIIdentifierLen || !utf8.ValidString(id) {
		return Errorf(CodeInvalid, "%s", want)
	}
	if strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 ||
		strings.Contains(id, "#") {
		return Errorf(CodeInvalid, "%s", want)
	}
	u, err := url.Parse(id)
	if err != nil || u.Scheme == "" || (u.Opaque == "" && u.Host == "" && u.Path == "") {
		return Errorf(CodeInvalid, "%s", want)
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return Errorf(CodeInvalid, "%s", want)
	}
	return nil
}

// printable shortens and cleans a name for an error message.
func printable(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

// UnknownAudience is the error for a client audience that no API has as
// its identifier.
func UnknownAudience(aud string) error {
	return &Error{Code: CodeInvalid, Reason: "invalid_request", Message: "audience " + quoteList([]string{printable(aud)}) +
		" is not the identifier of a registered API: register the API first (POST /v1/apis), or leave audience empty"}
}
