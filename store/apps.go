package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/keysmith/keysmith"
)

const appColumns = `id, name, description, owner_id, created_at, updated_at`

func scanApp(row interface{ Scan(...any) error }) (*keysmith.App, error) {
	var a keysmith.App
	var created, updated int64
	if err := row.Scan(&a.ID, &a.Name, &a.Description, &a.OwnerID, &created, &updated); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &a, nil
}

// CreateApp stores a new application and records its event.
func (db *DB) CreateApp(ctx context.Context, a *keysmith.App) error {
	return db.write(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO apps (`+appColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			a.ID, a.Name, a.Description, a.OwnerID, micros(a.CreatedAt), micros(a.UpdatedAt))
		if err != nil {
			return err
		}
		return tx.record(keysmith.EventAppCreated, map[string]any{"owner_id": a.OwnerID}, keysmith.AppRef(a))
	})
}

// FindAppByID returns an application. CodeNotFound if there is none.
func (db *DB) FindAppByID(ctx context.Context, id string) (*keysmith.App, error) {
	a, err := scanApp(db.sql.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "application %q not found", id)
	}
	return a, db.mapError(err)
}

// FindApps returns one page of applications, newest first.
func (db *DB) FindApps(ctx context.Context, f keysmith.AppFilter) ([]*keysmith.App, string, error) {
	var c conditions
	c.equal("owner_id", f.OwnerID)
	return pageNewestFirst(ctx, db, `SELECT `+appColumns+` FROM apps`, &c, f.Limit, f.Cursor, scanApp,
		func(a *keysmith.App) (time.Time, string) { return a.CreatedAt, a.ID })
}

// UpdateApp changes an application and records its event.
func (db *DB) UpdateApp(ctx context.Context, id string, u keysmith.AppUpdate) (*keysmith.App, error) {
	var a *keysmith.App
	err := db.write(ctx, func(tx *txn) error {
		var err error
		a, err = scanApp(tx.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id = $1`, id))
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeNotFound, "application %q not found", id)
		}
		if err != nil {
			return err
		}
		changed := []string{}
		if u.Name != nil {
			a.Name = *u.Name
			changed = append(changed, "name")
		}
		if u.Description != nil {
			a.Description = *u.Description
			changed = append(changed, "description")
		}
		a.UpdatedAt = db.now()
		if _, err := tx.ExecContext(ctx, `UPDATE apps SET name = $1, description = $2, updated_at = $3 WHERE id = $4`,
			a.Name, a.Description, micros(a.UpdatedAt), id); err != nil {
			return err
		}
		return tx.record(keysmith.EventAppUpdated, map[string]any{"changed": changed}, keysmith.AppRef(a))
	})
	return a, err
}

// DeleteApp deletes an application and revokes its clients and its API
// keys in the same transaction, so no token or key of the application
// stays valid: verify answers REVOKED for its keys from the commit on.
func (db *DB) DeleteApp(ctx context.Context, id, deletedBy string) error {
	return db.write(ctx, func(tx *txn) error {
		// The app's row first: a key created concurrently (which locks it,
		// see insertToken) either commits before and is revoked here, or
		// waits and finds the app gone.
		if err := tx.lockApp(id); err != nil {
			return err
		}
		a, err := scanApp(tx.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id = $1`, id))
		if err != nil {
			return err
		}
		clients, err := queryAll(ctx, tx, `SELECT `+clientColumns+` FROM oauth_clients WHERE app_id = $1 AND revoked_at IS NULL
			ORDER BY id`, []any{id}, scanClient)
		if err != nil {
			return err
		}
		// Every row first, in id order, then the events (see write).
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
		keys, err := tx.revokeAppKeys(id, deletedBy)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM apps WHERE id = $1`, id); err != nil {
			return err
		}
		for _, c := range revoked {
			if err := tx.recordClientRevoked(c); err != nil {
				return err
			}
		}
		for i, k := range keys.tokens {
			if err := tx.recordTokenRevoked(k, keys.owners[i]); err != nil {
				return err
			}
		}
		return tx.record(keysmith.EventAppDeleted, map[string]any{"revoked_clients": len(clients), "revoked_keys": len(keys.tokens)},
			keysmith.AppRef(a))
	})
}

