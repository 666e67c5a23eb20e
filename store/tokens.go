package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// tokenFields are the columns of a token, qualified so that queries may
// join other tables; tokenColumns adds whether an active agent holds it.
const tokenFields = `tokens.id, tokens.name, tokens.type, tokens.owner_id, tokens.created_at, tokens.created_by,
	tokens.expires_at, tokens.last_used_at, tokens.last_used_ip, tokens.revoked_at, tokens.revoked_by,
	tokens.idle_ttl, tokens.disabled_at, tokens.meta, tokens.rotated_at, tokens.prev_hash_expires_at, tokens.agent_id,
	tokens.network_mode, tokens.rate_limit_percent, tokens.expiry_recorded_at,
	tokens.scopes, tokens.app_id, tokens.environment`

// tokenColumns are tokenFields and whether an active agent holds the token.
const tokenColumns = tokenFields + `, ` + agentActiveExpr

// agentActiveExpr is 1 when an active agent holds the token, else 0.
const agentActiveExpr = `(SELECT COUNT(*) FROM agents WHERE agents.id = tokens.agent_id
		AND agents.status = 'active' AND agents.token_id = tokens.id)`

func scanToken(row interface{ Scan(...any) error }, extra ...any) (*keysmith.Token, error) {
	var t keysmith.Token
	var created, idle int64
	var expires, lastUsed, revoked, disabled, rotated, prevExpires, expiryRecorded sql.NullInt64
	var meta, scopes string
	var agentActive int
	dest := []any{&t.ID, &t.Name, &t.Type, &t.OwnerID, &created, &t.CreatedBy, &expires, &lastUsed,
		&t.LastUsedIP, &revoked, &t.RevokedBy, &idle, &disabled, &meta, &rotated, &prevExpires, &t.AgentID,
		&t.Network.Mode, &t.RateLimitPercent, &expiryRecorded, &scopes, &t.AppID, &t.Environment, &agentActive}
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
	if scopes != "" {
		t.Scopes = strings.Fields(scopes)
	}
	return &t, nil
}

// CreateToken stores a new token under its hash and records its event.
// CodeConflict if the id or hash exists.
func (db *DB) CreateToken(ctx context.Context, t *keysmith.Token, h keysmith.Hash) error {
	return db.write(ctx, func(tx *txn) error { return tx.insertToken(t, h) })
}

