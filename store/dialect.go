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
	// lockLog serialises appends to the system log within tx, so that
	// concurrent writers (even on several replicas) extend one hash chain.
	// It is the last lock a transaction takes (see DB.write).
	lockLog(ctx context.Context, tx *sql.Tx) error
	// prepareBulk readies tx, the transaction of a Batch, for thousands of
	// changes.
	prepareBulk(ctx context.Context, tx *sql.Tx) error
	// notify tells other replicas about c when tx commits.
	notify(ctx context.Context, tx *sql.Tx, c keysmith.Change) error
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
	// check is how long the connection may stay quiet before it is pinged,
	// and how long the ping may take.
	check time.Duration
}
