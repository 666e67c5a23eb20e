package keysmith

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// KeyManagerType says how Keysmith talks to an external key manager: which
// dynamic client registration endpoint and request shapes it uses.
type KeyManagerType string

// The external key manager types. The built-in manager is Keysmith itself:
// it has no record, and a client with KeyManagerID "" is Keysmith's own.
const (
	// KeyManagerOkta registers clients at Okta's /oauth2/v1/clients with an
	// Okta API token (SSWS).
	KeyManagerOkta KeyManagerType = "okta"
	// KeyManagerKeycloak registers clients at a realm's
	// clients-registrations/openid-connect endpoint with an initial access
	// token.
	KeyManagerKeycloak KeyManagerType = "keycloak"
	// KeyManagerOIDC is any OpenID provider that serves RFC 7591/7592 at the
	// registration_endpoint of its discovery document (another Keysmith,
	// for example).
	KeyManagerOIDC KeyManagerType = "oidc"
)

// BuiltinKeyManager is the id under which Keysmith itself appears in lists
// of key managers; it is never stored.
const BuiltinKeyManager = "keysmith"

// KeyManager is an external identity provider that issues client
// credentials and access tokens which Keysmith manages and verifies. Its
// secrets are stored sealed under the master key (the *Sealed fields) and
// never returned.
type KeyManager struct {
	ID      string
	Name    string
	Type    KeyManagerType
	Issuer  string // as its discovery document states it, exactly
	Enabled bool
	// Audience is what its access tokens must carry in aud to be accepted;
	// "" means the issuer.
	Audience string

	// Read from the issuer's discovery document when the manager is
	// created or its issuer changes.
	JWKSURI               string
	RegistrationEndpoint  string
	IntrospectionEndpoint string
	TokenEndpoint         string

	// RegistrationTokenSealed is what the manager needs to register
	// clients (an Okta API token, a Keycloak or RFC 7591 initial access
	// token), sealed; "" when none was given.
	RegistrationTokenSealed string
	// IntrospectionClientID and IntrospectionSecretSealed authenticate
	// Keysmith at the manager's introspection endpoint (RFC 7662), for
	// opaque tokens; empty when the manager's tokens are only JWTs.
	IntrospectionClientID     string
	IntrospectionSecretSealed string
	// OpaqueTokenPrefix is how the manager's opaque access tokens begin
	// ("ksa_" for another Keysmith). An opaque token is sent for
	// introspection only to the one enabled manager whose prefix it starts
	// with (the longest), never to every manager in turn: a manager never
	// sees another's tokens. Required with introspection credentials; two
	// enabled managers never share one.
	OpaqueTokenPrefix string
	// AcceptUnregisteredClients admits the tokens of the manager's clients
	// that were not registered through Keysmith, with their scopes as
	// issued and no app or environment. Default false: such tokens are
	// NOT_FOUND.
	AcceptUnregisteredClients bool

	CreatedAt time.Time
	CreatedBy string
	UpdatedAt time.Time
}

// ExpectedAudience is the aud its tokens must carry.
func (m *KeyManager) ExpectedAudience() string {
	if m.Audience == "" {
		return m.Issuer
	}
	return m.Audience
}

// KeyManagerRef is how a key manager appears in events.
func KeyManagerRef(m *KeyManager) Ref {
	return Ref{Type: "key_manager", ID: m.ID, DisplayName: m.Name}
}

// ChangeKeyManager: a key manager was created, changed or deleted.
const ChangeKeyManager ChangeKind = "key_manager"

// Sealer encrypts secrets that Keysmith must be able to read back (a key
// manager's registration token, a client's registration access token)
// under the master key. aad binds the sealed value to its row, so it
// cannot be moved to another.
type Sealer interface {
	Seal(plaintext, aad string) (string, error)
	Open(sealed, aad string) (string, error)
}

// Discovery is what Keysmith reads from a key manager's OpenID discovery
// document (or OAuth authorization server metadata).
type Discovery struct {
	Issuer                string
	JWKSURI               string
	RegistrationEndpoint  string
	IntrospectionEndpoint string
	TokenEndpoint         string
}

