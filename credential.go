package keysmith

import (
	"regexp"
	"strconv"
	"strings"
)

// Every kind of secret Keysmith issues, in one place: its prefix, length and
// checksum, and the regular expression a secret scanner can look for. A new
// kind of credential is one more form here (and a line in the README's list).
//
// The prefixes are one family, "ks", a letter naming the kind, "_": "ks_"
// API tokens, "ksa_" access tokens, "ksb_" browser sessions, "ksc_" client
// secrets, "ksk_" app API keys. None is the start of another, so a leaked secret says what it is
// and a scanner never takes one kind for another. "kss_" named both sessions
// and client secrets before they had a checksum; it is no longer issued, and
// what was issued with it is still accepted (see the legacy forms).
//
// Every issued form ends in a checksum: the CRC-32 of the random part as 6
// base62 characters, as GitHub's tokens have. Anyone can compute it, so it
// proves nothing about a secret; it lets Keysmith turn away typos and
// garbage without a lookup, and scanners recognise a Keysmith secret with
// few false positives.

// CredentialKind names a kind of credential.
type CredentialKind string

// The credential kinds.
const (
	CredentialAPIToken     CredentialKind = "api_token"
	CredentialAccessToken  CredentialKind = "access_token" // opaque OAuth access tokens; JWTs are not prefixed
	CredentialSession      CredentialKind = "session"
	CredentialClientSecret CredentialKind = "client_secret"
	// CredentialAppKey is an application's API key (a Token of type
	// TokenAppKey): verified like an API token, never accepted by the
	// management API.
	CredentialAppKey CredentialKind = "app_key"
	// CredentialSetupCode is a one-time code that sets the first super
	// admin's password (SetupCodeForm).
	CredentialSetupCode CredentialKind = "setup_code"
	// CredentialJWT is an OAuth access token in JWT format (a compact JWS):
	// it has no prefix, no form here, and its signature is checked by the
	// oauth package.
	CredentialJWT CredentialKind = "jwt"
	// CredentialAuthorizationCode is an OAuth authorization code: single
	// use, valid 60 seconds, exchanged at the token endpoint.
	CredentialAuthorizationCode CredentialKind = "authorization_code"
	// CredentialRefreshToken is an OAuth refresh token: exchanged at the
	// token endpoint for new tokens, rotated on every use.
	CredentialRefreshToken CredentialKind = "refresh_token"
	// CredentialRegistrationToken is an RFC 7591 initial access token: it
	// lets whoever holds it register OAuth clients in one application and
	// environment, a bounded number of times (see registration.go).
	CredentialRegistrationToken CredentialKind = "registration_token"
	// CredentialRegistrationAccess is an RFC 7592 registration access
	// token: it reads, replaces and deletes the one client it was issued
	// with.
	CredentialRegistrationAccess CredentialKind = "registration_access_token"
)

// CredentialForm is the shape of one kind of credential: Prefix, RandomLen
// base62 characters drawn uniformly with crypto/rand, then, with Checksum,
// 6 base62 characters of the CRC-32 of the random part.
type CredentialForm struct {
	Kind      CredentialKind
	Prefix    string
	RandomLen int
	Checksum  bool
	// Legacy forms are accepted where they were issued before, and never
	// issued again.
	Legacy bool
}

const checksumLen = 6

// The forms. Issued ones first.
var (
	APITokenForm     = CredentialForm{Kind: CredentialAPIToken, Prefix: TokenPrefix, RandomLen: 32, Checksum: true}
	AccessTokenForm  = CredentialForm{Kind: CredentialAccessToken, Prefix: OpaqueTokenPrefix, RandomLen: 32, Checksum: true}
	SessionForm      = CredentialForm{Kind: CredentialSession, Prefix: SessionPrefix, RandomLen: 32, Checksum: true}
	ClientSecretForm = CredentialForm{Kind: CredentialClientSecret, Prefix: ClientSecretPrefix, RandomLen: 43, Checksum: true}
	AppKeyForm       = CredentialForm{Kind: CredentialAppKey, Prefix: AppKeyPrefix, RandomLen: 32, Checksum: true}
	SetupCodeForm    = CredentialForm{Kind: CredentialSetupCode, Prefix: SetupCodePrefix, RandomLen: 32, Checksum: true}
	AuthCodeForm     = CredentialForm{Kind: CredentialAuthorizationCode, Prefix: AuthCodePrefix, RandomLen: 32, Checksum: true}
	RefreshTokenForm = CredentialForm{Kind: CredentialRefreshToken, Prefix: RefreshTokenPrefix, RandomLen: 32, Checksum: true}
	// RegistrationTokenForm and RegistrationAccessForm are dynamic client
	// registration's credentials (RFC 7591 and 7592).
	RegistrationTokenForm  = CredentialForm{Kind: CredentialRegistrationToken, Prefix: RegistrationTokenPrefix, RandomLen: 32, Checksum: true}
	RegistrationAccessForm = CredentialForm{Kind: CredentialRegistrationAccess, Prefix: RegistrationAccessPrefix, RandomLen: 32, Checksum: true}
	// LegacySessionForm was issued before sessions had their own prefix;
	// such sessions last until they expire.
	LegacySessionForm = CredentialForm{Kind: CredentialSession, Prefix: "kss_", RandomLen: 32, Legacy: true}
	// LegacyClientSecretForm was issued before client secrets had their own
	// prefix; such secrets authenticate until they are deleted or reset.
	LegacyClientSecretForm = CredentialForm{Kind: CredentialClientSecret, Prefix: "kss_", RandomLen: 43, Legacy: true}
)

