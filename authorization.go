package keysmith

import (
	"context"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// This file holds the records of the authorization code flow (RFC 6749
// §4.1 with PKCE, RFC 7636): the codes, the consents people give to
// clients, and the refresh tokens. A grant is one code's exchange and every
// token that descends from it; its id is the code's id, and revoking it
// revokes every refresh token and access token issued under it.

// AuthorizationCodeTTL is how long an authorization code may be exchanged.
const AuthorizationCodeTTL = 60 * time.Second

// AuthorizationCode is an issued code as stored (under its hash).
type AuthorizationCode struct {
	ID          string // also the id of the grant its exchange starts
	ClientID    string
	UserID      string
	RedirectURI string
	Scope       string // space-separated, as consented
	// Challenge and ChallengeMethod ("S256" or "plain") are the PKCE
	// challenge; "" when the client sent none (allowed only for
	// confidential clients that do not require PKCE).
	Challenge       string
	ChallengeMethod string
	Nonce           string    // OpenID Connect nonce, echoed in the ID token
	AuthTime        time.Time // when the person last proved their password
	CreatedAt       time.Time
	ExpiresAt       time.Time
	UsedAt          *time.Time
}

// Consent is what a person allowed a client: the scopes, remembered so
// that the consent page is not shown again for the same or fewer scopes.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Covers reports whether the consent includes every scope in requested.
func (c *Consent) Covers(requested []string) bool {
	for _, s := range requested {
		if !slices.Contains(c.Scopes, s) {
			return false
		}
	}
	return true
}

// ConsentRef is how a consent appears in events.
func ConsentRef(c *Consent) Ref {
	return Ref{Type: "oauth_consent", ID: c.UserID + ":" + c.ClientID, DisplayName: c.ClientID}
}

// RefreshToken is a refresh token as stored (under its hash). Every use
// replaces it with a new one of the same grant; presenting one already used
// revokes the grant (RFC 9700 §4.14.2).
type RefreshToken struct {
	ID       string
	GrantID  string
	ClientID string
	UserID   string
	Scope    string
	AuthTime time.Time
	// CreatedAt is when this token was issued; ExpiresAt the end of the
	// grant (absolute, from the code exchange); IdleExpiresAt when it dies
	// unused.
	CreatedAt     time.Time
	ExpiresAt     time.Time
	IdleExpiresAt time.Time
	UsedAt        *time.Time
	RevokedAt     *time.Time
}

// RefreshTokenRef is how a refresh token appears in events.
func RefreshTokenRef(t *RefreshToken) Ref {
	return Ref{Type: "refresh_token", ID: t.ID, DisplayName: t.ClientID}
}

// GrantRef is how a grant (a code's exchange and its descendants)
// appears in events.
func GrantRef(grantID, clientID string) Ref {
	return Ref{Type: "oauth_grant", ID: grantID, DisplayName: clientID}
}

// Why a grant was revoked, in the oauth_grant.revoked event.
const (
	GrantRevokedCodeReused    = "authorization_code_reused"
	GrantRevokedRefreshReused = "refresh_token_reused"
	GrantRevokedConsent       = "consent_revoked"
	GrantRevokedUser          = "user_deactivated"
	GrantRevokedRequest       = "revocation_request" // RFC 7009, of a refresh token
)

// GrantTokens are what a code exchange or a refresh issues, stored in the
// transaction that spends the code or the refresh token: so a second
// presentation, which is refused only once that transaction committed,
// always finds them to revoke.
type GrantTokens struct {
	Access      *AccessToken // nil for none
	AccessHash  Hash         // zero for a JWT (stored without hash)
	Refresh     *RefreshToken
	RefreshHash Hash
}

// AuthorizationStore keeps codes, consents and refresh tokens.
type AuthorizationStore interface {
	// CreateAuthorizationCode stores a code under its hash. Not recorded:
	// issuing credentials to a signed-in person is not a change.
	CreateAuthorizationCode(ctx context.Context, c *AuthorizationCode, h Hash) error
	// FindAuthorizationCodeByHash returns a code, used or not. CodeNotFound
	// if none.
	FindAuthorizationCodeByHash(ctx context.Context, h Hash) (*AuthorizationCode, error)
	// RedeemAuthorizationCode marks the code used at now and stores what its
	// exchange issued, in one transaction, and returns the code.
	// CodeNotFound if there is none; a code used before is returned with
	// CodeConflict (the caller revokes its grant, and finds the first
	// exchange's tokens committed). Of concurrent redeemers exactly one
	// succeeds. An expired code is redeemed like any other: the caller
	// checks ExpiresAt first.
	RedeemAuthorizationCode(ctx context.Context, h Hash, now time.Time, issued GrantTokens) (*AuthorizationCode, error)

	// FindConsent returns a person's consent to a client. CodeNotFound if
	// none.
	FindConsent(ctx context.Context, userID, clientID string) (*Consent, error)
	// FindConsents returns a person's consents, newest first.
	FindConsents(ctx context.Context, userID string) ([]*Consent, error)
	// SaveConsent stores c, adding its scopes to any consent the person
	// gave the client before, and records oauth_consent.granted.
	SaveConsent(ctx context.Context, c *Consent) error
	// RevokeConsent deletes a person's consent to a client and revokes every
	// grant of that person with that client (refresh and access tokens),
	// recording oauth_consent.revoked. CodeNotFound if there was none.
	RevokeConsent(ctx context.Context, userID, clientID string) error

	// CreateRefreshToken stores the first refresh token of a grant.
	CreateRefreshToken(ctx context.Context, t *RefreshToken, h Hash) error
	// FindRefreshTokenByHash returns a refresh token. CodeNotFound if none.
	FindRefreshTokenByHash(ctx context.Context, h Hash) (*RefreshToken, error)
	// RotateRefreshToken marks the token oldID used at
	// issued.Refresh.CreatedAt and stores what the refresh issued (the next
	// refresh token, the access token), atomically. CodeConflict when oldID
	// was already used or revoked (a reuse: the caller revokes the grant);
	// of concurrent rotations of one token exactly one succeeds.
	RotateRefreshToken(ctx context.Context, oldID string, issued GrantTokens) error
	// RevokeGrant revokes every refresh token of the grant and every access
	// token issued under it, publishing each access token's change, and
	// records oauth_grant.revoked with the reason. Revoking twice changes
	// nothing and records nothing.
	RevokeGrant(ctx context.Context, grantID, clientID, reason string) error
	// RevokeUserGrants revokes every grant of a person (their
	// deactivation), as RevokeGrant does.
	RevokeUserGrants(ctx context.Context, userID string) error
	// PruneAuthorizations deletes codes and refresh tokens that expired
	// before the time.
	PruneAuthorizations(ctx context.Context, before time.Time) (int64, error)
}

// ValidateRedirectURIs checks a list of redirect URIs (field names it in
// messages): at most MaxRedirectURIs, no duplicates, each one absolute
// without fragment or user info, https, or http to a loopback address
// (RFC 8252 §7.3), or a private-use scheme with a dot for native apps
// (RFC 8252 §7.1, com.example.app:/callback). Matching is exact, so the
// stored string is what the authorization request must repeat.
func ValidateRedirectURIs(field string, uris []string) error {
	if len(uris) > MaxRedirectURIs {
		return Errorf(CodeInvalid, "%s holds at most %d URIs, got %d", field, MaxRedirectURIs, len(uris))
	}
	for i, raw := range uris {
		if err := validateRedirectURI(raw); err != nil {
			return Errorf(CodeInvalid, "%s[%d]: %s", field, i, ErrorMessage(err))
		}
		if slices.Contains(uris[:i], raw) {
			return Errorf(CodeInvalid, "%s lists %q twice", field, raw)
		}
	}
	return nil
}

func validateRedirectURI(raw string) error {
	if raw == "" || len(raw) > 2000 || !ValidText(raw) || strings.ContainsAny(raw, " \t\r\n\\") {
		return Errorf(CodeInvalid, "a redirect URI is 1 to 2000 characters without spaces or backslashes")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return Errorf(CodeInvalid, "%q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return Errorf(CodeInvalid, "%q has a fragment; a redirect URI may not (RFC 6749 §3.1.2)", raw)
	}
	if u.User != nil {
		return Errorf(CodeInvalid, "%q has a user info part; a redirect URI may not", raw)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return Errorf(CodeInvalid, "%q has no host", raw)
		}
	case "http":
		if !loopbackHost(u.Hostname()) {
			return Errorf(CodeInvalid, "%q uses http to a host that is not loopback: use https (http only for 127.0.0.1, [::1] or localhost)", raw)
		}
	default:
		if !strings.Contains(u.Scheme, ".") || u.Opaque != "" && !strings.HasPrefix(u.Opaque, "/") {
			return Errorf(CodeInvalid, "%q: use https, http to a loopback address, or a private-use scheme such as com.example.app:/callback", raw)
		}
	}
	return nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}