// ClientMetadata is what Keysmith asks a key manager to register (RFC 7591
// §2): the client's name, grant types, redirect URIs and scopes.
type ClientMetadata struct {
	Name                    string
	GrantTypes              []string
	RedirectURIs            []string
	PostLogoutRedirectURIs  []string
	Scopes                  []string
	TokenEndpointAuthMethod string
}

// ExternalRegistration is what a key manager answered to a registration.
// Secret is shown once and never stored; RegistrationAccessToken is stored
// sealed, for RFC 7592 updates and deletion.
type ExternalRegistration struct {
	ClientID                string
	Secret                  Secret
	RegistrationAccessToken string
	RegistrationClientURI   string
}

// KeyManagerConnector is what Keysmith needs of the outside world to
// manage clients at external key managers (package keymanager implements
// it). Every call is bounded in time and size; errors that the manager
// answered carry its message, safe to show.
type KeyManagerConnector interface {
	// Discover reads the issuer's discovery document and checks that its
	// JWKS can be fetched. CodeInvalid, saying which, when either cannot.
	Discover(ctx context.Context, typ KeyManagerType, issuer string) (Discovery, error)
	// Register registers a client (RFC 7591 or the type's own shape) with
	// the manager's registration token.
	Register(ctx context.Context, m *KeyManager, registrationToken string, md ClientMetadata) (ExternalRegistration, error)
	// UpdateRegistration replaces the client's metadata (RFC 7592) and
	// returns the registration as it stands after: a manager may rotate
	// the registration access token on every update (Keycloak does).
	UpdateRegistration(ctx context.Context, m *KeyManager, registrationToken string, reg ExternalRegistration, md ClientMetadata) (ExternalRegistration, error)
	// DeleteRegistration deletes the client at the manager (RFC 7592). A
	// client the manager no longer has is not an error.
	DeleteRegistration(ctx context.Context, m *KeyManager, registrationToken string, reg ExternalRegistration) error
}

// MaxKeyManagers bounds the external key managers: each costs outbound
// calls and memory on every replica, so the list stays short.
const MaxKeyManagers = 50

// maxKeyManagerSecret bounds a secret given for a key manager.
const maxKeyManagerSecret = 4096

// CreateKeyManagerInput is what an admin supplies to add a key manager.
// The secrets are sealed before they are stored and never returned.
type CreateKeyManagerInput struct {
	Name     string
	Type     string
	Issuer   string
	Audience string
	Enabled  *bool // default true
	// RegistrationToken is what the manager needs to register clients:
	// an Okta API token, a Keycloak or RFC 7591 initial access token.
	RegistrationToken         Secret
	IntrospectionClientID     string
	IntrospectionClientSecret Secret
	OpaqueTokenPrefix         string
	AcceptUnregisteredClients bool
}

// Validate checks the input and returns the manager it describes, without
// id, times, discovered endpoints and sealed secrets.
func (in *CreateKeyManagerInput) Validate() (*KeyManager, error) {
	m := &KeyManager{Name: in.Name, Type: KeyManagerType(in.Type), Issuer: in.Issuer, Audience: in.Audience,
		Enabled: true, IntrospectionClientID: in.IntrospectionClientID, OpaqueTokenPrefix: in.OpaqueTokenPrefix,
		AcceptUnregisteredClients: in.AcceptUnregisteredClients}
	if in.Enabled != nil {
		m.Enabled = *in.Enabled
	}
	if err := validateName("name", in.Name); err != nil {
		return nil, err
	}
	if err := ParseKeyManagerType(in.Type); err != nil {
		return nil, err
	}
	if err := validateIssuer(in.Issuer); err != nil {
		return nil, err
	}
	if err := validateAudience(in.Audience); err != nil {
		return nil, err
	}
	if err := validateKeyManagerSecrets(in.IntrospectionClientID, in.RegistrationToken, in.IntrospectionClientSecret); err != nil {
		return nil, err
	}
	if err := m.CheckIntrospection(); err != nil {
		return nil, err
	}
	return m, nil
}

