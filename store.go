package keysmith

import (
	"context"
	"time"
)

// Store is the persistence Keysmith needs, one interface per resource.
// Implementations convert their driver's errors into *Error values
// (CodeNotFound, CodeConflict) by error code, and record each change's Event
// in the change's own transaction, with the Audit from ctx. Every method is
// safe for concurrent use.
type Store interface {
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Subscribe registers f to be called after every committed change, from
	// this process and (where the engine can push) from other replicas. f
	// must not block.
	Subscribe(f func(Change))
	// ChangeFeedHealthy reports whether every committed change, from any
	// replica, reaches the subscribers: always on SQLite; on PostgreSQL
	// while the change listener is connected. It turns false before
	// ChangeFeedLost is published, and true after the ChangeAll that
	// follows a reconnection.
	ChangeFeedHealthy() bool

	// Bootstrap creates the first user and their first token in one
	// transaction. CodeConflict if any user exists already.
	Bootstrap(ctx context.Context, u *User, t *Token, h Hash) error

	UserStore
	TokenStore
	EventStore
	AppStore
	ClientStore
	AccessTokenStore
	AuthorizationStore
	SigningKeyStore
	GroupStore
	SessionStore
	ZoneStore
	TrustedOriginStore
	APIStore
	KeyManagerStore
	SettingsStore
	AgentStore
	RegistrationStore
}

// UserStore keeps users.
type UserStore interface {
	// FindUserByID returns a user. CodeNotFound if there is none.
	FindUserByID(ctx context.Context, id string) (*User, error)
	// CreateUser stores a new user with a password hash ("" for none).
	// CodeConflict if the e-mail address is taken.
	CreateUser(ctx context.Context, u *User, passwordHash string) error
	// FindUserByEmail returns a user and their password hash ("" for none),
	// for signing in. CodeNotFound if there is none.
	FindUserByEmail(ctx context.Context, email string) (*User, string, error)
	// FindUsers returns one page of users, newest first, and the cursor of
	// the next page. CodeInvalid for a bad cursor.
	FindUsers(ctx context.Context, f UserFilter) ([]*User, string, error)
	// UpdateUser applies a validated, permitted change and records one
	// event per kind of change. Deactivating a user or changing their
	// password ends their sessions. CodeNotFound if there is none,
	// CodeConflict if the e-mail address is taken or the change would leave
	// no active super admin.
	UpdateUser(ctx context.Context, id string, up UserUpdate) (*User, error)
}

// GroupStore keeps groups and their members.
type GroupStore interface {
	// CreateGroup stores a new group. CodeConflict if the name is taken.
	CreateGroup(ctx context.Context, g *Group) error
	// FindGroupByID returns a group. CodeNotFound if there is none.
	FindGroupByID(ctx context.Context, id string) (*Group, error)
	// FindGroups returns one page of groups, newest first.
	FindGroups(ctx context.Context, f GroupFilter) ([]*Group, string, error)
	// UpdateGroup changes a group. CodeNotFound, CodeConflict (name taken).
	UpdateGroup(ctx context.Context, id string, in GroupInput) (*Group, error)
	// DeleteGroup deletes a group and its memberships. CodeNotFound.
	DeleteGroup(ctx context.Context, id string) error
	// AddGroupMember adds a user to a group; adding a member again changes
	// nothing. CodeNotFound if either is missing.
	AddGroupMember(ctx context.Context, groupID, userID string) error
	// RemoveGroupMember removes a user from a group; removing a non-member
	// changes nothing. CodeNotFound if the group is missing.
	RemoveGroupMember(ctx context.Context, groupID, userID string) error
	// FindGroupIDsOfUser returns the ids of the groups a user belongs to.
	FindGroupIDsOfUser(ctx context.Context, userID string) ([]string, error)
}

