package keysmith

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode"
)

// App API keys are what a developer hands their own servers to call the
// customer's API: a key belongs to one application and one environment,
// names the registered scopes it may use, and is checked by POST
// /v1/verify. A key is a Token of type TokenAppKey, owned by the
// application's owner, so the verifier's cache, the batched record of use,
// idle and absolute expiry, network zones and rate limits serve keys as
// they serve API tokens. Unlike API tokens, a key never authenticates to
// Keysmith's own API (Token.AuthenticatesToKeysmith), and the /v1/tokens
// endpoints neither list nor show nor change keys: they live under
// /v1/apps/{app_id}/keys.

// MaxScopes bounds the scopes one credential names.
const MaxScopes = 100

// CreateAppKeyInput is what a caller supplies to create an app API key.
type CreateAppKeyInput struct {
	Name             string
	Environment      string   // sandbox or production
	Scopes           []string // registered scope names; none by default
	ExpiresAt        *time.Time
	IdleTTL          *time.Duration  // nil means the server's default
	Meta             json.RawMessage // nil means {}
	Network          *NetworkPolicy  // nil: any address
	RateLimitPercent *int            // nil: DefaultRateLimitPercent
}

// Validate checks the input at now and returns its environment and its
// scopes without repeats, in their order.
func (in *CreateAppKeyInput) Validate(now time.Time) (Environment, []string, error) {
	ti := CreateTokenInput{Name: in.Name, ExpiresAt: in.ExpiresAt, IdleTTL: in.IdleTTL, Meta: in.Meta,
		Network: in.Network, RateLimitPercent: in.RateLimitPercent}
	if err := ti.Validate(now); err != nil {
		return "", nil, err
	}
	env, err := ParseEnvironment(in.Environment)
	if err != nil {
		return "", nil, err
	}
	scopes, err := NormalizeScopes(in.Scopes)
	return env, scopes, err
}

// NormalizeScopes checks a list of scope names (non-empty, without white
// space or control characters, at most 200 bytes each, at most MaxScopes)
// and returns it without repeats, in its order; nil when empty. Whether
// each is registered and may be granted is decided apart (GrantError).
func NormalizeScopes(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		switch {
		case n == "":
			return nil, &Error{Code: CodeInvalid, Reason: "invalid_scope", Message: "scopes must not contain an empty name"}
		case len(n) > 200:
			return nil, &Error{Code: CodeInvalid, Reason: "invalid_scope", Message: "a scope name must be at most 200 bytes"}
		case strings.IndexFunc(n, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			return nil, &Error{Code: CodeInvalid, Reason: "invalid_scope",
				Message: "scope " + quoteList([]string{n}) + " contains white space: give each scope as its own array element"}
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) > MaxScopes {
		return nil, Errorf(CodeInvalid, "a credential names at most %d scopes, got %d", MaxScopes, len(out))
	}
	return out, nil
}

// AppKeyUpdate is a change to an app key: nil fields are left as they
// are. Scopes replaces the key's scopes; scopes it adds must be granted by
// the caller (GrantError), scopes it drops need no right.
type AppKeyUpdate struct {
	Name             *string
	Enabled          *bool
	Meta             *json.RawMessage
	Network          *NetworkPolicy
	RateLimitPercent *int
	Scopes           *[]string
}

// Validate checks the update, normalising its meta and scopes, and returns
// it as the TokenUpdate the store applies.
func (u *AppKeyUpdate) Validate() (TokenUpdate, error) {
	tu := TokenUpdate{Name: u.Name, Enabled: u.Enabled, Meta: u.Meta, Network: u.Network, RateLimitPercent: u.RateLimitPercent}
	if tu.IsEmpty() && u.Scopes == nil {
		return tu, Errorf(CodeInvalid, "nothing to change: send at least one of name, enabled, meta, network, rate_limit_percent, scopes")
	}
	if !tu.IsEmpty() {
		if err := tu.Validate(); err != nil {
			return tu, err
		}
	}
	if u.Scopes != nil {
		scopes, err := NormalizeScopes(*u.Scopes)
		if err != nil {
			return tu, err
		}
		if scopes == nil {
			scopes = []string{}
		}
		tu.Scopes = &scopes
	}
	return tu, nil
}

// CanReadAppKeys: whoever sees an application sees its keys, masked: its
// owner and every admin role.
func CanReadAppKeys(u *User, a *App) bool { return CanSeeOwned(u, a.OwnerID) }

// CanManageAppKeys: a key acts as its application, and creating or
// rotating one hands over its secret; so its application's owner (unless a
// read-only admin) and org and super admins create, change, rotate and
// revoke keys (CanIssueAppCredentials). Group admins and the read-only
// admin only read them.
func CanManageAppKeys(u *User, a *App) bool { return CanIssueAppCredentials(u, a.OwnerID) }

// appKeyEvents are the event types of app keys in place of API tokens'.
var appKeyEvents = map[EventType]EventType{
	EventAPITokenCreated: EventAppKeyCreated,
	EventAPITokenUpdated: EventAppKeyUpdated,
	EventAPITokenRotated: EventAppKeyRotated,
	EventAPITokenRevoked: EventAppKeyRevoked,
	EventAPITokenExpired: EventAppKeyExpired,
}

// EventType returns the type of the event of a change to t: typ, one of
// the api_token.* types, or its app_key.* counterpart when t is an app key.
func (t *Token) EventType(typ EventType) EventType {
	if t.Type == TokenAppKey {
		if k, ok := appKeyEvents[typ]; ok {
			return k
		}
	}
	return typ
}
