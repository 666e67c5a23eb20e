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

	"github.com/keysmith/keysmith"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteDialect is the embedded engine: one file, one process. Writes take the
// database lock at BEGIN (_txlock=immediate) so transactions never deadlock on
// lock upgrades, WAL lets readers run beside the writer, and synchronous=FULL
// makes every acknowledged commit durable.
type sqliteDialect struct {
	path string
	log  *slog.Logger
	// writer holds a token while a write of this process runs: see
	// queueWrite.
	writer chan struct{}
}

func (d *sqliteDialect) name() string { return "sqlite" }

func (d *sqliteDialect) open() (*sql.DB, error) {
	if err := d.createPrivate(); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := openChecked("sqlite", "file:"+d.path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
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
		return func() { <-d.writer }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to write: %w", ctx.Err())
	}
}

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
	<-ctx.Done()
}
