package keysmith

import (
	"context"
	"time"
)

// UpdateToken applies an update (name, enabled, meta, network,
// rate_limit_percent, scopes) to a token the caller may manage: their own, or
// anyone's for org and super admins. A caller who may not manage the token
// learns nothing about their input. A revoked token cannot be changed.
// Every change takes effect on every replica when it commits.
func (s *Service) UpdateToken(ctx context.Context, p Principal, id string, u TokenUpdate) (*Token, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	t, err := s.manageableToken(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	return s.applyTokenUpdate(ctx, p, t, u)
}

// applyTokenUpdate applies a validated, permitted update to token t (an API
// token or an app key): a revoked one cannot be changed, and the scopes it
// adds need the caller's grant, checked here and again by the store under
// the scopes' row locks.
func (s *Service) applyTokenUpdate(ctx context.Context, p Principal, t *Token, u TokenUpdate) (*Token, error) {
	if t.RevokedAt != nil {
		return nil, Errorf(CodeConflict, "%s %s is revoked; a revoked %s cannot be changed", t.Type.Noun(), t.ID, t.Type.Noun())
	}
	if u.Scopes != nil {
		if err := s.checkGrant(ctx, p, t.Scopes, *u.Scopes); err != nil {
			return nil, err
		}
		u.ScopesBefore = t.Scopes
	}
	t, err := s.Store.UpdateToken(WithGranter(ctx, p.User), t.ID, u)
	if err != nil {
		return nil, err
	}
	s.overlayUse(t)
	return t, nil
}

// RotateToken gives a token a new secret and returns it, shown once. The
// token keeps its id, name, owner, restrictions and history; the old secret
// keeps working for grace (0..MaxRotationGrace), then verify says REVOKED.
// Only the owner rotates (CanRotateToken): the new secret acts as them.
func (s *Service) RotateToken(ctx context.Context, p Principal, id string, grace time.Duration) (*Token, Secret, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, Secret{}, err
	}
	if grace < 0 || grace > MaxRotationGrace {
		return nil, Secret{}, Errorf(CodeInvalid, "grace_seconds must be between 0 and %d", int64(MaxRotationGrace/time.Second))
	}
	t, err := s.FindTokenByID(ctx, p, id)
	if err != nil {
		return nil, Secret{}, err
	}
	var owner *User
	if t.OwnerID != p.User.ID {
		if owner, err = s.Store.FindUserByID(ctx, t.OwnerID); err != nil {
			return nil, Secret{}, err
		}
	}
	if err := CanRotateToken(p.User, t, owner); err != nil {
		return nil, Secret{}, err
	}
	now := s.Now()
	if st := t.Status(now); st == TokenRevoked || st == TokenExpired {
		return nil, Secret{}, Errorf(CodeConflict, "token %s is %s and cannot be rotated; create a new one", id, st)
	}
	if err := s.RequireRecentAuth(p); err != nil {
		return nil, Secret{}, err
	}
	secret, hash := NewAPITokenSecret()
	// A use pending now may be flushed while the store is read: taken
	// first, it is shown either way.
	earlier := s.pendingUse(id)
	t, err = s.Store.RotateToken(ctx, id, hash, now.Add(grace))
	if err != nil {
		return nil, Secret{}, err
	}
	s.overlayUse(t, earlier...)
	return t, secret, nil
}

// SummarizeTokens counts the tokens the caller may see.
func (s *Service) SummarizeTokens(ctx context.Context, p Principal) (*TokenSummary, error) {
	owner := ""
	if !CanSeeAllTokens(p.User) {
		owner = p.User.ID
	}
	return s.Store.SummarizeTokens(ctx, owner, s.Now())
}

// checkGrant says whether the caller may change a credential's scopes from
// current to next: every added scope must be registered (CodeInvalid,
// "invalid_scope") and grantable by the caller (CodeForbidden); taking
// scopes away needs no grant. The store checks registration again under
// its row locks, so a scope deleted meanwhile is not granted.
func (s *Service) checkGrant(ctx context.Context, p Principal, current, next []string) error {
	added := AddedScopes(current, next)
	if len(added) == 0 {
		return nil
	}
	registered, err := s.Store.FindScopes(ctx, added)
	if err != nil {
		return err
	}
	return GrantError(p.User, added, registered)
}