// SessionStore keeps browser sessions.
type SessionStore interface {
	// CreateSession stores a session under its hash and records the
	// sign-in.
	CreateSession(ctx context.Context, s *Session, h Hash) error
	// FindSessionByHash returns the session whose secret hashes to h.
	// CodeNotFound if there is none.
	FindSessionByHash(ctx context.Context, h Hash) (*Session, error)
	// DeleteSession ends a session and records the sign-out. Deleting a
	// missing session changes nothing.
	DeleteSession(ctx context.Context, s *Session) error
	// ReauthenticateSession records that the session's user proved their
	// password again at at, and records session.reauthenticated.
	// CodeNotFound for a session that has ended.
	ReauthenticateSession(ctx context.Context, s *Session, at time.Time) error
	// FindSessionsOfUser returns a user's sessions that have not expired
	// at now, newest first, at most MaxListedSessions.
	FindSessionsOfUser(ctx context.Context, userID string, now time.Time) ([]*Session, error)
	// DeleteSessionsOfUser ends every session of a user and records one
	// user.sessions_ended event with their number; none changes nothing.
	DeleteSessionsOfUser(ctx context.Context, userID string) (int, error)
	// CreateSetupCode stores a setup code under its hash, replacing any
	// earlier code of the user, and records setup_code.created.
	CreateSetupCode(ctx context.Context, c *SetupCode, h Hash) error
	// RedeemSetupCode deletes the setup code whose secret hashes to h if it
	// has not expired at now, sets its user's password hash, ends their
	// sessions and records setup_code.used, all at once. CodeUnauthorized
	// for an unknown, used or expired code.
	RedeemSetupCode(ctx context.Context, h Hash, passwordHash string, now time.Time) (*User, error)
}

// TokenStore keeps API tokens, and app API keys, which are tokens of type
// TokenAppKey: the same methods store, change and verify them, and record
// app_key.* events for them in place of api_token.* ones.
type TokenStore interface {
	// CreateToken stores a new token under its hash. CodeConflict if the id
	// or hash exists; for an app key CodeNotFound if its application is
	// gone, CodeConflict if its owner is no longer the application's (it
	// was transferred); CodeInvalid if it names a scope that is not
	// registered.
	CreateToken(ctx context.Context, t *Token, h Hash) error
	// FindTokenByID returns a token. CodeNotFound if there is none.
	FindTokenByID(ctx context.Context, id string) (*Token, error)
	// FindTokenByHash returns the token whose secret hashes to h.
	// CodeNotFound if there is none.
	FindTokenByHash(ctx context.Context, h Hash) (*Token, error)
	// FindTokens returns one page of tokens, newest first, and the cursor of
	// the next page ("" on the last). CodeInvalid for a bad cursor. It
	// returns app keys only when f.AppID names their application, and then
	// only them.
	FindTokens(ctx context.Context, f TokenFilter) ([]*Token, string, error)
	// RevokeToken marks a token revoked by the user revokedBy. Revoking a
	// revoked token changes nothing and is not an error. CodeNotFound if
	// there is none.
	RevokeToken(ctx context.Context, id, revokedBy string) (*Token, error)
	// RecordTokenUses stores a batch of last-use records. A record older than
	// what is stored is ignored, so replicas may flush in any order. A
	// record cannot revive a token: one whose batch began at or after the
	// stored idle deadline, one that arrives IdleSettle or more after that
	// deadline, and any record for a token whose expiry was recorded are
	// refused, and the refusal records the expiry if it was not recorded
	// yet. Uses are not changes; only such a refusal publishes one.
	RecordTokenUses(ctx context.Context, uses []TokenUse) error
	// RecordTokenExpiry records the idle expiry of a token (api_token.expired,
	// by the system) if, by the uses stored, it was not used within its idle
	// TTL before now: after that no use revives it. It changes nothing when
	// the token was renewed, revoked, or its expiry is already recorded.
	// CodeNotFound if there is no such token.
	RecordTokenExpiry(ctx context.Context, id string, now time.Time) error
	// UpdateToken applies the non-nil fields of u and returns the token as
	// it is now. CodeNotFound if there is no such token, CodeConflict if it
	// is revoked, CodeInvalid if u names a zone or scope that does not exist.
	UpdateToken(ctx context.Context, id string, u TokenUpdate) (*Token, error)
	// RotateToken gives a token the secret hashing to h; the previous secret
	// keeps working until graceUntil. CodeNotFound if there is no such
	// token, CodeConflict if it is revoked.
	RotateToken(ctx context.Context, id string, h Hash, graceUntil time.Time) (*Token, error)
	// SummarizeTokens counts the tokens of ownerID ("" for all) by type,
	// status and colour at now; app keys are not counted.
	SummarizeTokens(ctx context.Context, ownerID string, now time.Time) (*TokenSummary, error)
}

