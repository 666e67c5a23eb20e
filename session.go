package keysmith

import (
	"context"
	"time"
)

// Session is a signed-in browser: the cookie's secret is shown once, in the
// Set-Cookie header of the sign-in response, and stored only as its hash.
type Session struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	ClientIP  string
	UserAgent string
	// AuthenticatedAt is when the user last proved their password in this
	// session: at sign-in, and at each re-authentication.
	AuthenticatedAt time.Time
}

// PasswordHasher turns passwords into stored hashes and checks them. The
// implementation (argon2id) lives outside the domain, with its dependency.
type PasswordHasher interface {
	// Hash returns the encoded hash of a password, salt and parameters
	// included.
	Hash(password string) (string, error)
	// Verify reports whether password matches encoded, in time that does
	// not depend on where they differ.
	Verify(password, encoded string) (bool, error)
}

// FailureLimiter slows down guessing: it counts failed attempts per key
// (an account, an address) and says how long the next attempt must wait.
// The in-process implementation serves one replica; a shared one (Redis)
// can replace it without the service noticing.
type FailureLimiter interface {
	// Attempt reserves an attempt for key at now. While key must still
	// wait it counts nothing and returns the wait; otherwise it counts the
	// attempt as a failure before the credentials are checked and returns
	// 0, so that attempts made at once are counted like attempts made one
	// after another (a check first and a count after would let a burst all
	// pass the check).
	Attempt(ctx context.Context, key string, now time.Time) (time.Duration, error)
	// Release takes back an attempt that Attempt counted but that ended
	// before its credentials were checked (the password hasher was busy,
	// the store failed), so that it costs the account nothing.
	Release(ctx context.Context, key string) error
	// Reset forgets key's failures, after a success.
	Reset(ctx context.Context, key string) error
}
