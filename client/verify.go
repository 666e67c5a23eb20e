package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// The codes of a verify answer (VerifyResult.Code), checked in this order;
// the last two only for a credential that is otherwise valid.
const (
	CodeValid                   = "VALID"
	CodeMalformed               = "MALFORMED"
	CodeNotFound                = "NOT_FOUND"
	CodeExpired                 = "EXPIRED"
	CodeRevoked                 = "REVOKED"
	CodeDisabled                = "DISABLED"
	CodeOwnerInactive           = "OWNER_INACTIVE"
	CodeIPForbidden             = "IP_FORBIDDEN"
	CodeRateLimited             = "RATE_LIMITED"
	CodeWrongEnvironment        = "WRONG_ENVIRONMENT"
	CodeInsufficientPermissions = "INSUFFICIENT_PERMISSIONS"
)

// VerifyRequest asks whether a credential is good, and optionally whether
// it meets a requirement. Only Token is required.
type VerifyRequest struct {
	// Token is the credential: an API token, an app key or an OAuth access
	// token.
	Token string `json:"token"`
	// IP is the address your server saw its client at; "" checks network
	// policies against the address Keysmith sees the verify call from.
	IP string `json:"ip,omitempty"`
	// Scopes are all required; nil requires none.
	Scopes []string `json:"scopes,omitempty"`
	// Permissions is a permission query, such as
	// "orders:read AND (orders:write OR orders:admin)"; "" for none.
	Permissions string `json:"permissions,omitempty"`
	// Environment, "sandbox" or "production", is where the credential must
	// work; "" for anywhere.
	Environment string `json:"environment,omitempty"`
}

// VerifyResult is Keysmith's answer about a credential. Fields beyond
// Valid and Code are set only when the credential is known, and the
// identity (owner, meta, expiry) only when it is valid.
type VerifyResult struct {
	Valid   bool   `json:"valid"`
	Code    string `json:"code"`
	TokenID string `json:"token_id,omitempty"`
	// Scopes are the credential's scopes.
	Scopes []string `json:"scopes,omitempty"`
	// Missing are scopes that would meet the requirement, with
	// CodeInsufficientPermissions.
	Missing []string `json:"missing,omitempty"`
	OwnerID string   `json:"owner_id,omitempty"`
	// Type is "user", "service", "agent", "app_key" or "access_token".
	Type      string          `json:"type,omitempty"`
	ExpiresAt *time.Time      `json:"expires_at,omitempty"`
	Meta      json.RawMessage `json:"meta,omitempty"`
	// ClientID is the OAuth client of an access token.
	ClientID    string `json:"client_id,omitempty"`
	AppID       string `json:"app_id,omitempty"`
	Environment string `json:"env,omitempty"`
	// Scope is an access token's scopes as one space-separated string.
	Scope string `json:"scope,omitempty"`
	// UserID is the person an access token acts for.
	UserID    string     `json:"user_id,omitempty"`
	Owner     *Owner     `json:"owner,omitempty"`
	RateLimit *RateLimit `json:"ratelimit,omitempty"`
}

// Owner is the owner of a valid credential as Keysmith knows them now.
type Owner struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Role   string `json:"role"`
	Status string `json:"status"`
}

// RateLimit is a credential's standing in its share of the "verified"
// rate limit: requests per minute, what is left now, and the seconds until
// it is whole again.
type RateLimit struct {
	Limit     int `json:"limit"`
	Remaining int `json:"remaining"`
	Reset     int `json:"reset"`
}

// Verify asks Keysmith whether a credential is good (POST /v1/verify). It
// sends no Authorization: holding the credential is the proof. A refused
// credential is a result with Valid false, not an error; errors are for
// calls Keysmith did not answer (or answered with an *Error, such as a 400
// for a malformed requirement).
func (c *Client) Verify(ctx context.Context, in VerifyRequest) (*VerifyResult, error) {
	var r VerifyResult
	if err := c.send(ctx, http.MethodPost, "/v1/verify", nil, in, &r, false); err != nil {
		return nil, err
	}
	return &r, nil
}