func (tx *txn) insertToken(t *keysmith.Token, h keysmith.Hash) error {
	t = keysmith.NewToken(*t) // for callers that did not build t with it; the caller's value is not changed
	if t.AppID != "" {
		if err := tx.lockAppOwnedBy(t.AppID, t.OwnerID); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(tx.ctx, `INSERT INTO tokens (id, hash, name, type, owner_id, created_at, created_by, expires_at,
		idle_ttl, meta, name_lower, agent_id, network_mode, rate_limit_percent, scopes, app_id, environment)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		t.ID, h.String(), t.Name, t.Type, t.OwnerID, micros(t.CreatedAt), t.CreatedBy, nullMicros(t.ExpiresAt),
		t.IdleTTL.Microseconds(), string(t.Meta), strings.ToLower(t.Name), t.AgentID, t.Network.Mode, t.RateLimitPercent,
		strings.Join(t.Scopes, " "), t.AppID, t.Environment)
	if err != nil {
		return err
	}
	if len(t.Scopes) > 0 {
		if err := tx.grantScopes(t.ID, t.Scopes); err != nil {
			return err
		}
	}
	if len(t.Network.Zones) > 0 { // a new token names none yet
		if err := tx.setTokenZones(t.ID, t.Network.Zones); err != nil {
			return err
		}
	}
	tx.changed(keysmith.ChangeToken, t.ID)
	return tx.recordAll(t.CreatedEvent(tx.userRef(t.OwnerID)))
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

// tokenWithOwnerColumns and tokenWithOwnerJoins read tokens with their
// owner's email and role, and whether an active agent holds them, by joins
// rather than a subquery per row: PostgreSQL runs a correlated subquery in
// the select list for every row it reads, before sorting.
const tokenWithOwnerColumns = `SELECT ` + tokenFields + `, CASE WHEN agents.id IS NULL THEN 0 ELSE 1 END,
	COALESCE(users.email, ''), COALESCE(users.role, '')`

const tokenWithOwnerJoins = ` LEFT JOIN users ON users.id = tokens.owner_id
	LEFT JOIN agents ON agents.id = tokens.agent_id AND agents.status = 'active' AND agents.token_id = tokens.id`

// tokenWithOwnerSelect reads tokens with their owner's email and role.
const tokenWithOwnerSelect = tokenWithOwnerColumns + ` FROM tokens` + tokenWithOwnerJoins

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
	err = func() error {
		t, err = tx.tokenByID(id)
		if err != nil || t.RevokedAt != nil {
			return err
		}
		ok, err := tx.markTokenRevoked(t, revokedBy)
		if err != nil {
			return err
		}
		if !ok {
			// Revoked concurrently; that revocation recorded its event. Answer
			// with the token as it now is, not as read before the race.
			t, err = tx.tokenByID(id)
			return err
		}
		return tx.recordTokenRevoked(t, tx.userRef(t.OwnerID))
	}()
	return t, err
}

// markTokenRevoked revokes t's row and drops its scope grants, reporting
// whether it was live; the caller records the event with
// recordTokenRevoked after its last row lock.
func (tx *txn) markTokenRevoked(t *keysmith.Token, revokedBy string) (bool, error) {
	now := tx.db.now()
	res, err := tx.ExecContext(tx.ctx, `UPDATE tokens SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL`,
		micros(now), revokedBy, t.ID)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if err := tx.dropScopeGrants(t.ID); err != nil {
		return false, err
	}
	t.RevokedAt, t.RevokedBy = &now, revokedBy
	tx.changed(keysmith.ChangeToken, t.ID)
	return true, nil
}

// recordTokenRevoked records api_token.revoked, or app_key.revoked for an
// app key; owner is the ref of its owner, read before the log's lock.
func (tx *txn) recordTokenRevoked(t *keysmith.Token, owner keysmith.Ref) error {
	var details map[string]any
	if t.Type == keysmith.TokenAppKey {
		details = map[string]any{"app_id": t.AppID, "environment": t.Environment}
	}
	return tx.record(t.EventType(keysmith.EventAPITokenRevoked), details, keysmith.TokenRef(t), owner)
}

// UpdateToken applies the non-nil fields of u and records the change.
// CodeNotFound if there is no such token, CodeConflict if it is revoked,
// CodeInvalid if u names a network zone or a scope that does not exist.
func (db *DB) UpdateToken(ctx context.Context, id string, u keysmith.TokenUpdate) (*keysmith.Token, error) {
	err := db.write(ctx, func(tx *txn) error { return tx.updateToken(id, u) })
	if err != nil {
		return nil, err
	}
	return db.FindTokenByID(ctx, id)
}

// updateToken applies u to a token in tx; see UpdateToken.
func (tx *txn) updateToken(id string, u keysmith.TokenUpdate) error {
	ctx, db := tx.ctx, tx.db
	t, err := tx.lockToken(id)
	if err != nil {
		return err
	}
	if u.Scopes != nil && !slices.Equal(t.Scopes, u.ScopesBefore) {
		return keysmith.Errorf(keysmith.CodeConflict, "the scopes of %s changed meanwhile; read it again and retry", id)
	}
	var set []string
	var c conditions // for the numbering of the arguments of set
	arg := c.arg
	if u.Name != nil {
		set = append(set, "name = "+arg(*u.Name), "name_lower = "+arg(strings.ToLower(*u.Name)))
	}
	if u.Enabled != nil {
		if *u.Enabled {
			set = append(set, "disabled_at = NULL")
		} else {
			set = append(set, "disabled_at = COALESCE(disabled_at, "+arg(micros(db.now()))+")")
		}
	}
	if u.Meta != nil {
		set = append(set, "meta = "+arg(string(*u.Meta)))
	}
	if u.Network != nil {
		set = append(set, "network_mode = "+arg(string(u.Network.Mode)))
	}
	if u.RateLimitPercent != nil {
		set = append(set, "rate_limit_percent = "+arg(*u.RateLimitPercent))
	}
	if u.Scopes != nil {
		set = append(set, "scopes = "+arg(strings.Join(*u.Scopes, " ")))
	}
	if len(set) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET `+strings.Join(set, ", ")+` WHERE id = `+arg(id), c.args...); err != nil {
			return err
		}
	}
	if u.Network != nil {
		if err := tx.setTokenZones(id, u.Network.Zones); err != nil {
			return err
		}
	}
	if u.Scopes != nil {
		if err := tx.grantScopes(id, *u.Scopes); err != nil {
			return err
		}
	}
	tx.changed(keysmith.ChangeToken, id)
	return tx.recordAll(u.Events(t, tx.userRef(t.OwnerID))...)
}

