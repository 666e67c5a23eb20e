package keysmith

import (
	"context"
	"slices"
	"time"
)

// DefaultSessionTTL is how long a browser session lasts: a working day.
const DefaultSessionTTL = 12 * time.Hour

// SignInInput is what a browser sends to sign in, and where from.
type SignInInput struct {
	Email     string
	Password  string
	ClientIP  string
	UserAgent string
}

// errSignIn is the one answer to every failed sign-in, so that it does not
// tell whether the account exists, has a password, or is active.
var errSignIn = Errorf(CodeUnauthorized, "email or password is wrong")

// SignIn checks a person's e-mail and password and starts a session. It
// answers CodeRateLimited (with RetryAfter) while the account is slowed down
// after failures, before any password is checked. Each attempt is counted as
// a failure of the account before its password is checked, and the count is
// reset when the password is right, so that attempts sent at once are
// limited exactly like attempts sent one after another.
// Unknown accounts, service accounts, accounts without a password and
// deactivated accounts fail like a wrong password, after hashing just as
// long, so neither the answer nor its timing reveals which it was.
func (s *Service) SignIn(ctx context.Context, in SignInInput) (*User, *Session, Secret, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, nil, Secret{}, err
	}
	if in.Password == "" {
		return nil, nil, Secret{}, Errorf(CodeInvalid, "password is required")
	}
	if len(in.Password) > 4*MaxPasswordLen {
		return nil, nil, Secret{}, errSignIn
	}
	accountKey := "account:" + email
	now := s.Now()
	if err := s.reserveAttempt(ctx, now, accountKey); err != nil {
		return nil, nil, Secret{}, err
	}
	u, hash, err := s.Store.FindUserByEmail(ctx, email)
	if err != nil && ErrorCode(err) != CodeNotFound {
		return nil, nil, Secret{}, s.releaseAttempt(ctx, accountKey, err)
	}
	reason := ""
	switch {
	case u == nil:
		reason, hash = "unknown_user", ""
	case u.Type != UserPerson:
		reason, hash = "service_account", ""
	case hash == "":
		reason = "no_password"
	case u.Status != UserActive:
		reason = "inactive"
	}
	ok, err := s.checkPassword(in.Password, hash)
	if err != nil { // the hasher was busy (CodeRateLimited), or a hash is corrupt
		return nil, nil, Secret{}, s.releaseAttempt(ctx, accountKey, err)
	}
	if !ok || reason != "" {
		if reason == "" {
			reason = "wrong_password"
		}
		return nil, nil, Secret{}, s.signInFailed(ctx, email, u, reason)
	}
	if s.AccountLimiter != nil {
		if err := s.AccountLimiter.Reset(ctx, accountKey); err != nil {
			return nil, nil, Secret{}, err
		}
	}
	ttl := s.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	secret, h := NewSessionSecret()
	sess := &Session{ID: NewID("ses"), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(ttl),
		ClientIP: in.ClientIP, UserAgent: in.UserAgent}
	if err := s.Store.CreateSession(ctx, sess, h); err != nil {
		return nil, nil, Secret{}, err
	}
	return u, sess, secret, nil
}

// reserveAttempt answers CodeRateLimited while the account must wait, and
// otherwise counts this attempt as a failure until it proves otherwise.
// (Failures per source address are limited by the transport, with the
// shared per-address limiter, before the service is called.)
func (s *Service) reserveAttempt(ctx context.Context, now time.Time, accountKey string) error {
	if s.AccountLimiter == nil {
		return nil
	}
	wait, err := s.AccountLimiter.Attempt(ctx, accountKey, now)
	if err != nil {
		return err
	}
	if wait > 0 {
		return &Error{Code: CodeRateLimited, RetryAfter: wait,
			Message: "too many failed sign-ins for this account; wait before trying again (see Retry-After)"}
	}
	return nil
}

// releaseAttempt takes back the account's reserved attempt, which ended in
// err before the password was checked, and returns err.
func (s *Service) releaseAttempt(ctx context.Context, accountKey string, err error) error {
	if s.AccountLimiter != nil {
		if rerr := s.AccountLimiter.Release(ctx, accountKey); rerr != nil {
			return rerr
		}
	}
	return err
}

// signInFailed records the failure in the system log (with the reason,
// never the password; reserveAttempt has counted it), then answers
// errSignIn.
func (s *Service) signInFailed(ctx context.Context, email string, u *User, reason string) error {
	if i := slices.Index(SignInFailureReasons[:], reason); i >= 0 {
		s.signInFailures[i].Add(1)
	}
	target := Ref{Type: "user", DisplayName: email}
	if u != nil {
		target = UserRef(u)
	}
	if err := s.Store.RecordEvent(ctx, EventUserSignInFailed, OutcomeFailure,
		map[string]any{"reason": reason, "email": email}, target); err != nil {
		return err
	}
	return errSignIn
}

