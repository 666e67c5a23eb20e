package store_test

import (
	"strings"
	"testing"

	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/storetest"
)

// The sweep reads candidates in batches after a cursor (due time, id). The
// index on (due time, id) must start its range at the cursor, not at its
// due time: a batch that read again every token sharing the cursor's due
// time would read them all again each batch. Row values do this on both
// engines, but for SQLite over the idle deadline's expression, where it
// ranges by the due time only (see expiryCandidates).
func TestExpirySweepStartsItsIndexRangeAtTheCursor(t *testing.T) {
	queries := store.ExpiryCandidatesQueries()
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		db, _, _ := open(t, dsn)
		conn, err := db.SQL().Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		explain, want := `EXPLAIN QUERY PLAN `, []string{
			"USING INDEX tokens_absolute_due ((expires_at,id)>(?,?)", "USING INDEX tokens_idle_due (<expr>>?"}
		if db.Engine() == "postgres" {
			// An empty table would be scanned whole: ask for the index.
			if _, err := conn.ExecContext(t.Context(), `SET enable_seqscan = off`); err != nil {
				t.Fatal(err)
			}
			explain, want = `EXPLAIN `, []string{"Index Cond: ((expires_at <= '1'::bigint) AND (ROW(expires_at, id) > ROW(",
				"AND (ROW((COALESCE(last_used_at, created_at) + idle_ttl), id) > ROW("}
		}
		for i, q := range queries {
			rows, err := conn.QueryContext(t.Context(), explain+q, int64(1), int64(0), "tok_", 50)
			if err != nil {
				t.Fatal(err)
			}
			var plan strings.Builder
			for rows.Next() {
				cols, _ := rows.Columns()
				vals := make([]any, len(cols))
				for j := range vals {
					vals[j] = new(any)
				}
				if err := rows.Scan(vals...); err != nil {
					t.Fatal(err)
				}
				line := *vals[len(vals)-1].(*any)
				plan.WriteString(strings.TrimSpace(toString(line)) + "\n")
			}
			rows.Close()
			if !strings.Contains(plan.String(), want[i]) || strings.Contains(plan.String(), "Filter") {
				t.Errorf("plan of pass %d lacks %q in its index condition:\n%s", i, want[i], plan.String())
			}
		}
	})
}

func toString(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	s, _ := v.(string)
	return s
}
