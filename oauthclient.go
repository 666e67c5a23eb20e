package keysmith

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// TokenFormat says what kind of access token a client gets.
type TokenFormat string

// The access token formats.
const (
	// FormatJWT is a signed JWT per RFC 9068, checked without a lookup.
	FormatJWT TokenFormat = "jwt"
	// FormatOpaque is a random string stored hashed, like an API token.
	FormatOpaque TokenFormat = "opaque"
)

// The OAuth grant types (RFC 6749).
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// The token endpoint authentication methods (RFC 7591 §2). AuthNone is a
// public client: it holds no secret, and PKCE protects its codes.
const (
	AuthSecretBasic = "client_secret_basic"
	AuthSecretPost  = "client_secret_post"
	AuthNone        = "none"
)

// Refresh token lifetimes by default: 30 days in all, 7 days unused.
const (
	DefaultRefreshTokenTTL     = 30 * 24 * time.Hour
	DefaultRefreshTokenIdleTTL = 7 * 24 * time.Hour
)

// Access token lifetimes.
const (
	DefaultAccessTokenTTL = time.Hour
	// MaxJWTTTL bounds the lifetime of a JWT access token. Retired signing
	// keys stay published this long, so every token they signed can be
	// checked until it expires.
	MaxJWTTTL = 24 * time.Hour
	// DefaultMaxClientSecrets is how many secrets a client may hold at once.
	DefaultMaxClientSecrets = 5
)

// Client is an OAuth client: the credentials one application uses in one
// environment to obtain access tokens.
type Client struct {
	ID          string
	Name        string
	AppID       string // "" for a client without an application
	OwnerID     string
	Environment Environment
	Scopes      []string
	GrantTypes  []string
	// TokenTTL is the lifetime of its access tokens; negative means never
	// expiring (and then the tokens are opaque).
	TokenTTL    time.Duration
	TokenFormat TokenFormat
	Audience    string // "" means the issuer
	// UnregisteredScopes are the names among Scopes that no API registers
	// (clients made before scopes were registered may name such): they are
	// not issued. Filled by the service when it reads clients.
	UnregisteredScopes []string

	// RedirectURIs are where the authorization endpoint may send the
	// browser back: exact string match, never a prefix or pattern.
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser after signing out; exact match.
	PostLogoutRedirectURIs []string
	// TokenEndpointAuthMethod is AuthSecretBasic, AuthSecretPost or
	// AuthNone (a public client, which has no secret).
	TokenEndpointAuthMethod string
	// PKCERequired refuses authorization requests without a
	// code_challenge; always true for public clients.
	PKCERequired bool
	// PKCEAllowPlain accepts code_challenge_method=plain; S256 only when
	// false.
	PKCEAllowPlain bool
	// FirstParty clients skip the consent page (set by org and super
	// admins only).
	FirstParty bool
	// RefreshTokenTTL bounds a refresh token family from the code exchange
	// on; RefreshTokenIdleTTL bounds the time between two refreshes.
	RefreshTokenTTL     time.Duration
	RefreshTokenIdleTTL time.Duration

	// KeyManagerID is the external key manager the client is registered
	// at; "" for Keysmith's own clients. An external client gets no tokens
	// from Keysmith: its manager issues them, and Keysmith verifies them.
	KeyManagerID string
	// ExternalClientID is the client_id the manager gave it.
	ExternalClientID string
	// RegistrationURI and RegistrationTokenSealed (the RFC 7592
	// registration access token, sealed) let Keysmith update and delete
	// the registration at the manager.
	RegistrationURI         string
	RegistrationTokenSealed string

	CreatedAt time.Time
	CreatedBy string
	RevokedAt *time.Time
	RevokedBy string
}

// Status is "active" or "revoked".
func (c *Client) Status() string {
	if c.RevokedAt != nil {
		return "revoked"
	}
	return "active"
}

// Public reports whether the client is public: it authenticates with its
// client_id alone and has no secrets.
func (c *Client) Public() bool { return c.TokenEndpointAuthMethod == AuthNone }

// HasGrant reports whether the client may use the grant type.
func (c *Client) HasGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// AllowsScope reports whether every scope in requested is one of the
// client's.
func (c *Client) AllowsScope(requested []string) bool {
	for _, s := range requested {
		if !slices.Contains(c.Scopes, s) {
			return false
		}
	}
	return true
}

// ClientRef is how a client appears in events.
func ClientRef(c *Client) Ref { return Ref{Type: "oauth_client", ID: c.ID, DisplayName: c.Name} }

// ClientFilter selects clients for FindClients.
type ClientFilter struct {
	Page
	OwnerID string
	AppID   string
}

