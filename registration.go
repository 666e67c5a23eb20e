package keysmith

import (
	"slices"
	"strings"
	"time"
)

// Dynamic client registration: Keysmith serves RFC 7591 (register a client)
// and RFC 7592 (read, replace, delete it) so that another Keysmith, or any
// tool that speaks DCR, can use it as its key manager.
//
// An org or super admin creates an initial access token (a
// RegistrationToken, "ksi_…") bound to one application and environment,
// valid for a while and a number of registrations. Each registration makes
// a client of that application, owned by its owner, and answers a
// registration access token ("ksm_…") that manages that one client. A
// registration never grants more than the token's creator could grant now:
// the scopes it names pass GrantError for the creator as they are at the
// time of the registration, and a creator who is no longer an active org or
// super admin makes both kinds of token stop working.

// Bounds of an initial access token.
const (
	DefaultRegistrationTokenTTL = 24 * time.Hour
	MaxRegistrationTokenTTL     = 30 * 24 * time.Hour
	DefaultRegistrationUses     = 1
	MaxRegistrationUses         = 1000
)

// DefaultRegisteredClientName names a registered client whose metadata has
// no client_name.
const DefaultRegisteredClientName = "Registered client"

// RegistrationToken is an initial access token's record: never the token
// nor its hash.
type RegistrationToken struct {
	ID          string
	AppID       string
	Environment Environment
	Description string
	ExpiresAt   time.Time
	MaxUses     int
	Uses        int
	CreatedAt   time.Time
	CreatedBy   string
	RevokedAt   *time.Time
	RevokedBy   string
}

// Usable reports whether the token may register a client at now: not
// revoked, not expired, not used up.
func (t *RegistrationToken) Usable(now time.Time) bool {
	return t.RevokedAt == nil && now.Before(t.ExpiresAt) && t.Uses < t.MaxUses
}

// RegistrationTokenRef is how an initial access token appears in events,
// as the target of its creation and revocation and as the actor of the
// registrations made with it.
func RegistrationTokenRef(t *RegistrationToken) Ref {
	return Ref{Type: "registration_token", ID: t.ID, DisplayName: t.Description}
}

// RegistrationTokenFilter selects initial access tokens for
// FindRegistrationTokens, newest first.
type RegistrationTokenFilter struct {
	Page
}

// CreateRegistrationTokenInput is what an admin supplies to create an
// initial access token.
type CreateRegistrationTokenInput struct {
	AppID       string
	Environment string
	Description string
	// ExpiresInSeconds defaults to DefaultRegistrationTokenTTL, at most
	// MaxRegistrationTokenTTL.
	ExpiresInSeconds *int64
	// MaxUses defaults to DefaultRegistrationUses, at most
	// MaxRegistrationUses.
	MaxUses *int
}

// Validate checks the input at now and returns the token it describes
// (without id and creator).
func (in *CreateRegistrationTokenInput) Validate(now time.Time) (*RegistrationToken, error) {
	if in.AppID == "" {
		return nil, Errorf(CodeInvalid, "app_id is required: the application the registered clients belong to")
	}
	env, err := ParseEnvironment(in.Environment)
	if err != nil {
		return nil, err
	}
	if err := validateDescription(in.Description); err != nil {
		return nil, err
	}
	ttl := DefaultRegistrationTokenTTL
	if in.ExpiresInSeconds != nil {
		n := *in.ExpiresInSeconds
		if n < 60 || n > int64(MaxRegistrationTokenTTL/time.Second) {
			return nil, Errorf(CodeInvalid, "expires_in must be from 60 seconds to 30 days (%d)", int64(MaxRegistrationTokenTTL/time.Second))
		}
		ttl = time.Duration(n) * time.Second
	}
	uses := DefaultRegistrationUses
	if in.MaxUses != nil {
		if *in.MaxUses < 1 || *in.MaxUses > MaxRegistrationUses {
			return nil, Errorf(CodeInvalid, "max_uses must be from 1 to %d", MaxRegistrationUses)
		}
		uses = *in.MaxUses
	}
	now = now.UTC().Truncate(time.Microsecond)
	return &RegistrationToken{AppID: in.AppID, Environment: env, Description: in.Description,
		ExpiresAt: now.Add(ttl), MaxUses: uses, CreatedAt: now}, nil
}

// ClientRegistration ties a client registered by DCR to its registration
// access token (stored as a hash only) and to the initial access token and
// admin it came from.
type ClientRegistration struct {
	ClientID            string
	RegistrationTokenID string
	CreatedBy           string // the initial access token's creator
	CreatedAt           time.Time
}

// CanManageRegistrationTokens: only org and super admins create, list and
// revoke initial access tokens. A token registers clients that act as an
// application, with any scope its creator may grant, for whoever holds it;
// so only those who may grant every scope and issue any application's
// credentials hand such tokens out.
func CanManageRegistrationTokens(u *User) error {
	if !isOrgWide(u.Role) {
		return Errorf(CodeForbidden, "role %s may not manage registration tokens; org and super admins create them", u.Role)
	}
	return nil
}

// RegistrationMetadata is the client metadata of an RFC 7591 registration
// or RFC 7592 update, as Keysmith reads it. Other metadata is ignored (RFC
// 7591 §2).
type RegistrationMetadata struct {
	ClientName              string
	GrantTypes              []string
	ResponseTypes           []string
	RedirectURIs            []string
	PostLogoutRedirectURIs  []string
	Scope                   string // space-separated
	TokenEndpointAuthMethod string
}

