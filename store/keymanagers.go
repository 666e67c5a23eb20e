package store

import (
	"context"
	"database/sql"

	"github.com/keysmith/keysmith"
)

const keyManagerColumns = `id, name, type, issuer, audience, enabled, jwks_uri, registration_endpoint,
	introspection_endpoint, token_endpoint, registration_token_sealed, introspection_client_id,
	introspection_secret_sealed, opaque_token_prefix, accept_unregistered_clients, created_at, created_by, updated_at`

func scanKeyManager(row interface{ Scan(...any) error }) (*keysmith.KeyManager, error) {
	var m keysmith.KeyManager
	var enabled, accept, created, updated int64
	if err := row.Scan(&m.ID, &m.Name, &m.Type, &m.Issuer, &m.Audience, &enabled, &m.JWKSURI, &m.RegistrationEndpoint,
		&m.IntrospectionEndpoint, &m.TokenEndpoint, &m.RegistrationTokenSealed, &m.IntrospectionClientID,
		&m.IntrospectionSecretSealed, &m.OpaqueTokenPrefix, &accept, &created, &m.CreatedBy, &updated); err != nil {
		return nil, err
	}
	m.AcceptUnregisteredClients = accept != 0
	m.Enabled, m.CreatedAt, m.UpdatedAt = enabled != 0, fromMicros(created), fromMicros(updated)
	return &m, nil
}

func keyManagerNotFound(id string) error {
	return keysmith.Errorf(keysmith.CodeNotFound, "key manager %q not found", id)
}

// prefixTaken refuses m when it is enabled with an opaque_token_prefix
// that another enabled manager has: an opaque token is sent to one
// manager only. The unique index key_managers_by_opaque_prefix holds it
// against races; this check says which manager has it.
func (tx *txn) prefixTaken(m *keysmith.KeyManager) error {
	if !m.Enabled || m.OpaqueTokenPrefix == "" {
		return nil
	}
	var name string
	err := tx.QueryRowContext(tx.ctx, `SELECT name FROM key_managers
		WHERE enabled = 1 AND opaque_token_prefix = $1 AND id <> $2 ORDER BY name LIMIT 1`, m.OpaqueTokenPrefix, m.ID).Scan(&name)
	if err == sql.ErrNoRows {
		return nil
	}
	if err != nil {
		return err
	}
	return prefixConflict(m, name)
}

func prefixConflict(m *keysmith.KeyManager, other string) error {
	if other == "" {
		return keysmith.Errorf(keysmith.CodeConflict, "a key manager named %q, or an enabled one with opaque_token_prefix %q, exists already",
			m.Name, m.OpaqueTokenPrefix)
	}
	return keysmith.Errorf(keysmith.CodeConflict, "opaque_token_prefix %q is enabled key manager %s's already: an opaque token is sent to one manager only; give a prefix that tells them apart",
		m.OpaqueTokenPrefix, other)
}

// uniqueViolation says which unique constraint m broke.
func uniqueViolation(m *keysmith.KeyManager) error {
	if m.Enabled && m.OpaqueTokenPrefix != "" {
		return prefixConflict(m, "")
	}
	return keysmith.Errorf(keysmith.CodeConflict, "a key manager named %q exists already", m.Name)
}

// CreateKeyManager stores a new manager and records its event. The
// trusted_origins_lock row serialises additions, so that the count checked
// against max holds however many replicas add at once.
func (db *DB) CreateKeyManager(ctx context.Context, m *keysmith.KeyManager, max int) error {
	return db.write(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `UPDATE trusted_origins_lock SET id = id WHERE id = 1`); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM key_managers`).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return keysmith.Errorf(keysmith.CodeConflict, "there are %d key managers already, the most allowed; delete one first", n)
		}
		if err := tx.prefixTaken(m); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO key_managers (`+keyManagerColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
			m.ID, m.Name, string(m.Type), m.Issuer, m.Audience, boolInt(m.Enabled), m.JWKSURI, m.RegistrationEndpoint,
			m.IntrospectionEndpoint, m.TokenEndpoint, m.RegistrationTokenSealed, m.IntrospectionClientID,
			m.IntrospectionSecretSealed, m.OpaqueTokenPrefix, boolInt(m.AcceptUnregisteredClients),
			micros(m.CreatedAt), m.CreatedBy, micros(m.UpdatedAt))
		if db.dialect.isUniqueViolation(err) {
			return uniqueViolation(m)
		}
		if err != nil {
			return err
		}
		tx.changed(keysmith.ChangeKeyManager, m.ID)
		return tx.record(keysmith.EventKeyManagerCreated, map[string]any{"type": string(m.Type), "issuer": m.Issuer,
			"enabled": m.Enabled}, keysmith.KeyManagerRef(m))
	})
}

