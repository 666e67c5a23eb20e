package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// RecordEvent appends an event that is not part of a change, such as a
// refused request, in a transaction of its own.
func (db *DB) RecordEvent(ctx context.Context, typ keysmith.EventType, outcome string, details map[string]any, targets ...keysmith.Ref) error {
	return db.write(ctx, func(tx *txn) error { return tx.recordOutcome(typ, outcome, details, targets...) })
}

const eventColumns = `seq, data, prev_hash, hash`

func scanEvent(row interface{ Scan(...any) error }) (*keysmith.Event, error) {
	var ev keysmith.Event
	var seq int64
	var data string
	if err := row.Scan(&seq, &data, &ev.PrevHash, &ev.Hash); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return nil, fmt.Errorf("decode event seq %d: %w", seq, err)
	}
	ev.Seq = seq
	return &ev, nil
}

// FindEvents returns one page of events, newest first by seq (so the cursor
// is stable while events are appended), and the cursor of the next page.
// CodeInvalid for a bad filter or cursor.
func (db *DB) FindEvents(ctx context.Context, f keysmith.EventFilter) ([]*keysmith.Event, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = keysmith.DefaultPageSize
	}
	var before int64 // the seq the page starts below; 0 for the newest
	if f.Cursor != "" {
		seq, err := decodeSeqCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		before = seq
	}
	segs, err := db.searchSegments(ctx, f)
	if err != nil {
		return nil, "", db.mapError(err)
	}
	// A text search reads candidates until the page is full: the index
	// may offer events that do not hold the text. It reads the segments
	// newest first.
	var out []*keysmith.Event
	for _, seg := range segs {
		if before > 0 && before <= seg.lo+1 {
			continue // every event of seg is at or after the cursor
		}
		for {
			s := db.selectEvents(f, seg)
			if before > 0 {
				s.c.and(s.key + " < " + s.c.arg(before))
			}
			batch, err := queryAll(ctx, db.sql, s.sql("DESC", limit+1), s.c.args, scanEvent)
			if err != nil {
				return nil, "", db.mapError(err)
			}
			for _, ev := range batch {
				before = ev.Seq
				if f.Query == "" || keysmith.EventMatches(ev, f.Query) {
					if out = append(out, ev); len(out) > limit {
						break
					}
				}
			}
			if len(out) > limit || len(batch) <= limit {
				break
			}
		}
		if len(out) > limit {
			break
		}
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte("seq:" + strconv.FormatInt(out[limit-1].Seq, 10)))
	}
	return out, next, nil
}

func decodeSeqCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	s, ok := strings.CutPrefix(string(b), "seq:")
	seq, perr := strconv.ParseInt(s, 10, 64)
	if err != nil || !ok || perr != nil || seq < 1 {
		return 0, keysmith.Errorf(keysmith.CodeInvalid, "cursor is not valid; pass the next_cursor of the previous page unchanged")
	}
	return seq, nil
}

// exportBatch is how many events ExportEvents reads per query, so that a long
// export never holds one statement (and its snapshot) open.
const exportBatch = 500

// ExportEvents calls fn with every event f selects, oldest first, reading
// them in batches. CodeInvalid for a bad filter.
func (db *DB) ExportEvents(ctx context.Context, f keysmith.EventFilter, fn func(*keysmith.Event) error) error {
	if err := f.Validate(); err != nil {
		return err
	}
	segs, err := db.searchSegments(ctx, f)
	if err != nil {
		return db.mapError(err)
	}
	var after int64
	for _, seg := range slices.Backward(segs) { // oldest first
		for {
			s := db.selectEvents(f, seg)
			s.c.and(s.key + " > " + s.c.arg(after))
			batch, err := queryAll(ctx, db.sql, s.sql("", exportBatch), s.c.args, scanEvent)
			if err != nil {
				return db.mapError(err)
			}
			for _, ev := range batch {
				if f.Query != "" && !keysmith.EventMatches(ev, f.Query) {
					continue
				}
				if err := fn(ev); err != nil {
					return err
				}
			}
			if len(batch) < exportBatch {
				break
			}
			after = batch[len(batch)-1].Seq
		}
	}
	return nil
}

// defaultEventPruneBatch bounds the events one transaction of PruneEvents
// deletes.
const defaultEventPruneBatch = 100

// PruneEvents prunes the longest run of oldest events recorded before the
// time: it moves the anchor to the last of them and records
// system_log.pruned, which names the anchor, so that the anchor is itself
// covered by the chain; then it deletes the events at or below the anchor.
// It returns how many events it pruned.
//
// It never holds the write lock for long, whatever the size of the log.
// Only moving the anchor takes the system log's lock, in one short
// transaction; the events are then deleted in batches of at most
// Options.BatchSize (default 100), each its own transaction. Every reader
// ignores events at or below the anchor, so the half-deleted log is never
// seen and its chain verifies. A run that was interrupted (the anchor moved,
// some events left below it) is finished by the next, which deletes the
// leftovers first.
func (db *DB) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	if _, err := db.deleteBelowAnchor(ctx); err != nil {
		return 0, err
	}
	pruned, err := db.moveAnchor(ctx, before)
	if err != nil || pruned == 0 {
		return 0, err
	}
	if _, err := db.deleteBelowAnchor(ctx); err != nil {
		return pruned, err
	}
	return pruned, nil
}

