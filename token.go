package keysmith

import (
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
	TokenActive  TokenStatus = "active"
	TokenExpired TokenStatus = "expired"
	TokenRevoked TokenStatus = "revoked"
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
}

// Status derives the token's status at now.
func (t *Token) Status(now time.Time) TokenStatus {
	switch {
	case t.RevokedAt != nil:
		return TokenRevoked
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return TokenExpired
	}
	return TokenActive
}

// TokenUse is one batched record of a token's use: the latest time and source
// address seen since the last flush.
type TokenUse struct {
	TokenID string
	At      time.Time
	IP      string
}

// TokenFilter selects tokens for FindTokens.
type TokenFilter struct {
	OwnerID string // "" for all owners
	Limit   int    // 1..MaxPageSize; 0 means DefaultPageSize
	Cursor  string // opaque, from the previous page
}

// Page sizes for every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// CreateTokenInput is what a caller supplies to create an API token.
type CreateTokenInput struct {
	Name      string
	ExpiresAt *time.Time
}

// Validate checks the input against the rules at now.
func (in *CreateTokenInput) Validate(now time.Time) error {
	if err := validateName("name", in.Name); err != nil {
		return err
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		return Errorf(CodeInvalid, "expires_at must be in the future")
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
