package store

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/keysmith/keysmith"
)

// dialect is everything that differs between the engines. Queries do not:
// both engines take the same SQL with $1-style placeholders.
type dialect interface {
	name() string
	open() (*sql.DB, error)
	isUniqueViolation(err error) bool
	// lockMigrations serialises schema changes across processes.
	lockMigrations(ctx context.Context, db *sql.DB) (unlock func(), err error)
	// queueWrite waits for this process's turn to write, first come first
	// served, and returns the function that ends the turn. Where the engine
	// lets one writer in at a time (SQLite), writers queue here instead of
	// polling the database's lock: a polling writer can miss every short gap
	// between the transactions of a background job that works in batches,
	// and starve. Where writers do not exclude each other it does nothing.
	queueWrite(ctx context.Context) (done func(), err error)
	// groupsWrites says whether write transactions are committed in
	// groups (see writeGroup): where one writer at a time syncs each commit.
	groupsWrites() bool
	// lockLog serialises appends to the system log within tx, so that
	// concurrent writers (even on several replicas) extend one hash chain.
	// It is the last lock a transaction takes (see DB.write).
	lockLog(ctx context.Context, tx *sql.Tx) error
	// eventSearch is how the engine's text index of the system log is
	// written and read (see eventsearch.go).
	eventSearch() eventSearchSQL
	// prepareBulk readies tx, the transaction of a Batch, for thousands of
	// changes.
	prepareBulk(ctx context.Context, tx *sql.Tx) error
	// notify tells other replicas about cs when tx commits, in one round
	// trip: a transaction may hold the system log's lock meanwhile. txn is
	// the transaction's number in this store (see DB.write).
	notify(ctx context.Context, tx *sql.Tx, txn uint64, cs []keysmith.Change) error
	// listen delivers other replicas' changes to h.publish until ctx ends.
	// It calls h.ready (which may be called again) once its first attempt to
	// listen has succeeded or failed, so that Open returns only when changes
	// from then on will be heard.
	listen(ctx context.Context, h listenHooks)
	// nameSearch is a query of the ids of the tokens whose name_lower may
	// contain q (lower case, at least minSearchLen characters) through the
	// engine's text index: a superset, which the caller checks with LIKE.
	// arg adds an argument and returns its placeholder.
	nameSearch(arg func(any) string, q string) string
	// namePrefix is a query of the ids of the tokens whose name_lower may
	// start with q (lower case, shorter than minSearchLen), index-served: a
	// superset, which the caller checks with LIKE. A range of name_lower is
	// one only where the collation orders by code point (SQLite's BINARY);
	// a PostgreSQL database's collation may not (en_US ignores punctuation
	// at first), so there the trigram index serves LIKE 'q%' instead.
	namePrefix(arg func(any) string, q string) string
	// listExpr is one of the token list keys of migration 017 (list_state,
	// list_last_used, list_expiry, list_due) as queries write it: SQLite's
	// generated column, on which a row value is an index seek (it is not on
	// an indexed expression); PostgreSQL's indexed expression, since its
	// generated columns are stored and adding them rewrites the table.
	listExpr(name string) string
}

// listenHooks is what a dialect's listener reports to, and how often it
// checks its connection.
type listenHooks struct {
	log     *slog.Logger
	publish func(keysmith.Change)
	ready   func()
	// lost is called when the connection failed or stopped answering.
	lost func()
	// up is called once every change is heard (on PostgreSQL, once LISTEN
	// is in place and the ChangeAll of a reconnection published); down
	// when changes may be missed from then on (the connection failed or
	// could not be made).
	up, down func()
	// failed reports whether this store's transaction number txn failed
	// to commit, and forgets it: the echo of its changes is published.
	failed func(txn uint64) bool
	// check is how long the connection may stay quiet before a heartbeat
	// is sent, and how long the heartbeat may take to be heard.
	check time.Duration
}
