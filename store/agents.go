package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/keysmith/keysmith"
)

const agentColumns = `id, name, kind, owner_id, status, token_id, created_at, created_by, activated_at, deactivated_at`

func scanAgent(row interface{ Scan(...any) error }) (*keysmith.Agent, error) {
	var a keysmith.Agent
	var created int64
	var activated, deactivated sql.NullInt64
	if err := row.Scan(&a.ID, &a.Name, &a.Kind, &a.OwnerID, &a.Status, &a.TokenID, &created, &a.CreatedBy,
		&activated, &deactivated); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMicros(created)
	a.ActivatedAt, a.DeactivatedAt = timePtr(activated), timePtr(deactivated)
	return &a, nil
}

// CreateAgent stores a new agent and records its event.
func (db *DB) CreateAgent(ctx context.Context, a *keysmith.Agent) error {
	return db.write(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO agents (`+agentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			a.ID, a.Name, a.Kind, a.OwnerID, a.Status, a.TokenID, micros(a.CreatedAt), a.CreatedBy,
			nullMicros(a.ActivatedAt), nullMicros(a.DeactivatedAt))
		if err != nil {
			return err
		}
		return tx.record(keysmith.EventAgentCreated, map[string]any{"kind": a.Kind, "owner_id": a.OwnerID}, keysmith.AgentRef(a))
	})
}

// FindAgentByID returns an agent. CodeNotFound if there is none.
func (db *DB) FindAgentByID(ctx context.Context, id string) (*keysmith.Agent, error) {
	a, err := scanAgent(db.sql.QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "agent %q not found", id)
	}
	return a, db.mapError(err)
}

// FindAgents returns one page of agents, newest first, and the cursor of the
// next page. CodeInvalid for a bad cursor.
func (db *DB) FindAgents(ctx context.Context, f keysmith.AgentFilter) ([]*keysmith.Agent, string, error) {
	var c conditions
	c.equal("owner_id", f.OwnerID)
	return pageNewestFirst(ctx, db, `SELECT `+agentColumns+` FROM agents`, &c, f.Limit, f.Cursor, scanAgent,
		func(a *keysmith.Agent) (time.Time, string) { return a.CreatedAt, a.ID })
}

// lockAgent reads an agent about to change, holding its row lock on
// PostgreSQL. CodeNotFound if there is none.
func (tx *txn) lockAgent(id string) (*keysmith.Agent, error) {
	res, err := tx.ExecContext(tx.ctx, `UPDATE agents SET id = id WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "agent %q not found", id)
	}
	return scanAgent(tx.QueryRowContext(tx.ctx, `SELECT `+agentColumns+` FROM agents WHERE id = $1`, id))
}

// ActivateAgent issues t as the agent's token and marks the agent active, in
// one transaction. A token a previous activation left alive is revoked by
// by. CodeConflict if the agent is active.
func (db *DB) ActivateAgent(ctx context.Context, id string, t *keysmith.Token, h keysmith.Hash, by string) (*keysmith.Agent, error) {
	var a *keysmith.Agent
	err := db.write(ctx, func(tx *txn) error {
		var err error
		if a, err = tx.lockAgent(id); err != nil {
			return err
		}
		if a.Status == keysmith.AgentActive {
			return keysmith.Errorf(keysmith.CodeConflict, "agent %s is active already; deactivate it first", id)
		}
		// Every row lock before the log lock (see write): the old token's
		// row first, then the new token's insert (its key locks on the
		// owner and zones) and the events of both.
		if a.TokenID != "" {
			if _, err := tx.lockToken(a.TokenID); err != nil && keysmith.ErrorCode(err) != keysmith.CodeNotFound &&
				keysmith.ErrorCode(err) != keysmith.CodeConflict { // gone or revoked: nothing to revoke below
				return err
			}
		}
		if err := tx.insertToken(t, h); err != nil {
			return err
		}
		if a.TokenID != "" {
			if _, err := tx.revokeToken(a.TokenID, by); err != nil && keysmith.ErrorCode(err) != keysmith.CodeNotFound {
				return err
			}
		}
		now := db.now()
		if _, err := tx.ExecContext(ctx, `UPDATE agents SET status = $1, token_id = $2, activated_at = $3 WHERE id = $4`,
			keysmith.AgentActive, t.ID, micros(now), id); err != nil {
			return err
		}
		a.Status, a.TokenID, a.ActivatedAt = keysmith.AgentActive, t.ID, &now
		return tx.record(keysmith.EventAgentActivated, map[string]any{"token_id": t.ID}, keysmith.AgentRef(a), keysmith.TokenRef(t))
	})
	return a, err
}

// DeactivateAgent marks the agent inactive, revoking its token if its kind
// auto-revokes; otherwise the token's cache entries are dropped, because it
// is suspicious from now on. CodeConflict if the agent is not active.
func (db *DB) DeactivateAgent(ctx context.Context, id, by string) (*keysmith.Agent, error) {
	var a *keysmith.Agent
	err := db.write(ctx, func(tx *txn) error {
		var err error
		if a, err = tx.lockAgent(id); err != nil {
			return err
		}
		if a.Status != keysmith.AgentActive {
			return keysmith.Errorf(keysmith.CodeConflict, "agent %s is not active", id)
		}
		now := db.now()
		if _, err := tx.ExecContext(ctx, `UPDATE agents SET status = $1, deactivated_at = $2 WHERE id = $3`,
			keysmith.AgentInactive, micros(now), id); err != nil {
			return err
		}
		a.Status, a.DeactivatedAt = keysmith.AgentInactive, &now
		revoked, err := tx.releaseAgentToken(a, by)
		if err != nil {
			return err
		}
		return tx.record(keysmith.EventAgentDeactivated, map[string]any{"token_id": a.TokenID, "token_revoked": revoked},
			keysmith.AgentRef(a))
	})
	return a, err
}

// DeleteAgent removes the agent, revoking its token if its kind
// auto-revokes. CodeNotFound if there is none.
func (db *DB) DeleteAgent(ctx context.Context, id, by string) error {
	return db.write(ctx, func(tx *txn) error {
		a, err := tx.lockAgent(id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM agents WHERE id = $1`, id); err != nil {
			return err
		}
		revoked, err := tx.releaseAgentToken(a, by)
		if err != nil {
			return err
		}
		return tx.record(keysmith.EventAgentDeleted, map[string]any{"token_id": a.TokenID, "token_revoked": revoked},
			keysmith.AgentRef(a))
	})
}

// releaseAgentToken handles the token of an agent that stops holding it:
// revoked if the kind auto-revokes, else left alive (and so suspicious).
// Either way caches must read it again.
func (tx *txn) releaseAgentToken(a *keysmith.Agent, by string) (revoked bool, err error) {
	if a.TokenID == "" {
		return false, nil
	}
	tx.changed(keysmith.ChangeToken, a.TokenID)
	if !a.Kind.AutoRevokes() {
		return false, nil
	}
	t, err := tx.revokeToken(a.TokenID, by)
	if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
		return false, nil
	}
	return err == nil && t.RevokedAt != nil, err
}
