// Package store keeps Keysmith's records in SQLite (the zero-configuration
// default) or PostgreSQL (for several replicas), over database/sql with one set
// of queries for both. The engines differ only in small dialect files: driver
// and DSN, error codes, the lock that serialises the system log, and how other
// replicas are told about changes.
package store

import (
	"cmp"
	"container/list"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keysmith/keysmith"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a Keysmith store. It implements keysmith.Store.
type DB struct {
	sql     *sql.DB
	dialect dialect
	now     keysmith.Clock
	log     *slog.Logger

	mu   sync.RWMutex
	subs []func(keysmith.Change)

	// batchSize is Options.BatchSize.
	batchSize int
	// searchNarrowMax is Options.SearchNarrowMax, or its default.
	searchNarrowMax int

	stopListen context.CancelFunc
	listenDone chan struct{}
	// stopIndexing stops the indexing of events' text in the background
	// (fillEventSearch, runIndexer), and indexing is done once they have
	// stopped; fillDone is closed once the fill has.
	stopIndexing context.CancelFunc
	indexing     sync.WaitGroup
	fillDone     chan struct{}
	// indexKick asks runIndexer for a run (see kickIndexer); indexEvery is
	// Options.IndexEvery, or its default.
	indexKick        chan struct{}
	indexEvery       time.Duration
	listenerFailures atomic.Uint64
	feedUp           atomic.Bool // see ChangeFeedHealthy

	// txns numbers write transactions, for their notices; failed holds
	// the numbers of those whose commit failed (see write).
	txns   atomic.Uint64
	failed failedCommits

	// group commits writes together on SQLite (see writeGroup); nil on
	// PostgreSQL. stmts holds the statements its writes reuse.
	group *writeGroup
	stmts stmtCache
}

var _ keysmith.Store = (*DB)(nil)

// Options tune a store; the zero value is fine.
type Options struct {
	Now    keysmith.Clock // default keysmith.SystemClock
	Logger *slog.Logger   // default slog.Default()
	// ListenerCheck is how long the change listener's connection
	// (PostgreSQL) may stay quiet before the store sends a heartbeat
	// notice, and how long that notice may take to be heard on it before
	// the connection counts as dead. Default DefaultListenerCheck.
	ListenerCheck time.Duration
	// BatchSize, when positive, is the most rows a background job changes
	// in one transaction, instead of each job's default (50 tokens marked
	// expired, 500 uses stored, 100 events or 500 access tokens deleted).
	// Background jobs work in small batches, each its own short
	// transaction, so that no write waits long behind one. Tests set it
	// small to cross batch boundaries with few rows.
	BatchSize int
	// SearchNarrowMax, when positive, is the most tokens a name search
	// finds through the text index and sorts (default 1000); a search
	// matching more walks the list's sort index. Tests set it small to
	// cross it with few tokens.
	SearchNarrowMax int
	// IndexEvery is how often, at most, the text of new events is
	// indexed for search, in the background, after their commit (default
	// 500ms; searches read the events not yet indexed themselves). When
	// negative, only IndexNewEvents indexes them: tests set it so, to
	// choose which events are indexed.
	IndexEvery time.Duration
}

// batch is the batch size of a background job whose default is def.
func (db *DB) batch(def int) int {
	if db.batchSize > 0 {
		return db.batchSize
	}
	return def
}

// DefaultListenerCheck is the default Options.ListenerCheck: a silently
// dead or deaf listener is noticed within twice this.
const DefaultListenerCheck = 15 * time.Second

// Open connects to the database named by dsn and brings its schema up to
// date. A dsn starting with postgres:// or postgresql:// selects PostgreSQL;
// anything else is an SQLite file path (an optional sqlite: prefix is
// stripped), created on first use.
func Open(ctx context.Context, dsn string, opt Options) (*DB, error) {
	if opt.Now == nil {
		opt.Now = keysmith.SystemClock
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.ListenerCheck <= 0 {
		opt.ListenerCheck = DefaultListenerCheck
	}
	var d dialect
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		d = &postgresDialect{dsn: dsn, origin: newOrigin()}
	} else {
		d = &sqliteDialect{path: strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:"), log: opt.Logger,
			writer: make(chan struct{}, 1), wrote: make(chan struct{}, 1)}
	}
	sdb, err := d.open()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", d.name(), err)
	}
	db := &DB{sql: sdb, dialect: d, now: opt.Now, log: opt.Logger, batchSize: opt.BatchSize,
		searchNarrowMax: cmp.Or(max(opt.SearchNarrowMax, 0), defaultSearchNarrowMax),
		indexKick:       make(chan struct{}, 1), indexEvery: cmp.Or(opt.IndexEvery, defaultIndexEvery)}
	if d.groupsWrites() {
		db.group = newWriteGroup(db)
	}
	if err := db.sql.PingContext(ctx); err != nil {
		db.closePool()
		return nil, fmt.Errorf("connect to %s database: %w", d.name(), err)
	}
	if err := db.migrate(ctx); err != nil {
		db.closePool()
		return nil, err
	}
	if err := db.fillEventColumns(ctx); err != nil {
		db.closePool()
		return nil, err
	}
	// The text of older events is indexed meanwhile, and that of new ones
	// after their commit: searches read the events not yet indexed
	// themselves (see eventsearch.go).
	ictx, stopIndexing := context.WithCancel(context.Background())
	db.stopIndexing, db.fillDone = stopIndexing, make(chan struct{})
	db.indexing.Go(func() {
		defer close(db.fillDone)
		if err := db.fillEventSearch(ictx); err != nil && ictx.Err() == nil {
			db.log.Error("index the system log for search; the next start goes on", "err", err)
		}
	})
	if db.indexEvery > 0 {
		db.indexing.Go(func() { db.runIndexer(ictx) })
	}
	// Return only once the listener is in place: a change another replica
	// commits after Open returns must reach this store's subscribers.
	lctx, cancel := context.WithCancel(context.Background())
	db.stopListen, db.listenDone = cancel, make(chan struct{})
	ready := make(chan struct{})
	markReady := sync.OnceFunc(func() { close(ready) })
	go func() {
		defer close(db.listenDone)
		defer markReady()
		d.listen(lctx, listenHooks{log: db.log, publish: db.publish, ready: markReady,
			lost: func() { db.listenerFailures.Add(1) }, up: func() { db.feedUp.Store(true) }, down: db.feedDown,
			failed: db.failed.take, check: opt.ListenerCheck})
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		db.Close()
		return nil, fmt.Errorf("start change listener: %w", ctx.Err())
	}
	return db, nil
}

