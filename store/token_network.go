package store

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"

	"github.com/keysmith/keysmith"
)

// querier is what reads need: the pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// loadTokenZones fills the zone lists of the tokens whose policy names zones,
// with one query for all of them.
func loadTokenZones(ctx context.Context, q querier, ts []*keysmith.Token) error {
	byID := map[string]*keysmith.Token{}
	var args []any
	var marks []string
	for _, t := range ts {
		if t.Network.Mode == keysmith.NetworkInZones || t.Network.Mode == keysmith.NetworkNotInZones {
			byID[t.ID] = t
			args = append(args, t.ID)
			marks = append(marks, "$"+strconv.Itoa(len(args)))
		}
	}
	if len(args) == 0 {
		return nil
	}
	rows, err := q.QueryContext(ctx, `SELECT token_id, zone_id FROM token_zones WHERE token_id IN (`+
		strings.Join(marks, ", ")+`) ORDER BY token_id, zone_id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var tid, zid string
		if err := rows.Scan(&tid, &zid); err != nil {
			return err
		}
		t := byID[tid]
		t.Network.Zones = append(t.Network.Zones, zid)
	}
	return rows.Err()
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

// networkDetails is how a policy appears in the system log.
func networkDetails(p keysmith.NetworkPolicy) map[string]any {
	zones := p.Zones
	if zones == nil {
		zones = []string{}
	}
	return map[string]any{"mode": p.Mode, "zones": zones}
}
