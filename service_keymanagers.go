package keysmith

import (
	"context"
	"strings"
)

// connector returns the key manager connector, or an error saying there
// is none (a Service built without one).
func (s *Service) connector() (KeyManagerConnector, error) {
	if s.KeyManagers == nil || s.Sealer == nil {
		return nil, Errorf(CodeInvalid, "external key managers are not available on this server")
	}
	return s.KeyManagers, nil
}

func (s *Service) mayManageKeyManagers(p Principal) error {
	if !CanManageKeyManagers(p.User) {
		return Errorf(CodeForbidden, "role %s may not manage key managers; org and super admins may", p.User.Role)
	}
	return CanChangeCredentials(p)
}

// CreateKeyManager adds an external key manager. Org and super admins
// only. Keysmith reads the issuer's discovery document and JWKS first and
// refuses (CodeInvalid, saying which failed) a manager whose discovery or
// keys cannot be fetched. Its secrets are sealed under the master key.
func (s *Service) CreateKeyManager(ctx context.Context, p Principal, in CreateKeyManagerInput) (*KeyManager, error) {
	if err := s.mayManageKeyManagers(p); err != nil {
		return nil, err
	}
	conn, err := s.connector()
	if err != nil {
		return nil, err
	}
	m, err := in.Validate()
	if err != nil {
		return nil, err
	}
	if in.RegistrationToken.Reveal() != "" || in.IntrospectionClientSecret.Reveal() != "" {
		if err := s.RequireRecentAuth(p); err != nil {
			return nil, err
		}
	}
	if err := s.checkIssuerFree(ctx, m.Issuer); err != nil {
		return nil, err
	}
	d, err := conn.Discover(ctx, m.Type, m.Issuer)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	m.ID, m.CreatedAt, m.UpdatedAt, m.CreatedBy = NewID("km"), now, now, p.User.ID
	m.setDiscovery(d)
	if m.RegistrationTokenSealed, err = s.sealOrEmpty(in.RegistrationToken, m.RegistrationTokenAAD()); err != nil {
		return nil, err
	}
	if m.IntrospectionSecretSealed, err = s.sealOrEmpty(in.IntrospectionClientSecret, m.IntrospectionSecretAAD()); err != nil {
		return nil, err
	}
	if err := s.Store.CreateKeyManager(ctx, m, MaxKeyManagers); err != nil {
		return nil, err
	}
	return m, nil
}

