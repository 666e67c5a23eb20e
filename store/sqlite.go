package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteDialect is the embedded engine: one file, one process. Writes take the
// database lock at BEGIN (_txlock=immediate) so transactions never deadlock on
// lock upgrades, WAL lets readers run beside the writer, and synchronous=FULL
// makes every acknowledged commit durable.
//
// Checkpoints (copying the WAL's pages back into the database file) run in
// a goroutine of their own (see checkpoints), not inside the commit that
// crosses SQLite's threshold (wal_autocheckpoint, off): on a large file a
// checkpoint writes and syncs hundreds of scattered pages, and the writes
// queued behind that commit waited for it.
type sqliteDialect struct {
	path string
	log  *slog.Logger
	// writer holds a token while a write of this process runs: see
	// queueWrite.
	writer chan struct{}
	// wrote holds a token when a write has ended since the last
	// checkpoint; buffered 1.
	wrote chan struct{}
	db    *sql.DB // set by open
}

func (d *sqliteDialect) name() string { return "sqlite" }

func (d *sqliteDialect) open() (*sql.DB, error) {
	if err := d.createPrivate(); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)",
		"wal_autocheckpoint(0)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := openChecked("sqlite", "file:"+d.path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	d.db = db
	return db, nil
}

// createPrivate creates the database file readable by its owner only, before
// SQLite opens it: the file holds password hashes and credential digests.
// SQLite gives the WAL and shared-memory files it makes later the database
// file's mode (it sets it explicitly, so the umask does not widen them). A
// file that already exists keeps its mode, which its owner may have chosen;
// a warning says when others may read it.
func (d *sqliteDialect) createPrivate() error {
	f, err := os.OpenFile(d.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create the database file: %w", err)
	}
	if st, err := os.Stat(d.path); err == nil && st.Mode().Perm()&0o077 != 0 && d.log != nil {
		d.log.Warn("the database file may be read by other users; it holds password hashes: chmod 600 it and its -wal and -shm files",
			"path", d.path, "mode", st.Mode().Perm().String())
	}
	return nil
}

func (d *sqliteDialect) isUniqueViolation(err error) bool {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// Immediate transactions already serialise writers on one file.
func (d *sqliteDialect) lockMigrations(context.Context, *sql.DB) (func(), error) {
	return func() {}, nil
}

// queueWrite takes the one writer's turn. Goroutines blocked sending on a
// channel are served in the order they came, so a background job that
// returns for its next batch queues behind the writes that waited for its
// last one.
func (d *sqliteDialect) queueWrite(ctx context.Context) (func(), error) {
	select {
	case d.writer <- struct{}{}:
		return func() {
			<-d.writer
			select {
			case d.wrote <- struct{}{}:
			default:
			}
		}, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to write: %w", ctx.Err())
	}
}

// One writer at a time, each commit synced: group them.
func (d *sqliteDialect) groupsWrites() bool { return true }

func (d *sqliteDialect) lockLog(context.Context, *sql.Tx) error { return nil }

// bulkCacheKiB is the page cache of a connection that has run a Batch. The
// default (2 MiB) makes a batch of random-key inserts into a large file
// spill pages to the WAL mid-transaction and read them back.
const bulkCacheKiB = 256 << 10

// prepareBulk enlarges the connection's page cache; it stays so for the
// connection's life, which only a bulk loader's connections have.
func (d *sqliteDialect) prepareBulk(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", bulkCacheKiB))
	return err
}

// One process owns an SQLite file, so there is nobody else to tell.
func (d *sqliteDialect) notify(context.Context, *sql.Tx, uint64, []keysmith.Change) error { return nil }
func (d *sqliteDialect) listen(ctx context.Context, h listenHooks) {
	h.up() // every change is made, and published, in this process
	h.ready()
	d.checkpoints(ctx)
}

// checkpointEvery is the least time between two checkpoints: writes ended
// meanwhile are checkpointed together, each page once.
const checkpointEvery = 100 * time.Millisecond

// checkpoint copies the WAL into the database file in two PASSIVE passes.
// The first, long one runs while writers go on. The WAL only starts over
// at a write that begins on a WAL copied to its end, and under steady
// writes a checkpoint outside the writer's turn never ends on one: each
// write appends more frames meanwhile, and the WAL grew without limit (640
// MB in 10 s with 16 creators). So the second pass runs in the writer's
// turn, copies only the frames committed during the first, and leaves the
// WAL fully copied for the next writer, which restarts it. The turn is
// given back without marking a write (nothing was written), so an idle
// store does not checkpoint again.
func (d *sqliteDialect) checkpoint(ctx context.Context) error {
	var busy, frames, copied int
	if err := d.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return err
	}
	select {
	case d.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-d.writer }()
	return d.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
}

// checkpoints copies the WAL's new pages into the database file after
// writes, until ctx ends. A PASSIVE checkpoint takes no lock that writers
// or readers wait for: the writes go on while it copies, and the WAL
// starts over from its beginning at the first write after a checkpoint
// that copied everything, so it stays about as small as with SQLite's
// automatic checkpoints. Closing the last connection checkpoints what is
// left.
func (d *sqliteDialect) checkpoints(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wrote:
		}
		if err := d.checkpoint(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("checkpoint the SQLite WAL", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// eventSearch is FTS5's trigram index, which has no text of its own: a
// search names the pieces of three characters the events must hold, and
// the store checks the substring (see eventsearch.go).
func (d *sqliteDialect) eventSearch() eventSearchSQL {
	return eventSearchSQL{
		from:   `event_search`,
		key:    `event_search.rowid`,
		insert: `INSERT INTO event_search (rowid, doc) VALUES `,
		remove: `DELETE FROM event_search WHERE rowid >= $1 AND rowid <= $2`,
		match: func(c *conditions, q string) string {
			return `event_search MATCH ` + c.arg(ftsTrigrams(q))
		},
		holds: func(c *conditions, q, seq string) string {
			return `EXISTS (SELECT 1 FROM event_search WHERE event_search MATCH ` + c.arg(ftsTrigrams(q)) +
				` AND event_search.rowid = ` + seq + `)`
		},
	}
}

// ftsTrigrams is an FTS5 query for the texts that hold every piece of q
// the search looks up (keysmith.SearchTrigrams), each a quoted string, so
// that nothing in q is FTS5 syntax.
func ftsTrigrams(q string) string {
	var parts []string
	for _, t := range keysmith.SearchTrigrams(strings.ToLower(q), maxSearchTrigrams) {
		parts = append(parts, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
	}
	return strings.Join(parts, " AND ")
}

// nameSearch reads the trigram index of migration 017. q is one FTS5
// phrase: inside double quotes every character is literal (NEAR, AND, *,
// parentheses), and a double quote is written twice.
func (d *sqliteDialect) nameSearch(arg func(any) string, q string) string {
	return `SELECT token_search.token_id FROM tokens_fts JOIN token_search ON token_search.id = tokens_fts.rowid
		WHERE tokens_fts MATCH ` + arg(`"`+strings.ReplaceAll(q, `"`, `""`)+`"`)
}

func (d *sqliteDialect) namePrefix(arg func(any) string, q string) string {
	ids := `SELECT s.id FROM tokens AS s WHERE s.name_lower >= ` + arg(q)
	if end := prefixEnd(q); end != "" {
		ids += ` AND s.name_lower < ` + arg(end)
	}
	return ids
}

func (d *sqliteDialect) listExpr(name string) string { return "tokens." + name }
