package keysmith

import (
	"context"
	"time"
)

// CreateAppKey creates an API key for an application and returns it with
// its secret, shown once. The key belongs to the application's owner,
// whoever creates it; only those who may receive the application's
// credentials create keys (CanManageAppKeys), and only with scopes they
// may grant.
func (s *Service) CreateAppKey(ctx context.Context, p Principal, appID string, in CreateAppKeyInput) (*Token, Secret, error) {
	a, err := s.keyManagingApp(ctx, p, appID)
	if err != nil {
		return nil, Secret{}, err
	}
	now := s.Now()
	env, scopes, err := in.Validate(now)
	if err != nil {
		return nil, Secret{}, err
	}
	if err := s.checkGrant(ctx, p, nil, scopes); err != nil {
		return nil, Secret{}, err
	}
	if err := s.RequireRecentAuth(p); err != nil {
		return nil, Secret{}, err
	}
	secret, hash := NewAppKeySecret()
	t := Token{ID: NewID("key"), Name: in.Name, Type: TokenAppKey, OwnerID: a.OwnerID, AppID: a.ID, Environment: env,
		Scopes: scopes, CreatedAt: now, CreatedBy: p.User.ID, ExpiresAt: truncate(in.ExpiresAt), IdleTTL: s.idleTTL()}
	if in.IdleTTL != nil {
		t.IdleTTL = *in.IdleTTL
	}
	if in.Meta != nil {
		t.Meta, _ = NormalizeMeta(in.Meta) // validated above
	}
	if in.Network != nil {
		t.Network = *in.Network
	}
	if in.RateLimitPercent != nil {
		t.RateLimitPercent = *in.RateLimitPercent
	}
	created := NewToken(t)
	if err := s.Store.CreateToken(WithGranter(ctx, p.User), created, hash); err != nil {
		return nil, Secret{}, err
	}
	return created, secret, nil
}

// FindAppKeys lists an application's keys, masked, for whoever sees the
// application. f selects by name, status and order as for tokens.
func (s *Service) FindAppKeys(ctx context.Context, p Principal, appID string, f TokenFilter) ([]*Token, string, error) {
	a, err := s.FindAppByID(ctx, p, appID)
	if err != nil {
		return nil, "", err
	}
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	f.Now, f.AppID, f.OwnerID, f.Type = s.Now(), a.ID, "", ""
	ts, next, err := s.Store.FindTokens(ctx, f)
	for _, t := range ts {
		s.overlayUse(t)
	}
	return ts, next, err
}

// FindAppKeyByID returns a key of the application, for whoever sees the
// application. A key of another application, or an id that is no key, is
// CodeNotFound.
func (s *Service) FindAppKeyByID(ctx context.Context, p Principal, appID, id string) (*Token, error) {
	a, err := s.FindAppByID(ctx, p, appID)
	if err != nil {
		return nil, err
	}
	return s.appKey(ctx, a, id)
}

// UpdateAppKey changes a key's name, enabled state, meta, network policy,
// rate-limit share or scopes. A revoked key cannot be changed.
func (s *Service) UpdateAppKey(ctx context.Context, p Principal, appID, id string, u AppKeyUpdate) (*Token, error) {
	a, err := s.keyManagingApp(ctx, p, appID)
	if err != nil {
		return nil, err
	}
	t, err := s.appKey(ctx, a, id)
	if err != nil {
		return nil, err
	}
	tu, err := u.Validate()
	if err != nil {
		return nil, err
	}
	return s.applyTokenUpdate(ctx, p, t, tu)
}

// RotateAppKey gives a key a new secret and returns it, shown once; the old
// secret keeps working for grace (0..MaxRotationGrace), then verify says
// REVOKED.
func (s *Service) RotateAppKey(ctx context.Context, p Principal, appID, id string, grace time.Duration) (*Token, Secret, error) {
	a, err := s.keyManagingApp(ctx, p, appID)
	if err != nil {
		return nil, Secret{}, err
	}
	if grace < 0 || grace > MaxRotationGrace {
		return nil, Secret{}, Errorf(CodeInvalid, "grace_seconds must be between 0 and %d", int64(MaxRotationGrace/time.Second))
	}
	t, err := s.appKey(ctx, a, id)
	if err != nil {
		return nil, Secret{}, err
	}
	now := s.Now()
	if st := t.Status(now); st == TokenRevoked || st == TokenExpired {
		return nil, Secret{}, Errorf(CodeConflict, "app key %s is %s and cannot be rotated; create a new one", id, st)
	}
	if err := s.RequireRecentAuth(p); err != nil {
		return nil, Secret{}, err
	}
	secret, hash := NewAppKeySecret()
	t, err = s.Store.RotateToken(ctx, id, hash, now.Add(grace))
	if err != nil {
		return nil, Secret{}, err
	}
	s.overlayUse(t)
	return t, secret, nil
}

// RevokeAppKey revokes a key. From the moment this returns, every replica
// rejects it.
func (s *Service) RevokeAppKey(ctx context.Context, p Principal, appID, id string) (*Token, error) {
	a, err := s.keyManagingApp(ctx, p, appID)
	if err != nil {
		return nil, err
	}
	if _, err := s.appKey(ctx, a, id); err != nil {
		return nil, err
	}
	return s.Store.RevokeToken(ctx, id, p.User.ID)
}

// keyManagingApp returns an application whose keys the caller may create
// and change: one they see (else CodeNotFound) and may manage the keys of
// (else CodeForbidden).
func (s *Service) keyManagingApp(ctx context.Context, p Principal, appID string) (*App, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	a, err := s.FindAppByID(ctx, p, appID)
	if err != nil {
		return nil, err
	}
	if !CanManageAppKeys(p.User, a) {
		return nil, Errorf(CodeForbidden, "an app key acts as its application; only the application's owner and org and super admins create, change, rotate or revoke its keys")
	}
	return a, nil
}

// appKey reads key id of application a. CodeNotFound unless it is an app
// key of a.
func (s *Service) appKey(ctx context.Context, a *App, id string) (*Token, error) {
	before := s.pendingUse(id)
	t, err := s.Store.FindTokenByID(ctx, id)
	if err != nil && ErrorCode(err) != CodeNotFound {
		return nil, err
	}
	if err != nil || t.Type != TokenAppKey || t.AppID != a.ID {
		return nil, Errorf(CodeNotFound, "application %s has no key %q", a.ID, id)
	}
	s.overlayUse(t, before...)
	return t, nil
}
