package keysmith

import (
	"context"
	"time"
)

// The change kinds of OAuth records.
const (
	// ChangeOAuthClient: a client, or one of its secrets, changed.
	ChangeOAuthClient ChangeKind = "oauth_client"
	// ChangeAccessToken: an access token (ID is its jti) was revoked.
	ChangeAccessToken ChangeKind = "access_token"
	// ChangeSigningKey: the set of signing keys changed.
	ChangeSigningKey ChangeKind = "signing_key"
)

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
}

// ClientStore keeps OAuth clients and their secrets.
type ClientStore interface {
	// CreateClient stores a client with its first secret.
	CreateClient(ctx context.Context, c *Client, s *ClientSecret, h Hash) error
	// FindClientByID returns a client. CodeNotFound if there is none.
	FindClientByID(ctx context.Context, id string) (*Client, error)
	// FindClients returns one page of clients, newest first.
	FindClients(ctx context.Context, f ClientFilter) ([]*Client, string, error)
	// RevokeClient revokes a client: no new tokens, its live tokens become
	// inactive. Idempotent. CodeNotFound if there is none.
	RevokeClient(ctx context.Context, id, revokedBy string) (*Client, error)
	// CreateClientSecret adds a secret. CodeConflict when the client is
	// revoked or holds max secrets already; CodeNotFound for an unknown one.
	CreateClientSecret(ctx context.Context, s *ClientSecret, h Hash, max int) error
	// FindClientSecrets lists a client's secrets, oldest first.
	FindClientSecrets(ctx context.Context, clientID string) ([]*ClientSecret, error)
	// DeleteClientSecret deletes one secret. CodeNotFound if there is none.
	DeleteClientSecret(ctx context.Context, clientID, secretID string) error
	// ResetClientSecrets replaces all of a client's secrets with s.
	// CodeNotFound for an unknown client, CodeConflict for a revoked one.
	ResetClientSecrets(ctx context.Context, s *ClientSecret, h Hash) error
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
