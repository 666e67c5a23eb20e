package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// The system log's two indexes beside the events table (migration 019):
// event_targets, a row per target of each event, so that a target's
// history is a range of its key; and event_search, each event's
// keysmith.EventSearchText in the engine's trigram index (SQLite FTS5,
// PostgreSQL pg_trgm), so that a text search reads the index instead of
// every event. Both are written in the transaction that appends the event
// and deleted in the one that deletes it. Readers join events through
// them, newest first by seq, and check the text themselves
// (keysmith.EventMatches): SQLite's index only narrows the search to the
// events holding every piece of the query.

// eventSearchSQL is how an engine writes and reads event_search.
type eventSearchSQL struct {
	from   string // the table, as a search's FROM names it
	key    string // its seq column
	insert string // INSERT … VALUES, followed by ($seq, $text) rows
	remove string // deletes the rows of seq $1 to $2
	// finish is what the fill runs, in the transaction that ends it: on
	// PostgreSQL, gather the planner's statistics, by which it tells a
	// rare q (read the index) from a common one (walk the newest events).
	finish []string
	// match is the condition on the table that selects (at least) the
	// events whose text holds q.
	match func(c *conditions, q string) string
	// holds is the condition that the event of the seq column holds q.
	holds func(c *conditions, q, seq string) string
}

// maxSearchTrigrams bounds the pieces of a query the index looks up: a
// long query's first few, every third character apart, already select
// few events, and the store checks the rest.
const maxSearchTrigrams = 12

// eventSelect is the query for the events a filter selects: the table
// that drives it (a target's rows, the text index, or the log itself), the
// seq column it is ordered by, and the conditions.
type eventSelect struct {
	from, key string
	c         *conditions
}

// selectEvents is the query of f: through event_targets for a target,
// through event_search for a text, the other filters on the events. It
// selects no pruned event. The text is only narrowed down: keep the
// events that keysmith.EventMatches.
//
// Until the text of older events is indexed (fillEventSearch), those at or
// below seq through are not in event_search: with scan, the query selects
// them instead, without the index (see textScanned).
func (db *DB) selectEvents(f keysmith.EventFilter, through int64, scan bool) eventSelect {
	s := eventSelect{from: "events", key: "events.seq", c: &conditions{}}
	search := db.dialect.eventSearch()
	switch {
	case f.Query != "" && scan:
		if f.TargetID != "" {
			s.from, s.key = "event_targets JOIN events ON events.seq = event_targets.seq", "event_targets.seq"
			s.c.equal("event_targets.target_id", f.TargetID)
		}
		s.c.and(s.key + " <= " + s.c.arg(through))
		if likeFinds(f.Query) {
			s.c.and(`LOWER(events.data) LIKE ` + s.c.arg(likePattern(f.Query)) + ` ESCAPE '\'`)
		}
	case f.TargetID != "":
		s.from, s.key = "event_targets JOIN events ON events.seq = event_targets.seq", "event_targets.seq"
		s.c.equal("event_targets.target_id", f.TargetID)
		if f.Query != "" {
			s.c.and(search.holds(s.c, f.Query, "events.seq"))
		}
	case f.Query != "":
		s.from, s.key = search.from+" JOIN events ON events.seq = "+search.key, search.key
		s.c.and(search.match(s.c, f.Query))
	}
	if f.Query != "" && !scan && through > 0 {
		s.c.and(s.key + " > " + s.c.arg(through))
	}
	s.c.and(s.key + " > " + anchorSeqExpr) // pruned events may not be deleted yet
	s.c.equal("events.type", string(f.Type))
	s.c.equal("events.actor_id", f.ActorID)
	s.c.equal("events.outcome", f.Outcome)
	if !f.Since.IsZero() {
		s.c.and("events.time >= " + s.c.arg(micros(f.Since)))
	}
	if !f.Until.IsZero() {
		s.c.and("events.time < " + s.c.arg(micros(f.Until)))
	}
	return s
}

