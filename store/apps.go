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

// DeleteApp deletes an application and revokes its clients in the same
// transaction, so no token of the application stays valid.
func (db *DB) DeleteApp(ctx context.Context, id, deletedBy string) error {
	return db.write(ctx, func(tx *txn) error {
		a, err := scanApp(tx.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id = $1`, id))
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeNotFound, "application %q not found", id)
		}
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
		if _, err := tx.ExecContext(ctx, `DELETE FROM apps WHERE id = $1`, id); err != nil {
			return err
		}
		for _, c := range revoked {
			if err := tx.recordClientRevoked(c); err != nil {
				return err
			}
		}
		return tx.record(keysmith.EventAppDeleted, map[string]any{"revoked_clients": len(clients)}, keysmith.AppRef(a))
	})
}
