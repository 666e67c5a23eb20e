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
	// lockLog serialises appends to the system log within tx, so that
	// concurrent writers (even on several replicas) extend one hash chain.
	// It is the last lock a transaction takes (see DB.write).
	lockLog(ctx context.Context, tx *sql.Tx) error
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