// ChangeListenerFailures counts the times the change listener's connection
// failed or did not hear its heartbeat; after each, the listener reconnects
// and, once connected, drops every cache (a ChangeAll). It is there for a
// metric; always 0 on SQLite, which has no listener.
func (db *DB) ChangeListenerFailures() uint64 { return db.listenerFailures.Load() }

// ChangeFeedHealthy reports whether every committed change, from this
// process and from other replicas, reaches the subscribers: always on
// SQLite; on PostgreSQL while the change listener is connected and hears
// its heartbeats (see Options.ListenerCheck).
func (db *DB) ChangeFeedHealthy() bool { return db.feedUp.Load() }

// feedDown notes that the listener may miss changes from now on and, if
// it heard every change until now, publishes ChangeFeedLost.
func (db *DB) feedDown() {
	if db.feedUp.Swap(false) {
		db.publish(keysmith.Change{Kind: keysmith.ChangeFeedLost})
	}
}

// Engine names the database engine: "sqlite" or "postgres".
func (db *DB) Engine() string { return db.dialect.name() }

// SQL exposes the connection pool, for tests that inspect or tamper with rows.
func (db *DB) SQL() *sql.DB { return db.sql }

// Close stops listening for changes and closes the connection pool.
func (db *DB) Close() error {
	db.stopIndexing()
	db.indexing.Wait()
	db.stopListen()
	<-db.listenDone
	return db.closePool()
}

