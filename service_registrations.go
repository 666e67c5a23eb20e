package keysmith

import (
	"context"
	"crypto/subtle"
)

// CreateRegistrationToken creates an initial access token for dynamic
// client registration, shown once. Org and super admins only
// (CanManageRegistrationTokens); it returns a secret, so a browser session
// needs a recent password proof.
func (s *Service) CreateRegistrationToken(ctx context.Context, p Principal, in CreateRegistrationTokenInput) (*RegistrationToken, Secret, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, Secret{}, err
	}
	if err := CanManageRegistrationTokens(p.User); err != nil {
		return nil, Secret{}, err
	}
	t, err := in.Validate(s.Now())
	if err != nil {
		return nil, Secret{}, err
	}
	if err := s.RequireRecentAuth(p); err != nil {
		return nil, Secret{}, err
	}
	plain, hash := NewRegistrationToken()
	t.ID, t.CreatedBy = NewID("rgt"), p.User.ID
	if err := s.Store.CreateRegistrationToken(ctx, t, hash); err != nil {
		return nil, Secret{}, err
	}
	return t, plain, nil
}

// FindRegistrationTokens lists initial access tokens, for org and super
// admins.
func (s *Service) FindRegistrationTokens(ctx context.Context, p Principal, f RegistrationTokenFilter) ([]*RegistrationToken, string, error) {
	if err := CanManageRegistrationTokens(p.User); err != nil {
		return nil, "", err
	}
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	return s.Store.FindRegistrationTokens(ctx, f)
}

// RevokeRegistrationToken revokes an initial access token: it registers
// nothing more. Clients it registered stay.
func (s *Service) RevokeRegistrationToken(ctx context.Context, p Principal, id string) (*RegistrationToken, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	if err := CanManageRegistrationTokens(p.User); err != nil {
		return nil, err
	}
	return s.Store.RevokeRegistrationToken(ctx, id, p.User.ID)
}

// Registered is what a registration answers: the client, its first secret
// (empty for a public client) and its registration access token, both
// shown once.
type Registered struct {
	Client      *Client
	Secret      Secret
	AccessToken Secret
}

// RegisterClient registers a client by RFC 7591 with initial access token
// raw, in the token's application and environment, owned by the
// application's owner and created by the token's creator. Whatever is wrong
// with the token is CodeUnauthorized (Reason invalid_token) and changes
// nothing; bad metadata is CodeInvalid with Reason invalid_client_metadata
// or invalid_redirect_uri. The creator must still be an active org or super
// admin, and the scopes must pass GrantError for them as they are now.
func (s *Service) RegisterClient(ctx context.Context, raw string, md RegistrationMetadata) (*Registered, error) {
	t, creator, err := s.usableRegistrationToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	a := AuditFrom(ctx)
	a.Actor = RegistrationTokenRef(t)
	ctx = WithAudit(ctx, a)
	in, err := md.CreateInput(t)
	if err != nil {
		return nil, err
	}
	c, err := in.Validate()
	if err != nil {
		return nil, metadataError(err)
	}
	if err := s.checkRegistrationGrant(ctx, creator, c.Scopes); err != nil {
		return nil, err
	}
	app, err := s.Store.FindAppByID(ctx, t.AppID)
	if keysmith404(err) {
		return nil, errRegistrationToken // its application was deleted
	}
	if err != nil {
		return nil, err
	}
	c.ID, c.OwnerID, c.CreatedAt, c.CreatedBy = NewID("cli"), app.OwnerID, now, creator.ID
	out := &Registered{Client: c}
	var sec *ClientSecret
	var hash Hash
	if !c.Public() {
		sec, out.Secret, hash = newSecretRecord(c.ID, CreateSecretInput{Description: "registered"}, now)
	}
	access, accessHash := NewRegistrationAccessToken()
	out.AccessToken = access
	reg := &ClientRegistration{ClientID: c.ID, RegistrationTokenID: t.ID, CreatedBy: creator.ID, CreatedAt: now}
	err = s.Store.RegisterClient(WithGranter(ctx, creator), t.ID, now, c, sec, hash, reg, accessHash)
	if ErrorCode(err) == CodeUnauthorized {
		return nil, errRegistrationToken // used up, expired or revoked meanwhile
	}
	if err != nil {
		return nil, metadataError(err)
	}
	c.UnregisteredScopes = []string{}
	return out, nil
}

// CheckRegistrationToken says whether raw is an initial access token that
// may register a client now (nil), or refuses it as RegisterClient would.
// It changes nothing: a registration whose metadata cannot be read is
// refused for its token first.
func (s *Service) CheckRegistrationToken(ctx context.Context, raw string) error {
	_, _, err := s.usableRegistrationToken(ctx, raw)
	return err
}