// CreateClientInput is what a caller supplies to create a client.
type CreateClientInput struct {
	Name            string
	AppID           string
	Environment     string
	Scopes          []string
	GrantTypes      []string
	TokenTTLSeconds *int64
	TokenFormat     string
	Audience        string

	RedirectURIs               []string
	PostLogoutRedirectURIs     []string
	TokenEndpointAuthMethod    string
	PKCERequired               *bool
	PKCEAllowPlain             *bool
	FirstParty                 bool
	RefreshTokenTTLSeconds     *int64
	RefreshTokenIdleTTLSeconds *int64

	// KeyManager is the id of the external key manager to register the
	// client at; "" or BuiltinKeyManager for Keysmith itself.
	KeyManager string
}

// Validate checks the input and returns the client it describes (without
// ids, owner and times).
func (in *CreateClientInput) Validate() (*Client, error) {
	if err := validateName("name", in.Name); err != nil {
		return nil, err
	}
	env, err := ParseEnvironment(in.Environment)
	if err != nil {
		return nil, err
	}
	if err := ValidateScopes(in.Scopes); err != nil {
		return nil, err
	}
	grants := slices.Clone(in.GrantTypes)
	if len(grants) == 0 {
		grants = []string{GrantClientCredentials}
		if in.TokenEndpointAuthMethod == AuthNone {
			grants = []string{GrantAuthorizationCode}
		}
	}
	c := &Client{Name: in.Name, AppID: in.AppID, Environment: env, Scopes: slices.Clone(in.Scopes),
		GrantTypes: grants, TokenTTL: DefaultAccessTokenTTL, Audience: in.Audience,
		RedirectURIs: slices.Clone(in.RedirectURIs), PostLogoutRedirectURIs: slices.Clone(in.PostLogoutRedirectURIs),
		TokenEndpointAuthMethod: in.TokenEndpointAuthMethod, PKCERequired: true, FirstParty: in.FirstParty,
		RefreshTokenTTL: DefaultRefreshTokenTTL, RefreshTokenIdleTTL: DefaultRefreshTokenIdleTTL}
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = AuthSecretBasic
	}
	if in.PKCERequired != nil {
		c.PKCERequired = *in.PKCERequired
	}
	if in.PKCEAllowPlain != nil {
		c.PKCEAllowPlain = *in.PKCEAllowPlain
	}
	if c.RefreshTokenTTL, err = refreshTTL("refresh_token_ttl", in.RefreshTokenTTLSeconds, c.RefreshTokenTTL); err != nil {
		return nil, err
	}
	if c.RefreshTokenIdleTTL, err = refreshTTL("refresh_token_idle_ttl", in.RefreshTokenIdleTTLSeconds, c.RefreshTokenIdleTTL); err != nil {
		return nil, err
	}
	if err := c.validateOAuthSettings(); err != nil {
		return nil, err
	}
	if c.Scopes == nil {
		c.Scopes = []string{}
	}
	if in.TokenTTLSeconds != nil {
		if c.TokenTTL, err = parseTokenTTL(*in.TokenTTLSeconds); err != nil {
			return nil, err
		}
	}
	switch TokenFormat(in.TokenFormat) {
	case "":
		c.TokenFormat = FormatJWT
		if c.TokenTTL < 0 || c.TokenTTL > MaxJWTTTL {
			c.TokenFormat = FormatOpaque
		}
	case FormatJWT:
		if err := checkJWTTTL(c.TokenTTL); err != nil {
			return nil, err
		}
		c.TokenFormat = FormatJWT
	case FormatOpaque:
		c.TokenFormat = FormatOpaque
	default:
		return nil, Errorf(CodeInvalid, "token_format %q is not known: use jwt or opaque", in.TokenFormat)
	}
	if err := validateAudience(in.Audience); err != nil {
		return nil, err
	}
	return c, nil
}

// parseTokenTTL reads token_ttl_seconds: a positive number of seconds (at
// most ten years), or a negative one for tokens that never expire.
func parseTokenTTL(n int64) (time.Duration, error) {
	switch {
	case n == 0:
		return 0, Errorf(CodeInvalid, "token_ttl_seconds must not be 0: use a positive number of seconds, or a negative one for tokens that never expire")
	case n < 0:
		return -1, nil
	case n > int64(10*365*24*3600):
		return 0, Errorf(CodeInvalid, "token_ttl_seconds must be at most ten years; use a negative number for tokens that never expire")
	}
	return time.Duration(n) * time.Second, nil
}

