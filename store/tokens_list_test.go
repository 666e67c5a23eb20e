package store_test

import (
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/storetest"
)

// Every token list that may match many tokens reads each part of its page
// from an index, starting at the cursor: on SQLite, which has no
// statistics, no part scans the tokens table or an index from its start.
// (PostgreSQL chooses by statistics, which an empty table lacks: its plans
// are checked on a seeded database, with bench/scale and EXPLAIN ANALYZE.)
func TestTokenListsSeekTheirIndexes(t *testing.T) {
	dsn := storetest.DSN(t, "sqlite")
	db, _, _ := open(t, dsn)
	for _, s := range []keysmith.TokenSort{keysmith.SortCreatedAt, keysmith.SortName, keysmith.SortLastUsedAt, keysmith.SortExpiresAt} {
		for _, st := range []keysmith.TokenStatus{"", keysmith.TokenActive, keysmith.TokenDisabled, keysmith.TokenSuspicious,
			keysmith.TokenExpired, keysmith.TokenRevoked} {
			for _, after := range []bool{false, true} {
				f := keysmith.TokenFilter{Sort: s, Order: keysmith.OrderDesc, Status: st}
				q, args, err := store.TokenListQuery(db, f, after)
				if err != nil {
					t.Fatal(err)
				}
				plan := explainSQLite(t, db, q, args)
				for _, line := range strings.Split(plan, "\n") {
					// SCAN is the walk of a subquery's rows or of the page's
					// few; a SCAN of tokens reads it whole.
					if strings.Contains(line, "SCAN tokens") ||
						after && strings.Contains(line, "tokens_list_") && !strings.Contains(line, "tokens_list_due") && !strings.Contains(line, ",id)<(?,?)") {
						t.Errorf("sort=%s status=%q after=%v: %q in the plan:\n%s", s, st, after, line, plan)
					}
				}
			}
		}
	}
}

// explainSQLite returns SQLite's plan of q, one step a line.
func explainSQLite(t *testing.T, db *store.DB, q string, args []any) string {
	t.Helper()
	rows, err := db.SQL().QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "\n")
	}
	return plan.String()
}

// On PostgreSQL, asked not to scan the table, the planner reads each part
// from a list index with the cursor in its index condition: the indexed
// expressions match the queries'.
func TestTokenListsSeekTheirIndexesOnPostgres(t *testing.T) {
	dsn := storetest.DSN(t, "postgres")
	db, _, _ := open(t, dsn)
	conn, err := db.SQL().Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	for _, s := range []keysmith.TokenSort{keysmith.SortCreatedAt, keysmith.SortName, keysmith.SortLastUsedAt, keysmith.SortExpiresAt} {
		for _, st := range []keysmith.TokenStatus{"", keysmith.TokenActive, keysmith.TokenRevoked} {
			f := keysmith.TokenFilter{Sort: s, Order: keysmith.OrderDesc, Status: st}
			q, args, err := store.TokenListQuery(db, f, true)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := conn.QueryContext(t.Context(), `EXPLAIN `+q, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan strings.Builder
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan.WriteString(line + "\n")
			}
			rows.Close()
			p, seeks := plan.String(), 0
			for _, line := range strings.Split(p, "\n") {
				if strings.Contains(line, "Index Cond: ((CASE") && strings.Contains(line, "AND (ROW(") {
					seeks++
				}
			}
			if n := strings.Count(p, "using tokens_list_"); n == 0 || n != seeks {
				t.Errorf("sort=%s status=%q: no list index seeks from the cursor:\n%s", s, st, p)
			}
		}
	}
}
