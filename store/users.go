package store

import (
	"context"
	"database/sql"

	"github.com/keysmith/keysmith"
)

const userColumns = `id, email, name, role, type, status, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (*keysmith.User, error) {
	var u keysmith.User
	var created, updated int64
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Type, &u.Status, &created, &updated); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, nil
}

// Bootstrap creates the first user and their first token. CodeConflict if
// the database has been bootstrapped or has users.
func (db *DB) Bootstrap(ctx context.Context, u *keysmith.User, t *keysmith.Token, h keysmith.Hash) error {
	return db.write(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return keysmith.Errorf(keysmith.CodeConflict, "the database already has users; it was initialised before")
		}
		// The single-row table makes a concurrent bootstrap fail here.
		if _, err := tx.ExecContext(ctx, `INSERT INTO bootstrap (id, user_id, created_at) VALUES (1, $1, $2)`,
			u.ID, micros(u.CreatedAt)); err != nil {
			if db.dialect.isUniqueViolation(err) {
				return keysmith.Errorf(keysmith.CodeConflict, "the database already has users; it was initialised before")
			}
			return err
		}
		if err := tx.insertUser(u, ""); err != nil {
			return err
		}
		return tx.insertToken(t, h)
	})
}

func (tx *txn) insertUser(u *keysmith.User, passwordHash string) error {
	_, err := tx.ExecContext(tx.ctx, `INSERT INTO users (`+userColumns+`, password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		u.ID, u.Email, u.Name, u.Role, u.Type, u.Status, micros(u.CreatedAt), micros(u.UpdatedAt), passwordHash)
	if err != nil {
		if tx.db.dialect.isUniqueViolation(err) {
			return keysmith.Errorf(keysmith.CodeConflict, "a user with email %q exists already", u.Email)
		}
		return err
	}
	tx.changed(keysmith.ChangeUser, u.ID)
	return tx.record(keysmith.EventUserCreated, map[string]any{"role": u.Role, "type": u.Type}, keysmith.UserRef(u))
}

// FindUserByID returns a user. CodeNotFound if there is none.
func (db *DB) FindUserByID(ctx context.Context, id string) (*keysmith.User, error) {
	u, err := scanUser(db.sql.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "user %q not found", id)
	}
	return u, db.mapError(err)
}
