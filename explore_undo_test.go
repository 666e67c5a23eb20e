package keysmith_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/store"
)

// undoLog takes the store's SQLite database back to an earlier moment of the
// search. Triggers on every table log, before a row is changed or deleted,
// its old values in a shadow table explore_old_<table>, and after a row is
// inserted its rowid; rolling back deletes the rows touched since the mark
// and inserts again, under the same rowid, their first logged values.
//
// It costs what the calls changed, not the size of the world, and every
// statement it runs is prepared once: under -race, where all of SQLite is
// instrumented, parsing SQL is what costs. (Restoring every table by DELETE
// and INSERT took 20 times longer; copying pages back with SQLite's backup
// API made every connection of the store's pool parse the schema again.)
// The triggers are persistent, not TEMP, because the store writes through
// the connections of its own pool; while explore_quiet says so, during a
// rollback, they log nothing.
type undoLog struct {
	ctx    context.Context
	conn   *sql.Conn // taken out of the store's pool; foreign keys off
	names  []string  // of the store's tables
	tables map[string]*undoTable
	stmts  []*sql.Stmt // every statement prepared, to close
	last   *sql.Stmt   // the newest log entry
	dirty  *sql.Stmt   // the tables changed since a mark
	forget *sql.Stmt   // drops the log since a mark
	quiet  *sql.Stmt   // silences (1) or wakes (0) the triggers
}

// undoTable holds the statements that roll one table back.
type undoTable struct {
	remove, restore *sql.Stmt
}