// AgentStore keeps agents.
type AgentStore interface {
	// CreateAgent stores a new, inactive agent.
	CreateAgent(ctx context.Context, a *Agent) error
	// FindAgentByID returns an agent. CodeNotFound if there is none.
	FindAgentByID(ctx context.Context, id string) (*Agent, error)
	// FindAgents returns one page of agents, newest first.
	FindAgents(ctx context.Context, f AgentFilter) ([]*Agent, string, error)
	// ActivateAgent stores t (under h) as the agent's token and marks the
	// agent active, revoking (by the user "by") a token a previous
	// activation left alive. CodeConflict if the agent is active.
	ActivateAgent(ctx context.Context, id string, t *Token, h Hash, by string) (*Agent, error)
	// DeactivateAgent marks the agent inactive and, if its kind auto-revokes,
	// revokes its token. CodeConflict if it is not active.
	DeactivateAgent(ctx context.Context, id, by string) (*Agent, error)
	// DeleteAgent removes the agent; if its kind auto-revokes, its token is
	// revoked, otherwise it lives on as a suspicious token.
	DeleteAgent(ctx context.Context, id, by string) error
}

// APIStore keeps APIs (resource servers) and their scopes.
type APIStore interface {
	// CreateAPI stores a new API with its scopes. CodeConflict if its
	// identifier or a scope name is taken.
	CreateAPI(ctx context.Context, a *API) error
	// FindScopes returns the registered scopes among names (built-in ones
	// included), by name; a name missing from the map is not registered.
	FindScopes(ctx context.Context, names []string) (map[string]Scope, error)
	// FindScopeGrants returns the registered scopes each credential (a
	// client, token or key, by id) was granted, by credential id. A scope a
	// credential names without a grant (a client's, from before scopes were
	// registered) is not there, and is not issued.
	FindScopeGrants(ctx context.Context, holderIDs []string) (map[string][]string, error)
	// FindAPIs returns every API with its scopes, by name.
	FindAPIs(ctx context.Context) ([]*API, error)
	// FindAPIByID returns an API with its scopes in order. CodeNotFound if
	// there is none.
	FindAPIByID(ctx context.Context, id string) (*API, error)
	// UpdateAPI applies a validated u; scopes it leaves out are deleted.
	// CodeNotFound; CodeConflict if the identifier or a scope name is
	// taken, if a dropped scope is named by a live credential, or if the
	// identifier changes while live clients have it as audience (the
	// message names them).
	UpdateAPI(ctx context.Context, id string, u APIUpdate) (*API, error)
	// DeleteAPI deletes an API and its scopes. CodeNotFound; CodeConflict,
	// naming them, while live credentials name its scopes or live clients
	// have its identifier as audience.
	DeleteAPI(ctx context.Context, id string) error
	// RecordUnregisteredScopes records, once per database however many
	// replicas start together, one oauth_client.scopes_unregistered event
	// per live client that names scopes no API registers. It returns how
	// many it recorded (0 after the first time).
	RecordUnregisteredScopes(ctx context.Context) (int, error)
}

// ZoneStore keeps network zones.
type ZoneStore interface {
	// CreateZone stores a new zone. CodeConflict if its name is taken.
	CreateZone(ctx context.Context, z *Zone) error
	// FindZoneByID returns a zone. CodeNotFound if there is none.
	FindZoneByID(ctx context.Context, id string) (*Zone, error)
	// FindZones returns every zone, by name.
	FindZones(ctx context.Context) ([]*Zone, error)
	// UpdateZone applies u and returns the zone as it is now. CodeNotFound
	// if there is none, CodeConflict if the new name is taken.
	UpdateZone(ctx context.Context, id string, u ZoneUpdate) (*Zone, error)
	// DeleteZone deletes a zone. CodeNotFound if there is none,
	// CodeConflict (naming them) while tokens that are not revoked use it.
	DeleteZone(ctx context.Context, id string) error
}

// TrustedOriginStore keeps the origins allowed to call the API from a
// browser (CORS).
type TrustedOriginStore interface {
	// CreateTrustedOrigin stores a new, normalised origin (see ParseOrigin)
	// and records trusted_origin.created. CodeConflict if the origin is
	// listed already, or max are (however many replicas add at once).
	CreateTrustedOrigin(ctx context.Context, o *TrustedOrigin, max int) error
	// FindTrustedOrigins returns every trusted origin, by origin.
	FindTrustedOrigins(ctx context.Context) ([]*TrustedOrigin, error)
	// DeleteTrustedOrigin deletes one and records trusted_origin.deleted.
	// CodeNotFound if there is none.
	DeleteTrustedOrigin(ctx context.Context, id string) error
}

