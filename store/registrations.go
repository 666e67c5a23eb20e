package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/keysmith/keysmith"
)

// Dynamic client registration (keysmith.RegistrationStore): initial access
// tokens and the registrations made with them. The clients themselves are
// made by CreateClient, joined into the registration's transaction.

const registrationTokenColumns = `id, app_id, environment, description, expires_at, max_uses, uses,
	created_at, created_by, revoked_at, revoked_by`

func scanRegistrationToken(row interface{ Scan(...any) error }) (*keysmith.RegistrationToken, error) {
	var t keysmith.RegistrationToken
	var expires, created int64
	var revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.AppID, &t.Environment, &t.Description, &expires, &t.MaxUses, &t.Uses,
		&created, &t.CreatedBy, &revoked, &t.RevokedBy); err != nil {
		return nil, err
	}
	t.ExpiresAt, t.CreatedAt, t.RevokedAt = fromMicros(expires), fromMicros(created), timePtr(revoked)
	return &t, nil
}

// joinKey carries a transaction in a context, for joining.
type joinKey struct{}

// joining returns ctx with which a store method's write runs inside tx
// instead of a transaction of its own, so that one change can reuse another
// method whole (RegisterClient makes its client with CreateClient).
func joining(ctx context.Context, tx *txn) context.Context {
	return context.WithValue(ctx, joinKey{}, tx)
}

// CreateRegistrationToken stores an initial access token by its hash and
// records its event. CodeInvalid if its application does not exist.
func (db *DB) CreateRegistrationToken(ctx context.Context, t *keysmith.RegistrationToken, h keysmith.Hash) error {
	return db.write(ctx, func(tx *txn) error {
		// The application's row first, as its clients take it: a token made
		// while the application is deleted finds it gone.
		if err := tx.lockApp(t.AppID); err != nil {
			if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
				return keysmith.Errorf(keysmith.CodeInvalid, "app_id %q names no application", t.AppID)
			}
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO registration_tokens (id, hash, app_id, environment, description,
			expires_at, max_uses, uses, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			t.ID, h.String(), t.AppID, string(t.Environment), t.Description, micros(t.ExpiresAt), t.MaxUses, t.Uses,
			micros(t.CreatedAt), t.CreatedBy)
		if err != nil {
			return err
		}
		return tx.record(keysmith.EventRegistrationTokenCreated, map[string]any{"app_id": t.AppID,
			"environment": t.Environment, "max_uses": t.MaxUses, "expires_at": t.ExpiresAt}, keysmith.RegistrationTokenRef(t))
	})
}

// FindRegistrationTokens returns one page of initial access tokens, newest
// first.
func (db *DB) FindRegistrationTokens(ctx context.Context, f keysmith.RegistrationTokenFilter) ([]*keysmith.RegistrationToken, string, error) {
	var c conditions
	out, next, err := pageNewestFirst(ctx, db, `SELECT `+registrationTokenColumns+` FROM registration_tokens`, &c, f.Limit, f.Cursor,
		scanRegistrationToken, func(t *keysmith.RegistrationToken) (time.Time, string) { return t.CreatedAt, t.ID })
	return nonNil(out), next, err
}

// FindRegistrationTokenByHash returns the initial access token of hash h.
// CodeNotFound if there is none.
func (db *DB) FindRegistrationTokenByHash(ctx context.Context, h keysmith.Hash) (*keysmith.RegistrationToken, error) {
	t, err := scanRegistrationToken(db.sql.QueryRowContext(ctx,
		`SELECT `+registrationTokenColumns+` FROM registration_tokens WHERE hash = $1`, h.String()))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "registration token not found")
	}
	return t, db.mapError(err)
}

// RevokeRegistrationToken revokes an initial access token and records its
// event; revoking a revoked one changes nothing. CodeNotFound if there is
// none.
func (db *DB) RevokeRegistrationToken(ctx context.Context, id, revokedBy string) (*keysmith.RegistrationToken, error) {
	var out *keysmith.RegistrationToken
	err := db.write(ctx, func(tx *txn) error {
		now := tx.db.now()
		res, err := tx.ExecContext(ctx, `UPDATE registration_tokens SET revoked_at = $1, revoked_by = $2
			WHERE id = $3 AND revoked_at IS NULL`, micros(now), revokedBy, id)
		if err != nil {
			return err
		}
		changed, _ := res.RowsAffected()
		out, err = scanRegistrationToken(tx.QueryRowContext(ctx,
			`SELECT `+registrationTokenColumns+` FROM registration_tokens WHERE id = $1`, id))
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeNotFound, "registration token %q not found", id)
		}
		if err != nil || changed == 0 {
			return err
		}
		return tx.record(keysmith.EventRegistrationTokenRevoked, map[string]any{"app_id": out.AppID,
			"environment": out.Environment, "uses": out.Uses}, keysmith.RegistrationTokenRef(out))
	})
	return out, err
}

// RegisterClient spends a use of the initial access token and makes the
// client and its registration, in one transaction. The use is counted by
// one conditional UPDATE, which takes the token's row lock first: of
// registrations racing for its last use, one wins and the others find it
// used up.
func (db *DB) RegisterClient(ctx context.Context, tokenID string, now time.Time, c *keysmith.Client, s *keysmith.ClientSecret,
	h keysmith.Hash, reg *keysmith.ClientRegistration, accessHash keysmith.Hash) error {
	return db.write(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE registration_tokens SET uses = uses + 1
			WHERE id = $1 AND revoked_at IS NULL AND uses < max_uses AND expires_at > $2`, tokenID, micros(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return keysmith.Errorf(keysmith.CodeUnauthorized, "the initial access token is revoked, expired or used up")
		}
		if err := db.CreateClient(joining(ctx, tx), c, s, h); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO client_registrations (client_id, access_hash, registration_token_id,
			created_by, created_at) VALUES ($1, $2, $3, $4, $5)`,
			reg.ClientID, accessHash.String(), reg.RegistrationTokenID, reg.CreatedBy, micros(reg.CreatedAt))
		return err
	})
}

// FindClientRegistrationByHash returns the registration whose access token
// has hash h. CodeNotFound if there is none.
func (db *DB) FindClientRegistrationByHash(ctx context.Context, h keysmith.Hash) (*keysmith.ClientRegistration, error) {
	var r keysmith.ClientRegistration
	var created int64
	err := db.sql.QueryRowContext(ctx, `SELECT client_id, registration_token_id, created_by, created_at
		FROM client_registrations WHERE access_hash = $1`, h.String()).Scan(&r.ClientID, &r.RegistrationTokenID, &r.CreatedBy, &created)
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "client registration not found")
	}
	if err != nil {
		return nil, db.mapError(err)
	}
	r.CreatedAt = fromMicros(created)
	return &r, nil
}
