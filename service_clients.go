package keysmith

import (
	"context"
	"slices"
	"time"
)

// CreateClient creates an OAuth client with its first secret, shown once;
// a public client (token_endpoint_auth_method none) gets none (nil and an
// empty Secret). A client of an application belongs to the application's
// owner. Only org and super admins create a first-party client
// (CanSetFirstParty).
func (s *Service) CreateClient(ctx context.Context, p Principal, in CreateClientInput) (*Client, *ClientSecret, Secret, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, nil, Secret{}, err
	}
	if !CanCreateApps(p.User) {
		return nil, nil, Secret{}, Errorf(CodeForbidden, "role %s may not create OAuth clients", p.User.Role)
	}
	c, err := in.Validate()
	if err != nil {
		return nil, nil, Secret{}, err
	}
	if c.FirstParty {
		if err := CanSetFirstParty(p.User); err != nil {
			return nil, nil, Secret{}, err
		}
	}
	registered, err := s.Store.FindScopes(ctx, c.Scopes)
	if err != nil {
		return nil, nil, Secret{}, err
	}
	if err := GrantError(p.User, c.Scopes, registered); err != nil {
		return nil, nil, Secret{}, err
	}
	c.OwnerID = p.User.ID
	if in.AppID != "" {
		a, err := s.FindAppByID(ctx, p, in.AppID)
		if keysmith404(err) {
			return nil, nil, Secret{}, Errorf(CodeInvalid, "app_id %q names no application you can see", in.AppID)
		}
		if err != nil {
			return nil, nil, Secret{}, err
		}
		if !CanIssueAppCredentials(p.User, a.OwnerID) {
			return nil, nil, Secret{}, Errorf(CodeForbidden, "a client's secret acts as its application; only the application's owner and org and super admins add clients to it")
		}
		c.OwnerID = a.OwnerID
	}
	now := s.Now()
	c.ID, c.CreatedAt, c.CreatedBy = NewID("cli"), now, p.User.ID
	if err := s.RequireRecentAuth(p); err != nil {
		return nil, nil, Secret{}, err
	}
	if in.KeyManager != "" && in.KeyManager != BuiltinKeyManager {
		plain, err := s.registerExternalClient(ctx, p, in.KeyManager, c)
		if err != nil {
			return nil, nil, Secret{}, err
		}
		c.UnregisteredScopes = []string{}
		return c, nil, plain, nil
	}
	var (
		sec   *ClientSecret
		plain Secret
		hash  Hash
	)
	if !c.Public() {
		sec, plain, hash = newSecretRecord(c.ID, CreateSecretInput{Description: "initial"}, now)
	}
	if err := s.Store.CreateClient(WithGranter(ctx, p.User), c, sec, hash); err != nil {
		return nil, nil, Secret{}, err
	}
	c.UnregisteredScopes = []string{}
	return c, sec, plain, nil
}

