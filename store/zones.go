package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/netip"
	"strings"

	"github.com/keysmith/keysmith"
)

const zoneColumns = `id, name, gateways, proxies, created_at, updated_at`

func scanZone(row interface{ Scan(...any) error }) (*keysmith.Zone, error) {
	var z keysmith.Zone
	var gw, px string
	var created, updated int64
	if err := row.Scan(&z.ID, &z.Name, &gw, &px, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if z.Gateways, err = decodePrefixes(gw); err != nil {
		return nil, err
	}
	if z.Proxies, err = decodePrefixes(px); err != nil {
		return nil, err
	}
	z.CreatedAt, z.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &z, nil
}

func encodePrefixes(ps []netip.Prefix) string {
	if ps == nil {
		ps = []netip.Prefix{}
	}
	b, _ := json.Marshal(ps) // netip.Prefix marshals as text; cannot fail
	return string(b)
}

func decodePrefixes(s string) ([]netip.Prefix, error) {
	ps := []netip.Prefix{}
	return ps, json.Unmarshal([]byte(s), &ps)
}

// CreateZone stores a new zone and records its event. CodeConflict if its
// name is taken.
func (db *DB) CreateZone(ctx context.Context, z *keysmith.Zone) error {
	return db.write(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO zones (`+zoneColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			z.ID, z.Name, encodePrefixes(z.Gateways), encodePrefixes(z.Proxies), micros(z.CreatedAt), micros(z.UpdatedAt))
		if db.dialect.isUniqueViolation(err) {
			return keysmith.Errorf(keysmith.CodeConflict, "a network zone named %q exists already", z.Name)
		}
		if err != nil {
			return err
		}
		tx.changed(keysmith.ChangeZone, z.ID)
		return tx.record(keysmith.EventZoneCreated, zoneDetails(z), keysmith.ZoneRef(z))
	})
}

func zoneDetails(z *keysmith.Zone) map[string]any {
	return map[string]any{"gateways": keysmith.FormatPrefixes(z.Gateways), "proxies": keysmith.FormatPrefixes(z.Proxies)}
}

// FindZoneByID returns a zone. CodeNotFound if there is none.
func (db *DB) FindZoneByID(ctx context.Context, id string) (*keysmith.Zone, error) {
	z, err := scanZone(db.sql.QueryRowContext(ctx, `SELECT `+zoneColumns+` FROM zones WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "network zone %q not found", id)
	}
	return z, db.mapError(err)
}

// FindZones returns every zone, by name. Zones are few (they name networks),
// so the list is not paged.
func (db *DB) FindZones(ctx context.Context) ([]*keysmith.Zone, error) {
	out, err := queryAll(ctx, db.sql, `SELECT `+zoneColumns+` FROM zones ORDER BY name, id`, nil, scanZone)
	if err != nil {
		return nil, db.mapError(err)
	}
	return nonNil(out), nil
}

// UpdateZone applies u, records the change and tells every replica.
// CodeNotFound if there is none, CodeConflict if the new name is taken.
func (db *DB) UpdateZone(ctx context.Context, id string, u keysmith.ZoneUpdate) (*keysmith.Zone, error) {
	var z *keysmith.Zone
	err := db.write(ctx, func(tx *txn) error {
		var err error
		z, err = scanZone(tx.QueryRowContext(ctx, `SELECT `+zoneColumns+` FROM zones WHERE id = $1`, id))
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeNotFound, "network zone %q not found", id)
		}
		if err != nil {
			return err
		}
		if u.Name != nil {
			z.Name = *u.Name
		}
		if u.Gateways != nil {
			z.Gateways = *u.Gateways
		}
		if u.Proxies != nil {
			z.Proxies = *u.Proxies
		}
		z.UpdatedAt = db.now()
		_, err = tx.ExecContext(ctx, `UPDATE zones SET name = $1, gateways = $2, proxies = $3, updated_at = $4 WHERE id = $5`,
			z.Name, encodePrefixes(z.Gateways), encodePrefixes(z.Proxies), micros(z.UpdatedAt), id)
		if db.dialect.isUniqueViolation(err) {
			return keysmith.Errorf(keysmith.CodeConflict, "a network zone named %q exists already", z.Name)
		}
		if err != nil {
			return err
		}
		tx.changed(keysmith.ChangeZone, id)
		d := zoneDetails(z)
		d["name"] = z.Name
		return tx.record(keysmith.EventZoneUpdated, d, keysmith.ZoneRef(z))
	})
	if err != nil {
		return nil, err
	}
	return z, nil
}

// DeleteZone deletes a zone. Revoked tokens never work again, so their
// references are dropped; a zone that other tokens name is CodeConflict,
// listing them. CodeNotFound if there is none.
func (db *DB) DeleteZone(ctx context.Context, id string) error {
	return db.write(ctx, func(tx *txn) error {
		found, err := tx.lockZone(id)
		if err != nil {
			return err
		}
		if !found {
			return keysmith.Errorf(keysmith.CodeNotFound, "network zone %q not found", id)
		}
		z, err := scanZone(tx.QueryRowContext(ctx, `SELECT `+zoneColumns+` FROM zones WHERE id = $1`, id))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM token_zones WHERE zone_id = $1
			AND token_id IN (SELECT id FROM tokens WHERE revoked_at IS NOT NULL)`, id); err != nil {
			return err
		}
		users, err := queryAll(ctx, tx, `SELECT token_id FROM token_zones WHERE zone_id = $1 ORDER BY token_id LIMIT 101`, []any{id}, scanString)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			more := ""
			if len(users) > 100 {
				users, more = users[:100], " and more"
			}
			return keysmith.Errorf(keysmith.CodeConflict,
				"network zone %q is used by tokens %s%s; change their network policy first", id, strings.Join(users, ", "), more)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM zones WHERE id = $1`, id); err != nil {
			return err
		}
		tx.changed(keysmith.ChangeZone, id)
		return tx.record(keysmith.EventZoneDeleted, zoneDetails(z), keysmith.ZoneRef(z))
	})
}

// lockZone takes a zone's row lock on PostgreSQL (SQLite serialises writers
// anyway) and reports whether the zone exists. DeleteZone and every write
// that names a zone take it, so that the check "no token uses the zone" and
// "the zone exists" cannot both pass for one token.
func (tx *txn) lockZone(id string) (bool, error) {
	res, err := tx.ExecContext(tx.ctx, `UPDATE zones SET id = id WHERE id = $1`, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