// revokedTokens are tokens a transaction revoked, with their owners' refs
// (read before the log's lock), whose events are still to be recorded.
type revokedTokens struct {
	tokens []*keysmith.Token
	owners []keysmith.Ref
}

// revokeAppKeys revokes the live keys of application appID, in id order,
// and returns them for recordTokenRevoked.
func (tx *txn) revokeAppKeys(appID, revokedBy string) (revokedTokens, error) {
	var out revokedTokens
	keys, err := queryAll(tx.ctx, tx, `SELECT `+tokenColumns+` FROM tokens WHERE tokens.app_id = $1
		AND tokens.type = 'app_key' AND tokens.revoked_at IS NULL ORDER BY tokens.id`, []any{appID},
		func(row scanner) (*keysmith.Token, error) { return scanToken(row) })
	if err != nil {
		return out, err
	}
	for _, k := range keys {
		ok, err := tx.markTokenRevoked(k, revokedBy)
		if err != nil {
			return out, err
		}
		if ok {
			out.tokens = append(out.tokens, k)
		}
	}
	for _, k := range out.tokens {
		out.owners = append(out.owners, tx.userRef(k.OwnerID))
	}
	return out, nil
}

// lockApp takes application id's row lock (on PostgreSQL; SQLite
// serialises writers anyway). CodeNotFound if there is none.
func (tx *txn) lockApp(id string) error {
	res, err := tx.ExecContext(tx.ctx, `UPDATE apps SET id = id WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return keysmith.Errorf(keysmith.CodeNotFound, "application %q not found", id)
	}
	return nil
}

// lockAppOwnedBy takes application id's row lock and checks that ownerID
// still owns it: a credential of the application is made for its owner,
// and one made for the previous owner after a transfer committed would
// hand them a credential of an application no longer theirs. CodeNotFound
// if there is no application, CodeConflict if it has another owner.
func (tx *txn) lockAppOwnedBy(id, ownerID string) error {
	if err := tx.lockApp(id); err != nil {
		return err
	}
	var owner string
	if err := tx.QueryRowContext(tx.ctx, `SELECT owner_id FROM apps WHERE id = $1`, id).Scan(&owner); err != nil {
		return err
	}
	if owner != ownerID {
		return keysmith.Errorf(keysmith.CodeConflict,
			"application %q changed owner meanwhile (it was transferred); read it again", id)
	}
	return nil
}

// TransferApp gives an application, its clients and its live keys to
// toOwnerID; with reset, it first revokes the keys and deletes the clients'
// secrets. See keysmith.AppStore.
func (db *DB) TransferApp(ctx context.Context, id, toOwnerID, transferredBy string, reset bool) (*keysmith.AppTransfer, error) {
	var out *keysmith.AppTransfer
	err := db.write(ctx, func(tx *txn) error {
		// The application's row first, as CreateClient and app keys take it;
		// a client's secret waits on the client's row, taken below.
		if err := tx.lockApp(id); err != nil {
			return err
		}
		a, err := scanApp(tx.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id = $1`, id))
		if err != nil {
			return err
		}
		if err := tx.checkNewOwner(a, toOwnerID); err != nil {
			return err
		}
		out = &keysmith.AppTransfer{FromOwnerID: a.OwnerID, CredentialsReset: reset}
		// Every row first, then the events (see write).
		var secrets []*keysmith.ClientSecret
		var keys revokedTokens
		if reset {
			if keys, err = tx.revokeAppKeys(id, transferredBy); err != nil {
				return err
			}
		}
		clients, err := tx.moveClients(id, toOwnerID)
		if err != nil {
			return err
		}
		var revoked []*keysmith.Client
		if reset {
			if secrets, err = tx.deleteSecretsOf(clients); err != nil {
				return err
			}
			// The clients too: access tokens issued to them (opaque ones
			// that never expire included) are refused from now on.
			for _, cid := range clients {
				c, err := tx.lockClient(cid)
				if err != nil {
					return err
				}
				if ok, err := tx.markClientRevoked(c, transferredBy); err != nil {
					return err
				} else if ok {
					revoked = append(revoked, c)
				}
			}
		}
		if err := tx.moveAppKeys(id, toOwnerID); err != nil {
			return err
		}
		a.OwnerID, a.UpdatedAt = toOwnerID, db.now()
		if _, err := tx.ExecContext(ctx, `UPDATE apps SET owner_id = $1, updated_at = $2 WHERE id = $3`,
			a.OwnerID, micros(a.UpdatedAt), id); err != nil {
			return err
		}
		out.App, out.RevokedKeys, out.DeletedSecrets, out.RevokedClients = a, len(keys.tokens), len(secrets), len(revoked)
		from, to := tx.userRef(out.FromOwnerID), tx.userRef(toOwnerID)
		for i, k := range keys.tokens {
			if err := tx.recordTokenRevoked(k, keys.owners[i]); err != nil {
				return err
			}
		}
		for _, c := range revoked {
			if err := tx.recordClientRevoked(c); err != nil {
				return err
			}
		}
		for _, s := range secrets {
			if err := tx.record(keysmith.EventClientSecretDeleted, map[string]any{"client_id": s.ClientID},
				keysmith.SecretRef(s)); err != nil {
				return err
			}
		}
		return tx.record(keysmith.EventAppTransferred, out.Details(), keysmith.AppRef(a), from, to)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkNewOwner refuses to give application a to toOwnerID unless that is