// RotateToken moves the token's hash to prev_hash (valid until graceUntil)
// and stores h as its hash, keeping every other column. CodeNotFound if there
// is no such token, CodeConflict if it is revoked.
func (db *DB) RotateToken(ctx context.Context, id string, h keysmith.Hash, graceUntil time.Time) (*keysmith.Token, error) {
	err := db.write(ctx, func(tx *txn) error {
		t, err := tx.lockToken(id)
		if err != nil {
			return err
		}
		now := db.now()
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET prev_hash = hash, hash = $1, prev_hash_expires_at = $2, rotated_at = $3
			WHERE id = $4`, h.String(), micros(graceUntil), micros(now), id); err != nil {
			return err
		}
		tx.changed(keysmith.ChangeToken, id)
		grace := graceUntil.Sub(now)
		return tx.record(t.EventType(keysmith.EventAPITokenRotated), map[string]any{"grace_seconds": int64(grace / time.Second),
			"previous_secret_expires_at": graceUntil}, keysmith.TokenRef(t), tx.userRef(t.OwnerID))
	})
	if err != nil {
		return nil, err
	}
	return db.FindTokenByID(ctx, id)
}

// lockToken reads a token that is about to change, locking its row where the
// engine locks rows (SQLite serialises writers anyway). CodeNotFound if there
// is none, CodeConflict if it is revoked.
func (tx *txn) lockToken(id string) (*keysmith.Token, error) {
	// A no-op write takes the row lock on PostgreSQL with the same text on
	// both engines, so concurrent changes to one token queue up.
	res, err := tx.ExecContext(tx.ctx, `UPDATE tokens SET id = id WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "token %q not found", id)
	}
	t, err := tx.tokenByID(id)
	if err != nil {
		return nil, err
	}
	if t.RevokedAt != nil {
		return nil, keysmith.Errorf(keysmith.CodeConflict, "token %s is revoked; a revoked token cannot be changed", id)
	}
	return t, nil
}

// loadTokenZones fills the zone lists of the tokens whose policy names zones,
// with one query for all of them.
func loadTokenZones(ctx context.Context, q querier, ts []*keysmith.Token) error {
	byID := map[string]*keysmith.Token{}
	var c conditions
	var marks []string
	for _, t := range ts {
		if t.Network.Mode == keysmith.NetworkInZones || t.Network.Mode == keysmith.NetworkNotInZones {
			byID[t.ID] = t
			marks = append(marks, c.arg(t.ID))
		}
	}
	if len(marks) == 0 {
		return nil
	}
	type use struct{ tokenID, zoneID string }
	uses, err := queryAll(ctx, q, `SELECT token_id, zone_id FROM token_zones WHERE token_id IN (`+
		strings.Join(marks, ", ")+`) ORDER BY token_id, zone_id`, c.args, func(row scanner) (use, error) {
		var u use
		err := row.Scan(&u.tokenID, &u.zoneID)
		return u, err
	})
	for _, u := range uses {
		t := byID[u.tokenID]
		t.Network.Zones = append(t.Network.Zones, u.zoneID)
	}
	return err
}

// tokenByID reads a token, with its zones, in tx. CodeNotFound if there is
// none.
func (tx *txn) tokenByID(id string) (*keysmith.Token, error) {
	t, err := scanToken(tx.QueryRowContext(tx.ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "token %q not found", id)
	}
	if err != nil {
		return nil, err
	}
	return t, loadTokenZones(tx.ctx, tx, []*keysmith.Token{t})
}

// setTokenZones replaces the zones a token's policy names. A zone that does
// not exist is CodeInvalid, naming it. Each zone's row is locked (in id
// order) before it is named, so that a concurrent DeleteZone either waits and
// then sees the token (conflict), or deletes first and the zone is missing
// here (invalid), never a foreign-key violation.
func (tx *txn) setTokenZones(tokenID string, zones []string) error {
	if _, err := tx.ExecContext(tx.ctx, `DELETE FROM token_zones WHERE token_id = $1`, tokenID); err != nil {
		return err
	}
	zones = slices.Sorted(slices.Values(zones))
	for _, z := range zones {
		found, err := tx.lockZone(z)
		if err != nil {
			return err
		}
		if !found {
			return keysmith.Errorf(keysmith.CodeInvalid, "network zone %q does not exist; see GET /v1/zones", z)
		}
		if _, err := tx.ExecContext(tx.ctx, `INSERT INTO token_zones (token_id, zone_id) VALUES ($1, $2)`, tokenID, z); err != nil {
			return err
		}
	}
	return nil
}