// MaxOpaqueTokenPrefix bounds a key manager's opaque_token_prefix.
const MaxOpaqueTokenPrefix = 32

// validateOpaqueTokenPrefix checks the form of an opaque_token_prefix: ""
// (none) or 1–32 printable ASCII characters without spaces.
func validateOpaqueTokenPrefix(s string) error {
	if len(s) > MaxOpaqueTokenPrefix {
		return Errorf(CodeInvalid, "opaque_token_prefix must be at most %d characters", MaxOpaqueTokenPrefix)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return Errorf(CodeInvalid, "opaque_token_prefix must be printable ASCII without spaces, like ksa_")
		}
	}
	return nil
}

// CheckIntrospection checks the manager's opaque_token_prefix and that one
// is set whenever introspection credentials are: without it every opaque
// token Keysmith does not know would be sent to the manager.
func (m *KeyManager) CheckIntrospection() error {
	if err := validateOpaqueTokenPrefix(m.OpaqueTokenPrefix); err != nil {
		return err
	}
	if m.IntrospectionClientID != "" && m.OpaqueTokenPrefix == "" {
		return Errorf(CodeInvalid, "opaque_token_prefix is required with introspection_client_id: how this manager's opaque access tokens begin (ksa_ for another Keysmith); only tokens that begin with it are sent to its introspection endpoint")
	}
	return nil
}

// ParseKeyManagerType checks an external key manager type.
func ParseKeyManagerType(t string) error {
	switch KeyManagerType(t) {
	case KeyManagerOkta, KeyManagerKeycloak, KeyManagerOIDC:
		return nil
	case "":
		return Errorf(CodeInvalid, "type is required: okta, keycloak or oidc")
	case BuiltinKeyManager:
		return Errorf(CodeInvalid, "type keysmith is the built-in key manager, always there; add okta, keycloak or oidc")
	}
	return Errorf(CodeInvalid, "type %q is not known: use okta, keycloak or oidc", t)
}

// validateIssuer checks the form of an issuer; whether Keysmith may call it
// (https, its address) is the connector's check.
func validateIssuer(s string) error {
	if s == "" {
		return Errorf(CodeInvalid, "issuer is required: the URL of the provider's OpenID discovery document, without /.well-known/…")
	}
	if !utf8.ValidString(s) || len(s) > 500 || strings.ContainsAny(s, " \t\r\n") {
		return Errorf(CodeInvalid, "issuer must be a URL of at most 500 characters without spaces")
	}
	if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://") {
		return Errorf(CodeInvalid, "issuer %q must be an https URL", s)
	}
	return nil
}

func validateKeyManagerSecrets(introspectionClientID string, secrets ...Secret) error {
	if len(introspectionClientID) > 200 || !utf8.ValidString(introspectionClientID) {
		return Errorf(CodeInvalid, "introspection_client_id must be at most 200 characters")
	}
	for _, s := range secrets {
		if v := s.Reveal(); len(v) > maxKeyManagerSecret || strings.ContainsAny(v, "\r\n") {
			return Errorf(CodeInvalid, "a key manager secret must be at most %d characters on one line", maxKeyManagerSecret)
		}
	}
	return nil
}

// KeyManagerUpdate is a change to a key manager; nil fields stay. A new
// issuer is discovered again. A secret set to "" removes it.
type KeyManagerUpdate struct {
	Name                      *string
	Issuer                    *string
	Audience                  *string
	Enabled                   *bool
	RegistrationToken         *Secret
	IntrospectionClientID     *string
	IntrospectionClientSecret *Secret
	OpaqueTokenPrefix         *string
	AcceptUnregisteredClients *bool
}

// IsEmpty reports whether u changes nothing.
func (u *KeyManagerUpdate) IsEmpty() bool {
	return u.Name == nil && u.Issuer == nil && u.Audience == nil && u.Enabled == nil && u.RegistrationToken == nil &&
		u.IntrospectionClientID == nil && u.IntrospectionClientSecret == nil && u.OpaqueTokenPrefix == nil &&
		u.AcceptUnregisteredClients == nil
}

