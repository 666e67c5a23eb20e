package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// OAuthClient is an OAuth 2.0 client. Secret and SecretID are set only in
// the answer of CreateOAuthClient, for a confidential client.
type OAuthClient struct {
	// ID is the client_id the client presents. For Keysmith's own clients
	// it is also RecordID; for one registered at an external key manager
	// (KeyManager) it is the manager's, and the methods that name a
	// client take RecordID.
	ID         string `json:"client_id"`
	RecordID   string `json:"id"`
	KeyManager string `json:"key_manager"`
	Secret     string `json:"client_secret,omitempty"`
	SecretID   string `json:"secret_id,omitempty"`
	Name       string `json:"name"`
	AppID      string `json:"app_id,omitempty"`
	OwnerID    string `json:"owner_id"`
	// Environment is "sandbox" or "production".
	Environment string   `json:"environment"`
	Scopes      []string `json:"scopes"`
	// UnregisteredScopes are the client's scopes no API registers (any
	// more).
	UnregisteredScopes         []string   `json:"unregistered_scopes"`
	GrantTypes                 []string   `json:"grant_types"`
	TokenTTLSeconds            int64      `json:"token_ttl_seconds"`
	TokenFormat                string     `json:"token_format"`
	Audience                   string     `json:"audience,omitempty"`
	Status                     string     `json:"status"`
	RedirectURIs               []string   `json:"redirect_uris"`
	PostLogoutRedirectURIs     []string   `json:"post_logout_redirect_uris"`
	TokenEndpointAuthMethod    string     `json:"token_endpoint_auth_method"`
	PKCERequired               bool       `json:"pkce_required"`
	PKCEAllowPlain             bool       `json:"pkce_allow_plain"`
	FirstParty                 bool       `json:"first_party"`
	RefreshTokenTTLSeconds     int64      `json:"refresh_token_ttl"`
	RefreshTokenIdleTTLSeconds int64      `json:"refresh_token_idle_ttl"`
	CreatedAt                  time.Time  `json:"created_at"`
	CreatedBy                  string     `json:"created_by"`
	RevokedAt                  *time.Time `json:"revoked_at,omitempty"`
	RevokedBy                  string     `json:"revoked_by,omitempty"`
}

// CreateOAuthClient is the request of CreateOAuthClient. Name, AppID and
// Environment are required; the rest have the server's defaults.
type CreateOAuthClient struct {
	Name                    string   `json:"name"`
	AppID                   string   `json:"app_id"`
	Environment             string   `json:"environment"`
	Scopes                  []string `json:"scopes,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	TokenTTLSeconds         *int64   `json:"token_ttl_seconds,omitempty"`
	TokenFormat             string   `json:"token_format,omitempty"`
	Audience                string   `json:"audience,omitempty"`
	RedirectURIs            []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	PKCERequired            *bool    `json:"pkce_required,omitempty"`
	PKCEAllowPlain          *bool    `json:"pkce_allow_plain,omitempty"`
	FirstParty              bool     `json:"first_party,omitempty"`
	RefreshTokenTTLSeconds  *int64   `json:"refresh_token_ttl,omitempty"`
	RefreshTokenIdleTTL     *int64   `json:"refresh_token_idle_ttl,omitempty"`
	// KeyManager registers the client at this external key manager (an id
	// from GET /v1/key-managers) instead of in Keysmith.
	KeyManager string `json:"key_manager,omitempty"`
}

// UpdateOAuthClient is the request of UpdateOAuthClient: nil fields stay
// as they are, and a list given replaces the list.
type UpdateOAuthClient struct {
	Name                   *string   `json:"name,omitempty"`
	Scopes                 *[]string `json:"scopes,omitempty"`
	Audience               *string   `json:"audience,omitempty"`
	TokenTTLSeconds        *int64    `json:"token_ttl_seconds,omitempty"`
	GrantTypes             *[]string `json:"grant_types,omitempty"`
	RedirectURIs           *[]string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris,omitempty"`
}

// OAuthClientFilter selects the clients ListOAuthClients answers.
type OAuthClientFilter struct {
	ListOptions
	AppID string
}

// ClientSecret is one of a confidential client's secrets. Secret is set
// only in the answers that create one.
type ClientSecret struct {
	ID          string     `json:"secret_id"`
	Secret      string     `json:"client_secret,omitempty"`
	Description string     `json:"description"`
	Last4       string     `json:"last4"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
	Expired     bool       `json:"expired"`
}

// CreateClientSecret is the optional request of CreateClientSecret and
// ResetClientSecrets.
type CreateClientSecret struct {
	Description string     `json:"description,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

func clientPath(id string) string { return "/v1/oauth/clients/" + seg(id) }

// CreateOAuthClient creates an OAuth client of an application; a
// confidential client's first secret is in the answer, shown once.
func (c *Client) CreateOAuthClient(ctx context.Context, in CreateOAuthClient) (*OAuthClient, error) {
	var oc OAuthClient
	return &oc, c.do(ctx, http.MethodPost, "/v1/oauth/clients", nil, in, &oc)
}

// GetOAuthClient answers the client with id.
func (c *Client) GetOAuthClient(ctx context.Context, id string) (*OAuthClient, error) {
	var oc OAuthClient
	return &oc, c.do(ctx, http.MethodGet, clientPath(id), nil, nil, &oc)
}

// ListOAuthClients answers one page of the clients the caller may see.
func (c *Client) ListOAuthClients(ctx context.Context, f OAuthClientFilter) (*Page[OAuthClient], error) {
	q := f.values(url.Values{})
	setIf(q, "app_id", f.AppID)
	var p Page[OAuthClient]
	return &p, c.do(ctx, http.MethodGet, "/v1/oauth/clients", q, nil, &p)
}

// UpdateOAuthClient changes a client's settings.
func (c *Client) UpdateOAuthClient(ctx context.Context, id string, in UpdateOAuthClient) (*OAuthClient, error) {
	var oc OAuthClient
	return &oc, c.do(ctx, http.MethodPatch, clientPath(id), nil, in, &oc)
}

// RevokeOAuthClient revokes a client: its secrets and tokens stop working.
func (c *Client) RevokeOAuthClient(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, clientPath(id), nil, nil, nil)
}

// CreateClientSecret adds a secret to a confidential client, shown once in
// the answer.
func (c *Client) CreateClientSecret(ctx context.Context, clientID string, in CreateClientSecret) (*ClientSecret, error) {
	var s ClientSecret
	return &s, c.do(ctx, http.MethodPost, clientPath(clientID)+"/secrets", nil, in, &s)
}

// ListClientSecrets answers a client's secrets (without their values).
func (c *Client) ListClientSecrets(ctx context.Context, clientID string) ([]ClientSecret, error) {
	var p Page[ClientSecret]
	if err := c.do(ctx, http.MethodGet, clientPath(clientID)+"/secrets", nil, nil, &p); err != nil {
		return nil, err
	}
	return p.Items, nil
}

// DeleteClientSecret deletes one of a client's secrets.
func (c *Client) DeleteClientSecret(ctx context.Context, clientID, secretID string) error {
	return c.do(ctx, http.MethodDelete, clientPath(clientID)+"/secrets/"+seg(secretID), nil, nil, nil)
}

// ResetClientSecrets replaces all of a client's secrets with a new one,
// shown once in the answer.
func (c *Client) ResetClientSecrets(ctx context.Context, clientID string, in CreateClientSecret) (*ClientSecret, error) {
	var s ClientSecret
	return &s, c.do(ctx, http.MethodPost, clientPath(clientID)+"/secrets/reset", nil, in, &s)
}