// ReasonInvalidRedirectURI and ReasonInvalidClientMetadata are RFC 7591
// §3.2.2's error codes, carried as the Reason of a refused registration.
const (
	ReasonInvalidRedirectURI    = "invalid_redirect_uri"
	ReasonInvalidClientMetadata = "invalid_client_metadata"
)

// normalise fills defaults and checks what is DCR's own: response types
// against grant types (loosely: "code" needs or implies the
// authorization_code grant), the scope string, and the redirect URIs
// (refused as invalid_redirect_uri).
func (m *RegistrationMetadata) normalise() (scopes, grants []string, err error) {
	grants = slices.Clone(m.GrantTypes)
	for _, rt := range m.ResponseTypes {
		if rt != "code" {
			return nil, nil, metadataError(Errorf(CodeInvalid, "response_type %q is not supported: Keysmith issues only code", rt))
		}
		if len(m.GrantTypes) == 0 {
			if !slices.Contains(grants, GrantAuthorizationCode) {
				grants = append(grants, GrantAuthorizationCode)
			}
		} else if !slices.Contains(grants, GrantAuthorizationCode) {
			return nil, nil, metadataError(Errorf(CodeInvalid, "response_types names code, which needs the authorization_code grant in grant_types"))
		}
	}
	for _, f := range []struct {
		name string
		uris []string
	}{{"redirect_uris", m.RedirectURIs}, {"post_logout_redirect_uris", m.PostLogoutRedirectURIs}} {
		if err := ValidateRedirectURIs(f.name, f.uris); err != nil {
			return nil, nil, &Error{Code: CodeInvalid, Reason: ReasonInvalidRedirectURI, Message: ErrorMessage(err)}
		}
	}
	if len(m.Scope) > 10000 {
		return nil, nil, metadataError(Errorf(CodeInvalid, "scope is longer than 10000 characters"))
	}
	scopes = strings.Fields(m.Scope)
	if scopes == nil {
		scopes = []string{}
	}
	return scopes, grants, nil
}

func (m *RegistrationMetadata) name() string {
	if m.ClientName == "" {
		return DefaultRegisteredClientName
	}
	return m.ClientName
}

// CreateInput is the client the metadata describes, in the token's
// application and environment, for CreateClientInput.Validate. first_party
// is never set by a registration.
func (m *RegistrationMetadata) CreateInput(t *RegistrationToken) (CreateClientInput, error) {
	scopes, grants, err := m.normalise()
	if err != nil {
		return CreateClientInput{}, err
	}
	return CreateClientInput{Name: m.name(), AppID: t.AppID, Environment: string(t.Environment), Scopes: scopes,
		GrantTypes: grants, RedirectURIs: slices.Clone(m.RedirectURIs), PostLogoutRedirectURIs: slices.Clone(m.PostLogoutRedirectURIs),
		TokenEndpointAuthMethod: m.TokenEndpointAuthMethod}, nil
}

// Update is the RFC 7592 replacement of client c's metadata: what the
// metadata omits returns to its default, but for
// token_endpoint_auth_method, which stays: a client cannot switch between
// public and confidential (ClientUpdate.Apply refuses a switch that is
// asked for).
func (m *RegistrationMetadata) Update(c *Client) (ClientUpdate, error) {
	scopes, grants, err := m.normalise()
	if err != nil {
		return ClientUpdate{}, err
	}
	method := m.TokenEndpointAuthMethod
	if method == "" {
		method = c.TokenEndpointAuthMethod
	}
	if len(grants) == 0 {
		grants = []string{GrantClientCredentials}
		if method == AuthNone {
			grants = []string{GrantAuthorizationCode}
		}
	}
	name := m.name()
	redirects, logouts := slices.Clone(m.RedirectURIs), slices.Clone(m.PostLogoutRedirectURIs)
	return ClientUpdate{Name: &name, Scopes: &scopes, GrantTypes: &grants, RedirectURIs: &redirects,
		PostLogoutRedirectURIs: &logouts, TokenEndpointAuthMethod: &method}, nil
}

// metadataError marks a refusal of client metadata as RFC 7591's
// invalid_client_metadata, unless it already names a reason of its own
// (invalid_redirect_uri). A scope the creator may not grant (CodeForbidden
// from GrantError) is refused the same way: for the registrant it is bad
// metadata.
func metadataError(err error) error {
	code := ErrorCode(err)
	if code != CodeInvalid && code != CodeForbidden {
		return err
	}
	if e, ok := err.(*Error); ok && e.Reason == ReasonInvalidRedirectURI {
		return err
	}
	return &Error{Code: CodeInvalid, Reason: ReasonInvalidClientMetadata, Message: ErrorMessage(err)}
}

// ReasonInvalidToken is the Reason of a refused initial access or
// registration access token (RFC 6750 invalid_token).
const ReasonInvalidToken = "invalid_token"

// errRegistrationToken refuses an initial access token, whatever is wrong
// with it: unknown, malformed, expired, used up, revoked, or its creator no
// longer an active org or super admin.
var errRegistrationToken = &Error{Code: CodeUnauthorized, Reason: ReasonInvalidToken,
	Message: "the initial access token is not valid: unknown, expired, used up or revoked; ask an org admin for a new one (POST /v1/oauth/registration-tokens)"}

// errRegistrationAccess refuses a registration access token, without
// saying whether the client exists.
var errRegistrationAccess = &Error{Code: CodeUnauthorized, Reason: ReasonInvalidToken,
	Message: "the registration access token is not valid for this client"}
