package keysmith

import "context"

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

	// Bootstrap creates the first user and their first token in one
	// transaction. CodeConflict if any user exists already.
	Bootstrap(ctx context.Context, u *User, t *Token, h Hash) error

	UserStore
	TokenStore
	EventStore
	AppStore
	ClientStore
	AccessTokenStore
	SigningKeyStore
}

// UserStore keeps users.
type UserStore interface {
	// FindUserByID returns a user. CodeNotFound if there is none.
	FindUserByID(ctx context.Context, id string) (*User, error)
}

// TokenStore keeps API tokens.
type TokenStore interface {
	// CreateToken stores a new token under its hash. CodeConflict if the id
	// or hash exists.
	CreateToken(ctx context.Context, t *Token, h Hash) error
	// FindTokenByID returns a token. CodeNotFound if there is none.
	FindTokenByID(ctx context.Context, id string) (*Token, error)
	// FindTokenByHash returns the token whose secret hashes to h.
	// CodeNotFound if there is none.
	FindTokenByHash(ctx context.Context, h Hash) (*Token, error)
	// FindTokens returns one page of tokens, newest first, and the cursor of
	// the next page ("" on the last). CodeInvalid for a bad cursor.
	FindTokens(ctx context.Context, f TokenFilter) ([]*Token, string, error)
	// RevokeToken marks a token revoked by the user revokedBy. Revoking a
	// revoked token changes nothing and is not an error. CodeNotFound if
	// there is none.
	RevokeToken(ctx context.Context, id, revokedBy string) (*Token, error)
	// RecordTokenUses stores a batch of last-use records. A record older than
	// what is stored is ignored, so replicas may flush in any order.
	RecordTokenUses(ctx context.Context, uses []TokenUse) error
}

// ChangeKind says what kind of record a Change is about.
type ChangeKind string

// The change kinds caches care about.
const (
	ChangeToken ChangeKind = "token"
	ChangeUser  ChangeKind = "user"
	// ChangeAll means "anything may have changed": sent when a replica may
	// have missed notifications (for example after reconnecting).
	ChangeAll ChangeKind = "all"
)

// Change tells caches that a record changed and must be read again.
type Change struct {
	Kind ChangeKind
	ID   string
}
