package keysmith

import (
	"bytes"
	"encoding/json"
	"slices"
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
	// TokenAppKey is an application's API key for one environment, for
	// calls to the customer's own API. It exists to be verified: it never
	// authenticates to Keysmith's own management API. Its owner is the
	// application's owner.
	TokenAppKey TokenType = "app_key"
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
	// Scopes are the registered scopes the token may use (verify checks
	// required ones against them); none unless given.
	Scopes []string
	// AppID and Environment say whose key an app key is and where it
	// works; "" for the other types.
	AppID       string
	Environment Environment

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

// NewToken returns the record of a new token: t, with the defaults every
// new token gets where t leaves a field unset: DefaultIdleTTL, an empty meta
// object, a network policy that allows any address, and
// DefaultRateLimitPercent. These defaults are set here and nowhere else.
func NewToken(t Token) *Token {
	if t.IdleTTL == 0 {
		t.IdleTTL = DefaultIdleTTL
	}
	if len(t.Meta) == 0 {
		t.Meta = json.RawMessage("{}")
	}
	if t.Network.Mode == "" {
		t.Network.Mode = NetworkAny
	}
	if t.RateLimitPercent == 0 {
		t.RateLimitPercent = DefaultRateLimitPercent
	}
	return &t
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

// Noun is how messages name a token of the type.
func (t TokenType) Noun() string {
	if t == TokenAppKey {
		return "app key"
	}
	return "token"
}

// AuthenticatesToKeysmith reports whether the token may authenticate to
// Keysmith's own management API: every type but app keys.
func (t *Token) AuthenticatesToKeysmith() bool { return t.Type != TokenAppKey }

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
	Page
	OwnerID string // "" for all owners
	// AppID, when set, selects the keys of that application; without it
	// app keys are never listed (they are not API tokens).
	AppID string

	Query  string      // case-insensitive substring of the name (prefix if under 3 characters); "" for all
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
	// Scopes replaces the token's scopes; added ones need a grant (see
	// CreateTokenInput.Scopes), removed ones do not.
	Scopes *[]string
	// ScopesBefore are the scopes the grant was checked against: with
	// Scopes set, the store refuses the update (CodeConflict) when the
	// token's scopes are no longer these, so that a change made meanwhile
	// (an admin taking a scope away) is not undone without a grant.
	ScopesBefore []string
}

// IsEmpty reports whether the update changes nothing.
func (u *TokenUpdate) IsEmpty() bool {
	return u.Name == nil && u.Enabled == nil && u.Meta == nil && u.Network == nil && u.RateLimitPercent == nil &&
		u.Scopes == nil
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
	// Scopes are registered scopes the token may use at the customer's
	// APIs (checked by verify); the caller must be allowed to grant each
	// (GrantError). They change nothing on Keysmith's own API.
	Scopes []string
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
	return ValidateScopeNames(in.Scopes)
}

// MaxCredentialScopes bounds the scopes one credential names.
const MaxCredentialScopes = 100

// ValidateScopeNames checks the form of the scope names a credential is to
// hold: at most MaxCredentialScopes, each non-empty, without whitespace or
// parentheses (which separate scopes in storage and in permission
// queries), each once. Whether they are registered is the store's to say.
func ValidateScopeNames(scopes []string) error {
	if len(scopes) > MaxCredentialScopes {
		return Errorf(CodeInvalid, "scopes names %d scopes; at most %d", len(scopes), MaxCredentialScopes)
	}
	for i, sc := range scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n()") {
			return Errorf(CodeInvalid, "scopes[%d] %q is not a scope name: it must be non-empty, without spaces or parentheses", i, sc)
		}
		if slices.Contains(scopes[:i], sc) {
			return Errorf(CodeInvalid, "scopes names %q twice", sc)
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

// Idle expiry: a token unused for IdleTTL is expired for good; each use
// renews it for a full IdleTTL.
const (
	DefaultIdleTTL = 30 * 24 * time.Hour
	MinIdleTTL     = time.Minute
	MaxIdleTTL     = 3650 * 24 * time.Hour
)

// IdleSettle is how long after a token's idle deadline a use made before the
// deadline may still be stored: replicas flush their uses every second, so
// one made just in time has arrived by then. A use that reaches the store
// later is refused, and so is any use once the token's expiry has been
// recorded (by a replica that answered EXPIRED, by the expiry sweep, or by a
// flush that was refused): from then on idle expiry is final.
const IdleSettle = 10 * time.Second

// The colour thresholds.
const (
	RecentUse    = 3 * 24 * time.Hour // used within this is green
	ExpiringSoon = 7 * 24 * time.Hour // expiring within this is red
)

// MaxMetaBytes bounds a token's meta object (compact JSON).
const MaxMetaBytes = 10 * 1024

// MaxRotationGrace bounds how long a rotated-out secret may keep working.
const MaxRotationGrace = 24 * time.Hour

// TokenColor is what a list shows beside a live token.
type TokenColor string

// The colours. Revoked and expired tokens have none: their status says it.
const (
	ColorGreen  TokenColor = "green"  // used within RecentUse
	ColorGray   TokenColor = "gray"   // idle: not used within RecentUse, more than ExpiringSoon left
	ColorRed    TokenColor = "red"    // expires within ExpiringSoon
	ColorYellow TokenColor = "yellow" // suspicious
	ColorBlue   TokenColor = "blue"   // disabled: suspended, and can be enabled again
)

// IdleExpiresAt is when the token expires unless it is used before: a full
// IdleTTL after its last use (or its creation, if never used).
func (t *Token) IdleExpiresAt() time.Time {
	base := t.CreatedAt
	if t.LastUsedAt != nil && t.LastUsedAt.After(base) {
		base = *t.LastUsedAt
	}
	return base.Add(t.IdleTTL)
}

// EffectiveExpiresAt is the earlier of the absolute and the idle expiry: the
// moment the token stops working unless it is used before.
func (t *Token) EffectiveExpiresAt() time.Time {
	idle := t.IdleExpiresAt()
	if t.ExpiresAt != nil && t.ExpiresAt.Before(idle) {
		return *t.ExpiresAt
	}
	return idle
}

// Suspicious reports whether t is an agent token that no active agent holds:
// its agent was deleted, or deactivated and not reactivated, while the
// token stayed alive.
func (t *Token) Suspicious() bool { return t.Type == TokenAgent && !t.AgentActive }

// Color derives the token's colour at now; "" for revoked and expired
// tokens. A disabled token is blue, so that it never reads as a working
// one; then suspicion outranks expiry, which outranks recent use.
func (t *Token) Color(now time.Time) TokenColor {
	switch st := t.Status(now); {
	case st == TokenRevoked || st == TokenExpired:
		return ""
	case st == TokenDisabled:
		return ColorBlue
	case t.Suspicious():
		return ColorYellow
	case !t.EffectiveExpiresAt().After(now.Add(ExpiringSoon)):
		return ColorRed
	case t.LastUsedAt != nil && t.LastUsedAt.After(now.Add(-RecentUse)):
		return ColorGreen
	}
	return ColorGray
}

// ValidateIdleTTL checks a per-token or server idle TTL.
func ValidateIdleTTL(d time.Duration) error {
	if d < MinIdleTTL || d > MaxIdleTTL {
		return Errorf(CodeInvalid, "idle_ttl must be between %d and %d seconds (1 minute to 10 years), got %d",
			int64(MinIdleTTL/time.Second), int64(MaxIdleTTL/time.Second), int64(d/time.Second))
	}
	return nil
}

// NormalizeMeta checks that raw is a JSON object of at most MaxMetaBytes
// and returns it compacted, the form it is stored and shown in.
func NormalizeMeta(raw json.RawMessage) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, Errorf(CodeInvalid, "meta must be a JSON object")
	}
	b := buf.Bytes()
	if len(b) == 0 || b[0] != '{' {
		return nil, Errorf(CodeInvalid, "meta must be a JSON object, like {\"team\": \"payments\"}")
	}
	if len(b) > MaxMetaBytes {
		return nil, Errorf(CodeInvalid, "meta must be at most %d bytes of compact JSON, got %d", MaxMetaBytes, len(b))
	}
	return b, nil
}