// checkJWTTTL refuses a lifetime a JWT access token cannot have.
func checkJWTTTL(ttl time.Duration) error {
	if ttl < 0 {
		return Errorf(CodeInvalid, "a JWT access token must carry exp (RFC 9068): use token_format opaque for tokens that never expire")
	}
	if ttl > MaxJWTTTL {
		return Errorf(CodeInvalid, "JWT access tokens live at most %d seconds; use token_format opaque for longer", int(MaxJWTTTL.Seconds()))
	}
	return nil
}

func validateAudience(aud string) error {
	if !utf8.ValidString(aud) || len(aud) > 200 || strings.ContainsAny(aud, " \t\n") {
		return Errorf(CodeInvalid, "audience must be at most 200 characters without spaces, like https://api.example.com")
	}
	return nil
}

// ClientUpdate is a change to a client; nil fields stay. Scopes replaces
// the list: only the scopes it adds need the caller's grant
// (GrantError), so anyone who may change a client may rename it or take
// scopes away.
type ClientUpdate struct {
	Name            *string
	Scopes          *[]string
	Audience        *string
	TokenTTLSeconds *int64

	GrantTypes                 *[]string
	RedirectURIs               *[]string
	PostLogoutRedirectURIs     *[]string
	TokenEndpointAuthMethod    *string
	PKCERequired               *bool
	PKCEAllowPlain             *bool
	FirstParty                 *bool
	RefreshTokenTTLSeconds     *int64
	RefreshTokenIdleTTLSeconds *int64
}

// Apply checks u and applies it to c (a copy the caller owns), keeping c's
// token format: a JWT client's tokens live at most MaxJWTTTL.
func (u *ClientUpdate) Apply(c *Client) error {
	if u.Name != nil {
		if err := validateName("name", *u.Name); err != nil {
			return err
		}
		c.Name = *u.Name
	}
	if u.Scopes != nil {
		if err := ValidateScopes(*u.Scopes); err != nil {
			return err
		}
		c.Scopes = slices.Clone(*u.Scopes)
		if c.Scopes == nil {
			c.Scopes = []string{}
		}
	}
	if u.Audience != nil {
		if err := validateAudience(*u.Audience); err != nil {
			return err
		}
		c.Audience = *u.Audience
	}
	if u.TokenTTLSeconds != nil {
		ttl, err := parseTokenTTL(*u.TokenTTLSeconds)
		if err != nil {
			return err
		}
		if c.TokenFormat == FormatJWT {
			if err := checkJWTTTL(ttl); err != nil {
				return err
			}
		}
		c.TokenTTL = ttl
	}
	return u.applyOAuth(c)
}

// applyOAuth applies the authorization-code settings and checks the
// result as a whole. A client cannot turn public or confidential after
// creation: its secrets (or their absence) were decided then.
func (u *ClientUpdate) applyOAuth(c *Client) error {
	var err error
	if u.TokenEndpointAuthMethod != nil {
		m := *u.TokenEndpointAuthMethod
		if (m == AuthNone) != c.Public() {
			return Errorf(CodeInvalid, "token_endpoint_auth_method cannot change between none (public) and a secret method; create a new client instead")
		}
		c.TokenEndpointAuthMethod = m
	}
	setList(&c.GrantTypes, u.GrantTypes)
	setList(&c.RedirectURIs, u.RedirectURIs)
	setList(&c.PostLogoutRedirectURIs, u.PostLogoutRedirectURIs)
	if u.PKCERequired != nil {
		c.PKCERequired = *u.PKCERequired
	}
	if u.PKCEAllowPlain != nil {
		c.PKCEAllowPlain = *u.PKCEAllowPlain
	}
	if u.FirstParty != nil {
		c.FirstParty = *u.FirstParty
	}
	if c.RefreshTokenTTL, err = refreshTTL("refresh_token_ttl", u.RefreshTokenTTLSeconds, c.RefreshTokenTTL); err != nil {
		return err
	}
	if c.RefreshTokenIdleTTL, err = refreshTTL("refresh_token_idle_ttl", u.RefreshTokenIdleTTLSeconds, c.RefreshTokenIdleTTL); err != nil {
		return err
	}
	return c.validateOAuthSettings()
}

func setList(dst *[]string, src *[]string) {
	if src != nil {
		*dst = slices.Clone(*src)
		if *dst == nil {
			*dst = []string{}
		}
	}
}

// MaxRedirectURIs bounds each of a client's lists of redirect URIs.
const MaxRedirectURIs = 20

