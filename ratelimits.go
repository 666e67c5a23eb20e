package keysmith

import (
	"slices"
	"strings"
	"time"
)

// APIGroup names a set of endpoints that share one rate limit, or (for
// GroupVerified) the customer's API as seen through verify.
type APIGroup string

// The API groups. Tokens use RateLimitPercent of each group's maximum, and
// session cookies DefaultRateLimitPercent of it, per user; the Failed*
// groups limit failures per source address instead, and GroupDenied
// refusals per credential.
const (
	GroupTokens   APIGroup = "tokens"
	GroupUsers    APIGroup = "users"
	GroupApps     APIGroup = "apps"
	GroupOAuth    APIGroup = "oauth"
	GroupLogs     APIGroup = "logs"
	GroupZones    APIGroup = "zones"
	GroupSettings APIGroup = "settings"
	GroupAgents   APIGroup = "agents"
	// GroupVerified counts successful verifies of a token: the requests it
	// made to the customer's API.
	GroupVerified APIGroup = "verified"
	// GroupFailedSignIns counts failed sign-ins per source address.
	GroupFailedSignIns APIGroup = "failed_sign_ins"
	// GroupFailedClientAuth counts failed client authentications at the
	// OAuth token endpoint per source address.
	GroupFailedClientAuth APIGroup = "failed_client_auth"
	// GroupUnknownTokens counts lookups of tokens that turn out unknown
	// (at verify and the management API), per source address of the
	// request: past it, that address is answered from the caches only.
	GroupUnknownTokens APIGroup = "unknown_tokens"
	// GroupDenied counts requests refused with 403, per token (apart from
	// the token's shares, so that a thief outside its networks cannot
	// spend them), or per source address when no token is known. Past it
	// a refusal is answered 429 and not written to the system log.
	GroupDenied APIGroup = "denied"
	// GroupTokenIssuance counts the access tokens issued to each OAuth
	// client (per client, not per token or address).
	GroupTokenIssuance APIGroup = "token_issuance"
)

// RateLimitWindow is the period every limit is counted over.
const RateLimitWindow = time.Minute

// MaxRateLimit bounds a group's maximum, so shares never overflow.
const MaxRateLimit = 1_000_000_000

// RateLimits is the maximum number of requests per minute of each group.
type RateLimits map[APIGroup]int

// DefaultRateLimits are the limits of a new installation. Management groups
// are sized for people and scripts; verified for a busy API (10 000 requests
// per second for all tokens together, so 5 000 for one token at the default
// share of 50 %); failures per address for brute-force protection; token
// issuance at 10 a second per client, far above what a client caching its
// tokens until they expire needs.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		GroupTokens:           600,
		GroupUsers:            600,
		GroupApps:             600,
		GroupOAuth:            1200,
		GroupLogs:             300,
		GroupZones:            300,
		GroupSettings:         60,
		GroupAgents:           600,
		GroupVerified:         600_000,
		GroupFailedSignIns:    10,
		GroupFailedClientAuth: 20,
		GroupDenied:           60,
		GroupUnknownTokens:    600,
		GroupTokenIssuance:    600,
	}
}

// Groups lists the known groups, sorted.
func (RateLimits) Groups() []APIGroup {
	gs := make([]APIGroup, 0, 13)
	for g := range DefaultRateLimits() {
		gs = append(gs, g)
	}
	slices.Sort(gs)
	return gs
}

// WithDefaults returns l with every known group that l lacks set to its
// default. Unknown groups (from a newer version) are dropped.
func (l RateLimits) WithDefaults() RateLimits {
	out := DefaultRateLimits()
	for g := range out {
		if n, ok := l[g]; ok {
			out[g] = n
		}
	}
	return out
}

// Validate checks that every group is known and its maximum is 1..MaxRateLimit.
func (l RateLimits) Validate() error {
	known := DefaultRateLimits()
	for g, n := range l {
		if _, ok := known[g]; !ok {
			names := make([]string, 0, len(known))
			for _, k := range l.Groups() {
				names = append(names, string(k))
			}
			return Errorf(CodeInvalid, "unknown rate-limit group %q; the groups are %s", g, strings.Join(names, ", "))
		}
		if n < 1 || n > MaxRateLimit {
			return Errorf(CodeInvalid, "rate limit of %q must be from 1 to %d requests per minute, got %d", g, MaxRateLimit, n)
		}
	}
	return nil
}

// Share is a token's part of a group maximum: percent of it, at least 1.
func Share(limit, percent int) int {
	return max(1, int(int64(limit)*int64(percent)/100))
}

// DefaultRateLimitPercent is a new token's share of every maximum.
const DefaultRateLimitPercent = 50

// ValidateRateLimitPercent checks a token's share.
func ValidateRateLimitPercent(p int) error {
	if p < 1 || p > 100 {
		return Errorf(CodeInvalid, "rate_limit_percent must be from 1 to 100, got %d", p)
	}
	return nil
}

// CanEditRateLimits: only super admins read and change the rate limits.
func CanEditRateLimits(u *User) bool { return u.Role == RoleSuperAdmin }
