package keysmith

import (
	"context"
	"net/netip"
)

// CreateZone creates a network zone. Org and super admins only.
func (s *Service) CreateZone(ctx context.Context, p Principal, in ZoneInput) (*Zone, error) {
	if !CanEditZones(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not manage network zones; org and super admins may", p.User.Role)
	}
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	u, err := in.Parse(true)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	z := &Zone{ID: NewID("zone"), Name: *u.Name, Gateways: []netip.Prefix{}, Proxies: []netip.Prefix{},
		CreatedAt: now, UpdatedAt: now}
	if u.Gateways != nil {
		z.Gateways = *u.Gateways
	}
	if u.Proxies != nil {
		z.Proxies = *u.Proxies
	}
	if err := s.Store.CreateZone(ctx, z); err != nil {
		return nil, err
	}
	return z, nil
}

// FindZones lists every zone, for admins.
func (s *Service) FindZones(ctx context.Context, p Principal) ([]*Zone, error) {
	if !CanSeeZones(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not read network zones", p.User.Role)
	}
	return s.Store.FindZones(ctx)
}

// FindZoneByID returns a zone, for admins.
func (s *Service) FindZoneByID(ctx context.Context, p Principal, id string) (*Zone, error) {
	if !CanSeeZones(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not read network zones", p.User.Role)
	}
	return s.Store.FindZoneByID(ctx, id)
}

// UpdateZone changes a zone. Every replica applies the change to the next
// request it verifies.
func (s *Service) UpdateZone(ctx context.Context, p Principal, id string, in ZoneInput) (*Zone, error) {
	if !CanEditZones(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not manage network zones; org and super admins may", p.User.Role)
	}
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	u, err := in.Parse(false)
	if err != nil {
		return nil, err
	}
	return s.Store.UpdateZone(ctx, id, u)
}

// DeleteZone deletes a zone that no token uses.
func (s *Service) DeleteZone(ctx context.Context, p Principal, id string) error {
	if !CanEditZones(p.User) {
		return Errorf(CodeForbidden, "role %s may not manage network zones; org and super admins may", p.User.Role)
	}
	if err := CanChangeCredentials(p); err != nil {
		return err
	}
	return s.Store.DeleteZone(ctx, id)
}

// RateLimits returns the limits in force. Super admins only.
func (s *Service) RateLimits(ctx context.Context, p Principal) (RateLimits, error) {
	if !CanEditRateLimits(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not read the rate limits; super admins may", p.User.Role)
	}
	return s.Store.RateLimits(ctx)
}

// SetRateLimits replaces the limits; groups l lacks go back to their
// defaults. Every replica applies them to its next request.
func (s *Service) SetRateLimits(ctx context.Context, p Principal, l RateLimits) (RateLimits, error) {
	if !CanEditRateLimits(p.User) {
		return nil, Errorf(CodeForbidden, "role %s may not change the rate limits; super admins may", p.User.Role)
	}
	if err := CanChangeCredentials(p); err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	l = l.WithDefaults()
	if err := s.Store.SetRateLimits(ctx, l); err != nil {
		return nil, err
	}
	return l, nil
}
