package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// User is a person or a service account.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	// Role is "super_admin", "org_admin", "group_admin",
	// "group_membership_admin", "read_only_admin" or "developer".
	Role string `json:"role"`
	// Type is "person" or "service" (a service account).
	Type string `json:"type"`
	// Status is "active" or "inactive".
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CreateUser is the request of CreateUser. Password, for a person, lets
// them sign in to the console.
type CreateUser struct {
	Email    string  `json:"email"`
	Name     string  `json:"name,omitempty"`
	Role     string  `json:"role"`
	Type     string  `json:"type,omitempty"`
	Password *string `json:"password,omitempty"`
}

// UpdateUser is the request of UpdateUser: nil fields stay as they are.
type UpdateUser struct {
	Email    *string `json:"email,omitempty"`
	Name     *string `json:"name,omitempty"`
	Role     *string `json:"role,omitempty"`
	Password *string `json:"password,omitempty"`
}

// UserFilter selects the users ListUsers and ListGroupMembers answer.
type UserFilter struct {
	ListOptions
	Query  string
	Role   string
	Status string
}

func (f UserFilter) query() url.Values {
	q := f.values(nil)
	setIf(q, "q", f.Query)
	setIf(q, "role", f.Role)
	setIf(q, "status", f.Status)
	return q
}

// CreateUser adds a person or a service account.
func (c *Client) CreateUser(ctx context.Context, in CreateUser) (*User, error) {
	var u User
	return &u, c.do(ctx, http.MethodPost, "/v1/users", nil, in, &u)
}

// GetUser answers the user with id.
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	var u User
	return &u, c.do(ctx, http.MethodGet, "/v1/users/"+seg(id), nil, nil, &u)
}

// ListUsers answers one page of users.
func (c *Client) ListUsers(ctx context.Context, f UserFilter) (*Page[User], error) {
	var p Page[User]
	return &p, c.do(ctx, http.MethodGet, "/v1/users", f.query(), nil, &p)
}

// UpdateUser changes a user's email, name, role or password.
func (c *Client) UpdateUser(ctx context.Context, id string, in UpdateUser) (*User, error) {
	var u User
	return &u, c.do(ctx, http.MethodPatch, "/v1/users/"+seg(id), nil, in, &u)
}

// DeactivateUser makes a user inactive: their credentials stop working
// until ActivateUser.
func (c *Client) DeactivateUser(ctx context.Context, id string) (*User, error) {
	var u User
	return &u, c.do(ctx, http.MethodPost, "/v1/users/"+seg(id)+"/deactivate", nil, nil, &u)
}

// ActivateUser makes an inactive user active again.
func (c *Client) ActivateUser(ctx context.Context, id string) (*User, error) {
	var u User
	return &u, c.do(ctx, http.MethodPost, "/v1/users/"+seg(id)+"/activate", nil, nil, &u)
}
