package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/keysmith/keysmith"
)

const rateLimitsKey = "rate_limits"

// RateLimits returns the stored rate limits over the defaults.
func (db *DB) RateLimits(ctx context.Context) (keysmith.RateLimits, error) {
	var v string
	err := db.sql.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, rateLimitsKey).Scan(&v)
	if err == sql.ErrNoRows {
		return keysmith.DefaultRateLimits(), nil
	}
	if err != nil {
		return nil, db.mapError(err)
	}
	var l keysmith.RateLimits
	if err := json.Unmarshal([]byte(v), &l); err != nil {
		return nil, fmt.Errorf("stored rate limits are not valid JSON: %w", err)
	}
	return l.WithDefaults(), nil
}

// SetRateLimits replaces the stored rate limits, records the change and tells
// every replica.
func (db *DB) SetRateLimits(ctx context.Context, l keysmith.RateLimits) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *txn) error {
		a := keysmith.AuditFrom(ctx)
		now := micros(db.now())
		res, err := tx.ExecContext(ctx, `UPDATE settings SET value = $1, updated_at = $2, updated_by = $3 WHERE key = $4`,
			string(b), now, a.Actor.ID, rateLimitsKey)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)`,
				rateLimitsKey, string(b), now, a.Actor.ID); err != nil {
				return err
			}
		}
		tx.changed(keysmith.ChangeSettings, rateLimitsKey)
		details := map[string]any{}
		for g, n := range l {
			details[string(g)] = n
		}
		return tx.record(keysmith.EventRateLimitsUpdated, details)
	})
}

const issuerKey = "issuer"

// Issuer returns the stored issuer, the iss of access tokens; "" when none
// is stored yet.
func (db *DB) Issuer(ctx context.Context) (string, error) {
	var v string
	err := db.sql.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, issuerKey).Scan(&v)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", db.mapError(err)
	}
	var iss string
	if err := json.Unmarshal([]byte(v), &iss); err != nil {
		return "", fmt.Errorf("stored issuer is not a JSON string: %w", err)
	}
	return iss, nil
}

// InitIssuer stores iss unless an issuer is stored already, and returns the
// stored one. Replicas starting together on an empty database all get the
// issuer of whichever stored first.
func (db *DB) InitIssuer(ctx context.Context, iss string) (string, error) {
	b, err := json.Marshal(iss)
	if err != nil {
		return "", err
	}
	if _, err := db.exec(ctx, `INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, '')
		ON CONFLICT (key) DO NOTHING`, issuerKey, string(b), micros(db.now())); err != nil {
		return "", db.mapError(err)
	}
	return db.Issuer(ctx)
}

// SetIssuer stores iss in place of any stored issuer, and returns the one it
// replaced ("" if none).
func (db *DB) SetIssuer(ctx context.Context, iss string) (previous string, err error) {
	b, err := json.Marshal(iss)
	if err != nil {
		return "", err
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var v string
		switch err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, issuerKey).Scan(&v); {
		case err == sql.ErrNoRows:
		case err != nil:
			return err
		default:
			if err := json.Unmarshal([]byte(v), &previous); err != nil {
				return fmt.Errorf("stored issuer is not a JSON string: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, '')
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, issuerKey, string(b), micros(db.now()))
		return err
	})
	if err != nil {
		return "", err
	}
	return previous, nil
}
