package store

import (
	"context"
	"database/sql"
	"sync"

	"github.com/keysmith/keysmith"
)

// Origin returns the origin db's notices carry (PostgreSQL only).
func Origin(db *DB) string { return db.dialect.(*postgresDialect).origin }

// FailedCommit numbers a transaction as db.write does, registers its commit
// as failed, and returns its number.
func FailedCommit(db *DB) uint64 {
	n := db.txns.Add(1)
	db.failed.add(n)
	return n
}

// ExpiryCandidatesQueries returns the expiry sweep's candidate statements,
// one per pass: absolute expiry, then idle expiry.
func ExpiryCandidatesQueries() []string {
	var qs []string
	for _, due := range expiryDues {
		qs = append(qs, expiryCandidatesQuery(due))
	}
	return qs
}

// HoldWrites takes the SQLite writer's turn, so that writes queue behind
// it until release is called.
func HoldWrites(db *DB) (release func()) {
	done, err := db.dialect.queueWrite(context.Background())
	if err != nil {
		panic(err)
	}
	return sync.OnceFunc(done)
}

// WaitingWrites counts the writes (SQLite) not yet given their turn.
func WaitingWrites(db *DB) int64 { return db.group.waiting.Load() }

// WriteGroups counts the groups of writes committed on SQLite, and the
// writes in them.
func WriteGroups(db *DB) (groups, members uint64) {
	return db.group.groups.Load(), db.group.members.Load()
}

// Write runs f as a write transaction, as a store method's write does.
func Write(ctx context.Context, db *DB, f func(tx *sql.Tx) error) error {
	return db.write(ctx, func(tx *txn) error { return f(tx.Tx) })
}

// WaitForSearchFill waits until db has indexed the text of the events
// older than its text index, or stopped trying.
func WaitForSearchFill(db *DB) { <-db.fillDone }

// TokenListQuery returns the query FindTokens runs for f (sort and order
// set) and its arguments; with after, for a page after the first.
func TokenListQuery(db *DB, f keysmith.TokenFilter, after bool) (string, []any, error) {
	if after {
		f.Cursor = tokenCursor{Sort: f.Sort, Order: f.Order, Str: "m", Num: 5, ID: "tok_m"}.encode()
	}
	return db.tokenListQuery(context.Background(), f, 51)
}

// Execer is what WriteExec's f runs statements through.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// WriteExec runs f as a store method's write does, with the store's own
// transaction (in a group on SQLite).
func WriteExec(ctx context.Context, db *DB, f func(tx Execer) error) error {
	return db.write(ctx, func(tx *txn) error { return f(tx) })
}
