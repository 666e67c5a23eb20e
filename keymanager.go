package keysmith

import (
	"context"
	"time"
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