// closePool stops the group writer, if any, then closes the connection
// pool: writes made from then on fail.
func (db *DB) closePool() error {
	if db.group != nil {
		db.group.close()
	}
	db.stmts.close()
	return db.sql.Close()
}

// maxCachedStmts bounds stmtCache: the texts of writes are constants but
// for a few built for a number of rows, which come and go.
const maxCachedStmts = 256

// stmtCache is the statements of grouped writes, each text prepared once
// for the pool: database/sql prepares it again on each connection that
// runs it, once, and a transaction on that connection reuses it
// (sql.Tx.StmtContext). It keeps the maxCachedStmts texts used last, so
// texts built at run time (IN lists) make room for the constant ones
// instead of filling it for good. Closing an evicted statement is safe
// while a transaction runs it: database/sql closes the connection's copy
// once the connection is returned.
type stmtCache struct {
	mu  sync.Mutex
	m   map[string]*list.Element // of *cachedStmt, in lru
	lru list.List                // most recently used first
}

type cachedStmt struct {
	query string
	st    *sql.Stmt
}

// get returns query prepared on pool, preparing it on a miss and closing
// the least recently used statement when the cache is full.
func (c *stmtCache) get(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[query]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cachedStmt).st, nil
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*list.Element{}
	}
	c.m[query] = c.lru.PushFront(&cachedStmt{query, st})
	if c.lru.Len() > maxCachedStmts {
		old := c.lru.Remove(c.lru.Back()).(*cachedStmt)
		delete(c.m, old.query)
		old.st.Close()
	}
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.m {
		e.Value.(*cachedStmt).st.Close()
	}
	c.m = nil
	c.lru.Init()
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// Subscribe registers f to be called after every committed change.
func (db *DB) Subscribe(f func(keysmith.Change)) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.subs = append(db.subs, f)
}

func (db *DB) publish(c keysmith.Change) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	for _, f := range db.subs {
		f(c)
	}
}

// migrate applies the embedded migrations that the database lacks, each in its
// own transaction, and records each version. It is idempotent, and replicas
// starting together are serialised by the dialect's migration lock.
func (db *DB) migrate(ctx context.Context) error {
	names, err := migrationFiles()
	if err != nil {
		return err
	}
	unlock, err := db.dialect.lockMigrations(ctx, db.sql)
	if err != nil {
		return fmt.Errorf("lock for migrations: %w", err)
	}
	defer unlock()
	if _, err := db.sql.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	// Every embedded migration not yet recorded is applied, whatever its
	// number: one merged later with a lower number than an applied one still
	// runs.
	versions, err := queryAll(ctx, db.sql, `SELECT version FROM schema_migrations`, nil, func(row scanner) (int64, error) {
		var v int64
		err := row.Scan(&v)
		return v, err
	})
	if err != nil {
		return fmt.Errorf("read schema versions: %w", err)
	}
	applied := map[int64]bool{}
	for _, v := range versions {
		applied[v] = true
	}
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, engine, err := migrationName(base)
		if err != nil {
			return err
		}
		if applied[version] || (engine != "" && engine != db.dialect.name()) {
			continue
		}
		text, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		ran := true
		err = db.tx(ctx, func(tx *sql.Tx) error {
			// Another process may have applied it since we looked.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil || n > 0 {
				ran = false
				return err
			}
			for _, stmt := range splitStatements(string(text)) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%w\nin statement:\n%s", err, stmt)
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				version, base, micros(db.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", base, err)
		}
		if !ran {
			continue
		}
		db.log.Info("applied migration", "version", version, "name", base, "engine", db.dialect.name())
	}
	return nil
}

