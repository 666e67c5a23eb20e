package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

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

// chainRow is one row of the events table as stored.
type chainRow struct {
	seq                                int64
	id, typ, actorID, data, prev, hash string
	time                               int64
	targetIDs, outcome                 *string
}

// recorded is what the chain walk reads from an event's JSON.
type recorded struct {
	Seq     int64          `json:"seq"`
	ID      string         `json:"id"`
	Time    time.Time      `json:"time"`
	Type    string         `json:"type"`
	Actor   keysmith.Ref   `json:"actor"`
	Targets []keysmith.Ref `json:"targets"`
	Outcome string         `json:"outcome"`
	Details map[string]any `json:"details"`
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
	var pruned *recorded // the newest system_log.pruned event
	for rows.Next() {
		var r chainRow
		if err := rows.Scan(&r.seq, &r.id, &r.time, &r.typ, &r.actorID, &r.targetIDs, &r.outcome, &r.data, &r.prev, &r.hash); err != nil {
			return nil, err
		}
		d, p := checkLink(r, next, hash, prevID)
		if p != nil {
			c.Problem = p
			return c, nil
		}
		if d.Type == string(keysmith.EventSystemLogPruned) {
			pruned = d
		}
		if c.Events == 0 {
			c.FirstSeq = r.seq
		}
		c.Events++
		c.LastSeq, c.HeadHash = r.seq, r.hash
		next, hash, prevID = r.seq+1, r.hash, r.id
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if c.Events == 0 {
		c.HeadHash = anchorHash
	}
	c.Problem = checkAnchor(anchorSeq, anchorHash, pruned)
	return c, nil
}

// checkLink checks one row against the chain so far: the seq it must have,
// the hash it must link to, and the id of the event before it.
func checkLink(r chainRow, next int64, prevHash, prevID string) (*recorded, *keysmith.LogProblem) {
	bad := func(kind, format string, args ...any) *keysmith.LogProblem {
		return &keysmith.LogProblem{Seq: r.seq, ID: r.id, Kind: kind, Detail: fmt.Sprintf(format, args...)}
	}
	var d recorded
	if err := json.Unmarshal([]byte(r.data), &d); err != nil {
		return nil, bad(keysmith.ProblemModified, "its contents are not the JSON that was recorded")
	}
	if d.Seq != r.seq {
		return nil, bad(keysmith.ProblemReordered, "it was recorded as seq %d but is stored at seq %d", d.Seq, r.seq)
	}
	if r.seq != next {
		missing := fmt.Sprintf("seq %d", next)
		if r.seq > next+1 {
			missing = fmt.Sprintf("seq %d to %d", next, r.seq-1)
		}
		return nil, &keysmith.LogProblem{Seq: next, Kind: keysmith.ProblemRemoved,
			Detail: fmt.Sprintf("%s is missing: the chain goes on at seq %d (%s)", missing, r.seq, r.id)}
	}
	if d.ID != r.id {
		return nil, bad(keysmith.ProblemModified, "its id column differs from the id recorded (%s)", d.ID)
	}
	if ChainHash(prevHash, r.data) != r.hash {
		if r.prev != prevHash && ChainHash(r.prev, r.data) == r.hash {
			return nil, bad(keysmith.ProblemModified, "it does not link to seq %d (%s): that event was rewritten with a new hash, or this one was",
				r.seq-1, prevID)
		}
		return nil, bad(keysmith.ProblemModified, "its contents do not match its hash")
	}
	if r.prev != prevHash {
		return nil, bad(keysmith.ProblemModified, "its prev_hash column was changed")
	}
	switch {
	case r.time != micros(d.Time):
		return nil, bad(keysmith.ProblemModified, "its time column differs from the time recorded")
	case r.typ != d.Type:
		return nil, bad(keysmith.ProblemModified, "its type column differs from the type recorded (%s)", d.Type)
	case r.actorID != d.Actor.ID:
		return nil, bad(keysmith.ProblemModified, "its actor_id column differs from the actor recorded (%s)", d.Actor.ID)
	case r.targetIDs == nil || *r.targetIDs != targetIDs(d.Targets):
		return nil, bad(keysmith.ProblemModified, "its target_ids column differs from the targets recorded")
	case r.outcome == nil || *r.outcome != d.Outcome:
		return nil, bad(keysmith.ProblemModified, "its outcome column differs from the outcome recorded (%s)", d.Outcome)
	}
	return &d, nil
}

// checkAnchor confirms the anchor by the newest system_log.pruned event,
// which recorded it in the chain: an anchor moved by hand (to hide removed
// events) is not confirmed.
func checkAnchor(seq int64, hash string, pruned *recorded) *keysmith.LogProblem {
	if seq == 0 {
		return nil
	}
	p := &keysmith.LogProblem{Seq: seq, Kind: keysmith.ProblemAnchor}
	if pruned == nil {
		p.Detail = "the chain starts after this seq, but no system_log.pruned event records that pruning"
		return p
	}
	through, _ := pruned.Details["through_seq"].(float64)
	anchorHash, _ := pruned.Details["anchor_hash"].(string)
	if int64(through) != seq || anchorHash != hash {
		p.Detail = fmt.Sprintf("the anchor differs from the one the last pruning recorded (event %s: through seq %d)",
			pruned.ID, int64(through))
		return p
	}
	return nil
}