// manageableToken returns a token the caller may see and manage.
func (s *Service) manageableToken(ctx context.Context, p Principal, id string) (*Token, error) {
	t, err := s.FindTokenByID(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if !CanManageToken(p.User, t) {
		return nil, Errorf(CodeForbidden, "role %s may not change other users' tokens", p.User.Role)
	}
	return t, nil
}

// CreateToken creates an API token for the caller and returns it with its
// secret, which exists nowhere else from then on.
func (s *Service) CreateToken(ctx context.Context, p Principal, in CreateTokenInput) (*Token, Secret, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, Secret{}, err
	}
	if !CanCreateTokens(p.User) {
		return nil, Secret{}, Errorf(CodeForbidden, "role %s may not create API tokens", p.User.Role)
	}
	now := s.Now()
	if err := in.Validate(now); err != nil {
		return nil, Secret{}, err
	}
	owner := p.User
	if in.OwnerID != "" && in.OwnerID != p.User.ID {
		var err error
		if owner, err = s.tokenOwner(ctx, p, in.OwnerID); err != nil {
			return nil, Secret{}, err
		}
	}
	typ := TokenUser
	if owner.Type == UserService {
		typ = TokenService
	}
	if err := s.RequireRecentAuth(p); err != nil {
		return nil, Secret{}, err
	}
	secret, hash := NewAPITokenSecret()
	t := Token{ID: NewID("tok"), Name: in.Name, Type: typ, OwnerID: owner.ID,
		CreatedAt: now, CreatedBy: p.User.ID, ExpiresAt: truncate(in.ExpiresAt), IdleTTL: s.idleTTL()}
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
	if len(in.Scopes) > 0 {
		if err := s.checkGrant(ctx, p, nil, in.Scopes); err != nil {
			return nil, Secret{}, err
		}
		t.Scopes = in.Scopes
	}
	created := NewToken(t)
	if err := s.Store.CreateToken(WithGranter(ctx, p.User), created, hash); err != nil {
		return nil, Secret{}, err
	}
	created.Owner = TokenOwner{ID: owner.ID, Email: owner.Email, Role: owner.Role}
	return created, secret, nil
}

// tokenOwner loads the service account a caller creates a token for.
func (s *Service) tokenOwner(ctx context.Context, p Principal, id string) (*User, error) {
	owner, err := s.FindUserByID(ctx, p, id)
	if ErrorCode(err) == CodeNotFound {
		return nil, Errorf(CodeInvalid, "owner_id %q is not a user", id)
	}
	if err != nil {
		return nil, err
	}
	if err := CanCreateTokenFor(p.User, owner); err != nil {
		return nil, err
	}
	if owner.Status != UserActive {
		return nil, Errorf(CodeConflict, "service account %s is deactivated; activate it first", owner.Email)
	}
	return owner, nil
}

// FindTokenByID returns a token the caller may see. A token they may not see
// is CodeNotFound, so ids of other users' tokens cannot be probed.
func (s *Service) FindTokenByID(ctx context.Context, p Principal, id string) (*Token, error) {
	// A flush that ends while the store is read takes the use out of the
	// pending ones before the read could see it: look for it before, too.
	before := s.pendingUse(id)
	t, err := s.Store.FindTokenByID(ctx, id)
	if err != nil {
		return nil, err
	}
	// App keys live under their application (FindAppKeyByID): none of the
	// token endpoints shows, changes, rotates or revokes one.
	if !CanSeeToken(p.User, t) || t.Type == TokenAppKey {
		return nil, Errorf(CodeNotFound, "token %q not found", id)
	}
	s.overlayUse(t, before...)
	return t, nil
}

