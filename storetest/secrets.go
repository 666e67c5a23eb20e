package storetest

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// AssertNoSecret fails t if any column of any table holds one of the needles
// (a secret, or a hash of one), except the columns listed in allowed as
// "table.column" (for example "tokens.hash", where a hash belongs). It reads
// every row, so it also covers tables added after it was written.
func AssertNoSecret(t testing.TB, db *sql.DB, allowed []string, needles ...string) {
	t.Helper()
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, table := range tables(t, db) {
		rows, err := db.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("scan %s: %v", table, err)
			}
			for i, v := range vals {
				s := fmt.Sprint(v)
				if b, isBytes := v.([]byte); isBytes {
					s = string(b)
				}
				for _, n := range needles {
					if n != "" && strings.Contains(s, n) && !ok[table+"."+cols[i]] {
						t.Errorf("%s.%s holds a secret or its hash: %.80q", table, cols[i], s)
					}
				}
			}
		}
		rows.Close()
	}
}

// tables lists the tables of either engine.
func tables(t testing.TB, db *sql.DB) []string {
	t.Helper()
	q := `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	rows, err := db.Query(q)
	if err != nil { // SQLite has no information_schema
		rows, err = db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	}
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		out = append(out, name)
	}
	if len(out) == 0 {
		t.Fatal("list tables: none found")
	}
	return out
}