// KeyManagerStore keeps the external key managers.
type KeyManagerStore interface {
	// CreateKeyManager stores a new manager and records
	// key_manager.created. CodeConflict if its name is taken or max
	// managers exist.
	CreateKeyManager(ctx context.Context, m *KeyManager, max int) error
	// FindKeyManagerByID returns a manager. CodeNotFound if there is none.
	FindKeyManagerByID(ctx context.Context, id string) (*KeyManager, error)
	// FindKeyManagers returns every manager, by name.
	FindKeyManagers(ctx context.Context) ([]*KeyManager, error)
	// UpdateKeyManager stores m (as a permitted change makes it; its ID
	// names it), sets its UpdatedAt, and records key_manager.updated with
	// what changed. CodeNotFound; CodeConflict if the new name is taken.
	UpdateKeyManager(ctx context.Context, m *KeyManager) (*KeyManager, error)
	// DeleteKeyManager deletes a manager and, in the same transaction,
	// revokes every live client registered at it (recording each), so that
	// its tokens are refused at once. CodeNotFound if there is none.
	DeleteKeyManager(ctx context.Context, id, deletedBy string) error
	// SetClientRegistration stores how an external client's registration
	// is managed now (its URI and sealed registration access token), when
	// the manager rotated them but the rest of a change could not be
	// stored. CodeNotFound if there is no such external client.
	SetClientRegistration(ctx context.Context, clientID, registrationURI, registrationTokenSealed string) error
	// FindClientByExternalID returns the client registered at manager
	// keyManagerID under the manager's client_id externalClientID.
	// CodeNotFound if there is none.
	FindClientByExternalID(ctx context.Context, keyManagerID, externalClientID string) (*Client, error)
}

// SettingsStore keeps server-wide settings.
type SettingsStore interface {
	// RateLimits returns the stored limits over the defaults.
	RateLimits(ctx context.Context) (RateLimits, error)
	// SetRateLimits replaces the stored limits.
	SetRateLimits(ctx context.Context, l RateLimits) error
}

// AppStore keeps applications.
type AppStore interface {
	// CreateApp stores a new application. CodeConflict if the id exists.
	CreateApp(ctx context.Context, a *App) error
	// FindAppByID returns an application. CodeNotFound if there is none.
	FindAppByID(ctx context.Context, id string) (*App, error)
	// FindApps returns one page of applications, newest first.
	FindApps(ctx context.Context, f AppFilter) ([]*App, string, error)
	// UpdateApp changes an application. CodeNotFound if there is none.
	UpdateApp(ctx context.Context, id string, u AppUpdate) (*App, error)
	// DeleteApp deletes an application and revokes all its clients (and so
	// their tokens). CodeNotFound if there is none.
	DeleteApp(ctx context.Context, id, deletedBy string) error
	// TransferApp gives application id to user toOwnerID, with its clients
	// and its live app keys, and records app.transferred. With reset, it
	// first revokes the application's live app keys and deletes every
	// secret of its clients (recording each), so the previous owner holds
	// nothing that works. One transaction, the application's row locked
	// first: a client, secret or key added concurrently for the previous
	// owner commits before (and is reset) or is refused after. CodeNotFound
	// for an unknown application; CodeInvalid if toOwnerID names no user,
	// one who may not own applications, or the present owner; CodeConflict
	// if the user is deactivated.
	TransferApp(ctx context.Context, id, toOwnerID, transferredBy string, reset bool) (*AppTransfer, error)
}