// FindKeyManagerByID returns a manager. CodeNotFound if there is none.
func (db *DB) FindKeyManagerByID(ctx context.Context, id string) (*keysmith.KeyManager, error) {
	m, err := scanKeyManager(db.sql.QueryRowContext(ctx, `SELECT `+keyManagerColumns+` FROM key_managers WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, keyManagerNotFound(id)
	}
	return m, db.mapError(err)
}

// FindKeyManagers returns every manager, by name. They are at most
// keysmith.MaxKeyManagers, so the list is not paged.
func (db *DB) FindKeyManagers(ctx context.Context) ([]*keysmith.KeyManager, error) {
	out, err := queryAll(ctx, db.sql, `SELECT `+keyManagerColumns+` FROM key_managers ORDER BY name, id`, nil, scanKeyManager)
	if err != nil {
		return nil, db.mapError(err)
	}
	return nonNil(out), nil
}

// lockKeyManager takes the manager's row lock and returns it as it is.
func (tx *txn) lockKeyManager(id string) (*keysmith.KeyManager, error) {
	if _, err := tx.ExecContext(tx.ctx, `UPDATE key_managers SET updated_at = updated_at WHERE id = $1`, id); err != nil {
		return nil, err
	}
	m, err := scanKeyManager(tx.QueryRowContext(tx.ctx, `SELECT `+keyManagerColumns+` FROM key_managers WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, keyManagerNotFound(id)
	}
	return m, err
}

// UpdateKeyManager stores the manager's changeable fields and records what
// changed.
func (db *DB) UpdateKeyManager(ctx context.Context, m *keysmith.KeyManager) (*keysmith.KeyManager, error) {
	var out *keysmith.KeyManager
	err := db.write(ctx, func(tx *txn) error {
		old, err := tx.lockKeyManager(m.ID)
		if err != nil {
			return err
		}
		next := *m
		next.Type, next.CreatedAt, next.CreatedBy, next.UpdatedAt = old.Type, old.CreatedAt, old.CreatedBy, db.now()
		if err := tx.prefixTaken(&next); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE key_managers SET name = $1, issuer = $2, audience = $3, enabled = $4,
			jwks_uri = $5, registration_endpoint = $6, introspection_endpoint = $7, token_endpoint = $8,
			registration_token_sealed = $9, introspection_client_id = $10, introspection_secret_sealed = $11,
			opaque_token_prefix = $12, accept_unregistered_clients = $13, updated_at = $14 WHERE id = $15`,
			next.Name, next.Issuer, next.Audience, boolInt(next.Enabled), next.JWKSURI, next.RegistrationEndpoint,
			next.IntrospectionEndpoint, next.TokenEndpoint, next.RegistrationTokenSealed, next.IntrospectionClientID,
			next.IntrospectionSecretSealed, next.OpaqueTokenPrefix, boolInt(next.AcceptUnregisteredClients),
			micros(next.UpdatedAt), next.ID)
		if db.dialect.isUniqueViolation(err) {
			if old.Name == next.Name {
				return prefixConflict(&next, "")
			}
			return uniqueViolation(&next)
		}
		if err != nil {
			return err
		}
		out = &next
		tx.changed(keysmith.ChangeKeyManager, m.ID)
		return tx.record(keysmith.EventKeyManagerUpdated, keysmith.KeyManagerChanges(old, &next), keysmith.KeyManagerRef(&next))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteKeyManager deletes a manager and revokes its live clients, in one
// transaction: the manager's row lock first, then the clients' rows in
// ascending id order, then the log.
func (db *DB) DeleteKeyManager(ctx context.Context, id, deletedBy string) error {
	return db.write(ctx, func(tx *txn) error {
		m, err := tx.lockKeyManager(id)
		if err != nil {
			return err
		}
		clients, err := queryAll(ctx, tx, `SELECT `+clientColumns+` FROM oauth_clients
			WHERE key_manager_id = $1 AND revoked_at IS NULL ORDER BY id`, []any{id}, scanClient)
		if err != nil {
			return err
		}
		var revoked []*keysmith.Client
		for _, c := range clients {
			ok, err := tx.markClientRevoked(c, deletedBy)
			if err != nil {
				return err
			}
			if ok {
				revoked = append(revoked, c)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM key_managers WHERE id = $1`, id); err != nil {
			return err
		}
		for _, c := range revoked {
			if err := tx.recordClientRevoked(c); err != nil {
				return err
			}
		}
		tx.changed(keysmith.ChangeKeyManager, id)
		return tx.record(keysmith.EventKeyManagerDeleted, map[string]any{"type": string(m.Type), "issuer": m.Issuer,
			"revoked_clients": len(revoked)}, keysmith.KeyManagerRef(m))
	})
}

// FindClientByExternalID returns the client registered at a manager under
// the manager's client_id. CodeNotFound if there is none.
func (db *DB) FindClientByExternalID(ctx context.Context, keyManagerID, externalClientID string) (*keysmith.Client, error) {
	if keyManagerID == "" {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "OAuth client %q not found", externalClientID)
	}
	c, err := scanClient(db.sql.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM oauth_clients
		WHERE key_manager_id = $1 AND external_client_id = $2`, keyManagerID, externalClientID))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "OAuth client %q of key manager %q not found", externalClientID, keyManagerID)
	}
	return c, db.mapError(err)
}

// requireKeyManager takes the manager's row lock and refuses a client of
// a manager deleted meanwhile or disabled: CodeConflict.
func (tx *txn) requireKeyManager(id string) error {
	m, err := tx.lockKeyManager(id)
	if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
		return keysmith.Errorf(keysmith.CodeConflict, "key manager %q was deleted meanwhile", id)
	}
	if err != nil {
		return err
	}
	if !m.Enabled {
		return keysmith.Errorf(keysmith.CodeConflict, "key manager %q is disabled", id)
	}
	return nil
}

// SetClientRegistration stores an external client's registration URI and
// sealed registration access token.
func (db *DB) SetClientRegistration(ctx context.Context, clientID, uri, sealed string) error {
	return db.write(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE oauth_clients SET registration_uri = $1, registration_token_sealed = $2
			WHERE id = $3 AND key_manager_id <> ''`, uri, sealed, clientID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return keysmith.Errorf(keysmith.CodeNotFound, "OAuth client %q of an external key manager not found", clientID)
		}
		tx.changed(keysmith.ChangeOAuthClient, clientID)
		return nil
	})
}
