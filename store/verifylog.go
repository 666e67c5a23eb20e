package store

import (
	"context"
	"fmt"

	"github.com/keysmith/keysmith"
)

// VerifyEvents walks the system log's hash chain from its anchor, oldest
// first, and reports the first event that was modified, removed or
// reordered. It cannot see events removed from the newest end: compare
// HeadHash with a value noted earlier for that.
func (db *DB) VerifyEvents(ctx context.Context) (*keysmith.LogCheck, error) {
	for attempt := 0; ; attempt++ {
		c, err := db.walkEvents(ctx)
		if err != nil || c.Problem == nil || attempt > 0 {
			return c, err
		}
		// A pruning between reading the anchor and reading the events looks
		// like removed events: if the anchor moved, walk again.
		seq, _, err := readAnchor(ctx, db.sql)
		if err != nil || seq == c.AnchorSeq {
			return c, err
		}
	}
}

func (db *DB) walkEvents(ctx context.Context) (*keysmith.LogCheck, error) {
	anchorSeq, anchorHash, err := readAnchor(ctx, db.sql)
	if err != nil {
		return nil, fmt.Errorf("read the system log anchor: %w", err)
	}
	c := &keysmith.LogCheck{AnchorSeq: anchorSeq, AnchorHash: anchorHash}
	rows, err := db.sql.QueryContext(ctx, `SELECT seq, id, time, type, actor_id, target_ids, outcome, data, prev_hash, hash
		FROM events WHERE seq > $1 ORDER BY seq`, anchorSeq)
	if err != nil {
		return nil, fmt.Errorf("read the system log: %w", err)
	}
	defer rows.Close()
	next, hash, prevID := anchorSeq+1, anchorHash, ""
	var pruned *keysmith.RecordedEvent // the newest system_log.pruned event
	for rows.Next() {
		var r keysmith.EventRow
		if err := rows.Scan(&r.Seq, &r.ID, &r.Time, &r.Type, &r.ActorID, &r.TargetIDs, &r.Outcome, &r.Data, &r.PrevHash, &r.Hash); err != nil {
			return nil, err
		}
		d, p := keysmith.CheckLink(r, next, hash, prevID)
		if p != nil {
			c.Problem = p
			return c, nil
		}
		if d.Type == string(keysmith.EventSystemLogPruned) {
			pruned = d
		}
		if c.Events == 0 {
			c.FirstSeq = r.Seq
		}
		c.Events++
		c.LastSeq, c.HeadHash = r.Seq, r.Hash
		next, hash, prevID = r.Seq+1, r.Hash, r.ID
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if c.Events == 0 {
		c.HeadHash = anchorHash
	}
	c.Problem = keysmith.CheckAnchor(anchorSeq, anchorHash, pruned)
	return c, nil
}