// newUndoLog installs the log on db. Changes made before it are the state
// every rollback can reach.
func newUndoLog(t testing.TB, ctx context.Context, db *store.DB) *undoLog {
	t.Helper()
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatalf("undo log: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	u := &undoLog{ctx: ctx, conn: conn, tables: map[string]*undoTable{}}
	err = u.install()
	t.Cleanup(func() {
		for _, s := range u.stmts {
			s.Close()
		}
	})
	if err != nil {
		t.Fatalf("undo log: %v", err)
	}
	return u
}

// withoutSync turns off waiting for the disk on every connection of the
// store's pool (the store opens them with synchronous=FULL): thousands of
// commits each waiting for an fsync would take most of the exploration's
// time, and a crash loses nothing but the test. It holds all the pool's
// connections at once, so that each gets the setting, and gives them back.
func withoutSync(ctx context.Context, db *store.DB) error {
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range db.SQL().Stats().MaxOpenConnections {
		c, err := db.SQL().Conn(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if _, err := c.ExecContext(ctx, `PRAGMA synchronous = OFF`); err != nil {
			return err
		}
	}
	return nil
}

// install creates the log tables and triggers and prepares the statements.
func (u *undoLog) install() error {
	tables, err := u.column(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return err
	}
	u.names = tables
	stmts := []string{`PRAGMA foreign_keys = OFF`,
		// AUTOINCREMENT: a seq is never used twice, so shadow rows of
		// forgotten entries need no deleting; nothing joins them again.
		`CREATE TABLE explore_undo (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, rid INTEGER NOT NULL, img INTEGER NOT NULL)`,
		`CREATE INDEX explore_undo_by_row ON explore_undo (tbl, rid, seq)`,
		`CREATE TABLE explore_quiet (quiet INTEGER NOT NULL)`,
		`INSERT INTO explore_quiet VALUES (0)`}
	cols, alias := map[string][]string{}, map[string]bool{}
	for _, table := range tables {
		if cols[table], err = u.column(`SELECT name FROM pragma_table_info(?)`, table); err != nil {
			return err
		}
		// A table whose key is an INTEGER PRIMARY KEY names its rowid.
		keys, err := u.column(`SELECT upper(type) FROM pragma_table_info(?) WHERE pk > 0`, table)
		if err != nil {
			return err
		}
		alias[table] = len(keys) == 1 && keys[0] == "INTEGER"
		stmts = append(stmts, undoSchema(table, cols[table])...)
	}
	for _, s := range stmts {
		if _, err := u.conn.ExecContext(u.ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	prepare := func(query string) *sql.Stmt {
		s, perr := u.conn.PrepareContext(u.ctx, query)
		if perr != nil && err == nil {
			err = fmt.Errorf("%s: %w", query, perr)
		}
		if s != nil {
			u.stmts = append(u.stmts, s)
		}
		return s
	}
	u.last = prepare(`SELECT COALESCE(MAX(seq), 0) FROM explore_undo`)
	u.dirty = prepare(`SELECT DISTINCT tbl FROM explore_undo WHERE seq > ?`)
	u.forget = prepare(`DELETE FROM explore_undo WHERE seq > ?`)
	u.quiet = prepare(`UPDATE explore_quiet SET quiet = ?`)
	for _, table := range tables {
		c, oc := strings.Join(cols[table], ", "), "o."+strings.Join(cols[table], ", o.")
		if !alias[table] {
			c, oc = "rowid, "+c, "u.rid, "+oc
		}
		u.tables[table] = &undoTable{
			remove: prepare(fmt.Sprintf(`DELETE FROM %s WHERE rowid IN (SELECT rid FROM explore_undo WHERE tbl = '%[1]s' AND seq > ?1)`, table)),
			restore: prepare(fmt.Sprintf(`INSERT INTO %[1]s (%[2]s) SELECT %[3]s
				FROM explore_undo u JOIN explore_old_%[1]s o ON o.explore_seq = u.seq
				WHERE u.tbl = '%[1]s' AND u.seq > ?1 AND u.img = 1
				AND u.seq = (SELECT MIN(v.seq) FROM explore_undo v WHERE v.tbl = '%[1]s' AND v.rid = u.rid AND v.seq > ?1)`, table, c, oc)),
		}
	}
	return err
}

// undoSchema returns the shadow table and triggers that log table's changes.
func undoSchema(table string, cols []string) []string {
	old := make([]string, len(cols))
	for i, c := range cols {
		old[i] = "old." + c
	}
	when := `WHEN (SELECT quiet FROM explore_quiet) = 0`
	image := fmt.Sprintf(`INSERT INTO explore_undo (tbl, rid, img) VALUES ('%s', old.rowid, 1);
		INSERT INTO explore_old_%[1]s VALUES (last_insert_rowid(), %s);`, table, strings.Join(old, ", "))
	return []string{
		fmt.Sprintf(`CREATE TABLE explore_old_%s (explore_seq INTEGER PRIMARY KEY, %s)`, table, strings.Join(cols, ", ")),
		fmt.Sprintf(`CREATE TRIGGER explore_%[1]s_insert AFTER INSERT ON %[1]s %[2]s BEGIN
			INSERT INTO explore_undo (tbl, rid, img) VALUES ('%[1]s', new.rowid, 0); END`, table, when),
		fmt.Sprintf(`CREATE TRIGGER explore_%[1]s_update BEFORE UPDATE ON %[1]s %[2]s BEGIN %[3]s END`, table, when, image),
		fmt.Sprintf(`CREATE TRIGGER explore_%[1]s_delete BEFORE DELETE ON %[1]s %[2]s BEGIN %[3]s END`, table, when, image),
	}
}

// mark returns the current moment, to roll back to later.
func (u *undoLog) mark() (int64, error) {
	var m int64
	err := u.last.QueryRowContext(u.ctx).Scan(&m)
	return m, err
}

// changedSince returns the tables changed since mark m.
func (u *undoLog) changedSince(m int64) ([]string, error) { return u.column(``, m) }

// rollback undoes every change made since mark m to tables, in one
// transaction. It begins and commits the transaction itself: database/sql
// would prepare every statement again inside a Tx.
func (u *undoLog) rollback(m int64, tables []string) (err error) {
	if len(tables) == 0 {
		return nil
	}
	if _, err := u.conn.ExecContext(u.ctx, `BEGIN IMMEDIATE`); err != nil {
		return err
	}
	defer func() {
		end := `COMMIT`
		if err != nil {
			end = `ROLLBACK`
		}
		if _, cerr := u.conn.ExecContext(u.ctx, end); err == nil {
			err = cerr
		}
	}()
	run := func(s *sql.Stmt, args ...any) {
		if err == nil {
			_, err = s.ExecContext(u.ctx, args...)
		}
	}
	run(u.quiet, 1)
	for _, table := range tables {
		t := u.tables[table]
		run(t.remove, m)
		run(t.restore, m)
	}
	run(u.forget, m)
	run(u.quiet, 0)
	if err != nil {
		return fmt.Errorf("undo: %w", err)
	}
	return nil
}

// digest sums up every row of every table of the store, to check that
// rolling back restores it exactly.
func (u *undoLog) digest() (string, error) {
	h := sha256.New()
	for _, table := range u.names {
		rows, err := u.conn.QueryContext(u.ctx, `SELECT * FROM `+table+` ORDER BY rowid`)
		if err != nil {
			return "", err
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return "", err
			}
			fmt.Fprintf(h, "%s%q\n", table, vals)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// column runs a query on the log's connection and returns its one column;
// an empty query means the tables changed since the mark in args.
func (u *undoLog) column(query string, args ...any) ([]string, error) {
	var rows *sql.Rows
	var err error
	if query == "" {
		rows, err = u.dirty.QueryContext(u.ctx, args...)
	} else {
		rows, err = u.conn.QueryContext(u.ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
