package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/keysmith/keysmith"
)

const signingKeyColumns = `id, algorithm, public_jwk, private_enc, created_at, retired_at`

// FindSigningKeys returns every signing key, newest first.
func (db *DB) FindSigningKeys(ctx context.Context) ([]*keysmith.SigningKey, error) {
	out, err := queryAll(ctx, db.sql, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at DESC, id DESC`, nil, scanSigningKey)
	return out, db.mapError(err)
}

func scanSigningKey(row scanner) (*keysmith.SigningKey, error) {
	var k keysmith.SigningKey
	var created int64
	var retired sql.NullInt64
	if err := row.Scan(&k.ID, &k.Algorithm, &k.PublicJWK, &k.PrivateEnc, &created, &retired); err != nil {
		return nil, err
	}
	k.CreatedAt, k.RetiredAt = fromMicros(created), timePtr(retired)
	return &k, nil
}

// AddSigningKey stores k, retires the keys that were signing, deletes keys
// retired before pruneBefore (every token they signed has expired), and
// records the event.
func (db *DB) AddSigningKey(ctx context.Context, k *keysmith.SigningKey, pruneBefore time.Time, rotation bool) error {
	return db.write(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL`, micros(k.CreatedAt))
		if err != nil {
			return err
		}
		retired, _ := res.RowsAffected()
		res, err = tx.ExecContext(ctx, `DELETE FROM signing_keys WHERE retired_at < $1`, micros(pruneBefore))
		if err != nil {
			return err
		}
		pruned, _ := res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES ($1, $2, $3, $4, $5, NULL)`,
			k.ID, k.Algorithm, k.PublicJWK, k.PrivateEnc, micros(k.CreatedAt)); err != nil {
			return err
		}
		tx.changed(keysmith.ChangeSigningKey, k.ID)
		typ := keysmith.EventSigningKeyCreated
		if rotation {
			typ = keysmith.EventSigningKeyRotated
		}
		return tx.record(typ, map[string]any{"algorithm": k.Algorithm, "retired_keys": retired, "pruned_keys": pruned},
			keysmith.SigningKeyRef(k))
	})
}
