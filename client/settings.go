package client

import (
	"context"
	"net/http"
)

// RateLimits are the maximum requests per minute of each API group
// ("tokens", "verified", "failed_sign_ins", …; see the README).
type RateLimits map[string]int

// RateLimits answers the rate limits.
func (c *Client) RateLimits(ctx context.Context) (RateLimits, error) {
	var l RateLimits
	if err := c.do(ctx, http.MethodGet, "/v1/settings/rate-limits", nil, nil, &l); err != nil {
		return nil, err
	}
	return l, nil
}

// SetRateLimits changes the groups named in l (the others stay) and
// answers every limit.
func (c *Client) SetRateLimits(ctx context.Context, l RateLimits) (RateLimits, error) {
	var out RateLimits
	if err := c.do(ctx, http.MethodPut, "/v1/settings/rate-limits", nil, l, &out); err != nil {
		return nil, err
	}
	return out, nil
}
