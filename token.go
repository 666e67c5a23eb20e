package keysmith

import (
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// TokenType says who holds an API token.
type TokenType string

// The token types.
const (
	TokenUser    TokenType = "user"    // created by a user for themselves
	TokenService TokenType = "service" // owned by a service account
	TokenAgent   TokenType = "agent"   // held by an agent program, managed by Keysmith
)

// TokenStatus is derived on read from the token's dates and the clock; it is
// never stored, so it cannot go stale.
type TokenStatus string

// The token statuses.
const (
	TokenActive     TokenStatus = "active"
	TokenExpired    TokenStatus = "expired" // past expires_at, or unused for longer than its idle TTL
	TokenRevoked    TokenStatus = "revoked"
	TokenDisabled   TokenStatus = "disabled"   // suspended by PATCH {"enabled": false}; can be restored
	TokenSuspicious TokenStatus = "suspicious" // a live agent token whose agent is gone or deactivated
)

// Token is an API token's record. It never holds the secret nor its hash: the
// store takes the hash separately when the token is created, so no code path
// that reads tokens can leak it.
type Token struct {
	ID         string
	Name       string
	Type       TokenType
	OwnerID    string
	CreatedAt  time.Time
	CreatedBy  string // user id
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	LastUsedIP string
	RevokedAt  *time.Time
	RevokedBy  string // user id

	// IdleTTL is how long the token lives without being used: every use
	// renews it for this long. The effective value is stored with the token.
	IdleTTL    time.Duration
	DisabledAt *time.Time      // nil while enabled
	Meta       json.RawMessage // a JSON object, "{}" when unset
	RotatedAt  *time.Time      // the last rotation
	// PrevSecretExpiresAt is when the secret replaced by the last rotation
	// stops working; nil if the token was never rotated.
	PrevSecretExpiresAt *time.Time
	AgentID             string // the agent the token was issued to; "" unless Type is agent
	// Network says from which addresses the token may be used.
	Network NetworkPolicy
	// RateLimitPercent is the token's share of every group's maximum.
	RateLimitPercent int
	// ExpiryRecordedAt is when the token's expiry was recorded in the
	// system log (api_token.expired); nil before. A recorded expiry is
	// final: no later use renews the token.
	ExpiryRecordedAt *time.Time

	// Set on read, not stored as such.
	AgentActive       bool       // the agent exists, is active and holds this token
	ViaPreviousSecret bool       // FindTokenByHash matched the secret replaced by the last rotation
	Owner             TokenOwner // filled by FindTokenByID and FindTokens
}

// TokenOwner is how a token's owner appears beside it in lists.
type TokenOwner struct {
	ID    string
	Email string
	Role  Role
}

// Status derives the token's status at now. The order matters: a revoked
// token is revoked whatever its dates, an expired one is expired even while
// disabled, and only a live, enabled agent token can be suspicious.
func (t *Token) Status(now time.Time) TokenStatus {
	switch {
	case t.RevokedAt != nil:
		return TokenRevoked
	case t.ExpiryRecordedAt != nil, t.ExpiresAt != nil && !now.Before(*t.ExpiresAt), !now.Before(t.IdleExpiresAt()):
		return TokenExpired
	case t.DisabledAt != nil:
		return TokenDisabled
	case t.Suspicious():
		return TokenSuspicious
	}
	return TokenActive
}

// TokenUse is one batched record of a token's use: the latest time and source
// address seen since the last flush.
type TokenUse struct {
	TokenID string
	At      time.Time
	IP      string
	// First is the earliest use in the batch (zero: At). Each use since was
	// accepted within the idle TTL of the one before, so At renews the token
	// if First came before its idle deadline.
	First time.Time
}

// TokenFilter selects tokens for FindTokens.
type TokenFilter struct {
	OwnerID string // "" for all owners
	Limit   int    // 1..MaxPageSize; 0 means DefaultPageSize
	Cursor  string // opaque, from the previous page

	Query  string      // case-insensitive substring of the name; "" for all
	Type   TokenType   // "" for all
	Status TokenStatus // "" for all; derived at Now
	Sort   TokenSort   // "" means created_at
	Order  SortOrder   // "" means desc
	Now    time.Time   // the clock reading statuses are derived at
}

// TokenUpdate is a change to a token: nil fields are left as they are.
// New updatable fields are added here as pointers.
type TokenUpdate struct {
	Name             *string
	Enabled          *bool
	Meta             *json.RawMessage
	Network          *NetworkPolicy
	RateLimitPercent *int
}

// IsEmpty reports whether the update changes nothing.
func (u *TokenUpdate) IsEmpty() bool {
	return u.Name == nil && u.Enabled == nil && u.Meta == nil && u.Network == nil && u.RateLimitPercent == nil
}

// Page sizes for every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// CreateTokenInput is what a caller supplies to create an API token.
type CreateTokenInput struct {
	Name             string
	ExpiresAt        *time.Time
	IdleTTL          *time.Duration  // nil means the server's default
	Meta             json.RawMessage // nil means {}
	Network          *NetworkPolicy  // nil: any address
	RateLimitPercent *int            // nil: DefaultRateLimitPercent
	// OwnerID names the service account the token is for; "" means the
	// caller. See CanCreateTokenFor.
	OwnerID string
}

// Validate checks the input against the rules at now.
func (in *CreateTokenInput) Validate(now time.Time) error {
	if err := validateName("name", in.Name); err != nil {
		return err
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		return Errorf(CodeInvalid, "expires_at must be in the future")
	}
	if in.IdleTTL != nil {
		if err := ValidateIdleTTL(*in.IdleTTL); err != nil {
			return err
		}
	}
	if in.Meta != nil {
		if _, err := NormalizeMeta(in.Meta); err != nil {
			return err
		}
	}
	if in.Network != nil {
		if err := in.Network.Validate(); err != nil {
			return err
		}
	}
	if in.RateLimitPercent != nil {
		if err := ValidateRateLimitPercent(*in.RateLimitPercent); err != nil {
			return err
		}
	}
	return nil
}

// validateName checks a display name: 1–100 characters of valid UTF-8.
func validateName(field, s string) error {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		return Errorf(CodeInvalid, "%s must be valid UTF-8", field)
	case n == 0:
		return Errorf(CodeInvalid, "%s is required", field)
	case n > 100:
		return Errorf(CodeInvalid, "%s must be at most 100 characters, got %d", field, n)
	case strings.TrimSpace(s) == "":
		return Errorf(CodeInvalid, "%s must not be only white space", field)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return Errorf(CodeInvalid, "%s must not contain control characters", field)
	}
	return nil
}
