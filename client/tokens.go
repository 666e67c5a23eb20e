package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Token is an API token as the API shows it. Secret is set only in the
// answers of CreateToken and RotateToken: it is shown once.
type Token struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Secret string `json:"token,omitempty"`
	// Type is "user", "service" or "agent".
	Type string `json:"type"`
	// Status is "active", "expired", "revoked", "disabled" or "suspicious".
	Status string `json:"status"`
	// Color is the token's traffic light, nil when it has none.
	Color                   *string         `json:"color"`
	Enabled                 bool            `json:"enabled"`
	Owner                   TokenOwner      `json:"owner"`
	OwnerID                 string          `json:"owner_id"`
	CreatedAt               time.Time       `json:"created_at"`
	CreatedBy               string          `json:"created_by"`
	ExpiresAt               *time.Time      `json:"expires_at"`
	IdleTTLSeconds          int64           `json:"idle_ttl"`
	IdleExpiresAt           time.Time       `json:"idle_expires_at"`
	LastUsedAt              *time.Time      `json:"last_used_at"`
	LastUsedIP              string          `json:"last_used_ip"`
	RevokedAt               *time.Time      `json:"revoked_at"`
	RevokedBy               string          `json:"revoked_by"`
	DisabledAt              *time.Time      `json:"disabled_at"`
	RotatedAt               *time.Time      `json:"rotated_at"`
	PreviousSecretExpiresAt *time.Time      `json:"previous_secret_expires_at,omitempty"`
	AgentID                 string          `json:"agent_id,omitempty"`
	Meta                    json.RawMessage `json:"meta"`
	Network                 Network         `json:"network"`
	RateLimitPercent        int             `json:"rate_limit_percent"`
	Scopes                  []string        `json:"scopes"`
}

// TokenOwner is the owner of a token, as lists show it beside the token.
type TokenOwner struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

// Network is a credential's network policy: Mode "any", "in_any_zone",
// "in_zones", "not_in_any_zone" or "not_in_zones", and the zone ids that
// "in_zones" and "not_in_zones" name.
type Network struct {
	Mode  string   `json:"mode"`
	Zones []string `json:"zones"`
}

// CreateToken is the request of CreateToken; only Name is required.
type CreateToken struct {
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// IdleTTLSeconds, when set, makes the token expire after that long
	// unused.
	IdleTTLSeconds *int64          `json:"idle_ttl,omitempty"`
	Meta           json.RawMessage `json:"meta,omitempty"`
	// OwnerID names a service account to own the token; "" for the caller.
	OwnerID          string   `json:"owner_id,omitempty"`
	Network          *Network `json:"network,omitempty"`
	RateLimitPercent *int     `json:"rate_limit_percent,omitempty"`
	// Scopes must be registered under an API.
	Scopes []string `json:"scopes,omitempty"`
}

// UpdateToken is the request of UpdateToken: nil fields stay as they are.
type UpdateToken struct {
	Name             *string          `json:"name,omitempty"`
	Enabled          *bool            `json:"enabled,omitempty"`
	Meta             *json.RawMessage `json:"meta,omitempty"`
	Network          *Network         `json:"network,omitempty"`
	RateLimitPercent *int             `json:"rate_limit_percent,omitempty"`
	Scopes           *[]string        `json:"scopes,omitempty"`
}

// TokenFilter selects the tokens ListTokens answers; empty fields select
// all.
type TokenFilter struct {
	ListOptions
	Query   string // matches name or id
	Type    string // "user", "service", "agent"
	Status  string // "active", "expired", "revoked", …
	OwnerID string
	Sort    string // "created_at", "name", "last_used_at", "expires_at"
	Order   string // "asc" or "desc"
}

// CreateToken creates an API token; the answer's Secret is the only time
// the secret is shown.
func (c *Client) CreateToken(ctx context.Context, in CreateToken) (*Token, error) {
	var t Token
	return &t, c.do(ctx, http.MethodPost, "/v1/tokens", nil, in, &t)
}

// GetToken answers the token with id.
func (c *Client) GetToken(ctx context.Context, id string) (*Token, error) {
	var t Token
	return &t, c.do(ctx, http.MethodGet, "/v1/tokens/"+seg(id), nil, nil, &t)
}

// ListTokens answers one page of the tokens the caller may see.
func (c *Client) ListTokens(ctx context.Context, f TokenFilter) (*Page[Token], error) {
	q := f.values(nil)
	setIf(q, "q", f.Query)
	setIf(q, "type", f.Type)
	setIf(q, "status", f.Status)
	setIf(q, "owner", f.OwnerID)
	setIf(q, "sort", f.Sort)
	setIf(q, "order", f.Order)
	var p Page[Token]
	return &p, c.do(ctx, http.MethodGet, "/v1/tokens", q, nil, &p)
}

// UpdateToken changes a token's name, enabled state, meta, network
// policy, rate-limit share or scopes.
func (c *Client) UpdateToken(ctx context.Context, id string, in UpdateToken) (*Token, error) {
	var t Token
	return &t, c.do(ctx, http.MethodPatch, "/v1/tokens/"+seg(id), nil, in, &t)
}

// RotateToken gives a token a new secret (in the answer's Secret). The old
// secret keeps working for grace (0: it stops at once).
func (c *Client) RotateToken(ctx context.Context, id string, grace time.Duration) (*Token, error) {
	var t Token
	in := struct {
		GraceSeconds int64 `json:"grace_seconds"`
	}{int64(grace / time.Second)}
	return &t, c.do(ctx, http.MethodPost, "/v1/tokens/"+seg(id)+"/rotate", nil, in, &t)
}

// RevokeToken revokes a token: every endpoint rejects it from then on.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/tokens/"+seg(id), nil, nil, nil)
}
