package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/keysmith/keysmith"
)

// CreateSession stores a session under its hash and records the sign-in.
func (db *DB) CreateSession(ctx context.Context, s *keysmith.Session, h keysmith.Hash) error {
	return db.write(ctx, func(tx *txn) error {
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, s.UserID))
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeNotFound, "user %q not found", s.UserID)
		}
		if err != nil {
			return err
		}
		// Sessions past their expiry are of no use to anyone: drop them
		// here rather than in a background job.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2`,
			s.UserID, micros(s.CreatedAt)); err != nil {
			return err
		}
		if s.AuthenticatedAt.IsZero() {
			s.AuthenticatedAt = s.CreatedAt
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, hash, user_id, created_at, expires_at, client_ip, user_agent, authenticated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.ID, h.String(), s.UserID, micros(s.CreatedAt), micros(s.ExpiresAt),
			s.ClientIP, s.UserAgent, micros(s.AuthenticatedAt)); err != nil {
			return err
		}
		a := keysmith.AuditFrom(ctx)
		if a.Actor.ID == "" {
			a.Actor = keysmith.UserRef(u)
			tx.ctx = keysmith.WithAudit(ctx, a)
		}
		return tx.record(keysmith.EventUserSignedIn, map[string]any{"session_id": s.ID, "expires_at": s.ExpiresAt},
			keysmith.UserRef(u))
	})
}

// FindSessionByHash returns the session whose secret hashes to h.
// CodeNotFound if there is none.
func (db *DB) FindSessionByHash(ctx context.Context, h keysmith.Hash) (*keysmith.Session, error) {
	var s keysmith.Session
	var created, expires, authenticated int64
	err := db.sql.QueryRowContext(ctx, `SELECT id, user_id, created_at, expires_at, client_ip, user_agent, authenticated_at
		FROM sessions WHERE hash = $1`, h.String()).Scan(&s.ID, &s.UserID, &created, &expires, &s.ClientIP, &s.UserAgent, &authenticated)
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "session not found")
	}
	if err != nil {
		return nil, db.mapError(err)
	}
	s.CreatedAt, s.ExpiresAt, s.AuthenticatedAt = fromMicros(created), fromMicros(expires), fromMicros(authenticated)
	return &s, nil
}

// DeleteSession ends a session and records the sign-out. Deleting a missing
// session changes nothing.
func (db *DB) DeleteSession(ctx context.Context, s *keysmith.Session) error {
	return db.write(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, s.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return tx.record(keysmith.EventUserSignedOut, map[string]any{"session_id": s.ID},
			keysmith.Ref{Type: "user", ID: s.UserID})
	})
}

// FindSessionsOfUser returns a user's sessions that have not expired at now,
// newest first, at most keysmith.MaxListedSessions.
func (db *DB) FindSessionsOfUser(ctx context.Context, userID string, now time.Time) ([]*keysmith.Session, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, user_id, created_at, expires_at, client_ip, user_agent, authenticated_at
		FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC LIMIT $3`,
		userID, micros(now), keysmith.MaxListedSessions)
	if err != nil {
		return nil, db.mapError(err)
	}
	defer rows.Close()
	var out []*keysmith.Session
	for rows.Next() {
		var s keysmith.Session
		var created, expires, authenticated int64
		if err := rows.Scan(&s.ID, &s.UserID, &created, &expires, &s.ClientIP, &s.UserAgent, &authenticated); err != nil {
			return nil, err
		}
		s.CreatedAt, s.ExpiresAt, s.AuthenticatedAt = fromMicros(created), fromMicros(expires), fromMicros(authenticated)
		out = append(out, &s)
	}
	return out, rows.Err()
}

// DeleteSessionsOfUser ends every session of a user and records one
// user.sessions_ended event with their number; a user without sessions
// changes nothing and records nothing.
func (db *DB) DeleteSessionsOfUser(ctx context.Context, userID string) (int, error) {
	var n int64
	err := db.write(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		if n, _ = res.RowsAffected(); n == 0 {
			return nil
		}
		return tx.record(keysmith.EventUserSessionsEnded, map[string]any{"sessions": n},
			keysmith.Ref{Type: "user", ID: userID})
	})
	return int(n), err
}

// ReauthenticateSession records that the session's user proved their
// password again at at, and records session.reauthenticated. CodeNotFound
// for a session that has ended.
func (db *DB) ReauthenticateSession(ctx context.Context, s *keysmith.Session, at time.Time) error {
	return db.write(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET authenticated_at = $1 WHERE id = $2`, micros(at), s.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return keysmith.Errorf(keysmith.CodeNotFound, "the session has ended")
		}
		s.AuthenticatedAt = at
		return tx.record(keysmith.EventSessionReauthenticated, map[string]any{"session_id": s.ID},
			keysmith.Ref{Type: "user", ID: s.UserID})
	})
}