// refreshTTL reads a refresh token lifetime in seconds: 60 seconds to one
// year.
func refreshTTL(field string, secs *int64, def time.Duration) (time.Duration, error) {
	if secs == nil {
		return def, nil
	}
	if *secs < 60 || *secs > 365*24*3600 {
		return 0, Errorf(CodeInvalid, "%s must be between 60 seconds and one year (31536000)", field)
	}
	return time.Duration(*secs) * time.Second, nil
}

// validateOAuthSettings checks the grant types, redirect URIs, client
// authentication and PKCE settings together.
func (c *Client) validateOAuthSettings() error {
	if c.RedirectURIs == nil {
		c.RedirectURIs = []string{}
	}
	if c.PostLogoutRedirectURIs == nil {
		c.PostLogoutRedirectURIs = []string{}
	}
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = AuthSecretBasic
	}
	switch c.TokenEndpointAuthMethod {
	case AuthSecretBasic, AuthSecretPost:
	case AuthNone:
		if !c.PKCERequired {
			return Errorf(CodeInvalid, "pkce_required is always true for a public client (token_endpoint_auth_method none)")
		}
		if c.PKCEAllowPlain {
			return Errorf(CodeInvalid, "pkce_allow_plain is refused for a public client: its code is protected by PKCE alone, so it uses S256")
		}
	default:
		return Errorf(CodeInvalid, "token_endpoint_auth_method %q is not known: use client_secret_basic, client_secret_post or none", c.TokenEndpointAuthMethod)
	}
	if len(c.GrantTypes) == 0 {
		return Errorf(CodeInvalid, "grant_types must name at least one grant type")
	}
	for i, g := range c.GrantTypes {
		switch g {
		case GrantClientCredentials:
			if c.Public() {
				return Errorf(CodeInvalid, "a public client (token_endpoint_auth_method none) cannot use client_credentials: it has no secret to prove")
			}
		case GrantAuthorizationCode, GrantRefreshToken:
		default:
			return Errorf(CodeInvalid, "grant type %q is not supported: use client_credentials, authorization_code or refresh_token", g)
		}
		if slices.Contains(c.GrantTypes[:i], g) {
			return Errorf(CodeInvalid, "grant type %q is listed twice", g)
		}
	}
	if c.HasGrant(GrantRefreshToken) && !c.HasGrant(GrantAuthorizationCode) {
		return Errorf(CodeInvalid, "the refresh_token grant needs the authorization_code grant: refresh tokens are issued by the code exchange")
	}
	if err := ValidateRedirectURIs("redirect_uris", c.RedirectURIs); err != nil {
		return err
	}
	if err := ValidateRedirectURIs("post_logout_redirect_uris", c.PostLogoutRedirectURIs); err != nil {
		return err
	}
	if c.HasGrant(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return Errorf(CodeInvalid, "the authorization_code grant needs at least one entry in redirect_uris")
	}
	if c.RefreshTokenIdleTTL > c.RefreshTokenTTL {
		return Errorf(CodeInvalid, "refresh_token_idle_ttl must not be longer than refresh_token_ttl")
	}
	return nil
}

// ClientUpdated is what a client update changed, for its event.
func ClientUpdated(before, after *Client) map[string]any {
	d := map[string]any{}
	if before.Name != after.Name {
		d["name"] = after.Name
	}
	if !slices.Equal(before.Scopes, after.Scopes) {
		d["scopes"] = after.Scopes
	}
	if before.Audience != after.Audience {
		d["audience"] = after.Audience
	}
	if before.TokenTTL != after.TokenTTL {
		secs := int64(after.TokenTTL / time.Second)
		if after.TokenTTL < 0 {
			secs = -1
		}
		d["token_ttl_seconds"] = secs
	}
	diffList(d, "grant_types", before.GrantTypes, after.GrantTypes)
	diffList(d, "redirect_uris", before.RedirectURIs, after.RedirectURIs)
	diffList(d, "post_logout_redirect_uris", before.PostLogoutRedirectURIs, after.PostLogoutRedirectURIs)
	if before.TokenEndpointAuthMethod != after.TokenEndpointAuthMethod {
		d["token_endpoint_auth_method"] = after.TokenEndpointAuthMethod
	}
	if before.PKCERequired != after.PKCERequired {
		d["pkce_required"] = after.PKCERequired
	}
	if before.PKCEAllowPlain != after.PKCEAllowPlain {
		d["pkce_allow_plain"] = after.PKCEAllowPlain
	}
	if before.FirstParty != after.FirstParty {
		d["first_party"] = after.FirstParty
	}
	if before.RefreshTokenTTL != after.RefreshTokenTTL {
		d["refresh_token_ttl"] = int64(after.RefreshTokenTTL / time.Second)
	}
	if before.RefreshTokenIdleTTL != after.RefreshTokenIdleTTL {
		d["refresh_token_idle_ttl"] = int64(after.RefreshTokenIdleTTL / time.Second)
	}
	return d
}