// MigrationVersions lists the versions of the embedded migrations, in order.
// Versions need not be consecutive; each is applied once.
func MigrationVersions() []int64 {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	sort.Strings(names)
	var out []int64
	for _, name := range names {
		v, _, err := migrationName(strings.TrimPrefix(name, "migrations/"))
		if err == nil && (len(out) == 0 || out[len(out)-1] != v) {
			out = append(out, v)
		}
	}
	return out
}

// migrationFiles lists the embedded migrations in order, and checks that
// each version is one file for both engines or at most one per engine.
func migrationFiles() ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	seen := map[int64]map[string]bool{}
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, engine, err := migrationName(base)
		if err != nil {
			return nil, err
		}
		if seen[v] == nil {
			seen[v] = map[string]bool{}
		}
		if seen[v][engine] || seen[v][""] || (engine == "" && len(seen[v]) > 0) {
			return nil, fmt.Errorf("migration %s: version %d has another file for the same engine", base, v)
		}
		seen[v][engine] = true
	}
	return names, nil
}

// migrationName reads a migration's file name: NNN_what.sql applies to
// both engines; NNN_what.sqlite.sql and NNN_what.postgres.sql to one engine
// only, for what the engines spell differently (text search indexes,
// triggers). The two halves of one change share their version number, so
// a version is applied once on either engine.
func migrationName(base string) (version int64, engine string, err error) {
	version, err = strconv.ParseInt(strings.SplitN(base, "_", 2)[0], 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("migration %s: name must start with a number", base)
	}
	rest := strings.TrimSuffix(base, ".sql")
	for _, e := range []string{"sqlite", "postgres"} {
		if strings.HasSuffix(rest, "."+e) {
			engine = e
		}
	}
	return version, engine, nil
}

// SchemaVersion returns the highest applied migration.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.sql.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// splitStatements splits a migration at semicolons that end a line, dropping
// comment-only lines. Migrations are written so that this is enough: the body
// of an SQLite trigger (CREATE TRIGGER … BEGIN … END;) ends at a line that is
// END; alone, and a PostgreSQL function body between $$ lines may hold
// semicolons of its own.
func splitStatements(text string) []string {
	var out []string
	var cur strings.Builder
	dollars := 0
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		dollars += strings.Count(line, "$$")
		upper := strings.ToUpper(cur.String())
		trigger := strings.HasPrefix(strings.TrimSpace(upper), "CREATE TRIGGER") && strings.Contains(upper, "BEGIN")
		switch {
		case dollars%2 == 1:
			continue // inside a function body
		case trigger && !strings.EqualFold(trimmed, "END;"):
			continue // inside a trigger's body
		}
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}

// txn is one write transaction: the events it records and the changes it
// publishes once it has committed.
type txn struct {
	*sql.Tx
	db      *DB
	ctx     context.Context
	changes []keysmith.Change
	// logLocked says the transaction holds the system log's lock, and head
	// is then the newest event (see recordOutcome).
	logLocked bool
	head      logHead
	bulk      *bulkState // nil but in a Batch
	// grouped says the transaction is a member's of a writeGroup: its
	// statements run through DB.stmts (see txn.stmt) and without the
	// caller's cancellation (see txn.uncancelled).
	grouped bool
}

// write runs f in a transaction; with a ctx from joining, in the
// transaction that ctx carries (the caller commits it). When f succeeds the transaction commits and
// the changes f noted are published; otherwise it rolls back and nothing is
// published or recorded. A commit that fails may still have committed (the
// connection can drop before its answer), so its changes are published
// then too: dropping a cache entry is always safe. This process skips the
// echo of its own changes from the database's feed, but for those of a
// transaction whose commit failed: such a commit may become visible only a
// moment after it was published here, after a cache re-read the old row,
// and its echo is then the only notice left to drop that row. So each
// transaction's notices carry its number, and the numbers of failed commits
// are kept (the newest maxFailedCommits) until their echo arrives.
//
// Lock order. On PostgreSQL two transactions that take the same locks in
// different orders can deadlock, and one of them fails. Every write takes
// its locks in one order: first the rows it changes (several rows of one
// table in ascending id order, one statement per row, since a multi-row
// statement locks in no stated order), then the system log's lock, which
// tx.record takes. Nothing takes a row lock after appending an event.
//
// On SQLite, writes are committed in groups (see writeGroup).
func (db *DB) write(ctx context.Context, f func(tx *txn) error) error {
	return db.writeTx(ctx, f, false)
}