// an active user who may own applications and not its present owner,
// read in the transaction.
func (tx *txn) checkNewOwner(a *keysmith.App, toOwnerID string) error {
	u, err := scanUser(tx.QueryRowContext(tx.ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, toOwnerID))
	if err == sql.ErrNoRows {
		return keysmith.Errorf(keysmith.CodeInvalid, "owner_id %q names no user", toOwnerID)
	}
	if err != nil {
		return err
	}
	if u.ID == a.OwnerID {
		return keysmith.Errorf(keysmith.CodeInvalid, "application %q already belongs to %s", a.ID, u.Email)
	}
	return keysmith.CanOwnApps(u)
}

// moveClients gives every client of application appID (revoked ones too,
// so that they stay in the new owner's view) to ownerID, taking their row
// locks in id order, and returns their ids.
func (tx *txn) moveClients(appID, ownerID string) ([]string, error) {
	ids, err := queryAll(tx.ctx, tx, `SELECT id FROM oauth_clients WHERE app_id = $1 ORDER BY id`, []any{appID}, scanString)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(tx.ctx, `UPDATE oauth_clients SET owner_id = $1 WHERE id = $2`, ownerID, id); err != nil {
			return nil, err
		}
		tx.changed(keysmith.ChangeOAuthClient, id)
	}
	return ids, nil
}

// deleteSecretsOf deletes every secret of the clients, whose row locks the
// transaction holds (so no secret is added meanwhile), and returns those it
// deleted for their events: one deleted concurrently by DeleteClientSecret
// is neither counted nor recorded twice.
func (tx *txn) deleteSecretsOf(clientIDs []string) ([]*keysmith.ClientSecret, error) {
	var out []*keysmith.ClientSecret
	for _, id := range clientIDs {
		secs, err := queryAll(tx.ctx, tx, `SELECT `+secretColumns+` FROM oauth_client_secrets WHERE client_id = $1
			ORDER BY created_at, id`, []any{id}, scanSecret)
		if err != nil {
			return nil, err
		}
		for _, s := range secs {
			res, err := tx.ExecContext(tx.ctx, `DELETE FROM oauth_client_secrets WHERE id = $1`, s.ID)
			if err != nil {
				return nil, err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// moveAppKeys gives application appID's keys that are not revoked to
// ownerID: a key belongs to its application's owner.
func (tx *txn) moveAppKeys(appID, ownerID string) error {
	ids, err := queryAll(tx.ctx, tx, `SELECT id FROM tokens WHERE app_id = $1 AND type = 'app_key' AND revoked_at IS NULL
		ORDER BY id`, []any{appID}, scanString)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(tx.ctx, `UPDATE tokens SET owner_id = $1 WHERE id = $2`, ownerID, id); err != nil {
			return err
		}
		tx.changed(keysmith.ChangeToken, id)
	}
	return nil
}
