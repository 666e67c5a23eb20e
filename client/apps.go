package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// App is an application: the owner of app API keys and OAuth clients.
type App struct {
	ID          string    `json:"app_id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	OwnerID     string    `json:"owner_id"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// CreateApp is the request of CreateApp.
type CreateApp struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// UpdateApp is the request of UpdateApp: nil fields stay as they are.
type UpdateApp struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
}

// CreateApp creates an application owned by the caller.
func (c *Client) CreateApp(ctx context.Context, in CreateApp) (*App, error) {
	var a App
	return &a, c.do(ctx, http.MethodPost, "/v1/apps", nil, in, &a)
}

// GetApp answers the application with id.
func (c *Client) GetApp(ctx context.Context, id string) (*App, error) {
	var a App
	return &a, c.do(ctx, http.MethodGet, "/v1/apps/"+seg(id), nil, nil, &a)
}

// ListApps answers one page of the applications the caller may see.
func (c *Client) ListApps(ctx context.Context, o ListOptions) (*Page[App], error) {
	var p Page[App]
	return &p, c.do(ctx, http.MethodGet, "/v1/apps", o.values(nil), nil, &p)
}

// UpdateApp changes an application's name or description.
func (c *Client) UpdateApp(ctx context.Context, id string, in UpdateApp) (*App, error) {
	var a App
	return &a, c.do(ctx, http.MethodPatch, "/v1/apps/"+seg(id), nil, in, &a)
}

// DeleteApp deletes an application with its keys and clients.
func (c *Client) DeleteApp(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/apps/"+seg(id), nil, nil, nil)
}

// AppKey is an app API key ("ksk_…"). Secret is set only in the answers
// of CreateAppKey and RotateAppKey.
type AppKey struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Secret string `json:"key,omitempty"`
	Type   string `json:"type"`
	AppID  string `json:"app_id"`
	// Environment is "sandbox" or "production".
	Environment             string          `json:"environment"`
	Scopes                  []string        `json:"scopes"`
	Status                  string          `json:"status"`
	Color                   *string         `json:"color"`
	Enabled                 bool            `json:"enabled"`
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
	Meta                    json.RawMessage `json:"meta"`
	Network                 Network         `json:"network"`
	RateLimitPercent        int             `json:"rate_limit_percent"`
}

// CreateAppKey is the request of CreateAppKey; Name and Environment are
// required.
type CreateAppKey struct {
	Name             string          `json:"name"`
	Environment      string          `json:"environment"`
	Scopes           []string        `json:"scopes,omitempty"`
	ExpiresAt        *time.Time      `json:"expires_at,omitempty"`
	IdleTTLSeconds   *int64          `json:"idle_ttl,omitempty"`
	Meta             json.RawMessage `json:"meta,omitempty"`
	Network          *Network        `json:"network,omitempty"`
	RateLimitPercent *int            `json:"rate_limit_percent,omitempty"`
}

// AppKeyFilter selects the keys ListAppKeys answers.
type AppKeyFilter struct {
	ListOptions
	Query  string
	Status string
	Sort   string
	Order  string
}

func appKeyPath(appID, id string) string {
	p := "/v1/apps/" + seg(appID) + "/keys"
	if id != "" {
		p += "/" + seg(id)
	}
	return p
}

// CreateAppKey creates an API key of an application; the answer's Secret
// is the only time the key is shown.
func (c *Client) CreateAppKey(ctx context.Context, appID string, in CreateAppKey) (*AppKey, error) {
	var k AppKey
	return &k, c.do(ctx, http.MethodPost, appKeyPath(appID, ""), nil, in, &k)
}

// GetAppKey answers an application's key.
func (c *Client) GetAppKey(ctx context.Context, appID, id string) (*AppKey, error) {
	var k AppKey
	return &k, c.do(ctx, http.MethodGet, appKeyPath(appID, id), nil, nil, &k)
}

// ListAppKeys answers one page of an application's keys.
func (c *Client) ListAppKeys(ctx context.Context, appID string, f AppKeyFilter) (*Page[AppKey], error) {
	q := f.values(nil)
	setIf(q, "q", f.Query)
	setIf(q, "status", f.Status)
	setIf(q, "sort", f.Sort)
	setIf(q, "order", f.Order)
	var p Page[AppKey]
	return &p, c.do(ctx, http.MethodGet, appKeyPath(appID, ""), q, nil, &p)
}

// UpdateAppKey changes a key as UpdateToken changes a token.
func (c *Client) UpdateAppKey(ctx context.Context, appID, id string, in UpdateToken) (*AppKey, error) {
	var k AppKey
	return &k, c.do(ctx, http.MethodPatch, appKeyPath(appID, id), nil, in, &k)
}

// RotateAppKey gives a key a new secret; the old one keeps working for
// grace (0: it stops at once).
func (c *Client) RotateAppKey(ctx context.Context, appID, id string, grace time.Duration) (*AppKey, error) {
	var k AppKey
	in := struct {
		GraceSeconds int64 `json:"grace_seconds"`
	}{int64(grace / time.Second)}
	return &k, c.do(ctx, http.MethodPost, appKeyPath(appID, id)+"/rotate", nil, in, &k)
}

// RevokeAppKey revokes a key at once.
func (c *Client) RevokeAppKey(ctx context.Context, appID, id string) error {
	return c.do(ctx, http.MethodDelete, appKeyPath(appID, id), nil, nil, nil)
}