// likeFinds reports whether LOWER(data) LIKE '%q%' selects every event
// whose search text holds q, so that it may narrow the reading of events
// not yet indexed: q is ASCII without the characters JSON escapes (the
// event's JSON holds q's characters as they are). Other texts are checked
// on every such event.
func likeFinds(q string) bool {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// unindexedThrough is the highest seq whose text may not be indexed yet,
// 0 once every event's is.
func (db *DB) unindexedThrough(ctx context.Context, f keysmith.EventFilter) (int64, error) {
	if f.Query == "" {
		return 0, nil
	}
	var through int64
	err := db.sql.QueryRowContext(ctx, `SELECT through FROM event_search_fill WHERE id = 1`).Scan(&through)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return through, err
}

// sql is the statement reading at most limit events, by seq in order
// ("DESC" or "").
func (s eventSelect) sql(order string, limit int) string {
	return `SELECT events.seq, events.data, events.prev_hash, events.hash FROM ` + s.from + s.c.whereSQL() +
		` ORDER BY ` + s.key + ` ` + order + ` LIMIT ` + s.c.arg(limit)
}

// insertTargets writes the event_targets rows of the event seq.
func (tx *txn) insertTargets(seq int64, targets []keysmith.Ref) error {
	seen := map[string]bool{}
	for _, t := range targets {
		if t.ID == "" || seen[t.ID] {
			continue
		}
		seen[t.ID] = true
		if _, err := tx.ExecContext(tx.ctx, `INSERT INTO event_targets (target_id, seq) VALUES ($1, $2)
			ON CONFLICT DO NOTHING`, t.ID, seq); err != nil {
			return fmt.Errorf("index the event's targets: %w", err)
		}
	}
	return nil
}

// indexEvent writes the rows that find the event seq, whose canonical JSON
// is data, by its targets and by its text. The text is taken from data, as
// a reader checking it would take it.
func (tx *txn) indexEvent(seq int64, data string, targets []keysmith.Ref) error {
	if err := tx.insertTargets(seq, targets); err != nil {
		return err
	}
	var rec keysmith.Event
	if err := json.Unmarshal([]byte(data), &rec); err != nil {
		return fmt.Errorf("read the event back: %w", err)
	}
	text := keysmith.EventSearchText(&rec)
	if tx.grouped {
		// SQLite's FTS5 writes out what it holds at every savepoint, and
		// each member of a group runs in one: the group writes its
		// members' rows together, in one piece of the index.
		tx.searchRows = append(tx.searchRows, searchRow{seq, text})
		return nil
	}
	if _, err := tx.ExecContext(tx.ctx, tx.db.dialect.eventSearch().insert+`($1, $2)`, seq, text); err != nil {
		return fmt.Errorf("index the event's text: %w", err)
	}
	return nil
}

// searchRow is an event's row of event_search: its seq and search text.
type searchRow struct {
	seq  int64
	text string
}

// searchInsertRows is the most rows one INSERT into event_search writes.
const searchInsertRows = 250

// insertSearchRows writes rows into event_search in tx, a few hundred a
// statement.
func (db *DB) insertSearchRows(ctx context.Context, tx *sql.Tx, rows []searchRow) error {
	for len(rows) > 0 {
		n := min(len(rows), searchInsertRows)
		c := &conditions{}
		vals := make([]string, n)
		for i, r := range rows[:n] {
			vals[i] = "(" + c.arg(r.seq) + ", " + c.arg(r.text) + ")"
		}
		if _, err := tx.ExecContext(ctx, db.dialect.eventSearch().insert+strings.Join(vals, ", "), c.args...); err != nil {
			return fmt.Errorf("index the events' text: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

// unindexEvents deletes the index rows of the events from seq lo to hi,
// in tx: their event_targets rows by the targets target_ids names.
func (db *DB) unindexEvents(ctx context.Context, tx *sql.Tx, lo, hi int64) error {
	type stored struct {
		seq int64
		ids sql.NullString
	}
	evs, err := queryAll(ctx, tx, `SELECT seq, target_ids FROM events WHERE seq >= $1 AND seq <= $2`, []any{lo, hi},
		func(row scanner) (stored, error) {
			var s stored
			err := row.Scan(&s.seq, &s.ids)
			return s, err
		})
	if err != nil {
		return err
	}
	for _, ev := range evs {
		for _, id := range strings.Split(strings.Trim(ev.ids.String, ","), ",") {
			if id == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM event_targets WHERE target_id = $1 AND seq = $2`, id, ev.seq); err != nil {
				return err
			}
		}
	}
	_, err = tx.ExecContext(ctx, db.dialect.eventSearch().remove, lo, hi)
	return err
}

// searchFillBatch is how many events one transaction of fillEventSearch
// indexes: small enough not to keep other writes waiting long.
const searchFillBatch = 250

// fillEventSearch indexes the text of the events recorded before
// event_search existed, newest first, in batches, each its own
// transaction. Open starts it in the background (searches read the events
// not yet indexed themselves); it does nothing once they all are (the
// event_search_fill row is gone). An event whose JSON does not decode is
// left for VerifyEvents to report.
func (db *DB) fillEventSearch(ctx context.Context) error {
	// Most starts have nothing to index: say so without a write.
	var through int64
	err := db.sql.QueryRowContext(ctx, `SELECT through FROM event_search_fill WHERE id = 1`).Scan(&through)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("index the system log for search: %w", err)
	}
	start := time.Now()
	var indexed int64
	for {
		done := false
		err := db.write(ctx, func(tx *txn) error {
			var through int64
			// The update locks the row: replicas starting together take
			// turns.
			err := tx.QueryRowContext(ctx, `UPDATE event_search_fill SET through = through WHERE id = 1 RETURNING through`).Scan(&through)
			if errors.Is(err, sql.ErrNoRows) {
				done = true
				return nil
			}
			if err != nil {
				return err
			}
			if indexed == 0 {
				db.log.Info("indexing the system log for search", "events_through_seq", through)
			}
			n, lowest, err := tx.indexEventTexts(through)
			if err != nil {
				return err
			}
			indexed += int64(n)
			if n == 0 {
				done = true
				for _, stmt := range db.dialect.eventSearch().finish {
					if _, err := tx.ExecContext(ctx, stmt); err != nil {
						return err
					}
				}
				_, err = tx.ExecContext(ctx, `DELETE FROM event_search_fill WHERE id = 1`)
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE event_search_fill SET through = $1 WHERE id = 1`, lowest-1)
			return err
		})
		if err != nil {
			return fmt.Errorf("index the system log for search: %w", err)
		}
		if done {
			if indexed > 0 {
				db.log.Info("indexed the system log for search", "events", indexed, "took", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
	}
}

// indexEventTexts writes the event_search rows of the newest
// searchFillBatch events at or below seq through, in one statement, and
// returns how many events it read and the lowest seq.
func (tx *txn) indexEventTexts(through int64) (int, int64, error) {
	type stored struct {
		seq  int64
		data string
	}
	evs, err := queryAll(tx.ctx, tx, `SELECT seq, data FROM events WHERE seq <= $1 ORDER BY seq DESC LIMIT $2`,
		[]any{through, searchFillBatch}, func(row scanner) (stored, error) {
			var s stored
			err := row.Scan(&s.seq, &s.data)
			return s, err
		})
	if err != nil || len(evs) == 0 {
		return 0, 0, err
	}
	c := &conditions{}
	var rows []string
	for _, s := range evs {
		var ev keysmith.Event
		if json.Unmarshal([]byte(s.data), &ev) != nil {
			continue
		}
		rows = append(rows, "("+c.arg(s.seq)+", "+c.arg(keysmith.EventSearchText(&ev))+")")
	}
	if len(rows) > 0 {
		if _, err := tx.Tx.ExecContext(tx.ctx, tx.db.dialect.eventSearch().insert+strings.Join(rows, ", "), c.args...); err != nil {
			return 0, 0, err
		}
	}
	return len(evs), evs[len(evs)-1].seq, nil
}
