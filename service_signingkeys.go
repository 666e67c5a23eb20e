package keysmith

import "context"

// SigningKeyRotator makes a new JWT signing key that signs from then on
// (oauth.Authority implements it): it seals the private half, retires the
// key that was signing, records the event and announces ChangeSigningKey,
// so that every replica signs with the new key and publishes it.
type SigningKeyRotator interface {
	Rotate(ctx context.Context, alg string) (*SigningKey, error)
}

// CanManageSigningKeys: only super admins list and rotate the JWT signing
// keys. The keys sign every access token Keysmith issues, so they are the
// server's own credentials, not any application's.
func CanManageSigningKeys(u *User) bool { return u.Role == RoleSuperAdmin }

// FindSigningKeys returns the signing keys as the database holds them,
// newest first: what every replica signs with and publishes. The sealed
// private halves come along; callers must not show them. CodeForbidden
// unless the caller is a super admin.
func (s *Service) FindSigningKeys(ctx context.Context, p Principal) ([]*SigningKey, error) {
	if !CanManageSigningKeys(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not read the signing keys; super admins may", p.User.Role)
	}
	return s.Store.FindSigningKeys(ctx)
}

// RotateSigningKey makes a new signing key of alg ("" for that of the key
// signing now, as `keysmith signing-keys rotate` does) that signs from now
// on; the retired key stays published until every token it signed has
// expired, so those tokens still verify. Rotating replaces a secret, so a
// browser session needs a recent password proof (RequireRecentAuth).
// CodeForbidden unless the caller is a super admin; CodeInvalid for an
// unknown algorithm.
func (s *Service) RotateSigningKey(ctx context.Context, p Principal, alg string) (*SigningKey, error) {
	if !CanManageSigningKeys(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not rotate the signing keys; super admins may", p.User.Role)
	}
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	if err := s.RequireRecentAuth(p); err != nil {
		return nil, err
	}
	if s.SigningKeys == nil {
		return nil, Errorf(CodeInternal, "signing keys cannot be rotated by this server")
	}
	if alg == "" {
		keys, err := s.Store.FindSigningKeys(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k.RetiredAt == nil {
				alg = k.Algorithm
				break
			}
		}
	}
	return s.SigningKeys.Rotate(ctx, alg)
}
