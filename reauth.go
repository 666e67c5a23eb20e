package keysmith

import (
	"context"
	"errors"
	"time"
)

// DefaultReauthWindow is how long a password proof lasts for actions that
// return or replace a secret (Service.ReauthWindow).
const DefaultReauthWindow = 5 * time.Minute

// ReasonReauthenticationRequired names the refusal of RequireRecentAuth in
// HTTP answers ({"error": "reauthentication_required"}).
const ReasonReauthenticationRequired = "reauthentication_required"

func (s *Service) reauthWindow() time.Duration {
	if s.ReauthWindow > 0 {
		return s.ReauthWindow
	}
	return DefaultReauthWindow
}

// RequireRecentAuth is the step-up rule: an action that returns or replaces a
// secret (creating or rotating an API token, an app key or a client secret,
// activating an agent), sets anyone's password (on a new user too) or
// changes one's own e-mail needs, from a browser session, a password proof
// within the reauthentication window. A
// stolen session cookie then mints no credential by itself. API-token
// callers are not asked: the token is the proof. The refusal is
// CodeUnauthorized with Reason ReasonReauthenticationRequired; the caller
// answers with POST /v1/sessions/reauthenticate and tries again.
func (s *Service) RequireRecentAuth(p Principal) error {
	if p.Session == nil {
		return nil
	}
	if s.Now().Sub(p.Session.AuthenticatedAt) <= s.reauthWindow() {
		return nil
	}
	return &Error{Code: CodeUnauthorized, Reason: ReasonReauthenticationRequired,
		Message: "this action returns or changes a secret: confirm your password first (POST /v1/sessions/reauthenticate), then try again"}
}

// IsReauthRequired reports whether err asks the caller to re-authenticate.
func IsReauthRequired(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Reason == ReasonReauthenticationRequired
}

// Reauthenticate renews the caller's session's password proof. Wrong
// passwords count against the account like failed sign-ins (and are
// recorded as such); only browser sessions re-authenticate.
func (s *Service) Reauthenticate(ctx context.Context, p Principal, password string) (time.Time, error) {
	if p.Session == nil {
		return time.Time{}, Errorf(CodeInvalid, "only a browser session re-authenticates; an API token is its own proof")
	}
	if password == "" {
		return time.Time{}, Errorf(CodeInvalid, "password is required")
	}
	if len(password) > 4*MaxPasswordLen {
		return time.Time{}, errReauth
	}
	accountKey := "account:" + p.User.Email
	now := s.Now()
	if err := s.reserveAttempt(ctx, now, accountKey); err != nil {
		return time.Time{}, err
	}
	u, hash, err := s.Store.FindUserByEmail(ctx, p.User.Email)
	if err != nil {
		return time.Time{}, s.releaseAttempt(ctx, accountKey, err)
	}
	ok, err := s.checkPassword(password, hash)
	if err != nil {
		return time.Time{}, s.releaseAttempt(ctx, accountKey, err)
	}
	if !ok || u.ID != p.User.ID || u.Status != UserActive {
		if ferr := s.signInFailed(ctx, u.Email, u, "reauthentication_wrong_password"); ferr != errSignIn {
			return time.Time{}, ferr
		}
		return time.Time{}, errReauth
	}
	if s.AccountLimiter != nil {
		if err := s.AccountLimiter.Reset(ctx, accountKey); err != nil {
			return time.Time{}, err
		}
	}
	if err := s.Store.ReauthenticateSession(ctx, p.Session, now); err != nil {
		return time.Time{}, err
	}
	return now.Add(s.reauthWindow()), nil
}

var errReauth = &Error{Code: CodeUnauthorized, Reason: "invalid_password", Message: "the password is wrong"}
