package store

import (
	"context"
	"database/sql"
	"time"

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

// CreateUser stores a new user with a password hash ("" for none) and
// records the event. CodeConflict if the e-mail address is taken.
func (db *DB) CreateUser(ctx context.Context, u *keysmith.User, passwordHash string) error {
	return db.write(ctx, func(tx *txn) error { return tx.insertUser(u, passwordHash) })
}

// FindUserByEmail returns a user and their password hash ("" for none).
// CodeNotFound if there is none.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (*keysmith.User, string, error) {
	var hash string
	var u keysmith.User
	var created, updated int64
	err := db.sql.QueryRowContext(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE email = $1`, email).
		Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Type, &u.Status, &created, &updated, &hash)
	if err == sql.ErrNoRows {
		return nil, "", keysmith.Errorf(keysmith.CodeNotFound, "user not found")
	}
	if err != nil {
		return nil, "", db.mapError(err)
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, hash, nil
}

// FindUsers returns one page of users, newest first, and the cursor of the
// next page. CodeInvalid for a bad cursor.
func (db *DB) FindUsers(ctx context.Context, f keysmith.UserFilter) ([]*keysmith.User, string, error) {
	var c conditions
	if f.Query != "" {
		p := c.arg(likePattern(f.Query))
		c.and(`(LOWER(email) LIKE ` + p + ` ESCAPE '\' OR LOWER(name) LIKE ` + p + ` ESCAPE '\')`)
	}
	c.equal("role", string(f.Role))
	c.equal("status", string(f.Status))
	if f.GroupID != "" {
		c.and("id IN (SELECT user_id FROM group_members WHERE group_id = " + c.arg(f.GroupID) + ")")
	}
	return pageNewestFirst(ctx, db, `SELECT `+userColumns+` FROM users`, &c, f.Limit, f.Cursor, scanUser,
		func(u *keysmith.User) (time.Time, string) { return u.CreatedAt, u.ID })
}

// UpdateUser applies a change and records one event per kind of change:
// user.updated (e-mail, name, password), user.role_changed,
// user.deactivated or user.activated. Deactivation and password changes end
// the user's sessions; deactivation also revokes every grant the user gave
// an OAuth client (refresh and access tokens, oauth_grant.revoked each), and any status or password change voids their setup
// code. The change is refused (CodeConflict) when it would
// leave no active super admin; the count is taken under the system-log lock,
// so two admins demoting each other at once cannot both succeed.
func (db *DB) UpdateUser(ctx context.Context, id string, up keysmith.UserUpdate) (*keysmith.User, error) {
	var u *keysmith.User
	err := db.write(ctx, func(tx *txn) error {
		// The user's row first, so concurrent changes to one user queue up
		// and each reads what the one before wrote (see write for the order).
		if _, err := tx.ExecContext(ctx, `UPDATE users SET id = id WHERE id = $1`, id); err != nil {
			return err
		}
		old, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeNotFound, "user %q not found", id)
		}
		if err != nil {
			return err
		}
		nu, events := up.Apply(old)
		u = nu
		if len(events) == 0 {
			return nil // nothing changes: no write, no event
		}
		roleChanged, statusChanged := nu.Role != old.Role, nu.Status != old.Status
		nu.UpdatedAt = db.now()
		q := `UPDATE users SET email = $1, name = $2, role = $3, status = $4, updated_at = $5`
		args := []any{nu.Email, nu.Name, nu.Role, nu.Status, micros(nu.UpdatedAt)}
		if up.PasswordHash != nil {
			q += `, password_hash = $7`
			args = append(args, id, *up.PasswordHash)
		} else {
			args = append(args, id)
		}
		if _, err := tx.ExecContext(ctx, q+` WHERE id = $6`, args...); err != nil {
			if db.dialect.isUniqueViolation(err) {
				return keysmith.Errorf(keysmith.CodeConflict, "a user with email %q exists already", nu.Email)
			}
			return err
		}
		if statusChanged && nu.Status != keysmith.UserActive || up.PasswordHash != nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
				return err
			}
		}
		// A deactivation revokes every grant the person gave a client, so
		// that refresh tokens die with it; the events after the user's.
		var grants []revokedGrant
		if statusChanged && nu.Status != keysmith.UserActive {
			if grants, err = tx.revokeUserGrants(id); err != nil {
				return err
			}
		}
		if statusChanged || up.PasswordHash != nil {
			// A setup code sets a password: one chosen or reset meanwhile,
			// or a deactivation, makes it void.
			if _, err := tx.ExecContext(ctx, `DELETE FROM setup_codes WHERE user_id = $1`, id); err != nil {
				return err
			}
		}
		if old.Role == keysmith.RoleSuperAdmin && old.Status == keysmith.UserActive && (roleChanged || statusChanged) {
			if err := tx.keepASuperAdmin(old.Email); err != nil {
				return err
			}
		}
		tx.changed(keysmith.ChangeUser, id)
		if err := tx.recordAll(events...); err != nil {
			return err
		}
		return tx.recordGrantsRevoked(grants, keysmith.GrantRevokedUser)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// keepASuperAdmin refuses (CodeConflict) a change that left no active super
// admin; email names the user it demoted or deactivated. It takes the log
// lock first, last of the transaction's locks (see write), which also
// serialises the check: two demotions at once are counted one after the
// other, the second seeing the first's committed change.
func (tx *txn) keepASuperAdmin(email string) error {
	if err := tx.lockLog(); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(tx.ctx, `SELECT COUNT(*) FROM users WHERE role = $1 AND status = $2`,
		keysmith.RoleSuperAdmin, keysmith.UserActive).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return keysmith.Errorf(keysmith.CodeConflict, "%s is the last active super admin; make another user super admin first", email)
	}
	return nil
}
