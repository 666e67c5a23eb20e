package store

import (
	"context"
	"database/sql"

	"github.com/keysmith/keysmith"
)

const trustedOriginColumns = `id, origin, created_at`

func scanTrustedOrigin(row interface{ Scan(...any) error }) (*keysmith.TrustedOrigin, error) {
	var o keysmith.TrustedOrigin
	var created int64
	if err := row.Scan(&o.ID, &o.Origin, &created); err != nil {
		return nil, err
	}
	o.CreatedAt = fromMicros(created)
	return &o, nil
}

// CreateTrustedOrigin stores a new origin and records its event.
// CodeConflict if the origin is listed already or max are. Additions take
// one row lock first (trusted_origins_lock), so concurrent ones count in
// turn, on every replica.
func (db *DB) CreateTrustedOrigin(ctx context.Context, o *keysmith.TrustedOrigin, max int) error {
	return db.write(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `UPDATE trusted_origins_lock SET id = id WHERE id = 1`); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM trusted_origins`).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return keysmith.Errorf(keysmith.CodeConflict, "there are %d trusted origins already, the most allowed; delete one first", n)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO trusted_origins (`+trustedOriginColumns+`) VALUES ($1, $2, $3)`,
			o.ID, o.Origin, micros(o.CreatedAt))
		if db.dialect.isUniqueViolation(err) {
			return keysmith.Errorf(keysmith.CodeConflict, "origin %s is a trusted origin already", o.Origin)
		}
		if err != nil {
			return err
		}
		tx.changed(keysmith.ChangeTrustedOrigin, o.ID)
		return tx.record(keysmith.EventTrustedOriginCreated, map[string]any{"origin": o.Origin}, keysmith.TrustedOriginRef(o))
	})
}

// FindTrustedOrigins returns every trusted origin, by origin. They are at
// most keysmith.MaxTrustedOrigins, so the list is not paged.
func (db *DB) FindTrustedOrigins(ctx context.Context) ([]*keysmith.TrustedOrigin, error) {
	out, err := queryAll(ctx, db.sql, `SELECT `+trustedOriginColumns+` FROM trusted_origins ORDER BY origin`, nil, scanTrustedOrigin)
	if err != nil {
		return nil, db.mapError(err)
	}
	return nonNil(out), nil
}

// DeleteTrustedOrigin deletes a trusted origin and records its event.
// CodeNotFound if there is none.
func (db *DB) DeleteTrustedOrigin(ctx context.Context, id string) error {
	return db.write(ctx, func(tx *txn) error {
		o, err := scanTrustedOrigin(tx.QueryRowContext(ctx, `SELECT `+trustedOriginColumns+` FROM trusted_origins WHERE id = $1`, id))
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeNotFound, "trusted origin %q not found", id)
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM trusted_origins WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return keysmith.Errorf(keysmith.CodeNotFound, "trusted origin %q not found", id)
		}
		tx.changed(keysmith.ChangeTrustedOrigin, id)
		return tx.record(keysmith.EventTrustedOriginDeleted, map[string]any{"origin": o.Origin}, keysmith.TrustedOriginRef(o))
	})
}