// CredentialForms lists every form Keysmith issues or accepts.
var CredentialForms = []CredentialForm{APITokenForm, AccessTokenForm, SessionForm, ClientSecretForm, AppKeyForm, SetupCodeForm,
	AuthCodeForm, RefreshTokenForm, RegistrationTokenForm, RegistrationAccessForm, LegacySessionForm, LegacyClientSecretForm}

// Len is the length of every credential of the form.
func (f CredentialForm) Len() int {
	n := len(f.Prefix) + f.RandomLen
	if f.Checksum {
		n += checksumLen
	}
	return n
}

// Pattern is a regular expression (RE2 and PCRE alike) that matches a
// credential of the form in text, for secret scanners. It does not check
// the checksum; a scanner that wants fewer false positives recomputes it.
func (f CredentialForm) Pattern() string {
	return `\b` + regexp.QuoteMeta(f.Prefix) + `[0-9A-Za-z]{` + strconv.Itoa(f.Len()-len(f.Prefix)) + `}\b`
}

// generate makes a fresh credential of the form and its hash.
func (f CredentialForm) generate() (Secret, Hash) {
	body := randomBase62(f.RandomLen)
	s := f.Prefix + body
	if f.Checksum {
		s += base62Checksum(body)
	}
	return NewSecret(s), HashOf(s)
}

// Matches reports whether s has the form: prefix, length, alphabet and
// checksum. No lookup is needed to say so.
func (f CredentialForm) Matches(s string) bool {
	if len(s) != f.Len() || !strings.HasPrefix(s, f.Prefix) {
		return false
	}
	body := s[len(f.Prefix) : len(f.Prefix)+f.RandomLen]
	if !isBase62(body) {
		return false
	}
	if !f.Checksum {
		return true
	}
	sum := checksumOf(body)
	return string(sum[:]) == s[len(s)-checksumLen:] // compared without allocating
}

// Classify says which kind of Keysmith credential raw is, by its form alone
// (prefix, length, alphabet, checksum); ok is false for anything that
// cannot be one.
func Classify(raw string) (kind CredentialKind, ok bool) {
	for _, f := range CredentialForms {
		if f.Matches(raw) {
			return f.Kind, true
		}
	}
	return "", false
}

// Claims says which kind of credential raw presents itself as, before its
// form is checked, so that it can be handed to the check for that kind: the
// kind whose prefix it starts with (a legacy "kss_" secret is a client
// secret when it has that length, else a session), else CredentialJWT when
// it has the three dot-separated parts of a compact JWS; ok is false for
// anything else. Classify, stricter, also checks the form.
func Claims(raw string) (kind CredentialKind, ok bool) {
	// By prefix alone: a well-formed credential of a form starts with its
	// prefix, and no prefix starts another, so Classify would agree on
	// every credential it accepts. Verify asks this of every credential.
	for _, f := range CredentialForms {
		if strings.HasPrefix(raw, f.Prefix) {
			if f.Legacy && f.Kind == CredentialSession && len(raw) == LegacyClientSecretForm.Len() {
				continue
			}
			return f.Kind, true
		}
	}
	if strings.Count(raw, ".") == 2 {
		return CredentialJWT, true
	}
	return "", false
}

// parseCredential returns the hash of raw when Classify finds it a
// well-formed credential of kind.
func parseCredential(raw string, kind CredentialKind) (Hash, bool) {
	if k, ok := Classify(raw); ok && k == kind {
		return HashOf(raw), true
	}
	return Hash{}, false
}

// API token format (APITokenForm): "ks_", 32 random base62
// characters (190 bits from crypto/rand), then a 6-character base62 CRC-32 of
// the random part, as GitHub does. The checksum lets verify reject typos and
// garbage without a lookup, and lets secret scanners recognise a Keysmith
// token with few false positives.
const (
	// TokenPrefix starts every API token.
	TokenPrefix = "ks_"
	// TokenLen is the length of every API token.
	TokenLen = 3 + 32 + checksumLen
)

// NewAPITokenSecret generates an API token and its hash.
func NewAPITokenSecret() (Secret, Hash) { return APITokenForm.generate() }

// ParseAPIToken checks the form of a presented API token (prefix, length,
// alphabet, checksum) and returns its hash. ok is false for anything that
// cannot be a Keysmith token; no lookup is needed to say so.
func ParseAPIToken(s string) (h Hash, ok bool) { return parseCredential(s, CredentialAPIToken) }