// checkIssuerFree refuses an issuer that is Keysmith's own (its tokens are
// checked as Keysmith's, never as a manager's) or another manager's (a
// token routes to one manager by its iss).
func (s *Service) checkIssuerFree(ctx context.Context, issuer string) error {
	same := func(a, b string) bool { return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/") }
	if s.OwnIssuer != "" && same(issuer, s.OwnIssuer) {
		return Errorf(CodeInvalid, "issuer %s is this Keysmith's own: its tokens are Keysmith's already", issuer)
	}
	ms, err := s.Store.FindKeyManagers(ctx)
	if err != nil {
		return err
	}
	for _, o := range ms {
		if same(o.Issuer, issuer) {
			return Errorf(CodeConflict, "key manager %s has issuer %s already; a token finds its manager by its issuer, so each issuer is one manager's", o.Name, o.Issuer)
		}
	}
	return nil
}

func (m *KeyManager) setDiscovery(d Discovery) {
	m.JWKSURI, m.RegistrationEndpoint = d.JWKSURI, d.RegistrationEndpoint
	m.IntrospectionEndpoint, m.TokenEndpoint = d.IntrospectionEndpoint, d.TokenEndpoint
}

func (s *Service) sealOrEmpty(sec Secret, aad string) (string, error) {
	if sec.Reveal() == "" {
		return "", nil
	}
	return s.Sealer.Seal(sec.Reveal(), aad)
}

// FindKeyManagers lists the external key managers, for every signed-in
// user (the portal offers them); their secrets stay sealed and are never
// shown.
func (s *Service) FindKeyManagers(ctx context.Context, p Principal) ([]*KeyManager, error) {
	return s.Store.FindKeyManagers(ctx)
}

// FindKeyManagerByID returns one key manager.
func (s *Service) FindKeyManagerByID(ctx context.Context, p Principal, id string) (*KeyManager, error) {
	return s.Store.FindKeyManagerByID(ctx, id)
}

// UpdateKeyManager changes a key manager; its issuer (and type) never
// change. Disabling it rejects its tokens at
// once and stops registrations at it.
func (s *Service) UpdateKeyManager(ctx context.Context, p Principal, id string, u KeyManagerUpdate) (*KeyManager, error) {
	if err := s.mayManageKeyManagers(p); err != nil {
		return nil, err
	}
	if _, err := s.connector(); err != nil {
		return nil, err
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if u.GivesSecret() {
		if err := s.RequireRecentAuth(p); err != nil {
			return nil, err
		}
	}
	m, err := s.Store.FindKeyManagerByID(ctx, id)
	if err != nil {
		return nil, err
	}
	next := *m
	if u.Name != nil {
		next.Name = *u.Name
	}
	if u.Audience != nil {
		next.Audience = *u.Audience
	}
	if u.Enabled != nil {
		next.Enabled = *u.Enabled
	}
	if u.IntrospectionClientID != nil {
		next.IntrospectionClientID = *u.IntrospectionClientID
	}
	if u.OpaqueTokenPrefix != nil {
		next.OpaqueTokenPrefix = *u.OpaqueTokenPrefix
	}
	if u.AcceptUnregisteredClients != nil {
		next.AcceptUnregisteredClients = *u.AcceptUnregisteredClients
	}
	if err := next.CheckIntrospection(); err != nil {
		return nil, err
	}
	if u.Issuer != nil && *u.Issuer != m.Issuer {
		// The manager's sealed secrets, and the clients registered at it
		// (which its tokens map to applications), belong to its issuer:
		// moving them to another would hand them to whoever runs it.
		return nil, Errorf(CodeInvalid, "issuer cannot change: the manager's secrets and the clients registered at it belong to %s; add a new key manager for the new issuer (and delete this one)", m.Issuer)
	}
	if u.RegistrationToken != nil {
		if next.RegistrationTokenSealed, err = s.sealOrEmpty(*u.RegistrationToken, m.RegistrationTokenAAD()); err != nil {
			return nil, err
		}
	}
	if u.IntrospectionClientSecret != nil {
		if next.IntrospectionSecretSealed, err = s.sealOrEmpty(*u.IntrospectionClientSecret, m.IntrospectionSecretAAD()); err != nil {
			return nil, err
		}
	}
	return s.Store.UpdateKeyManager(ctx, &next)
}

// DeleteKeyManager deletes a key manager and revokes every client
// registered at it, so its tokens are refused at once. The registrations
// stay at the manager: delete them there.
func (s *Service) DeleteKeyManager(ctx context.Context, p Principal, id string) error {
	if err := s.mayManageKeyManagers(p); err != nil {
		return err
	}
	return s.Store.DeleteKeyManager(ctx, id, p.User.ID)
}

// openRegistrationToken returns the manager's registration token, opened.
func (s *Service) openRegistrationToken(m *KeyManager) (string, error) {
	if m.RegistrationTokenSealed == "" {
		return "", nil
	}
	return s.Sealer.Open(m.RegistrationTokenSealed, m.RegistrationTokenAAD())
}

// clientRegistration is what the connector needs to manage c's
// registration, its registration access token opened.
func (s *Service) clientRegistration(c *Client) (ExternalRegistration, error) {
	reg := ExternalRegistration{ClientID: c.ExternalClientID, RegistrationClientURI: c.RegistrationURI}
	if c.RegistrationTokenSealed != "" {
		t, err := s.Sealer.Open(c.RegistrationTokenSealed, c.RegistrationTokenAAD())
		if err != nil {
			return reg, err
		}
		reg.RegistrationAccessToken = t
	}
	return reg, nil
}

// ClientMetadataOf is what Keysmith registers at a manager for c.
func ClientMetadataOf(c *Client) ClientMetadata {
	return ClientMetadata{Name: c.Name, GrantTypes: c.GrantTypes, RedirectURIs: c.RedirectURIs,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, Scopes: c.Scopes, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod}
}

// usableKeyManager returns the enabled manager id names, for registering
// a client at it.
func (s *Service) usableKeyManager(ctx context.Context, id string) (*KeyManager, error) {
	if _, err := s.connector(); err != nil {
		return nil, err
	}
	m, err := s.Store.FindKeyManagerByID(ctx, id)
	if keysmith404(err) {
		return nil, Errorf(CodeInvalid, "key_manager %q names no key manager; GET /v1/key-managers lists them", id)
	}
	if err != nil {
		return nil, err
	}
	if !m.Enabled {
		return nil, Errorf(CodeConflict, "key manager %s is disabled: no clients are registered at it", m.Name)
	}
	return m, nil
}

// registerExternalClient registers c (validated, permitted, with its id)
// at key manager id and stores it; only when both succeed is anything
// kept. It returns the secret the manager gave, to show once.
func (s *Service) registerExternalClient(ctx context.Context, p Principal, id string, c *Client) (Secret, error) {
	m, err := s.usableKeyManager(ctx, id)
	if err != nil {
		return Secret{}, err
	}
	token, err := s.openRegistrationToken(m)
	if err != nil {
		return Secret{}, err
	}
	reg, err := s.KeyManagers.Register(ctx, m, token, ClientMetadataOf(c))
	if err != nil {
		return Secret{}, err
	}
	c.KeyManagerID, c.ExternalClientID, c.RegistrationURI = m.ID, reg.ClientID, reg.RegistrationClientURI
	if c.RegistrationTokenSealed, err = s.sealOrEmpty(NewSecret(reg.RegistrationAccessToken), c.RegistrationTokenAAD()); err == nil {
		err = s.Store.CreateClient(WithGranter(ctx, p.User), c, nil, Hash{})
	}
	if err != nil {
		// Nothing half-created: the registration goes too.
		if derr := s.KeyManagers.DeleteRegistration(context.WithoutCancel(ctx), m, token, reg); derr != nil {
			return Secret{}, Errorf(ErrorCode(err), "%s (and deleting the client registered at key manager %s failed: %s; delete client %s there)",
				ErrorMessage(err), m.Name, ErrorMessage(derr), reg.ClientID)
		}
		return Secret{}, err
	}
	return reg.Secret, nil
}

// updateExternalRegistration replaces next's registration at its manager
// with next's metadata, keeping the registration access token the manager
// answers (Keycloak rotates it on every update).
func (s *Service) updateExternalRegistration(ctx context.Context, next *Client) error {
	m, err := s.usableKeyManager(ctx, next.KeyManagerID)
	if err != nil {
		return err
	}
	token, err := s.openRegistrationToken(m)
	if err != nil {
		return err
	}
	reg, err := s.clientRegistration(next)
	if err != nil {
		return err
	}
	out, err := s.KeyManagers.UpdateRegistration(ctx, m, token, reg, ClientMetadataOf(next))
	if err != nil {
		return err
	}
	next.RegistrationURI = out.RegistrationClientURI
	next.RegistrationTokenSealed, err = s.sealOrEmpty(NewSecret(out.RegistrationAccessToken), next.RegistrationTokenAAD())
	return err
}

// deleteExternalRegistration deletes revoked client c at its manager. A
// manager deleted meanwhile leaves nothing to do.
func (s *Service) deleteExternalRegistration(ctx context.Context, c *Client) error {
	if _, err := s.connector(); err != nil {
		return err
	}
	m, err := s.Store.FindKeyManagerByID(ctx, c.KeyManagerID)
	if keysmith404(err) {
		return nil
	}
	if err != nil {
		return err
	}
	token, err := s.openRegistrationToken(m)
	if err == nil {
		var reg ExternalRegistration
		if reg, err = s.clientRegistration(c); err == nil {
			err = s.KeyManagers.DeleteRegistration(ctx, m, token, reg)
		}
	}
	if err != nil {
		code := ErrorCode(err)
		if code == CodeInternal {
			return err
		}
		return Errorf(CodeUpstream, "OAuth client %q is revoked in Keysmith and its tokens are refused; deleting it at key manager %s failed: %s. DELETE it again to retry",
			c.ID, m.Name, ErrorMessage(err))
	}
	return nil
}
