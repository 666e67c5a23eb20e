package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// tokenColumns are qualified, so that queries may join other tables. The
// last one says whether an active agent holds the token.
const tokenColumns = `tokens.id, tokens.name, tokens.type, tokens.owner_id, tokens.created_at, tokens.created_by,
	tokens.expires_at, tokens.last_used_at, tokens.last_used_ip, tokens.revoked_at, tokens.revoked_by,
	tokens.idle_ttl, tokens.disabled_at, tokens.meta, tokens.rotated_at, tokens.prev_hash_expires_at, tokens.agent_id,
	tokens.network_mode, tokens.rate_limit_percent, tokens.expiry_recorded_at,
	` + agentActiveExpr

// agentActiveExpr is 1 when an active agent holds the token, else 0.
const agentActiveExpr = `(SELECT COUNT(*) FROM agents WHERE agents.id = tokens.agent_id
		AND agents.status = 'active' AND agents.token_id = tokens.id)`

func scanToken(row interface{ Scan(...any) error }, extra ...any) (*keysmith.Token, error) {
	var t keysmith.Token
	var created, idle int64
	var expires, lastUsed, revoked, disabled, rotated, prevExpires, expiryRecorded sql.NullInt64
	var meta string
	var agentActive int
	dest := []any{&t.ID, &t.Name, &t.Type, &t.OwnerID, &created, &t.CreatedBy, &expires, &lastUsed,
		&t.LastUsedIP, &revoked, &t.RevokedBy, &idle, &disabled, &meta, &rotated, &prevExpires, &t.AgentID,
		&t.Network.Mode, &t.RateLimitPercent, &expiryRecorded, &agentActive}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicros(created)
	t.ExpiresAt, t.LastUsedAt, t.RevokedAt = timePtr(expires), timePtr(lastUsed), timePtr(revoked)
	t.IdleTTL = time.Duration(idle) * time.Microsecond
	t.DisabledAt, t.RotatedAt, t.PrevSecretExpiresAt = timePtr(disabled), timePtr(rotated), timePtr(prevExpires)
	t.ExpiryRecordedAt = timePtr(expiryRecorded)
	t.Meta = json.RawMessage(meta)
	t.AgentActive = agentActive > 0
	return &t, nil
}

// CreateToken stores a new token under its hash and records its event.
// CodeConflict if the id or hash exists.
func (db *DB) CreateToken(ctx context.Context, t *keysmith.Token, h keysmith.Hash) error {
	return db.write(ctx, func(tx *txn) error { return tx.insertToken(t, h) })
}

func (tx *txn) insertToken(t *keysmith.Token, h keysmith.Hash) error {
	if t.IdleTTL == 0 { // a caller that predates idle expiry
		t.IdleTTL = keysmith.DefaultIdleTTL
	}
	if len(t.Meta) == 0 {
		t.Meta = json.RawMessage("{}")
	}
	if t.Network.Mode == "" {
		t.Network.Mode = keysmith.NetworkAny
	}
	if t.RateLimitPercent == 0 {
		t.RateLimitPercent = keysmith.DefaultRateLimitPercent
	}
	_, err := tx.ExecContext(tx.ctx, `INSERT INTO tokens (id, hash, name, type, owner_id, created_at, created_by, expires_at,
		idle_ttl, meta, name_lower, agent_id, network_mode, rate_limit_percent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		t.ID, h.String(), t.Name, t.Type, t.OwnerID, micros(t.CreatedAt), t.CreatedBy, nullMicros(t.ExpiresAt),
		t.IdleTTL.Microseconds(), string(t.Meta), strings.ToLower(t.Name), t.AgentID, t.Network.Mode, t.RateLimitPercent)
	if err != nil {
		return err
	}
	if err := tx.setTokenZones(t.ID, t.Network.Zones); err != nil {
		return err
	}
	tx.changed(keysmith.ChangeToken, t.ID)
	details := map[string]any{"type": t.Type, "owner_id": t.OwnerID, "idle_ttl_seconds": int64(t.IdleTTL / time.Second),
		"network": networkDetails(t.Network), "rate_limit_percent": t.RateLimitPercent}
	if t.AgentID != "" {
		details["agent_id"] = t.AgentID
	}
	if t.ExpiresAt != nil {
		details["expires_at"] = *t.ExpiresAt
	}
	return tx.record(keysmith.EventAPITokenCreated, details, keysmith.TokenRef(t), tx.userRef(t.OwnerID))
}

// FindTokenByID returns a token with its owner. CodeNotFound if there is
// none.
func (db *DB) FindTokenByID(ctx context.Context, id string) (*keysmith.Token, error) {
	t, err := scanTokenWithOwner(db.sql.QueryRowContext(ctx, tokenWithOwnerSelect+` WHERE tokens.id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "token %q not found", id)
	}
	if err == nil {
		err = loadTokenZones(ctx, db.sql, []*keysmith.Token{t})
	}
	return t, db.mapError(err)
}

// FindTokenByHash returns the token whose secret, or whose secret before
// its last rotation, hashes to h; ViaPreviousSecret says which. CodeNotFound
// if there is none.
func (db *DB) FindTokenByHash(ctx context.Context, h keysmith.Hash) (*keysmith.Token, error) {
	var prev int
	t, err := scanToken(db.sql.QueryRowContext(ctx, `SELECT `+tokenColumns+`, CASE WHEN tokens.hash = $1 THEN 0 ELSE 1 END
		FROM tokens WHERE tokens.hash = $1 OR tokens.prev_hash = $1`, h.String()), &prev)
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "token not found")
	}
	if err != nil {
		return nil, db.mapError(err)
	}
	t.ViaPreviousSecret = prev == 1
	if err := loadTokenZones(ctx, db.sql, []*keysmith.Token{t}); err != nil {
		return nil, db.mapError(err)
	}
	return t, nil
}

// tokenWithOwnerSelect reads tokens with their owner's email and role.
const tokenWithOwnerSelect = `SELECT ` + tokenColumns + `, COALESCE(users.email, ''), COALESCE(users.role, '')
	FROM tokens LEFT JOIN users ON users.id = tokens.owner_id`

func scanTokenWithOwner(row interface{ Scan(...any) error }) (*keysmith.Token, error) {
	var email, role string
	t, err := scanToken(row, &email, &role)
	if err != nil {
		return nil, err
	}
	t.Owner = keysmith.TokenOwner{ID: t.OwnerID, Email: email, Role: keysmith.Role(role)}
	return t, nil
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
		t, err = tx.revokeToken(id, revokedBy)
		return err
	})
	return t, err
}

// revokeToken revokes a token in tx; see RevokeToken.
func (tx *txn) revokeToken(id, revokedBy string) (t *keysmith.Token, err error) {
	ctx, db := tx.ctx, tx.db
	err = func() error {
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
			t, err = tx.tokenByID(id)
			return err
		}
		t.RevokedAt, t.RevokedBy = &now, revokedBy
		tx.changed(keysmith.ChangeToken, id)
		return tx.record(keysmith.EventAPITokenRevoked, nil, keysmith.TokenRef(t), tx.userRef(t.OwnerID))
	}()
	return t, err
}