// UpdateClient changes a client's settings. Whoever may change the client
// may make any change that adds no scope; a scope it adds must be
// registered, and one that is not self-service only org and super admins
// add (GrantError). Only org and super admins set first_party, and only they
// change a first-party client at all (CanChangeFirstParty). The change
// applies to the next token issued.
func (s *Service) UpdateClient(ctx context.Context, p Principal, id string, u ClientUpdate) (*Client, error) {
	c, err := s.manageableClient(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if c.RevokedAt != nil {
		return nil, Errorf(CodeConflict, "OAuth client %q is revoked; it cannot be changed", id)
	}
	if err := CanChangeFirstParty(p.User, c, u.FirstParty != nil); err != nil {
		return nil, err
	}
	next := *c
	if err := u.Apply(&next); err != nil {
		return nil, err
	}
	if err := CanChangeSignInSettings(p.User, c, &next); err != nil {
		return nil, err
	}
	// Only the scopes it adds need a grant. One it named before scopes were
	// registered stays ungranted (and is not issued) while it keeps it; to
	// grant it, remove it and add it again.
	added := AddedScopes(c.Scopes, next.Scopes)
	registered, err := s.Store.FindScopes(ctx, added)
	if err != nil {
		return nil, err
	}
	if err := GrantError(p.User, added, registered); err != nil {
		return nil, err
	}
	if c.External() {
		if err := s.updateExternalRegistration(ctx, &next); err != nil {
			return nil, err
		}
	}
	out, err := s.Store.UpdateClient(WithGranter(ctx, p.User), &next, c.Scopes)
	if err != nil {
		if c.External() && next.RegistrationTokenSealed != c.RegistrationTokenSealed {
			// The manager changed and may have rotated its token: keep
			// what manages the registration now, whatever else failed.
			_ = s.Store.SetClientRegistration(context.WithoutCancel(ctx), c.ID, next.RegistrationURI, next.RegistrationTokenSealed)
		}
		return nil, err
	}
	return out, s.markUnregistered(ctx, out)
}

// markUnregistered fills the clients' UnregisteredScopes: the scopes each
// names but was never granted (from before scopes were registered), which
// are not issued.
func (s *Service) markUnregistered(ctx context.Context, cs ...*Client) error {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	grants, err := s.Store.FindScopeGrants(ctx, ids)
	if err != nil {
		return err
	}
	for _, c := range cs {
		granted := grantedScopes(c.Scopes, grants[c.ID])
		c.UnregisteredScopes = []string{}
		for _, n := range c.Scopes {
			if !slices.Contains(granted, n) {
				c.UnregisteredScopes = append(c.UnregisteredScopes, n)
			}
		}
	}
	return nil
}

// grantedScopes returns the scopes of named that the credential may use:
// the built-in ones and those in grants.
func grantedScopes(named, grants []string) []string {
	var out []string
	for _, n := range named {
		if _, builtin := BuiltinScope(n); builtin || slices.Contains(grants, n) {
			out = append(out, n)
		}
	}
	return out
}

func keysmith404(err error) bool { return ErrorCode(err) == CodeNotFound }

// newSecretRecord generates a client secret and its record.
func newSecretRecord(clientID string, in CreateSecretInput, now time.Time) (*ClientSecret, Secret, Hash) {
	plain, hash := NewClientSecret()
	p := plain.Reveal()
	return &ClientSecret{ID: NewID("sec"), ClientID: clientID, Description: in.Description, Last4: p[len(p)-4:],
		CreatedAt: now, ExpiresAt: truncate(in.ExpiresAt)}, plain, hash
}

// FindClientByID returns a client the caller may see.
func (s *Service) FindClientByID(ctx context.Context, p Principal, id string) (*Client, error) {
	c, err := s.Store.FindClientByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CanSeeOwned(p.User, c.OwnerID) {
		return nil, Errorf(CodeNotFound, "OAuth client %q not found", id)
	}
	return c, s.markUnregistered(ctx, c)
}

// FindClients lists the clients the caller may see.
func (s *Service) FindClients(ctx context.Context, p Principal, f ClientFilter) ([]*Client, string, error) {
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	if !CanSeeAllApps(p.User) {
		f.OwnerID = p.User.ID
	}
	cs, next, err := s.Store.FindClients(ctx, f)
	if err != nil {
		return nil, "", err
	}
	return cs, next, s.markUnregistered(ctx, cs...)
}

// manageableClient returns a client the caller may change.
func (s *Service) manageableClient(ctx context.Context, p Principal, id string) (*Client, error) {
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	c, err := s.FindClientByID(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if !CanManageOwned(p.User, c.OwnerID) {
		return nil, Errorf(CodeForbidden, "role %s may not change this OAuth client", p.User.Role)
	}
	return c, nil
}

// secretIssuingClient returns a client whose new secrets the caller may
// receive (CanIssueAppCredentials).
func (s *Service) secretIssuingClient(ctx context.Context, p Principal, id string) (*Client, error) {
	c, err := s.manageableClient(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if c.External() {
		return nil, Errorf(CodeInvalid, "OAuth client %q is registered at key manager %q: its secrets live at the manager; Keysmith keeps none", id, c.KeyManagerID)
	}
	if c.Public() {
		return nil, Errorf(CodeInvalid, "OAuth client %q is public (token_endpoint_auth_method none): it has no secrets; PKCE protects its codes", id)
	}
	if !CanIssueAppCredentials(p.User, c.OwnerID) {
		return nil, Errorf(CodeForbidden, "a client secret acts as the client's application; only its owner and org and super admins create or reset them (you may revoke the client or delete secrets)")
	}
	return c, nil
}

// RevokeClient revokes a client: it gets no new tokens and its live tokens
// become inactive at once.
func (s *Service) RevokeClient(ctx context.Context, p Principal, id string) (*Client, error) {
	if _, err := s.manageableClient(ctx, p, id); err != nil {
		return nil, err
	}
	c, err := s.Store.RevokeClient(ctx, id, p.User.ID)
	if err != nil {
		return nil, err
	}
	if c.External() {
		// Revoked here first, so its tokens are refused at once whatever
		// the manager answers; then deleted there (again, on a retry).
		if err := s.deleteExternalRegistration(ctx, c); err != nil {
			return nil, err
		}
	}
	return c, s.markUnregistered(ctx, c)
}

// CreateClientSecret adds a secret to a client, for rotation without
// downtime; it is shown once. CodeConflict beyond the cap, which counts
// only the secrets that have not expired.
func (s *Service) CreateClientSecret(ctx context.Context, p Principal, clientID string, in CreateSecretInput) (*ClientSecret, Secret, error) {
	c, err := s.secretIssuingClient(ctx, p, clientID)
	if err != nil {
		return nil, Secret{}, err
	}
	now := s.Now()
	if err := in.Validate(now); err != nil {
		return nil, Secret{}, err
	}
	max := s.MaxClientSecrets
	if max <= 0 {
		max = DefaultMaxClientSecrets
	}
	if err := s.RequireRecentAuth(p); err != nil {
		return nil, Secret{}, err
	}
	sec, plain, hash := newSecretRecord(clientID, in, now)
	if err := s.Store.CreateClientSecret(ctx, c.OwnerID, sec, hash, max, now); err != nil {
		return nil, Secret{}, err
	}
	return sec, plain, nil
}

// FindClientSecrets lists a client's secrets, masked; expired ones stay
// listed (ClientSecret.Expired marks them) until deleted.
func (s *Service) FindClientSecrets(ctx context.Context, p Principal, clientID string) ([]*ClientSecret, error) {
	if _, err := s.FindClientByID(ctx, p, clientID); err != nil {
		return nil, err
	}
	return s.Store.FindClientSecrets(ctx, clientID)
}

// DeleteClientSecret deletes one secret. Tokens issued with it stay valid
// until they expire or are revoked.
func (s *Service) DeleteClientSecret(ctx context.Context, p Principal, clientID, secretID string) error {
	if _, err := s.manageableClient(ctx, p, clientID); err != nil {
		return err
	}
	return s.Store.DeleteClientSecret(ctx, clientID, secretID)
}

// ResetClientSecrets replaces all of a client's secrets with one new one.
func (s *Service) ResetClientSecrets(ctx context.Context, p Principal, clientID string, in CreateSecretInput) (*ClientSecret, Secret, error) {
	c, err := s.secretIssuingClient(ctx, p, clientID)
	if err != nil {
		return nil, Secret{}, err
	}
	now := s.Now()
	if err := in.Validate(now); err != nil {
		return nil, Secret{}, err
	}
	if err := s.RequireRecentAuth(p); err != nil {
		return nil, Secret{}, err
	}
	sec, plain, hash := newSecretRecord(clientID, in, now)
	if err := s.Store.ResetClientSecrets(ctx, c.OwnerID, sec, hash); err != nil {
		return nil, Secret{}, err
	}
	return sec, plain, nil
}