// ClientStore keeps OAuth clients and their secrets.
type ClientStore interface {
	// CreateClient stores a client with its first secret; a client of an
	// application must be owned by the application's owner (CodeConflict
	// if it has another by now: it was transferred). CodeInvalid
	// ("invalid_scope") if it names a scope that is not registered,
	// ("invalid_request") if its audience is neither "" nor a registered
	// API identifier; CodeNotFound if its application (c.AppID, when set)
	// no longer exists. s is nil for a public client, which has no secret.
	CreateClient(ctx context.Context, c *Client, s *ClientSecret, h Hash) error
	// FindClientByID returns a client. CodeNotFound if there is none.
	FindClientByID(ctx context.Context, id string) (*Client, error)
	// FindClients returns one page of clients, newest first.
	FindClients(ctx context.Context, f ClientFilter) ([]*Client, string, error)
	// UpdateClient applies a validated, permitted change to a client (c is
	// the client as it is to become; its ID names it) and records
	// oauth_client.updated with what changed. Every scope c names that the
	// stored client did not must be registered (CodeInvalid,
	// "invalid_scope") and is granted; one it named before keeps its grant
	// or lack of one (see FindScopeGrants). Its audience must be "" or a registered identifier
	// (CodeInvalid, "invalid_request"). CodeNotFound; CodeConflict if the
	// client is revoked, or its scopes are no longer scopesBefore (what the
	// caller's grant check saw).
	UpdateClient(ctx context.Context, c *Client, scopesBefore []string) (*Client, error)
	// RevokeClient revokes a client: no new tokens, its live tokens become
	// inactive. Idempotent. CodeNotFound if there is none.
	RevokeClient(ctx context.Context, id, revokedBy string) (*Client, error)
	// CreateClientSecret adds a secret to a client owned by ownerID (the
	// owner the caller's permission was checked against). CodeConflict when
	// the client is revoked, has another owner by now (its application was
	// transferred), or holds max secrets that have not expired at now
	// already (expired ones do not count); CodeNotFound for an unknown one.
	CreateClientSecret(ctx context.Context, ownerID string, s *ClientSecret, h Hash, max int, now time.Time) error
	// FindClientSecrets lists a client's secrets, oldest first.
	FindClientSecrets(ctx context.Context, clientID string) ([]*ClientSecret, error)
	// DeleteClientSecret deletes one secret. CodeNotFound if there is none.
	DeleteClientSecret(ctx context.Context, clientID, secretID string) error
	// ResetClientSecrets replaces all of a client's secrets with s, for a
	// client owned by ownerID. CodeNotFound for an unknown client,
	// CodeConflict for a revoked one or one with another owner by now.
	ResetClientSecrets(ctx context.Context, ownerID string, s *ClientSecret, h Hash) error
	// FindClientSecretChecks returns the hashes that authenticate a client.
	FindClientSecretChecks(ctx context.Context, clientID string) ([]SecretCheck, error)
}

// AccessTokenStore keeps opaque access tokens and revoked JWTs.
type AccessTokenStore interface {
	// CreateAccessToken stores an opaque access token under its hash.
	CreateAccessToken(ctx context.Context, t *AccessToken, h Hash) error
	// FindAccessTokenByHash returns an opaque token. CodeNotFound if none.
	FindAccessTokenByHash(ctx context.Context, h Hash) (*AccessToken, error)
	// RevokeAccessToken marks t revoked, storing it if it was not stored
	// (a JWT). Revoking twice changes nothing.
	RevokeAccessToken(ctx context.Context, t *AccessToken) error
	// FindRevokedAccessTokens returns the ids of revoked tokens that had
	// not expired at now.
	FindRevokedAccessTokens(ctx context.Context, now time.Time) ([]string, error)
	// PruneAccessTokens deletes the records of access tokens that expired
	// before the time, in small batches (one transaction each, so that no
	// lock is held long), and returns how many. Tokens that never expire
	// are kept.
	PruneAccessTokens(ctx context.Context, before time.Time) (int64, error)
}

// SigningKeyStore keeps JWT signing keys.
type SigningKeyStore interface {
	// FindSigningKeys returns every key, newest first.
	FindSigningKeys(ctx context.Context) ([]*SigningKey, error)
	// AddSigningKey stores k, retires the keys that were signing, and
	// deletes keys retired before pruneBefore. rotation says whether this
	// is a rotation (recorded as such) or the first key.
	AddSigningKey(ctx context.Context, k *SigningKey, pruneBefore time.Time, rotation bool) error
}

// EventStore keeps the system log. Changes record their events themselves, in
// their own transactions; these methods read the log, record events that are
// not changes, and keep the log's chain.
type EventStore interface {
	// RecordEvent appends an event that is not part of a change (a refused
	// request, a failed sign-in), with the Audit from ctx.
	RecordEvent(ctx context.Context, typ EventType, outcome string, details map[string]any, targets ...Ref) error
	// FindEvents returns one page of events, newest first, and the cursor of
	// the next page ("" on the last). CodeInvalid for a bad cursor.
	FindEvents(ctx context.Context, f EventFilter) ([]*Event, string, error)
	// ExportEvents calls fn with every event that f selects, oldest first.
	// f.Limit and f.Cursor are ignored. It stops at fn's first error.
	ExportEvents(ctx context.Context, f EventFilter, fn func(*Event) error) error
	// VerifyEvents walks the hash chain from its anchor and reports the first
	// event that was modified, removed or reordered.
	VerifyEvents(ctx context.Context) (*LogCheck, error)
	// PruneEvents deletes the oldest events recorded before the time, keeps
	// the last deleted event's seq and hash as the anchor the rest of the
	// chain is verified from, and records the pruning. It returns how many
	// events it deleted.
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
	// RecordTokenExpiries records api_token.expired, once per token, for every
	// unrevoked token whose expiry has passed at now. It returns how many.
	RecordTokenExpiries(ctx context.Context, now time.Time) (int, error)
	// FoldTokenCounts compacts the stored token counts the summary reads
	// (each change adds a row) into one row per type and state, and per
	// hour of expiry and of last use.
	FoldTokenCounts(ctx context.Context) error
}

