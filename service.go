package keysmith

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Principal is who is calling: the user, and the token they authenticated
// with (nil for a session). Permissions are always those of User as loaded for
// this request, never a copy stored with the token.
type Principal struct {
	User    *User
	Token   *Token
	Session *Session // nil for a token
}

// UsageSource reports token uses seen by this process but not yet written to
// the store, so that reads show them without waiting for the next flush.
type UsageSource interface {
	PendingUse(tokenID string) (TokenUse, bool)
}

// Service carries out the operations of Keysmith: it validates input, checks
// the caller's permissions, generates secrets, and calls the store. Transports
// (HTTP, CLI) decode, call one method, and encode.
type Service struct {
	Store Store
	Now   Clock
	Usage UsageSource // optional
	// IdleTTL is the idle expiry of tokens created without their own;
	// default DefaultIdleTTL.
	IdleTTL time.Duration
	// MaxClientSecrets caps the secrets one OAuth client holds at once;
	// 0 means DefaultMaxClientSecrets.
	MaxClientSecrets int

	// Signing in (service_sessions.go). Passwords is required for
	// passwords and sessions; the limiters are optional (no limit).
	Passwords      PasswordHasher
	AccountLimiter FailureLimiter // keyed by e-mail address
	SessionTTL     time.Duration  // default DefaultSessionTTL
	// ReauthWindow is how recently a browser session must have proved its
	// password for an action that returns or replaces a secret (reauth.go);
	// default DefaultReauthWindow.
	ReauthWindow time.Duration

	// KeyManagers registers clients at external key managers and reads
	// their discovery documents (service_keymanagers.go); nil: external
	// key managers cannot be added or used.
	KeyManagers KeyManagerConnector
	// Sealer seals the secrets of key managers and of their clients'
	// registrations under the master key.
	Sealer Sealer
	// OwnIssuer is this Keysmith's issuer, which no key manager may claim.
	OwnIssuer string
	// SigningKeys rotates the JWT signing keys (service_signingkeys.go);
	// nil: they are not rotated through the service.
	SigningKeys SigningKeyRotator

	dummyMu   sync.Mutex
	dummyHash string

	// signInFailures counts failed sign-ins by reason, for metrics
	// (SignInFailures); counting is an atomic add on a path that hashes a
	// password anyway.
	signInFailures [len(SignInFailureReasons)]atomic.Uint64
}

// idleTTL is the default idle TTL of new tokens.
func (s *Service) idleTTL() time.Duration {
	if s.IdleTTL == 0 {
		return DefaultIdleTTL
	}
	return s.IdleTTL
}

// Bootstrap creates the first super admin and one API token for them.
// CodeConflict if the database has users already.
func (s *Service) Bootstrap(ctx context.Context, email string) (*User, *Token, Secret, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, nil, Secret{}, err
	}
	now := s.Now()
	u := &User{ID: NewID("usr"), Email: email, Name: "Administrator", Role: RoleSuperAdmin,
		Type: UserPerson, Status: UserActive, CreatedAt: now, UpdatedAt: now}
	secret, hash := NewAPITokenSecret()
	t := NewToken(Token{ID: NewID("tok"), Name: "bootstrap", Type: TokenUser, OwnerID: u.ID, CreatedAt: now, CreatedBy: u.ID,
		IdleTTL: s.idleTTL()})
	if err := s.Store.Bootstrap(ctx, u, t, hash); err != nil {
		return nil, nil, Secret{}, err
	}
	return u, t, secret, nil
}
