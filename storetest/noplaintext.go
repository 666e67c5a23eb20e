package storetest

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// AssertNoPlaintext fails the test if any needle (a secret, a key, private
// key material in any encoding the caller passes) appears in any column of
// any table of db. It is the check behind "stored only hashed / sealed".
func AssertNoPlaintext(t testing.TB, db *sql.DB, engine string, needles ...string) {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if engine == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) == 0 {
		t.Fatal("no tables found to scan")
	}
	for _, table := range tables {
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
				t.Fatal(err)
			}
			for i, v := range vals {
				var s string
				switch v := v.(type) {
				case []byte:
					s = string(v)
				case nil:
					continue
				default:
					s = fmt.Sprint(v)
				}
				for _, n := range needles {
					if n != "" && strings.Contains(s, n) {
						t.Errorf("table %s column %s holds a secret in the clear", table, cols[i])
					}
				}
			}
		}
		rows.Close()
	}
}