// ChangeKind says what kind of record a Change is about.
type ChangeKind string

// The change kinds caches care about.
const (
	ChangeToken ChangeKind = "token"
	ChangeUser  ChangeKind = "user"
	// ChangeZone: a network zone was created, changed or deleted.
	ChangeZone ChangeKind = "zone"
	// ChangeSettings: a server-wide setting (ID names it) changed.
	ChangeSettings ChangeKind = "settings"
	// ChangeTrustedOrigin: a trusted origin was added or deleted.
	ChangeTrustedOrigin ChangeKind = "trusted_origin"
	// ChangeAll means "anything may have changed": sent when a replica may
	// have missed notifications (for example after reconnecting).
	ChangeAll ChangeKind = "all"
	// ChangeFeedLost means that changes committed by other replicas are no
	// longer heard (the change listener's connection failed). Caches drop
	// everything and, while Store.ChangeFeedHealthy says false, trust what
	// they load only briefly; the ChangeAll sent when the feed is back
	// drops everything again.
	ChangeFeedLost ChangeKind = "feed_lost"
)

// Known reports whether k is one of the change kinds of this version.
// Subscribers treat a kind they do not know (sent by a newer replica, or
// garbled) as ChangeAll: dropping everything is always safe, ignoring a
// change is not.
func (k ChangeKind) Known() bool {
	switch k {
	case ChangeToken, ChangeUser, ChangeZone, ChangeSettings, ChangeTrustedOrigin, ChangeAll, ChangeFeedLost,
		ChangeOAuthClient, ChangeAccessToken, ChangeSigningKey, ChangeKeyManager:
		return true
	}
	return false
}

// Change tells caches that a record changed and must be read again.
type Change struct {
	Kind ChangeKind
	ID   string
}

// The change kinds of OAuth records.
const (
	// ChangeOAuthClient: a client, or one of its secrets, changed.
	ChangeOAuthClient ChangeKind = "oauth_client"
	// ChangeAccessToken: an access token (ID is its jti) was revoked.
	ChangeAccessToken ChangeKind = "access_token"
	// ChangeSigningKey: the set of signing keys changed.
	ChangeSigningKey ChangeKind = "signing_key"
)

// RegistrationStore keeps dynamic client registration's tokens: initial
// access tokens and the registrations made with them (registration.go).
type RegistrationStore interface {
	// CreateRegistrationToken stores an initial access token by its hash
	// and records registration_token.created. CodeInvalid if its
	// application does not exist.
	CreateRegistrationToken(ctx context.Context, t *RegistrationToken, h Hash) error
	// FindRegistrationTokens returns one page of initial access tokens,
	// newest first. CodeInvalid for a bad cursor.
	FindRegistrationTokens(ctx context.Context, f RegistrationTokenFilter) ([]*RegistrationToken, string, error)
	// FindRegistrationTokenByHash returns the initial access token of that
	// hash, whatever its state. CodeNotFound if there is none.
	FindRegistrationTokenByHash(ctx context.Context, h Hash) (*RegistrationToken, error)
	// RevokeRegistrationToken revokes one and records
	// registration_token.revoked; revoking a revoked one changes nothing.
	// CodeNotFound if there is none.
	RevokeRegistrationToken(ctx context.Context, id, revokedBy string) (*RegistrationToken, error)
	// RegisterClient spends one use of initial access token tokenID and,
	// in the same transaction, creates client c with its secret s (nil for
	// a public client; see CreateClient) and registration reg with its
	// registration access token's hash. The use is counted under the
	// token's row lock: CodeUnauthorized, with nothing changed, when the
	// token is revoked, expired at now or used up by then.
	RegisterClient(ctx context.Context, tokenID string, now time.Time, c *Client, s *ClientSecret, h Hash,
		reg *ClientRegistration, accessHash Hash) error
	// FindClientRegistrationByHash returns the registration whose access
	// token has hash h. CodeNotFound if there is none.
	FindClientRegistrationByHash(ctx context.Context, h Hash) (*ClientRegistration, error)
}
