package keysmith

import (
	"context"
	"slices"
	"time"
)

// EventType names a kind of system-log event, as "<resource>.<verb>".
type EventType string

// The event types recorded so far. Each store method that changes a credential
// or a principal records its event in the same transaction as the change.
const (
	EventUserCreated     EventType = "user.created"
	EventAPITokenCreated EventType = "api_token.created"
	EventAPITokenRevoked EventType = "api_token.revoked"
	EventAPITokenRotated EventType = "api_token.rotated"
	EventAPITokenExpired EventType = "api_token.expired"
	EventAccessDenied    EventType = "access.denied"
	EventSystemLogPruned EventType = "system_log.pruned"

	EventAgentCreated     EventType = "agent.created"
	EventAgentActivated   EventType = "agent.activated"
	EventAgentDeactivated EventType = "agent.deactivated"
	EventAgentDeleted     EventType = "agent.deleted"

	EventAppCreated EventType = "app.created"
	EventAppUpdated EventType = "app.updated"
	EventAppDeleted EventType = "app.deleted"
	// EventAppTransferred: an application has a new owner; its details say
	// whether its credentials were reset, and how many.
	EventAppTransferred      EventType = "app.transferred"
	EventClientCreated       EventType = "oauth_client.created"
	EventClientRevoked       EventType = "oauth_client.revoked"
	EventClientSecretCreated EventType = "oauth_client_secret.created"
	EventClientSecretDeleted EventType = "oauth_client_secret.deleted"
	EventClientSecretsReset  EventType = "oauth_client_secret.reset"
	EventSigningKeyCreated   EventType = "signing_key.created"
	EventSigningKeyRotated   EventType = "signing_key.rotated"
	EventAccessTokenRevoked  EventType = "access_token.revoked"
	EventUserUpdated         EventType = "user.updated"
	EventUserRoleChanged     EventType = "user.role_changed"
	EventUserDeactivated     EventType = "user.deactivated"
	EventUserActivated       EventType = "user.activated"
	EventUserSignedIn        EventType = "user.signed_in"
	EventUserSignInFailed    EventType = "user.sign_in_failed" // not a change: recorded by RecordEvent
	EventUserSignedOut       EventType = "user.signed_out"
	EventGroupCreated        EventType = "group.created"
	EventGroupUpdated        EventType = "group.updated"
	EventGroupDeleted        EventType = "group.deleted"
	EventGroupMemberAdded    EventType = "group.member_added"
	EventGroupMemberGone     EventType = "group.member_removed"
	EventAPITokenUpdated     EventType = "api_token.updated"
	EventZoneCreated         EventType = "zone.created"
	EventZoneUpdated         EventType = "zone.updated"
	EventZoneDeleted         EventType = "zone.deleted"

	EventTrustedOriginCreated EventType = "trusted_origin.created"
	EventTrustedOriginDeleted EventType = "trusted_origin.deleted"
	EventRateLimitsUpdated    EventType = "settings.rate_limits_updated"

	EventKeyManagerCreated EventType = "key_manager.created"
	EventKeyManagerUpdated EventType = "key_manager.updated"
	EventKeyManagerDeleted EventType = "key_manager.deleted"

	EventAPICreated    EventType = "api.created"
	EventAPIUpdated    EventType = "api.updated"
	EventAPIDeleted    EventType = "api.deleted"
	EventClientUpdated EventType = "oauth_client.updated"
	// EventClientScopesUnregistered names the scopes of a client created
	// before scopes were registered that no API registers: they are no
	// longer issued. Recorded once per such client.
	EventClientScopesUnregistered EventType = "oauth_client.scopes_unregistered"
	EventAppKeyCreated            EventType = "app_key.created"
	EventAppKeyUpdated            EventType = "app_key.updated"
	EventAppKeyRotated            EventType = "app_key.rotated"
	EventAppKeyRevoked            EventType = "app_key.revoked"
	EventAppKeyExpired            EventType = "app_key.expired"
	EventSetupCodeCreated         EventType = "setup_code.created"
	EventSetupCodeUsed            EventType = "setup_code.used"
	EventUserSessionsEnded        EventType = "user.sessions_ended"
	EventSessionReauthenticated   EventType = "session.reauthenticated"
	EventConsentGranted           EventType = "oauth_consent.granted"
	EventConsentRevoked           EventType = "oauth_consent.revoked"
	// EventGrantRevoked: every token of an authorization grant was revoked
	// (a reused code or refresh token, a revoked consent, a deactivation);
	// its data says why.
	EventGrantRevoked EventType = "oauth_grant.revoked"

	// Dynamic client registration: an initial access token was created or
	// revoked. A registration made with one is an oauth_client.created
	// whose actor is the token.
	EventRegistrationTokenCreated EventType = "registration_token.created"
	EventRegistrationTokenRevoked EventType = "registration_token.revoked"
)

