package client

import (
	"context"
	"net/http"
	"time"
)

// Zone is a named network: the addresses of its gateways, and the proxies
// whose forwarded addresses are trusted.
type Zone struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Gateways  []string  `json:"gateways"`
	Proxies   []string  `json:"proxies"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ZoneInput is the request of CreateZone (Name required) and UpdateZone
// (nil fields stay as they are). Addresses are CIDR prefixes or single
// addresses.
type ZoneInput struct {
	Name     *string   `json:"name,omitempty"`
	Gateways *[]string `json:"gateways,omitempty"`
	Proxies  *[]string `json:"proxies,omitempty"`
}

// CreateZone creates a network zone.
func (c *Client) CreateZone(ctx context.Context, in ZoneInput) (*Zone, error) {
	var z Zone
	return &z, c.do(ctx, http.MethodPost, "/v1/zones", nil, in, &z)
}

// GetZone answers the zone with id.
func (c *Client) GetZone(ctx context.Context, id string) (*Zone, error) {
	var z Zone
	return &z, c.do(ctx, http.MethodGet, "/v1/zones/"+seg(id), nil, nil, &z)
}

// ListZones answers every zone (the list is not paged).
func (c *Client) ListZones(ctx context.Context) ([]Zone, error) {
	var p Page[Zone]
	if err := c.do(ctx, http.MethodGet, "/v1/zones", nil, nil, &p); err != nil {
		return nil, err
	}
	return p.Items, nil
}

// UpdateZone changes a zone's name or addresses.
func (c *Client) UpdateZone(ctx context.Context, id string, in ZoneInput) (*Zone, error) {
	var z Zone
	return &z, c.do(ctx, http.MethodPatch, "/v1/zones/"+seg(id), nil, in, &z)
}

// DeleteZone deletes a zone.
func (c *Client) DeleteZone(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/zones/"+seg(id), nil, nil, nil)
}