// writeTx is write; alone asks SQLite for a transaction of f's own, not
// shared with other writes (a Batch's).
func (db *DB) writeTx(ctx context.Context, f func(tx *txn) error, alone bool) error {
	if tx, ok := ctx.Value(joinKey{}).(*txn); ok && tx.db == db {
		return f(tx) // a call made inside another's transaction (joining)
	}
	if db.group != nil {
		return db.group.write(ctx, f, alone)
	}
	var changes []keysmith.Change
	number := db.txns.Add(1)
	err := db.tx(ctx, func(stx *sql.Tx) error {
		tx := &txn{Tx: stx, db: db, ctx: ctx}
		if err := f(tx); err != nil {
			return err
		}
		if err := db.dialect.notify(ctx, stx, number, tx.changes); err != nil {
			return err
		}
		changes = tx.changes
		return nil
	})
	if err != nil && len(changes) > 0 { // the commit failed, and may have committed
		db.failed.add(number)
	}
	for _, c := range changes { // set only once f succeeded
		db.publish(c)
	}
	return err
}

// maxFailedCommits bounds failedCommits: a failed commit's echo arrives
// within moments if ever, and failed commits are rare.
const maxFailedCommits = 1024

// failedCommits is the set of this store's transactions whose commit
// failed and whose echo has not arrived yet, bounded: past
// maxFailedCommits, the oldest is dropped.
type failedCommits struct {
	mu    sync.Mutex
	set   map[uint64]struct{}
	order []uint64 // oldest first; may hold numbers already taken
}

// add notes that transaction n's commit failed.
func (f *failedCommits) add(n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.set == nil {
		f.set = map[uint64]struct{}{}
	}
	if len(f.order) == maxFailedCommits {
		delete(f.set, f.order[0])
		f.order = append(f.order[:0], f.order[1:]...)
	}
	f.set[n] = struct{}{}
	f.order = append(f.order, n)
}

// take reports whether transaction n's commit failed, and forgets it.
func (f *failedCommits) take(n uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.set[n]
	delete(f.set, n)
	return ok
}

// changed notes that a record changed, for caches to drop it after commit.
func (tx *txn) changed(kind keysmith.ChangeKind, id string) {
	tx.changes = append(tx.changes, keysmith.Change{Kind: kind, ID: id})
}

// tx runs f in a transaction, in this process's turn to write (see
// dialect.queueWrite).
func (db *DB) tx(ctx context.Context, f func(tx *sql.Tx) error) error {
	done, err := db.dialect.queueWrite(ctx)
	if err != nil {
		return err
	}
	defer done()
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return db.mapError(err)
	}
	if err := tx.Commit(); err != nil {
		return db.mapError(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// exec runs one statement that writes, outside a transaction, in this
// process's turn to write (see dialect.queueWrite).
func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	done, err := db.dialect.queueWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return db.sql.ExecContext(ctx, q, args...)
}

// mapError turns driver errors into domain errors by their codes.
func (db *DB) mapError(err error) error {
	switch {
	case err == nil:
		return nil
	case keysmith.ErrorCode(err) != keysmith.CodeInternal:
		return err
	case errors.Is(err, sql.ErrNoRows):
		return &keysmith.Error{Code: keysmith.CodeNotFound, Message: "not found", Err: err}
	case db.dialect.isUniqueViolation(err):
		return &keysmith.Error{Code: keysmith.CodeConflict, Message: "already exists", Err: err}
	}
	return err
}

// micros is how times are stored.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

func timePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}
