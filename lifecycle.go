package keysmith

import (
	"bytes"
	"encoding/json"
	"time"
)

// The lifecycle rules of API tokens: idle expiry, colours, rotation, edits.

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
// tokens. Suspicion outranks expiry, which outranks recent use.
func (t *Token) Color(now time.Time) TokenColor {
	switch st := t.Status(now); {
	case st == TokenRevoked || st == TokenExpired:
		return ""
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
		return Errorf(CodeInvalid, "nothing to change: send at least one of name, enabled, meta, network, rate_limit_percent")
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
	if f.Limit < 0 || f.Limit > MaxPageSize {
		return Errorf(CodeInvalid, "limit must be between 1 and %d", MaxPageSize)
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