// Validate checks the fields u sets.
func (u *KeyManagerUpdate) Validate() error {
	if u.IsEmpty() {
		return Errorf(CodeInvalid, "nothing to change: give name, issuer, audience, enabled, registration_token, introspection_client_id, introspection_client_secret, opaque_token_prefix or accept_unregistered_clients")
	}
	if u.Name != nil {
		if err := validateName("name", *u.Name); err != nil {
			return err
		}
	}
	if u.Issuer != nil {
		if err := validateIssuer(*u.Issuer); err != nil {
			return err
		}
	}
	if u.Audience != nil {
		if err := validateAudience(*u.Audience); err != nil {
			return err
		}
	}
	if u.OpaqueTokenPrefix != nil {
		if err := validateOpaqueTokenPrefix(*u.OpaqueTokenPrefix); err != nil {
			return err
		}
	}
	var secrets []Secret
	for _, s := range []*Secret{u.RegistrationToken, u.IntrospectionClientSecret} {
		if s != nil {
			secrets = append(secrets, *s)
		}
	}
	id := ""
	if u.IntrospectionClientID != nil {
		id = *u.IntrospectionClientID
	}
	return validateKeyManagerSecrets(id, secrets...)
}

// GivesSecret reports whether u sets a secret (and so needs recent
// authentication from a browser session).
func (u *KeyManagerUpdate) GivesSecret() bool {
	return u.RegistrationToken != nil || u.IntrospectionClientSecret != nil
}

// KeyManagerChanges is what an update changed, for its event: names of
// the secrets, never their values.
func KeyManagerChanges(before, after *KeyManager) map[string]any {
	d := map[string]any{}
	if before.Name != after.Name {
		d["name"] = after.Name
	}
	if before.Issuer != after.Issuer {
		d["issuer"] = after.Issuer
	}
	if before.Audience != after.Audience {
		d["audience"] = after.Audience
	}
	if before.Enabled != after.Enabled {
		d["enabled"] = after.Enabled
	}
	if before.RegistrationTokenSealed != after.RegistrationTokenSealed {
		d["registration_token"] = "changed"
	}
	if before.IntrospectionClientID != after.IntrospectionClientID {
		d["introspection_client_id"] = after.IntrospectionClientID
	}
	if before.IntrospectionSecretSealed != after.IntrospectionSecretSealed {
		d["introspection_client_secret"] = "changed"
	}
	if before.OpaqueTokenPrefix != after.OpaqueTokenPrefix {
		d["opaque_token_prefix"] = after.OpaqueTokenPrefix
	}
	if before.AcceptUnregisteredClients != after.AcceptUnregisteredClients {
		d["accept_unregistered_clients"] = after.AcceptUnregisteredClients
	}
	return d
}

// RegistrationTokenAAD is the associated data (Sealer) that binds each sealed key manager secret to its
// row and purpose (Sealer), so that one cannot be moved to another row or
// used as another kind of secret.
func (m *KeyManager) RegistrationTokenAAD() string {
	return "key_manager:" + m.ID + ":registration_token"
}

// IntrospectionSecretAAD is the associated data of the introspection secret.
func (m *KeyManager) IntrospectionSecretAAD() string {
	return "key_manager:" + m.ID + ":introspection_secret"
}

// RegistrationTokenAAD is the associated data of an external client's
// sealed registration access token.
func (c *Client) RegistrationTokenAAD() string {
	return "key_manager:" + c.KeyManagerID + ":client:" + c.ID + ":registration_access_token"
}

// External reports whether the client is registered at an external key
// manager: Keysmith issues it no tokens and keeps none of its secrets.
func (c *Client) External() bool { return c.KeyManagerID != "" }

// CanManageKeyManagers: org and super admins add, change and delete key
// managers (they decide whose tokens every gateway accepts); every
// signed-in user may read them without their secrets, so that developers
// can pick one in the portal.
func CanManageKeyManagers(u *User) bool { return isOrgWide(u.Role) }
