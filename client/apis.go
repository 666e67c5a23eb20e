package client

import (
	"context"
	"net/http"
	"time"
)

// API is one of the customer's APIs, registered with the scopes
// credentials may be given for it.
type API struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Identifier string    `json:"identifier"`
	Scopes     []Scope   `json:"scopes"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Scope is a scope an API registers. Any developer may give a SelfService
// scope to their own credentials; the others only admins.
type Scope struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	SelfService bool   `json:"self_service"`
}

// CreateAPI is the request of CreateAPI.
type CreateAPI struct {
	Name       string  `json:"name"`
	Identifier string  `json:"identifier"`
	Scopes     []Scope `json:"scopes"`
}

// UpdateAPI is the request of UpdateAPI: nil fields stay as they are.
type UpdateAPI struct {
	Name       *string  `json:"name,omitempty"`
	Identifier *string  `json:"identifier,omitempty"`
	Scopes     *[]Scope `json:"scopes,omitempty"`
}

// APIList is the answer of ListAPIs: every API, and apart the built-in
// OpenID Connect scopes.
type APIList struct {
	Items         []API   `json:"items"`
	BuiltinScopes []Scope `json:"builtin_scopes"`
}

// CreateAPI registers an API and its scopes.
func (c *Client) CreateAPI(ctx context.Context, in CreateAPI) (*API, error) {
	var a API
	return &a, c.do(ctx, http.MethodPost, "/v1/apis", nil, in, &a)
}

// GetAPI answers the API with id.
func (c *Client) GetAPI(ctx context.Context, id string) (*API, error) {
	var a API
	return &a, c.do(ctx, http.MethodGet, "/v1/apis/"+seg(id), nil, nil, &a)
}

// ListAPIs answers every registered API (the list is not paged).
func (c *Client) ListAPIs(ctx context.Context) (*APIList, error) {
	var l APIList
	return &l, c.do(ctx, http.MethodGet, "/v1/apis", nil, nil, &l)
}

// UpdateAPI changes an API's name, identifier or scopes.
func (c *Client) UpdateAPI(ctx context.Context, id string, in UpdateAPI) (*API, error) {
	var a API
	return &a, c.do(ctx, http.MethodPatch, "/v1/apis/"+seg(id), nil, in, &a)
}

// DeleteAPI deletes an API.
func (c *Client) DeleteAPI(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/apis/"+seg(id), nil, nil, nil)
}