func diffList(d map[string]any, name string, before, after []string) {
	if !slices.Equal(before, after) {
		d[name] = after
	}
}

// ValidateScopes checks scope names as RFC 6749 §3.3 defines them (printable
// ASCII without space, quote or backslash), without duplicates.
func ValidateScopes(scopes []string) error {
	if len(scopes) > 100 {
		return Errorf(CodeInvalid, "at most 100 scopes, got %d", len(scopes))
	}
	for i, s := range scopes {
		if s == "" || len(s) > 100 {
			return Errorf(CodeInvalid, "scope %d must be 1 to 100 characters", i+1)
		}
		for j := 0; j < len(s); j++ {
			if c := s[j]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return Errorf(CodeInvalid, "scope %q may hold only printable ASCII without spaces, quotes or backslashes", s)
			}
		}
		if slices.Contains(scopes[:i], s) {
			return Errorf(CodeInvalid, "scope %q is listed twice", s)
		}
	}
	return nil
}

// ClientSecret is a client secret's record: never the secret nor its hash,
// only its last four characters, so people can tell secrets apart.
type ClientSecret struct {
	ID          string
	ClientID    string
	Description string
	Last4       string
	CreatedAt   time.Time
	ExpiresAt   *time.Time
}

// Expired reports whether the secret has expired at now: its expiry is at
// or before now. An expired secret authenticates nothing and no longer
// counts towards the client's cap (MaxClientSecrets); it stays listed,
// marked, until someone deletes it.
func (s *ClientSecret) Expired(now time.Time) bool {
	return s.ExpiresAt != nil && !now.Before(*s.ExpiresAt)
}

// SecretRef is how a client secret appears in events.
func SecretRef(s *ClientSecret) Ref {
	return Ref{Type: "oauth_client_secret", ID: s.ID, DisplayName: "…" + s.Last4}
}

// SecretCheck is what authenticating a client needs of one of its secrets.
type SecretCheck struct {
	SecretID  string
	Hash      Hash
	ExpiresAt *time.Time
}

// StoredSecretsPerMax bounds the secrets a client keeps, expired ones
// included: at most this many times its cap of unexpired secrets.
const StoredSecretsPerMax = 4

// CreateSecretInput is what a caller supplies to add a client secret.
type CreateSecretInput struct {
	Description string
	ExpiresAt   *time.Time
}

// Validate checks the input at now.
func (in *CreateSecretInput) Validate(now time.Time) error {
	if err := validateDescription(in.Description); err != nil {
		return err
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		return Errorf(CodeInvalid, "expires_at must be in the future")
	}
	return nil
}

// AccessToken is an issued access token as Keysmith keeps it: opaque tokens
// always, JWTs only once revoked (until then the signature is the record).
type AccessToken struct {
	ID          string // the jti
	Format      TokenFormat
	ClientID    string
	AppID       string
	Environment Environment
	Scope       string // space-separated
	Audience    string
	IssuedAt    time.Time
	ExpiresAt   *time.Time
	RevokedAt   *time.Time
	// UserID is the person the token acts for (authorization code and
	// refresh grants); "" for client_credentials, where the client acts
	// for itself.
	UserID string
	// GrantID is the grant it was issued under ("" for
	// client_credentials): revoking the grant revokes it.
	GrantID string
}

// AccessTokenRetention is how long the record of an expired access token
// is kept: verify and introspection answer EXPIRED for it meanwhile, and the
// periodic sweep deletes it after (then it is NOT_FOUND), so that issued
// tokens do not pile up forever.
const AccessTokenRetention = time.Hour

// AccessTokenRef is how an access token appears in events.
func AccessTokenRef(t *AccessToken) Ref {
	return Ref{Type: "access_token", ID: t.ID, DisplayName: t.ClientID}
}

// SigningKey is a JWT signing key. The private key is only ever stored
// sealed under the master key.
type SigningKey struct {
	ID         string // the kid
	Algorithm  string // ES256, EdDSA or RS256
	PublicJWK  string // JSON
	PrivateEnc string // sealed private key
	CreatedAt  time.Time
	RetiredAt  *time.Time // when a newer key took over signing
}

// SigningKeyRef is how a signing key appears in events.
func SigningKeyRef(k *SigningKey) Ref {
	return Ref{Type: "signing_key", ID: k.ID, DisplayName: k.Algorithm}
}