// FindTokens lists the tokens the caller may see.
func (s *Service) FindTokens(ctx context.Context, p Principal, f TokenFilter) ([]*Token, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	f.Now = s.Now()
	if !CanSeeAllTokens(p.User) {
		if f.OwnerID != "" && f.OwnerID != p.User.ID {
			return nil, "", Errorf(CodeForbidden, "role %s may list only their own tokens; leave out owner", p.User.Role)
		}
		f.OwnerID = p.User.ID
	}
	f.AppID = "" // never app keys
	ts, next, err := s.Store.FindTokens(ctx, f)
	for _, t := range ts {
		s.overlayUse(t)
	}
	return ts, next, err
}

// RevokeToken revokes a token the caller may revoke. From the moment this
// returns, every replica rejects the token.
func (s *Service) RevokeToken(ctx context.Context, p Principal, id string) (*Token, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	t, err := s.FindTokenByID(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if !CanRevokeToken(p.User, t) {
		return nil, Errorf(CodeForbidden, "role %s may not revoke other users' tokens", p.User.Role)
	}
	if t.Type == TokenAgent && t.AgentActive {
		return nil, Errorf(CodeConflict, "token %s belongs to agent %s, which is active; deactivate the agent first (POST /v1/agents/%s/deactivate)",
			t.ID, t.AgentID, t.AgentID)
	}
	return s.Store.RevokeToken(ctx, id, p.User.ID)
}

// overlayUse shows the newest of the stored use, the pending one and
// earlier, pending uses taken before the store was read.
func (s *Service) overlayUse(t *Token, earlier ...TokenUse) {
	for _, u := range append(earlier, s.pendingUse(t.ID)...) {
		if t.LastUsedAt == nil || u.At.After(*t.LastUsedAt) {
			at := u.At
			t.LastUsedAt, t.LastUsedIP = &at, u.IP
		}
	}
}

// pendingUse is the token's use seen and not yet stored, if any.
func (s *Service) pendingUse(id string) []TokenUse {
	if s.Usage == nil {
		return nil
	}
	if u, ok := s.Usage.PendingUse(id); ok {
		return []TokenUse{u}
	}
	return nil
}

// truncate drops what storage cannot keep, so a value reads back as written.
func truncate(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC().Truncate(time.Microsecond)
	return &v
}

// CreateTokenByEmail creates an API token for the user with the e-mail
// address, for the operator at the database (`keysmith admin create-token`,
// when the bootstrap token is lost): there is no caller to check, since
// whoever can open the database needs no credential, and the audit actor in
// ctx says who acted. The token acts as its owner and holds nothing more:
// no scopes, the default restrictions. CodeNotFound if no user has the
// address; CodeInvalid if the user is deactivated, or their role holds no
// API tokens (developers), or name is not a valid name.
func (s *Service) CreateTokenByEmail(ctx context.Context, email, name string) (*User, *Token, Secret, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, nil, Secret{}, err
	}
	now := s.Now()
	in := CreateTokenInput{Name: name}
	if err := in.Validate(now); err != nil {
		return nil, nil, Secret{}, err
	}
	u, _, err := s.Store.FindUserByEmail(ctx, email)
	if err != nil {
		return nil, nil, Secret{}, err
	}
	if u.Status != UserActive {
		return nil, nil, Secret{}, Errorf(CodeInvalid, "%s is deactivated; activate the user first, then create a token", u.Email)
	}
	if !CanCreateTokens(u) {
		return nil, nil, Secret{}, Errorf(CodeInvalid, "%s is a %s, and that role holds no API tokens", u.Email, u.Role)
	}
	typ := TokenUser
	if u.Type == UserService {
		typ = TokenService
	}
	secret, hash := NewAPITokenSecret()
	t := NewToken(Token{ID: NewID("tok"), Name: name, Type: typ, OwnerID: u.ID, CreatedAt: now, CreatedBy: u.ID,
		IdleTTL: s.idleTTL()})
	if err := s.Store.CreateToken(ctx, t, hash); err != nil {
		return nil, nil, Secret{}, err
	}
	t.Owner = TokenOwner{ID: u.ID, Email: u.Email, Role: u.Role}
	return u, t, secret, nil
}
