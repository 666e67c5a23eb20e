package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/keysmith/keysmith"
)

const accessTokenColumns = `id, format, client_id, app_id, environment, scope, audience, issued_at, expires_at, revoked_at,
	user_id, grant_id`

func scanAccessToken(row interface{ Scan(...any) error }) (*keysmith.AccessToken, error) {
	var t keysmith.AccessToken
	var issued int64
	var expires, revoked sql.NullInt64
	err := row.Scan(&t.ID, &t.Format, &t.ClientID, &t.AppID, &t.Environment, &t.Scope, &t.Audience, &issued, &expires, &revoked,
		&t.UserID, &t.GrantID)
	if err != nil {
		return nil, err
	}
	t.IssuedAt, t.ExpiresAt, t.RevokedAt = fromMicros(issued), timePtr(expires), timePtr(revoked)
	return &t, nil
}

// CreateAccessToken stores an access token: an opaque one under its hash;
// with the zero Hash, no hash (a JWT issued under a grant, stored so that
// revoking the grant finds it). Issuing a token is not a change to the
// system: nothing is recorded or published (the system log would otherwise
// grow by one event per token).
func (db *DB) CreateAccessToken(ctx context.Context, t *keysmith.AccessToken, h keysmith.Hash) error {
	_, err := db.exec(ctx, insertAccessToken, accessTokenArgs(t, h)...)
	return db.mapError(err)
}

const insertAccessToken = `INSERT INTO oauth_tokens (` + accessTokenColumns + `, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11, $12)`

// accessTokenArgs are insertAccessToken's arguments; a zero h (a JWT)
// stores no hash.
func accessTokenArgs(t *keysmith.AccessToken, h keysmith.Hash) []any {
	hash := sql.NullString{String: h.String(), Valid: h != keysmith.Hash{}}
	return []any{t.ID, string(t.Format), t.ClientID, t.AppID, string(t.Environment), t.Scope, t.Audience,
		micros(t.IssuedAt), nullMicros(t.ExpiresAt), t.UserID, t.GrantID, hash}
}

func (tx *txn) insertAccessToken(t *keysmith.AccessToken, h keysmith.Hash) error {
	_, err := tx.ExecContext(tx.ctx, insertAccessToken, accessTokenArgs(t, h)...)
	return err
}

// FindAccessTokenByHash returns an opaque token. CodeNotFound if none.
func (db *DB) FindAccessTokenByHash(ctx context.Context, h keysmith.Hash) (*keysmith.AccessToken, error) {
	t, err := scanAccessToken(db.sql.QueryRowContext(ctx, `SELECT `+accessTokenColumns+` FROM oauth_tokens WHERE hash = $1`, h.String()))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "access token not found")
	}
	return t, db.mapError(err)
}

// RevokeAccessToken marks t revoked (storing a JWT's record first) and
// records the event. Revoking twice changes nothing.
func (db *DB) RevokeAccessToken(ctx context.Context, t *keysmith.AccessToken) error {
	return db.write(ctx, func(tx *txn) error {
		now := db.now()
		old, err := scanAccessToken(tx.QueryRowContext(ctx, `SELECT `+accessTokenColumns+` FROM oauth_tokens WHERE id = $1`, t.ID))
		switch {
		case err == sql.ErrNoRows:
			_, err = tx.ExecContext(ctx, `INSERT INTO oauth_tokens (`+accessTokenColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				t.ID, string(t.Format), t.ClientID, t.AppID, string(t.Environment), t.Scope, t.Audience,
				micros(t.IssuedAt), nullMicros(t.ExpiresAt), micros(now), t.UserID, t.GrantID)
		case err != nil:
			return err
		case old.RevokedAt != nil:
			t.RevokedAt = old.RevokedAt
			return nil
		default:
			_, err = tx.ExecContext(ctx, `UPDATE oauth_tokens SET revoked_at = $1 WHERE id = $2`, micros(now), t.ID)
		}
		if err != nil {
			return err
		}
		t.RevokedAt = &now
		tx.changed(keysmith.ChangeAccessToken, t.ID)
		return tx.record(keysmith.EventAccessTokenRevoked, map[string]any{"client_id": t.ClientID, "format": t.Format},
			keysmith.AccessTokenRef(t))
	})
}

// defaultPruneBatch bounds the rows one PruneAccessTokens statement deletes.
const defaultPruneBatch = 500

// PruneAccessTokens deletes the records of tokens that expired before the
// time, at most Options.BatchSize (default 500) rows per statement (each its own transaction), until none
// is left. Nothing is recorded: the tokens had expired, and issuing them was
// not recorded either.
func (db *DB) PruneAccessTokens(ctx context.Context, before time.Time) (int64, error) {
	batch := db.batch(defaultPruneBatch)
	var total int64
	for {
		res, err := db.exec(ctx, `DELETE FROM oauth_tokens WHERE id IN
			(SELECT id FROM oauth_tokens WHERE expires_at IS NOT NULL AND expires_at < $1 LIMIT $2)`, micros(before), batch)
		if err != nil {
			return total, db.mapError(err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}

// FindRevokedAccessTokens returns the ids of revoked tokens that had not
// expired at now.
func (db *DB) FindRevokedAccessTokens(ctx context.Context, now time.Time) ([]string, error) {
	ids, err := queryAll(ctx, db.sql, `SELECT id FROM oauth_tokens WHERE revoked_at IS NOT NULL
		AND (expires_at IS NULL OR expires_at > $1)`, []any{micros(now)}, scanString)
	return ids, db.mapError(err)
}