// moveAnchor moves the anchor past the events recorded before the time and
// records system_log.pruned, in one short transaction; it returns how many
// events it moved the anchor past. Where the run of old events ends is read
// before, without the lock: events appended meanwhile are newer.
func (db *DB) moveAnchor(ctx context.Context, before time.Time) (int64, error) {
	// The prefix ends before the first event that is recent enough.
	var through sql.NullInt64
	err := db.sql.QueryRowContext(ctx, `SELECT COALESCE(
		(SELECT MIN(seq) - 1 FROM events WHERE time >= $1),
		(SELECT MAX(seq) FROM events))`, micros(before)).Scan(&through)
	if err != nil {
		return 0, db.mapError(err)
	}
	if !through.Valid {
		return 0, nil
	}
	var pruned int64
	err = db.write(ctx, func(tx *txn) error {
		if err := tx.lockLog(); err != nil {
			return err
		}
		anchorSeq, _, err := tx.anchor()
		if err != nil || through.Int64 <= anchorSeq {
			return err
		}
		var hash string
		if err := tx.QueryRowContext(ctx, `SELECT hash FROM events WHERE seq = $1`, through.Int64).Scan(&hash); err != nil {
			return fmt.Errorf("read the new anchor: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO event_anchor (id, seq, hash, pruned_at) VALUES (1, $1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, pruned_at = excluded.pruned_at`,
			through.Int64, hash, micros(db.now()))
		if err != nil {
			return err
		}
		// The chain has no gaps (VerifyEvents says so if it has), so the
		// events pruned are counted by their seqs.
		pruned = through.Int64 - anchorSeq
		return tx.record(keysmith.EventSystemLogPruned, map[string]any{
			"before": before.UTC(), "deleted": pruned, "through_seq": through.Int64, "anchor_hash": hash,
		})
	})
	if err != nil {
		return 0, err
	}
	return pruned, nil
}

// deleteBelowAnchor deletes the events at or below the anchor, oldest
// first, at most a batch per statement (each its own transaction), and
// returns how many it deleted, with their rows in the indexes of the log
// (see eventsearch.go). No reader sees these events, so it needs
// no lock of the system log. The bounds are read first, so that the
// statement is a plain range of seq (the anchor only moves up).
func (db *DB) deleteBelowAnchor(ctx context.Context) (int64, error) {
	batch := int64(db.batch(defaultEventPruneBatch))
	var total int64
	for {
		var oldest sql.NullInt64
		var anchor int64
		err := db.sql.QueryRowContext(ctx, `SELECT (SELECT MIN(seq) FROM events), `+anchorSeqExpr).Scan(&oldest, &anchor)
		if err != nil {
			return total, db.mapError(fmt.Errorf("read the pruned events: %w", err))
		}
		if !oldest.Valid || oldest.Int64 > anchor {
			return total, nil
		}
		lo, hi := oldest.Int64, min(anchor, oldest.Int64+batch-1)
		err = db.tx(ctx, func(tx *sql.Tx) error {
			if err := db.unindexEvents(ctx, tx, lo, hi); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq >= $1 AND seq <= $2`, lo, hi)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
			return nil
		})
		if err != nil {
			return total, db.mapError(fmt.Errorf("delete pruned events: %w", err))
		}
	}
}

// anchorSeqExpr is the seq of the anchor in SQL, 0 before the first
// pruning. Events at or below it are pruned: they may not be deleted yet,
// and every reader skips them.
const anchorSeqExpr = `COALESCE((SELECT event_anchor.seq FROM event_anchor WHERE event_anchor.id = 1), 0)`

// anchor returns the seq and hash the chain starts from: 0 and "" until the
// first pruning.
func (tx *txn) anchor() (int64, string, error) {
	return readAnchor(tx.ctx, tx.Tx)
}

func readAnchor(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int64, string, error) {
	var seq int64
	var hash string
	err := q.QueryRowContext(ctx, `SELECT seq, hash FROM event_anchor WHERE id = 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	return seq, hash, err
}

// fillEventColumns fills the searchable columns of events recorded before
// they existed, from each event's JSON. It runs at Open and does nothing once
// every event has them. An event whose JSON does not decode is left for
// VerifyEvents to report.
func (db *DB) fillEventColumns(ctx context.Context) error {
	const batch = 500
	var after int64
	for {
		var n int
		err := db.write(ctx, func(tx *txn) error {
			type stored struct {
				seq  int64
				data string
			}
			evs, err := queryAll(ctx, tx, `SELECT seq, data FROM events
				WHERE (target_ids IS NULL OR outcome IS NULL) AND seq > $1 ORDER BY seq LIMIT $2`, []any{after, batch},
				func(row scanner) (stored, error) {
					var s stored
					err := row.Scan(&s.seq, &s.data)
					return s, err
				})
			if err != nil {
				return err
			}
			n = len(evs)
			for _, s := range evs {
				after = s.seq
				var ev keysmith.Event
				if json.Unmarshal([]byte(s.data), &ev) != nil {
					continue
				}
				if _, err := tx.ExecContext(ctx, `UPDATE events SET target_ids = $1, outcome = $2 WHERE seq = $3`,
					keysmith.TargetIDs(ev.Targets), ev.Outcome, s.seq); err != nil {
					return err
				}
				if err := tx.insertTargets(s.seq, ev.Targets); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fill system log columns: %w", err)
		}
		if n < batch {
			return nil
		}
	}
}
