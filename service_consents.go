package keysmith

import (
	"context"
	"slices"
)

// GrantConsent records that the signing-in person p allows the client to
// act for them within scopes: the one intended way a secret comes to act
// as someone else (docs/permissions.md). Only a person in a browser session
// consents, only for themselves, and only to scopes the client holds; the
// tokens the client then gets carry no right to Keysmith's own API.
func (s *Service) GrantConsent(ctx context.Context, p Principal, clientID string, scopes []string) (*Consent, error) {
	if p.Session == nil || p.User.Type != UserPerson {
		return nil, Errorf(CodeForbidden, "a person consents in the browser, at the authorization endpoint")
	}
	if err := ValidateScopes(scopes); err != nil {
		return nil, err
	}
	c, err := s.Store.FindClientByID(ctx, clientID)
	if keysmith404(err) {
		return nil, Errorf(CodeInvalid, "OAuth client %q does not exist", clientID)
	}
	if err != nil {
		return nil, err
	}
	if c.RevokedAt != nil || !c.HasGrant(GrantAuthorizationCode) {
		return nil, Errorf(CodeInvalid, "OAuth client %q is revoked or does not use the authorization code flow", clientID)
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return nil, Errorf(CodeInvalid, "scope %q is not one of the client's", sc)
		}
	}
	now := s.Now()
	out := &Consent{UserID: p.User.ID, ClientID: c.ID, Scopes: slices.Clone(scopes), CreatedAt: now, UpdatedAt: now}
	if err := s.Store.SaveConsent(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// FindConsents lists the clients the caller has authorised.
func (s *Service) FindConsents(ctx context.Context, p Principal) ([]*Consent, error) {
	return s.Store.FindConsents(ctx, p.User.ID)
}

// RevokeConsent withdraws the caller's consent to a client: every refresh
// and access token the client holds for the caller is revoked with it.
func (s *Service) RevokeConsent(ctx context.Context, p Principal, clientID string) error {
	if err := CanChangeCredentials(p); err != nil {
		return err
	}
	return s.Store.RevokeConsent(ctx, p.User.ID, clientID)
}

// AuthorizedApp is a consent as its person sees it: the client and the
// application it belongs to by name, beside the scopes allowed. The
// person may not read the client itself (it is someone else's); the names
// are what the consent page showed them.
type AuthorizedApp struct {
	Consent
	ClientName string
	AppName    string // "" for a client without an application
}

// FindAuthorizedApps lists the caller's consents with the names of their
// clients and applications, newest first.
func (s *Service) FindAuthorizedApps(ctx context.Context, p Principal) ([]*AuthorizedApp, error) {
	cs, err := s.FindConsents(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]*AuthorizedApp, 0, len(cs))
	for _, c := range cs {
		a := &AuthorizedApp{Consent: *c, ClientName: c.ClientID}
		cl, err := s.Store.FindClientByID(ctx, c.ClientID)
		if err != nil && !keysmith404(err) {
			return nil, err
		}
		if cl != nil {
			a.ClientName = cl.Name
			if cl.AppID != "" {
				app, err := s.Store.FindAppByID(ctx, cl.AppID)
				if err != nil && !keysmith404(err) {
					return nil, err
				}
				if app != nil {
					a.AppName = app.Name
				}
			}
		}
		out = append(out, a)
	}
	return out, nil
}