// SignInFailureReasons are the reasons a sign-in fails with a wrong
// password's answer, as the system log records them.
var SignInFailureReasons = [...]string{"unknown_user", "service_account", "no_password", "inactive", "wrong_password"}

// SignInFailures returns how many sign-ins failed since the Service was
// made, per reason (in the order of SignInFailureReasons), for metrics. The
// count is a reason, never an address or an account: it says how often, not
// who.
func (s *Service) SignInFailures() [len(SignInFailureReasons)]uint64 {
	var out [len(SignInFailureReasons)]uint64
	for i := range out {
		out[i] = s.signInFailures[i].Load()
	}
	return out
}

// checkPassword verifies password against hash, or against a dummy hash of
// the same cost when there is none, so that both take as long.
func (s *Service) checkPassword(password, hash string) (bool, error) {
	if s.Passwords == nil {
		return false, Errorf(CodeInternal, "no password hasher configured")
	}
	if hash == "" {
		dummy, err := s.dummy()
		if err != nil {
			return false, err
		}
		_, err = s.Passwords.Verify(password, dummy)
		return false, err
	}
	return s.Passwords.Verify(password, hash)
}

// dummy returns the hash that sign-ins without a password hash are checked
// against, making it on first use. A failure (all hashing slots busy) is
// returned and not kept, so the next sign-in makes it again: a kept empty
// hash would answer unknown accounts at once and tell them apart.
func (s *Service) dummy() (string, error) {
	s.dummyMu.Lock()
	defer s.dummyMu.Unlock()
	if s.dummyHash == "" {
		h, err := s.Passwords.Hash("keysmith dummy password")
		if err != nil {
			return "", err
		}
		s.dummyHash = h
	}
	return s.dummyHash, nil
}

func (s *Service) hashPassword(password string) (string, error) {
	if s.Passwords == nil {
		return "", Errorf(CodeInternal, "no password hasher configured")
	}
	return s.Passwords.Hash(password)
}

// AuthenticateSession returns the principal of a session cookie's secret.
// CodeUnauthorized for an unknown or expired session or an inactive user.
func (s *Service) AuthenticateSession(ctx context.Context, raw string) (Principal, error) {
	h, ok := ParseSessionSecret(raw)
	if !ok {
		return Principal{}, Errorf(CodeUnauthorized, "the session cookie is malformed; sign in again")
	}
	sess, err := s.Store.FindSessionByHash(ctx, h)
	if ErrorCode(err) == CodeNotFound {
		return Principal{}, Errorf(CodeUnauthorized, "the session has ended; sign in again")
	}
	if err != nil {
		return Principal{}, err
	}
	if !s.Now().Before(sess.ExpiresAt) {
		return Principal{}, Errorf(CodeUnauthorized, "the session has expired; sign in again")
	}
	u, err := s.Store.FindUserByID(ctx, sess.UserID)
	if err != nil {
		return Principal{}, err
	}
	if u.Status != UserActive {
		return Principal{}, Errorf(CodeUnauthorized, "the account is deactivated")
	}
	return Principal{User: u, Session: sess}, nil
}

// SignOut ends the caller's session. A caller authenticated by an API token
// has none: CodeInvalid.
func (s *Service) SignOut(ctx context.Context, p Principal) error {
	if p.Session == nil {
		return Errorf(CodeInvalid, "this request is authenticated by an API token, not a session; revoke tokens with DELETE /v1/tokens/{id}")
	}
	return s.Store.DeleteSession(ctx, p.Session)
}

// MaxListedSessions bounds the sessions listed for one user.
const MaxListedSessions = 100

// FindSessions returns the caller's own sessions that have not expired,
// newest first. Nobody lists another user's sessions.
func (s *Service) FindSessions(ctx context.Context, p Principal) ([]*Session, error) {
	return s.Store.FindSessionsOfUser(ctx, p.User.ID, s.Now())
}

// EndSessions signs the caller out everywhere: every session of theirs ends,
// the one making the request included. Their API tokens are not touched.
func (s *Service) EndSessions(ctx context.Context, p Principal) (int, error) {
	if err := CanChangeCredentials(p); err != nil {
		return 0, err
	}
	return s.Store.DeleteSessionsOfUser(ctx, p.User.ID)
}