// SessionPrefix starts every session secret issued now (SessionForm), so
// that a leaked one is recognisable and never mistaken for another kind.
const SessionPrefix = "ksb_"

// NewSessionSecret generates a session secret (190 bits from crypto/rand,
// and a checksum) and its hash.
func NewSessionSecret() (Secret, Hash) { return SessionForm.generate() }

// ParseSessionSecret checks the form of a presented session secret and
// returns its hash. Sessions issued before they had their own prefix
// (LegacySessionForm) are accepted until they expire.
func ParseSessionSecret(s string) (Hash, bool) {
	return parseCredential(s, CredentialSession)
}

// Client secret format (ClientSecretForm): "ksc_", 43
// base62 characters from crypto/rand (256 bits), a 6-character checksum.
// Secrets are machine-generated and high-entropy, so SHA-256 is enough to
// store them; a slow hash would only cap token issuance.
const ClientSecretPrefix = "ksc_"

// NewClientSecret generates a client secret and its hash.
func NewClientSecret() (Secret, Hash) { return ClientSecretForm.generate() }

// ParseClientSecret checks the form of a presented client secret and returns
// its hash. Secrets issued before client secrets had their own prefix
// (LegacyClientSecretForm, "kss_" without a checksum) still authenticate.
func ParseClientSecret(s string) (Hash, bool) {
	return parseCredential(s, CredentialClientSecret)
}

// Opaque access token format (AccessTokenForm): "ksa_",
// 32 base62 characters, a 6-character checksum, like API tokens.
const OpaqueTokenPrefix = "ksa_"

// NewOpaqueAccessToken generates an opaque access token and its hash.
func NewOpaqueAccessToken() (Secret, Hash) { return AccessTokenForm.generate() }

// ParseOpaqueAccessToken checks the form of an opaque access token and
// returns its hash.
func ParseOpaqueAccessToken(s string) (h Hash, ok bool) {
	return parseCredential(s, CredentialAccessToken)
}

// App API key format (AppKeyForm): "ksk_", 32 base62 characters (190 bits
// from crypto/rand), a 6-character checksum, like API tokens.
const AppKeyPrefix = "ksk_"

// NewAppKeySecret generates an app API key and its hash.
func NewAppKeySecret() (Secret, Hash) { return AppKeyForm.generate() }

// ParseAppKey checks the form of a presented app API key and returns its
// hash.
func ParseAppKey(s string) (Hash, bool) { return parseCredential(s, CredentialAppKey) }

// Setup code format (SetupCodeForm): "ksu_", 32 base62 characters (190 bits
// from crypto/rand), a 6-character checksum. A setup code lets the first
// super admin choose a password in the browser; see setupcode.go.
const SetupCodePrefix = "ksu_"

// NewSetupCodeSecret generates a setup code and its hash.
func NewSetupCodeSecret() (Secret, Hash) { return SetupCodeForm.generate() }

// Authorization code format (AuthCodeForm): "ksg_" (a grant), 32 base62
// characters, a 6-character checksum.
const AuthCodePrefix = "ksg_"

// NewAuthorizationCode generates an authorization code and its hash.
func NewAuthorizationCode() (Secret, Hash) { return AuthCodeForm.generate() }

// ParseAuthorizationCode checks the form of an authorization code and
// returns its hash.
func ParseAuthorizationCode(s string) (Hash, bool) {
	return parseCredential(s, CredentialAuthorizationCode)
}

// Refresh token format (RefreshTokenForm): "ksr_", 32 base62 characters, a
// 6-character checksum.
const RefreshTokenPrefix = "ksr_"

// NewRefreshToken generates a refresh token and its hash.
func NewRefreshToken() (Secret, Hash) { return RefreshTokenForm.generate() }

// ParseRefreshToken checks the form of a refresh token and returns its
// hash.
func ParseRefreshToken(s string) (Hash, bool) { return parseCredential(s, CredentialRefreshToken) }

// Initial access token format (RegistrationTokenForm): "ksi_", 32 base62
// characters (190 bits from crypto/rand), a 6-character checksum. An org or
// super admin creates one to let a tool register clients (RFC 7591).
const RegistrationTokenPrefix = "ksi_"

// NewRegistrationToken generates an initial access token and its hash.
func NewRegistrationToken() (Secret, Hash) { return RegistrationTokenForm.generate() }

// ParseRegistrationToken checks the form of an initial access token and
// returns its hash.
func ParseRegistrationToken(s string) (Hash, bool) {
	return parseCredential(s, CredentialRegistrationToken)
}

// Registration access token format (RegistrationAccessForm): "ksm_" (it
// manages one client), 32 base62 characters, a 6-character checksum.
const RegistrationAccessPrefix = "ksm_"

// NewRegistrationAccessToken generates a registration access token and its
// hash.
func NewRegistrationAccessToken() (Secret, Hash) { return RegistrationAccessForm.generate() }

// ParseRegistrationAccessToken checks the form of a registration access
// token and returns its hash.
func ParseRegistrationAccessToken(s string) (Hash, bool) {
	return parseCredential(s, CredentialRegistrationAccess)
}
