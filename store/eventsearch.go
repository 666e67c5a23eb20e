package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// The system log's two indexes beside the events table (migration 019):
// event_targets, a row per target of each event, so that a target's
// history is a range of its key; and event_search, each event's
// keysmith.EventSearchText in the engine's trigram index (SQLite FTS5,
// PostgreSQL pg_trgm), so that a text search reads the index instead of
// every event. event_targets is written in the transaction that appends
// the event, event_search soon after its commit (IndexNewEvents); both are
// deleted in the transaction that deletes it. Readers join events through
// them, newest first by seq, and check the text themselves
// (keysmith.EventMatches): SQLite's index only narrows the search to the
// events holding every piece of the query.

// eventSearchSQL is how an engine writes and reads event_search.
type eventSearchSQL struct {
	from   string // the table, as a search's FROM names it
	key    string // its seq column
	insert string // INSERT … VALUES, followed by ($seq, $text) rows, then by onConflict
	// onConflict ends insert where a row can be there already: during an
	// upgrade, replicas of the version before index their events as they
	// append them.
	onConflict string
	remove     string // deletes the rows of seq $1 to $2
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

// selectEvents is the query of f over the events of seg: through
// event_targets for a target, through event_search for a text, the other
// filters on the events. It selects no pruned event. The text is only
// narrowed down: keep the events that keysmith.EventMatches. In a segment
// whose text is not indexed (seg.scan), the query reads the events
// themselves, narrowed by LIKE where it can (see likeFinds).
func (db *DB) selectEvents(f keysmith.EventFilter, seg searchSegment) eventSelect {
	s := eventSelect{from: "events", key: "events.seq", c: &conditions{}}
	search := db.dialect.eventSearch()
	if f.TargetID != "" {
		s.from, s.key = "event_targets JOIN events ON events.seq = event_targets.seq", "event_targets.seq"
		s.c.equal("event_targets.target_id", f.TargetID)
	}
	switch {
	case f.Query == "":
	case seg.scan:
		if likeFinds(f.Query) {
			s.c.and(`LOWER(events.data) LIKE ` + s.c.arg(likePattern(f.Query)) + ` ESCAPE '\'`)
		}
	case f.TargetID != "":
		s.c.and(search.holds(s.c, f.Query, "events.seq"))
	default:
		s.from, s.key = search.from+" JOIN events ON events.seq = "+search.key, search.key
		s.c.and(search.match(s.c, f.Query))
	}
	if seg.lo > 0 {
		s.c.and(s.key + " > " + s.c.arg(seg.lo))
	}
	if seg.hi < noEnd {
		s.c.and(s.key + " <= " + s.c.arg(seg.hi))
	}
	// Pruned events may not be deleted yet. The anchor is a value, not a
	// subquery: with both ends of the range known, PostgreSQL's planner
	// tells a rare text (read the index) from a common one (walk the
	// newest events); with an unknown end it took the range for a narrow
	// one and walked every event to find a rare text (1 s at a million).
	s.c.and(s.key + " > " + s.c.arg(seg.anchor))
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

// searchSegment is the events of seq lo (exclusive) to hi, read one way:
// through the text index, or, where their text is not indexed (scan), each
// read; anchor is the pruning's anchor, at or below which none is read.
// noEnd is a hi without an end.
type searchSegment struct {
	lo, hi int64
	scan   bool
	anchor int64
}

const noEnd = math.MaxInt64

// searchSegments are the segments f reads, newest first: without a text,
// the whole log; with one, the events newer than event_search_head's seq
// (IndexNewEvents indexes them soon), those indexed, and while the fill
// runs those at or below its seq. Empty segments are left out. Each
// carries the pruning's anchor as it was read.
func (db *DB) searchSegments(ctx context.Context, f keysmith.EventFilter) ([]searchSegment, error) {
	var fill sql.NullInt64
	var head, anchor int64
	if err := db.sql.QueryRowContext(ctx, `SELECT (SELECT through FROM event_search_fill WHERE id = 1),
		(SELECT through FROM event_search_head WHERE id = 1), `+anchorSeqExpr).Scan(&fill, &head, &anchor); err != nil {
		return nil, err
	}
	if f.Query == "" {
		return []searchSegment{{lo: 0, hi: noEnd, anchor: anchor}}, nil
	}
	head = max(head, fill.Int64) // (the fill's events were there before the head)
	var segs []searchSegment
	for _, seg := range []searchSegment{{lo: head, hi: noEnd, scan: true}, {lo: fill.Int64, hi: head}, {lo: 0, hi: fill.Int64, scan: true}} {
		if seg.lo < seg.hi {
			seg.anchor = anchor
			segs = append(segs, seg)
		}
	}
	return segs, nil
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

// indexEvent writes the rows that find the event seq by its targets, in
// the transaction that appends it, and asks runIndexer to index its text
// after the commit (IndexNewEvents).
func (tx *txn) indexEvent(seq int64, targets []keysmith.Ref) error {
	if err := tx.insertTargets(seq, targets); err != nil {
		return err
	}
	tx.db.kickIndexer()
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
		search := db.dialect.eventSearch()
		if _, err := tx.ExecContext(ctx, search.insert+strings.Join(vals, ", ")+search.onConflict, c.args...); err != nil {
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
	evs, err := queryAll(tx.ctx, tx, `SELECT seq, data FROM events WHERE seq <= $1 ORDER BY seq DESC LIMIT $2`,
		[]any{through, searchFillBatch}, scanStoredEvent)
	if err != nil || len(evs) == 0 {
		return 0, 0, err
	}
	if err := tx.db.insertSearchRows(tx.ctx, tx.Tx, searchRowsOf(evs)); err != nil {
		return 0, 0, err
	}
	return len(evs), evs[len(evs)-1].seq, nil
}

// The text of new events is indexed after their commit, in the
// background, not in the transaction that appends them: on PostgreSQL that
// transaction holds the system log's lock, which every writer waits for,
// and a GIN insert now and then empties the index's pending list; on
// SQLite, FTS5 writes out a piece of its index at every savepoint. One run
// every IndexEvery indexes every event appended meanwhile, in one piece.
// event_search_head (migration 022) holds the highest seq indexed so far;
// searches read the events above it themselves, which are the few appended
// since the last run.

// defaultIndexEvery is Options.IndexEvery's default.
const defaultIndexEvery = 500 * time.Millisecond

// indexCheck is how often runIndexer looks for new events without being
// asked: those of other replicas that stopped, or of a process that did.
const indexCheck = 2 * time.Second

// indexBatch is how many events one transaction of IndexNewEvents indexes.
const indexBatch = 500

// kickIndexer asks runIndexer for a run: an event was appended.
func (db *DB) kickIndexer() {
	select {
	case db.indexKick <- struct{}{}:
	default:
	}
}

// runIndexer indexes the text of new events until ctx ends, once per kick
// or indexCheck, each run IndexEvery after the last began at the soonest.
func (db *DB) runIndexer(ctx context.Context) {
	check := time.NewTicker(indexCheck)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.indexKick:
		case <-check.C:
		}
		// The wait gathers the events of a moment into one run, and lets
		// the transaction that kicked commit.
		select {
		case <-ctx.Done():
			return
		case <-time.After(db.indexEvery):
		}
		if err := db.IndexNewEvents(ctx); err != nil && ctx.Err() == nil {
			db.log.Error("index new events for search; searches read them meanwhile", "err", err)
		}
	}
}

// IndexNewEvents indexes the text of the events appended since it last
// ran, in transactions of at most indexBatch events. The store runs it in
// the background (Options.IndexEvery); replicas running it at once take
// turns on event_search_head's row.
func (db *DB) IndexNewEvents(ctx context.Context) error {
	for {
		// Mostly there is nothing new: say so without a write.
		var head, last int64
		if err := db.sql.QueryRowContext(ctx, `SELECT (SELECT through FROM event_search_head WHERE id = 1),
			COALESCE((SELECT MAX(seq) FROM events), 0)`).Scan(&head, &last); err != nil {
			return fmt.Errorf("index new events for search: %w", err)
		}
		if last <= head {
			return nil
		}
		more := false
		err := db.write(ctx, func(tx *txn) error {
			// Its statements take tx.ctx: on SQLite, cancelling one would
			// roll back the writes grouped with it.
			var through, anchor int64
			if err := tx.QueryRowContext(tx.ctx, `UPDATE event_search_head SET through = through WHERE id = 1
				RETURNING through`).Scan(&through); err != nil {
				return err
			}
			if err := tx.QueryRowContext(tx.ctx, `SELECT `+anchorSeqExpr).Scan(&anchor); err != nil {
				return err
			}
			// Events at or below the anchor are pruned: not indexed. (An
			// event pruned on another replica between this read and the
			// commit would leave its row behind, unread: searches join
			// the events. Pruned events are days older than new ones.)
			evs, err := queryAll(tx.ctx, tx, `SELECT seq, data FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`,
				[]any{max(through, anchor), indexBatch}, scanStoredEvent)
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				if anchor > through { // the events above through were pruned
					_, err = tx.ExecContext(tx.ctx, `UPDATE event_search_head SET through = $1 WHERE id = 1`, anchor)
				}
				return err
			}
			if err := db.insertSearchRows(tx.ctx, tx.Tx, searchRowsOf(evs)); err != nil {
				return err
			}
			more = len(evs) == indexBatch
			_, err = tx.ExecContext(tx.ctx, `UPDATE event_search_head SET through = $1 WHERE id = 1`, evs[len(evs)-1].seq)
			return err
		})
		if err != nil {
			return fmt.Errorf("index new events for search: %w", err)
		}
		if !more {
			return nil
		}
	}
}

// storedEvent is an event's seq and JSON as stored.
type storedEvent struct {
	seq  int64
	data string
}

// searchRowsOf is the event_search rows of evs. An event whose JSON does
// not decode is left out, for VerifyEvents to report.
func searchRowsOf(evs []storedEvent) []searchRow {
	rows := make([]searchRow, 0, len(evs))
	for _, s := range evs {
		var ev keysmith.Event
		if json.Unmarshal([]byte(s.data), &ev) == nil {
			rows = append(rows, searchRow{s.seq, keysmith.EventSearchText(&ev)})
		}
	}
	return rows
}

func scanStoredEvent(row scanner) (storedEvent, error) {
	var s storedEvent
	err := row.Scan(&s.seq, &s.data)
	return s, err
}
