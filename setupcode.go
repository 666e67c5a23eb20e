package keysmith

import (
	"context"
	"time"
)

// SetupCodeTTL is how long a setup code can be used.
const SetupCodeTTL = time.Hour

// SetupCode lets a user without a password (the first super admin, made by
// the first start) choose one in the browser without ever putting a secret
// in a URL: the code is printed on the server's terminal, pasted into the
// setup page, used once and stored only as its hash.
type SetupCode struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateSetupCode makes a setup code for a user, valid for SetupCodeTTL,
// replacing any earlier one. Only the server's own wiring calls it (the
// first start); no endpoint does.
func (s *Service) CreateSetupCode(ctx context.Context, userID string) (*SetupCode, Secret, error) {
	now := s.Now()
	secret, hash := NewSetupCodeSecret()
	c := &SetupCode{ID: NewID("stc"), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(SetupCodeTTL)}
	if err := s.Store.CreateSetupCode(ctx, c, hash); err != nil {
		return nil, Secret{}, err
	}
	return c, secret, nil
}

var errSetupCode = Errorf(CodeUnauthorized, "the setup code is not valid: it is unknown, was used already, or is more than an hour old. Ask whoever runs Keysmith for a new password with `keysmith admin set-password`")

// RedeemSetupCode sets the password of the setup code's user and uses the
// code up. A code of the wrong form is refused before any lookup.
func (s *Service) RedeemSetupCode(ctx context.Context, code, password string) (*User, error) {
	h, ok := parseCredential(code, CredentialSetupCode)
	if !ok {
		return nil, errSetupCode
	}
	if err := validatePassword(password); err != nil {
		return nil, err
	}
	ph, err := s.hashPassword(password)
	if err != nil {
		return nil, err
	}
	u, err := s.Store.RedeemSetupCode(ctx, h, ph, s.Now())
	if ErrorCode(err) == CodeUnauthorized {
		return nil, errSetupCode
	}
	return u, err
}

// SetPasswordByEmail sets a user's password for the operator of the server
// (`keysmith admin set-password`), who holds the database and needs no
// principal: it is how a lost password, the only super admin's included,
// is recovered. The change is recorded as user.updated and ends the user's
// sessions.
func (s *Service) SetPasswordByEmail(ctx context.Context, email, password string) (*User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := validatePassword(password); err != nil {
		return nil, err
	}
	u, _, err := s.Store.FindUserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	if u.Type != UserPerson {
		return nil, Errorf(CodeInvalid, "%s is a service account; service accounts authenticate with API tokens, not passwords", email)
	}
	ph, err := s.hashPassword(password)
	if err != nil {
		return nil, err
	}
	return s.Store.UpdateUser(ctx, u.ID, UserUpdate{PasswordHash: &ph})
}