// Validate checks an update.
func (u *TokenUpdate) Validate() error {
	if u.IsEmpty() {
		return Errorf(CodeInvalid, "nothing to change: send at least one of name, enabled, meta, network, rate_limit_percent, scopes")
	}
	if u.Name != nil {
		if err := validateName("name", *u.Name); err != nil {
			return err
		}
	}
	if u.Meta != nil {
		m, err := NormalizeMeta(*u.Meta)
		if err != nil {
			return err
		}
		*u.Meta = m
	}
	if u.Network != nil {
		if err := u.Network.Validate(); err != nil {
			return err
		}
	}
	if u.RateLimitPercent != nil {
		if err := ValidateRateLimitPercent(*u.RateLimitPercent); err != nil {
			return err
		}
	}
	if u.Scopes != nil {
		if err := ValidateScopeNames(*u.Scopes); err != nil {
			return err
		}
	}
	return nil
}

// TokenSort is a key FindTokens orders by.
type TokenSort string

// The sort keys. expires_at orders by EffectiveExpiresAt; last_used_at puts
// never-used tokens before every used one (after them in desc order).
const (
	SortCreatedAt  TokenSort = "created_at"
	SortName       TokenSort = "name"
	SortLastUsedAt TokenSort = "last_used_at"
	SortExpiresAt  TokenSort = "expires_at"
)

// SortOrder is ascending or descending.
type SortOrder string

// The orders.
const (
	OrderAsc  SortOrder = "asc"
	OrderDesc SortOrder = "desc"
)

