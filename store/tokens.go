package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/keysmith/keysmith"
)

const tokenColumns = `id, name, type, owner_id, created_at, created_by, expires_at, last_used_at, last_used_ip, revoked_at, revoked_by, network_mode, rate_limit_percent`

func scanToken(row interface{ Scan(...any) error }) (*keysmith.Token, error) {
	var t keysmith.Token
	var created int64
	var expires, lastUsed, revoked sql.NullInt64
	err := row.Scan(&t.ID, &t.Name, &t.Type, &t.OwnerID, &created, &t.CreatedBy, &expires, &lastUsed,
		&t.LastUsedIP, &revoked, &t.RevokedBy, &t.Network.Mode, &t.RateLimitPercent)
	if err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicros(created)
	t.ExpiresAt, t.LastUsedAt, t.RevokedAt = timePtr(expires), timePtr(lastUsed), timePtr(revoked)
	return &t, nil
}

// CreateToken stores a new token under its hash and records its event.
// CodeConflict if the id or hash exists.
func (db *DB) CreateToken(ctx context.Context, t *keysmith.Token, h keysmith.Hash) error {
	return db.write(ctx, func(tx *txn) error { return tx.insertToken(t, h) })
}

func (tx *txn) insertToken(t *keysmith.Token, h keysmith.Hash) error {
	if t.Network.Mode == "" {
		t.Network.Mode = keysmith.NetworkAny
	}
	if t.RateLimitPercent == 0 {
		t.RateLimitPercent = keysmith.DefaultRateLimitPercent
	}
	_, err := tx.ExecContext(tx.ctx, `INSERT INTO tokens (id, hash, name, type, owner_id, created_at, created_by, expires_at,
		network_mode, rate_limit_percent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		t.ID, h.String(), t.Name, t.Type, t.OwnerID, micros(t.CreatedAt), t.CreatedBy, nullMicros(t.ExpiresAt),
		t.Network.Mode, t.RateLimitPercent)
	if err != nil {
		return err
	}
	if err := tx.setTokenZones(t.ID, t.Network.Zones); err != nil {
		return err
	}
	tx.changed(keysmith.ChangeToken, t.ID)
	details := map[string]any{"type": t.Type, "owner_id": t.OwnerID,
		"network": networkDetails(t.Network), "rate_limit_percent": t.RateLimitPercent}
	if t.ExpiresAt != nil {
		details["expires_at"] = *t.ExpiresAt
	}
	return tx.record(keysmith.EventAPITokenCreated, details, keysmith.TokenRef(t), tx.userRef(t.OwnerID))
}

// FindTokenByID returns a token. CodeNotFound if there is none.
func (db *DB) FindTokenByID(ctx context.Context, id string) (*keysmith.Token, error) {
	return db.findToken(ctx, `id = $1`, id)
}

// FindTokenByHash returns the token whose secret hashes to h. CodeNotFound if
// there is none.
func (db *DB) FindTokenByHash(ctx context.Context, h keysmith.Hash) (*keysmith.Token, error) {
	return db.findToken(ctx, `hash = $1`, h.String())
}

func (db *DB) findToken(ctx context.Context, where string, arg any) (*keysmith.Token, error) {
	t, err := scanToken(db.sql.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE `+where, arg))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "token not found")
	}
	if err == nil {
		err = loadTokenZones(ctx, db.sql, []*keysmith.Token{t})
	}
	return t, db.mapError(err)
}

// FindTokens returns one page of tokens, newest first (ties broken by id, so
// the order is total and the cursor stable under concurrent inserts), and the
// cursor of the next page. CodeInvalid for a bad cursor.
func (db *DB) FindTokens(ctx context.Context, f keysmith.TokenFilter) ([]*keysmith.Token, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = keysmith.DefaultPageSize
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.OwnerID != "" {
		where = append(where, "owner_id = "+arg(f.OwnerID))
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		a, b := arg(at), arg(id)
		where = append(where, "(created_at < "+a+" OR (created_at = "+a+" AND id < "+b+"))")
	}
	q := `SELECT ` + tokenColumns + ` FROM tokens`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(limit+1)
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", db.mapError(err)
	}
	defer rows.Close()
	var out []*keysmith.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	rows.Close()
	if err := loadTokenZones(ctx, db.sql, out); err != nil {
		return nil, "", db.mapError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor(micros(last.CreatedAt), last.ID)
	}
	return out, next, nil
}

func encodeCursor(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + "." + id))
}

func decodeCursor(c string) (int64, string, error) {
	bad := keysmith.Errorf(keysmith.CodeInvalid, "cursor is not valid; pass the next_cursor of the previous page unchanged")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", bad
	}
	s, id, ok := strings.Cut(string(b), ".")
	at, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", bad
	}
	return at, id, nil
}

// RevokeToken marks a token revoked and records the event. Revoking a
// revoked token changes nothing and records nothing. CodeNotFound if there
// is none.
func (db *DB) RevokeToken(ctx context.Context, id, revokedBy string) (*keysmith.Token, error) {
	var t *keysmith.Token
	err := db.write(ctx, func(tx *txn) error {
		var err error
		t, err = tx.tokenByID(id)
		if err != nil || t.RevokedAt != nil {
			return err
		}
		now := db.now()
		res, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL`,
			micros(now), revokedBy, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// Revoked concurrently; that revocation recorded its event. Answer
			// with the token as it now is, not as read before the race.
			t, err = scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1`, id))
			return err
		}
		t.RevokedAt, t.RevokedBy = &now, revokedBy
		tx.changed(keysmith.ChangeToken, id)
		return tx.record(keysmith.EventAPITokenRevoked, nil, keysmith.TokenRef(t), tx.userRef(t.OwnerID))
	})
	return t, err
}

// RecordTokenUses stores a batch of last-use records in one transaction. A
// record older than the stored one is ignored, so replicas may flush in any
// order. Use is not a change: nothing is published or recorded.
func (db *DB) RecordTokenUses(ctx context.Context, uses []keysmith.TokenUse) error {
	if len(uses) == 0 {
		return nil
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE tokens SET last_used_at = $1, last_used_ip = $2
			WHERE id = $3 AND (last_used_at IS NULL OR last_used_at < $1)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, u := range uses {
			if _, err := stmt.ExecContext(ctx, micros(u.At), u.IP, u.TokenID); err != nil {
				return err
			}
		}
		return nil
	})
}