// eventMessages are the human messages of the event types.
var eventMessages = map[EventType]string{
	EventUserCreated:     "User created",
	EventAPITokenCreated: "API token created",
	EventAPITokenRevoked: "API token revoked",
	EventAPITokenRotated: "API token rotated",
	EventAPITokenExpired: "API token expired",
	EventAccessDenied:    "Access denied",
	EventSystemLogPruned: "System log pruned",

	EventAgentCreated:     "Agent created",
	EventAgentActivated:   "Agent activated",
	EventAgentDeactivated: "Agent deactivated",
	EventAgentDeleted:     "Agent deleted",

	EventAppCreated:          "Application created",
	EventAppUpdated:          "Application updated",
	EventAppDeleted:          "Application deleted",
	EventAppTransferred:      "Application transferred to another owner",
	EventClientCreated:       "OAuth client created",
	EventClientRevoked:       "OAuth client revoked",
	EventClientSecretCreated: "OAuth client secret created",
	EventClientSecretDeleted: "OAuth client secret deleted",
	EventClientSecretsReset:  "OAuth client secrets reset",
	EventSigningKeyCreated:   "Signing key created",
	EventSigningKeyRotated:   "Signing key rotated",
	EventAccessTokenRevoked:  "Access token revoked",
	EventUserUpdated:         "User updated",
	EventUserRoleChanged:     "User role changed",
	EventUserDeactivated:     "User deactivated",
	EventUserActivated:       "User activated",
	EventUserSignedIn:        "User signed in",
	EventUserSignInFailed:    "User sign-in failed",
	EventUserSignedOut:       "User signed out",
	EventGroupCreated:        "Group created",
	EventGroupUpdated:        "Group updated",
	EventGroupDeleted:        "Group deleted",
	EventGroupMemberAdded:    "Group member added",
	EventGroupMemberGone:     "Group member removed",
	EventAPITokenUpdated:     "API token updated",
	EventZoneCreated:         "Network zone created",
	EventZoneUpdated:         "Network zone updated",
	EventZoneDeleted:         "Network zone deleted",

	EventTrustedOriginCreated: "Trusted origin added",
	EventTrustedOriginDeleted: "Trusted origin deleted",
	EventRateLimitsUpdated:    "Rate limits changed",

	EventKeyManagerCreated: "Key manager added",
	EventKeyManagerUpdated: "Key manager changed",
	EventKeyManagerDeleted: "Key manager deleted (its clients revoked)",

	EventAPICreated:               "API created",
	EventAPIUpdated:               "API updated",
	EventAPIDeleted:               "API deleted",
	EventClientUpdated:            "OAuth client updated",
	EventClientScopesUnregistered: "OAuth client names unregistered scopes",
	EventAppKeyCreated:            "App API key created",
	EventAppKeyUpdated:            "App API key updated",
	EventAppKeyRotated:            "App API key rotated",
	EventAppKeyRevoked:            "App API key revoked",
	EventAppKeyExpired:            "App API key expired",
	EventSetupCodeCreated:         "Setup code created",
	EventSetupCodeUsed:            "Setup code used to set a password",
	EventUserSessionsEnded:        "User signed out everywhere",
	EventSessionReauthenticated:   "User re-authenticated with their password",
	EventConsentGranted:           "User authorised an OAuth client",
	EventConsentRevoked:           "User revoked an OAuth client's authorisation",
	EventGrantRevoked:             "OAuth grant revoked with its tokens",

	EventRegistrationTokenCreated: "Registration token created",
	EventRegistrationTokenRevoked: "Registration token revoked",
}

