package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Group is a named set of users.
type Group struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// GroupInput is the request of CreateGroup (Name required) and
// UpdateGroup (nil fields stay as they are).
type GroupInput struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
}

// GroupFilter selects the groups ListGroups answers.
type GroupFilter struct {
	ListOptions
	Query string
}

func groupPath(id string) string { return "/v1/groups/" + seg(id) }

// CreateGroup creates a group.
func (c *Client) CreateGroup(ctx context.Context, in GroupInput) (*Group, error) {
	var g Group
	return &g, c.do(ctx, http.MethodPost, "/v1/groups", nil, in, &g)
}

// GetGroup answers the group with id.
func (c *Client) GetGroup(ctx context.Context, id string) (*Group, error) {
	var g Group
	return &g, c.do(ctx, http.MethodGet, groupPath(id), nil, nil, &g)
}

// ListGroups answers one page of groups.
func (c *Client) ListGroups(ctx context.Context, f GroupFilter) (*Page[Group], error) {
	q := f.values(url.Values{})
	setIf(q, "q", f.Query)
	var p Page[Group]
	return &p, c.do(ctx, http.MethodGet, "/v1/groups", q, nil, &p)
}

// UpdateGroup changes a group's name or description.
func (c *Client) UpdateGroup(ctx context.Context, id string, in GroupInput) (*Group, error) {
	var g Group
	return &g, c.do(ctx, http.MethodPatch, groupPath(id), nil, in, &g)
}

// DeleteGroup deletes a group (not its members).
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, groupPath(id), nil, nil, nil)
}

// ListGroupMembers answers one page of a group's members.
func (c *Client) ListGroupMembers(ctx context.Context, id string, f UserFilter) (*Page[User], error) {
	var p Page[User]
	return &p, c.do(ctx, http.MethodGet, groupPath(id)+"/members", f.query(), nil, &p)
}

// AddGroupMember adds a user to a group; adding a member again is no
// error.
func (c *Client) AddGroupMember(ctx context.Context, id, userID string) error {
	return c.do(ctx, http.MethodPut, groupPath(id)+"/members/"+seg(userID), nil, nil, nil)
}

// RemoveGroupMember removes a user from a group; removing a non-member is
// no error.
func (c *Client) RemoveGroupMember(ctx context.Context, id, userID string) error {
	return c.do(ctx, http.MethodDelete, groupPath(id)+"/members/"+seg(userID), nil, nil, nil)
}
