package store

import (
	"context"
	"database/sql"
	"log/slog"

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
	// notify tells other replicas about c when tx commits.
	notify(ctx context.Context, tx *sql.Tx, c keysmith.Change) error
	// listen delivers other replicas' changes to publish until ctx ends. It
	// calls ready (which may be called again) once its first attempt to
	// listen has succeeded or failed, so that Open returns only when changes
	// from then on will be heard.
	listen(ctx context.Context, log *slog.Logger, publish func(keysmith.Change), ready func())
}
