package store

import (
	"context"
	"database/sql"
	"errors"
	"net/url"

	"github.com/keysmith/keysmith"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteDialect is the embedded engine: one file, one process. Writes take the
// database lock at BEGIN (_txlock=immediate) so transactions never deadlock on
// lock upgrades, WAL lets readers run beside the writer, and synchronous=FULL
// makes every acknowledged commit durable.
type sqliteDialect struct{ path string }

func (d *sqliteDialect) name() string { return "sqlite" }

func (d *sqliteDialect) open() (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+d.path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	return db, nil
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
func (d *sqliteDialect) lockLog(context.Context, *sql.Tx) error { return nil }

// One process owns an SQLite file, so there is nobody else to tell.
func (d *sqliteDialect) notify(context.Context, *sql.Tx, keysmith.Change) error { return nil }
func (d *sqliteDialect) listen(ctx context.Context, h listenHooks) {
	h.ready()
	<-ctx.Done()
}
