package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/keysmith/keysmith"
)

// CreateSetupCode stores a setup code under its hash, replacing any earlier
// code of the user, and records setup_code.created.
func (db *DB) CreateSetupCode(ctx context.Context, c *keysmith.SetupCode, h keysmith.Hash) error {
	return db.write(ctx, func(tx *txn) error {
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, c.UserID))
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeNotFound, "user %q not found", c.UserID)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM setup_codes WHERE user_id = $1`, c.UserID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO setup_codes (id, hash, user_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, c.ID, h.String(), c.UserID, micros(c.CreatedAt), micros(c.ExpiresAt)); err != nil {
			return err
		}
		return tx.record(keysmith.EventSetupCodeCreated, map[string]any{"setup_code_id": c.ID, "expires_at": c.ExpiresAt},
			keysmith.UserRef(u))
	})
}

// RedeemSetupCode uses up the setup code whose secret hashes to h, if it has
// not expired at now: the code's row is deleted, its user's password set and
// their sessions ended, in one transaction, so a code works once even when
// presented twice at the same moment. CodeUnauthorized for an unknown, used
// or expired code, and for a user who is no longer active.
func (db *DB) RedeemSetupCode(ctx context.Context, h keysmith.Hash, passwordHash string, now time.Time) (*keysmith.User, error) {
	var u *keysmith.User
	err := db.write(ctx, func(tx *txn) error {
		var id, userID string
		var expires int64
		err := tx.QueryRowContext(ctx, `DELETE FROM setup_codes WHERE hash = $1 RETURNING id, user_id, expires_at`,
			h.String()).Scan(&id, &userID, &expires)
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeUnauthorized, "unknown setup code")
		}
		if err != nil {
			return err
		}
		if !now.Before(fromMicros(expires)) {
			return keysmith.Errorf(keysmith.CodeUnauthorized, "expired setup code")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND status = $4`,
			passwordHash, micros(now), userID, keysmith.UserActive); err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, userID))
		if err != nil {
			return err
		}
		if u.Status != keysmith.UserActive {
			return keysmith.Errorf(keysmith.CodeUnauthorized, "the setup code's user is deactivated")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
			return err
		}
		tx.changed(keysmith.ChangeUser, userID)
		a := keysmith.AuditFrom(ctx)
		if a.Actor.ID == "" || a.Actor.Type == "anonymous" {
			a.Actor = keysmith.UserRef(u)
			tx.ctx = keysmith.WithAudit(ctx, a)
		}
		return tx.record(keysmith.EventSetupCodeUsed, map[string]any{"setup_code_id": id}, keysmith.UserRef(u))
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