// usableRegistrationToken finds initial access token raw and its creator,
// if it may register a client now.
func (s *Service) usableRegistrationToken(ctx context.Context, raw string) (*RegistrationToken, *User, error) {
	h, ok := ParseRegistrationToken(raw)
	if !ok {
		return nil, nil, errRegistrationToken
	}
	t, err := s.Store.FindRegistrationTokenByHash(ctx, h)
	if keysmith404(err) {
		return nil, nil, errRegistrationToken
	}
	if err != nil {
		return nil, nil, err
	}
	if !t.Usable(s.Now()) {
		return nil, nil, errRegistrationToken
	}
	creator, err := s.registrationCreator(ctx, t.CreatedBy, errRegistrationToken)
	if err != nil {
		return nil, nil, err
	}
	return t, creator, nil
}

// registrationCreator returns the creator of a registration's tokens if
// they are still an active org or super admin; otherwise refused.
func (s *Service) registrationCreator(ctx context.Context, id string, refused error) (*User, error) {
	u, err := s.Store.FindUserByID(ctx, id)
	if keysmith404(err) {
		return nil, refused
	}
	if err != nil {
		return nil, err
	}
	if u.Status != UserActive || CanManageRegistrationTokens(u) != nil {
		return nil, refused
	}
	return u, nil
}

// checkRegistrationGrant refuses scopes that u may not grant (GrantError), as
// invalid_client_metadata.
func (s *Service) checkRegistrationGrant(ctx context.Context, u *User, scopes []string) error {
	registered, err := s.Store.FindScopes(ctx, scopes)
	if err != nil {
		return err
	}
	if err := GrantError(u, scopes, registered); err != nil {
		return metadataError(err)
	}
	return nil
}

// registration authenticates an RFC 7592 call on clientID with
// registration access token raw, and returns the client and the admin the
// registration acts for (its initial access token's creator, who must
// still be an active org or super admin). Every refusal is the same
// CodeUnauthorized, so that it does not tell whether the client exists.
// The returned ctx names the client as the actor of what follows.
func (s *Service) registration(ctx context.Context, clientID, raw string) (context.Context, *Client, *User, error) {
	h, ok := ParseRegistrationAccessToken(raw)
	if !ok {
		return ctx, nil, nil, errRegistrationAccess
	}
	reg, err := s.Store.FindClientRegistrationByHash(ctx, h)
	if keysmith404(err) {
		return ctx, nil, nil, errRegistrationAccess
	}
	if err != nil {
		return ctx, nil, nil, err
	}
	if subtle.ConstantTimeCompare([]byte(reg.ClientID), []byte(clientID)) != 1 {
		return ctx, nil, nil, errRegistrationAccess
	}
	c, err := s.Store.FindClientByID(ctx, clientID)
	if keysmith404(err) {
		return ctx, nil, nil, errRegistrationAccess
	}
	if err != nil {
		return ctx, nil, nil, err
	}
	if c.RevokedAt != nil {
		return ctx, nil, nil, errRegistrationAccess
	}
	creator, err := s.registrationCreator(ctx, reg.CreatedBy, errRegistrationAccess)
	if err != nil {
		return ctx, nil, nil, err
	}
	a := AuditFrom(ctx)
	a.Actor = ClientRef(c)
	return WithAudit(ctx, a), c, creator, nil
}

// FindRegisteredClient reads a registered client (RFC 7592 §2.1), without
// secrets.
func (s *Service) FindRegisteredClient(ctx context.Context, clientID, raw string) (*Client, error) {
	_, c, _, err := s.registration(ctx, clientID, raw)
	return c, err
}

// UpdateRegisteredClient replaces a registered client's metadata (RFC 7592
// §2.2) through UpdateClient, as the registration's creator: scopes it adds
// must pass GrantError for them, and the switch between public and
// confidential is refused. A client since marked first-party is changed
// only through the management API.
func (s *Service) UpdateRegisteredClient(ctx context.Context, clientID, raw string, md RegistrationMetadata) (*Client, error) {
	ctx, c, creator, err := s.registration(ctx, clientID, raw)
	if err != nil {
		return nil, err
	}
	if c.FirstParty {
		return nil, &Error{Code: CodeForbidden, Message: "this client was marked first-party (it skips consent); only org and super admins change it, through the management API"}
	}
	u, err := md.Update(c)
	if err != nil {
		return nil, err
	}
	out, err := s.UpdateClient(ctx, Principal{User: creator}, clientID, u)
	if err != nil {
		return nil, metadataError(err)
	}
	return out, nil
}

// DeleteRegisteredClient revokes a registered client (RFC 7592 §2.3): it
// gets no more tokens, its live tokens stop working, and its registration
// access token with it.
func (s *Service) DeleteRegisteredClient(ctx context.Context, clientID, raw string) error {
	ctx, _, creator, err := s.registration(ctx, clientID, raw)
	if err != nil {
		return err
	}
	_, err = s.RevokeClient(ctx, Principal{User: creator}, clientID)
	return err
}