// Message returns the human message of the event type.
func (t EventType) Message() string {
	if m, ok := eventMessages[t]; ok {
		return m
	}
	return string(t)
}

// Ref names something an event is about, or who caused it.
type Ref struct {
	Type        string `json:"type"` // "user", "api_token", "system", ...
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
}

// SystemActor is the actor of events Keysmith causes by itself (bootstrap,
// expiry, pruning).
var SystemActor = Ref{Type: "system", ID: "keysmith", DisplayName: "Keysmith"}

// Event is one entry of the system log. It never holds a secret nor a hash of
// one. Hash chains the log: it covers the previous event's hash and this
// event's canonical encoding, so a changed, removed or reordered row shows.
type Event struct {
	Seq       int64          `json:"seq"`
	ID        string         `json:"id"`
	Time      time.Time      `json:"time"`
	Type      EventType      `json:"type"`
	Message   string         `json:"message"`
	Actor     Ref            `json:"actor"`
	Targets   []Ref          `json:"targets"`
	ClientIP  string         `json:"client_ip"`
	UserAgent string         `json:"user_agent"`
	RequestID string         `json:"request_id"`
	Outcome   string         `json:"outcome"`
	Details   map[string]any `json:"details"`
	PrevHash  string         `json:"-"`
	Hash      string         `json:"-"`
}

// Audit is the request-scoped context of a change: who made it, from where.
// The HTTP layer puts it into the request's context once; the store reads it
// when it records the event of a change.
type Audit struct {
	Actor     Ref
	ClientIP  string
	UserAgent string
	RequestID string
}

type auditKey struct{}

// WithAudit returns ctx carrying a.
func WithAudit(ctx context.Context, a Audit) context.Context {
	return context.WithValue(ctx, auditKey{}, a)
}

// AuditFrom returns the Audit in ctx; without one the actor is the system.
func AuditFrom(ctx context.Context) Audit {
	if a, ok := ctx.Value(auditKey{}).(Audit); ok {
		return a
	}
	return Audit{Actor: SystemActor}
}

// UserRef is how a user appears in events.
func UserRef(u *User) Ref { return Ref{Type: "user", ID: u.ID, DisplayName: u.Email} }

// GroupRef is how a group appears in events.
func GroupRef(g *Group) Ref { return Ref{Type: "group", ID: g.ID, DisplayName: g.Name} }

// ZoneRef is how a network zone appears in events.
func ZoneRef(z *Zone) Ref { return Ref{Type: "zone", ID: z.ID, DisplayName: z.Name} }

// TrustedOriginRef is how a trusted origin appears in events.
func TrustedOriginRef(o *TrustedOrigin) Ref {
	return Ref{Type: "trusted_origin", ID: o.ID, DisplayName: o.Origin}
}

// TokenRef is how an API token appears in events; an app key is an
// "app_key".
func TokenRef(t *Token) Ref {
	if t.Type == TokenAppKey {
		return Ref{Type: "app_key", ID: t.ID, DisplayName: t.Name}
	}
	return Ref{Type: "api_token", ID: t.ID, DisplayName: t.Name}
}

// EventTypes lists every event type Keysmith records, sorted. Tests use it to
// prove each one is emitted, so a new type needs a message here and a test.
func EventTypes() []EventType {
	out := make([]EventType, 0, len(eventMessages))
	for t := range eventMessages {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// EventDraft is an event a change records, as the domain decides it: its
// type, details and targets. The store adds the rest (id, time, actor,
// request, chain links) when it appends it in the change's transaction.
type EventDraft struct {
	Type    EventType
	Details map[string]any
	Targets []Ref
}
