package keysmith_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
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
	conn   *sql.Conn         // taken out of the store's pool; foreign keys off
	names  []string          // of the store's tables
	keys   map[string]string // each table's row key: rowid, or its primary key's columns joined (WITHOUT ROWID)
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
	u := &undoLog{ctx: ctx, conn: conn, tables: map[string]*undoTable{}, keys: map[string]string{}}
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
	// The FTS5 text indexes (virtual tables, which take no triggers, and
	// their shadow tables, some WITHOUT ROWID) are left as they are: a
	// rolled-back row's entry stays behind, which is harmless, since every
	// search checks what the index finds against the row itself.
	tables, err := u.column(`SELECT name FROM sqlite_master AS t WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
		AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'
		AND NOT EXISTS (SELECT 1 FROM sqlite_master AS v WHERE v.type = 'table' AND v.sql LIKE 'CREATE VIRTUAL TABLE%'
			AND t.name IN (v.name || '_data', v.name || '_idx', v.name || '_content', v.name || '_docsize', v.name || '_config'))
		ORDER BY name`)
	if err != nil {
		return err
	}
	u.names = tables
	// Tables the store's own triggers keep from tokens are not logged:
	// rolling tokens back fires those triggers, which bring them along
	// (a restored token gets a new token_search row and a new count
	// delta), so they are compared by what they mean, not row for row.
	tables = slices.DeleteFunc(slices.Clone(tables), func(t string) bool { return derivedTables[t] != "" })
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
		// A WITHOUT ROWID table's rows are known by their primary key,
		// logged as its columns joined by a unit separator.
		u.keys[table] = "rowid"
		plain, err := u.column(`SELECT name FROM sqlite_master WHERE name = ? AND upper(sql) NOT LIKE '%WITHOUT ROWID%'`, table)
		if err != nil {
			return err
		}
		if len(plain) == 0 {
			pk, err := u.column(`SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table)
			if err != nil {
				return err
			}
			u.keys[table] = "(%[1]s" + strings.Join(pk, " || char(31) || %[1]s") + ")"
			alias[table] = true // no rowid to restore
		}
		stmts = append(stmts, undoSchema(table, cols[table], u.keys[table])...)
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
			remove: prepare(fmt.Sprintf(`DELETE FROM %s WHERE %s IN (SELECT rid FROM explore_undo WHERE tbl = '%[1]s' AND seq > ?1)`,
				table, rowKey(u.keys[table], ""))),
			restore: prepare(fmt.Sprintf(`INSERT INTO %[1]s (%[2]s) SELECT %[3]s
				FROM explore_undo u JOIN explore_old_%[1]s o ON o.explore_seq = u.seq
				WHERE u.tbl = '%[1]s' AND u.seq > ?1 AND u.img = 1
				AND u.seq = (SELECT MIN(v.seq) FROM explore_undo v WHERE v.tbl = '%[1]s' AND v.rid = u.rid AND v.seq > ?1)`, table, c, oc)),
		}
	}
	return err
}

// undoSchema returns the shadow table and triggers that log table's changes.
// rowKey is the key expression of a table's row, its columns prefixed
// with prefix ("new.", "old." or "").
func rowKey(key, prefix string) string {
	if key == "rowid" {
		return prefix + "rowid"
	}
	return fmt.Sprintf(key, prefix)
}

func undoSchema(table string, cols []string, key string) []string {
	old := make([]string, len(cols))
	for i, c := range cols {
		old[i] = "old." + c
	}
	when := `WHEN (SELECT quiet FROM explore_quiet) = 0`
	image := fmt.Sprintf(`INSERT INTO explore_undo (tbl, rid, img) VALUES ('%s', %s, 1);
		INSERT INTO explore_old_%[1]s VALUES (last_insert_rowid(), %[3]s);`, table, rowKey(key, "old."), strings.Join(old, ", "))
	return []string{
		fmt.Sprintf(`CREATE TABLE explore_old_%s (explore_seq INTEGER PRIMARY KEY, %s)`, table, strings.Join(cols, ", ")),
		fmt.Sprintf(`CREATE TRIGGER explore_%[1]s_insert AFTER INSERT ON %[1]s %[2]s BEGIN
			INSERT INTO explore_undo (tbl, rid, img) VALUES ('%[1]s', %[3]s, 0); END`, table, when, rowKey(key, "new.")),
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

// derivedTables are the tables the store's triggers keep from tokens (the
// name index's ids, the summary's counts), each with the query of what it
// means.
var derivedTables = map[string]string{
	"token_counts": `SELECT type, state, SUM(n) FROM token_counts GROUP BY type, state HAVING SUM(n) <> 0 ORDER BY type, state`,
	"token_search": `SELECT token_id FROM token_search ORDER BY token_id`,
	"token_hours":  `SELECT e, u, SUM(n) FROM token_hours GROUP BY e, u HAVING SUM(n) <> 0 ORDER BY e, u`,
}

// digest sums up every row of every table of the store, to check that
// rolling back restores it exactly.
func (u *undoLog) digest() (string, error) {
	var all strings.Builder
	for _, table := range u.names {
		h := sha256.New()
		q := derivedTables[table]
		if q == "" {
			q = `SELECT * FROM ` + table + ` ORDER BY ` + rowKey(u.keys[table], "")
		}
		rows, err := u.conn.QueryContext(u.ctx, q)
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
		fmt.Fprintf(&all, "%s:%s\n", table, hex.EncodeToString(h.Sum(nil))[:12])
	}
	return all.String(), nil
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