// Validate checks the filter and fills in the defaults of sort and order.
func (f *TokenFilter) Validate() error {
	if err := f.Page.Validate(); err != nil {
		return err
	}
	switch f.Type {
	case "", TokenUser, TokenService, TokenAgent:
	default:
		return Errorf(CodeInvalid, "type must be user, service or agent, not %q", f.Type)
	}
	switch f.Status {
	case "", TokenActive, TokenExpired, TokenRevoked, TokenDisabled, TokenSuspicious:
	default:
		return Errorf(CodeInvalid, "status must be active, disabled, suspicious, expired or revoked, not %q", f.Status)
	}
	switch f.Sort {
	case "":
		f.Sort = SortCreatedAt
	case SortCreatedAt, SortName, SortLastUsedAt, SortExpiresAt:
	default:
		return Errorf(CodeInvalid, "sort must be name, created_at, last_used_at or expires_at, not %q", f.Sort)
	}
	switch f.Order {
	case "":
		f.Order = OrderDesc
	case OrderAsc, OrderDesc:
	default:
		return Errorf(CodeInvalid, "order must be asc or desc, not %q", f.Order)
	}
	if len(f.Query) > 200 {
		return Errorf(CodeInvalid, "q must be at most 200 bytes")
	}
	return nil
}

// TokenSummary counts tokens, as a sidebar shows them.
type TokenSummary struct {
	Total    int
	ByType   map[TokenType]int
	ByStatus map[TokenStatus]int
	ByColor  map[TokenColor]int
}

// NewTokenSummary is a summary with every API token type, status and colour
// at 0, so that a summary names each even when no token has it.
func NewTokenSummary() *TokenSummary {
	s := &TokenSummary{ByType: map[TokenType]int{}, ByStatus: map[TokenStatus]int{}, ByColor: map[TokenColor]int{}}
	for _, t := range []TokenType{TokenUser, TokenService, TokenAgent} {
		s.ByType[t] = 0
	}
	for _, st := range []TokenStatus{TokenActive, TokenDisabled, TokenSuspicious, TokenExpired, TokenRevoked} {
		s.ByStatus[st] = 0
	}
	for _, c := range []TokenColor{ColorGreen, ColorGray, ColorRed, ColorYellow, ColorBlue} {
		s.ByColor[c] = 0
	}
	return s
}

// CreatedEvent is the event a new token's creation records; owner is the
// ref of the token's owner.
func (t *Token) CreatedEvent(owner Ref) EventDraft {
	details := map[string]any{"type": t.Type, "owner_id": t.OwnerID, "idle_ttl_seconds": int64(t.IdleTTL / time.Second),
		"network": networkDetails(t.Network), "rate_limit_percent": t.RateLimitPercent}
	if t.Type == TokenAppKey {
		details["app_id"], details["environment"], details["scopes"] = t.AppID, t.Environment, scopeList(t.Scopes)
	}
	if t.AgentID != "" {
		details["agent_id"] = t.AgentID
	}
	if t.ExpiresAt != nil {
		details["expires_at"] = *t.ExpiresAt
	}
	return EventDraft{Type: t.EventType(EventAPITokenCreated), Details: details, Targets: []Ref{TokenRef(t), owner}}
}

// Events are the events the update of old records: one api_token.updated
// that lists the fields it sets and their new values (never meta's, which
// may be large); owner is the ref of the token's owner.
func (u *TokenUpdate) Events(old *Token, owner Ref) []EventDraft {
	var changed []string
	details := map[string]any{}
	t := *old
	if u.Name != nil {
		changed = append(changed, "name")
		details["name"] = *u.Name
		t.Name = *u.Name
	}
	if u.Enabled != nil {
		changed = append(changed, "enabled")
		details["enabled"] = *u.Enabled
	}
	if u.Meta != nil {
		changed = append(changed, "meta")
	}
	if u.Network != nil {
		changed = append(changed, "network")
		details["network"] = networkDetails(*u.Network)
	}
	if u.RateLimitPercent != nil {
		changed = append(changed, "rate_limit_percent")
		details["rate_limit_percent"] = *u.RateLimitPercent
	}
	if u.Scopes != nil {
		changed = append(changed, "scopes")
		details["scopes"] = scopeList(*u.Scopes)
	}
	details["changed"] = changed
	return []EventDraft{{Type: t.EventType(EventAPITokenUpdated), Details: details, Targets: []Ref{TokenRef(&t), owner}}}
}

// scopeList is how a list of scopes appears in the system log: never null.
func scopeList(scopes []string) []string {
	if scopes == nil {
		return []string{}
	}
	return scopes
}

// networkDetails is how a policy appears in the system log.
func networkDetails(p NetworkPolicy) map[string]any {
	zones := p.Zones
	if zones == nil {
		zones = []string{}
	}
	return map[string]any{"mode": p.Mode, "zones": zones}
}
