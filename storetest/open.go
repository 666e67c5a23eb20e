package storetest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith/internal/testclock"
	"github.com/keysmith/keysmith/store"
)

// migrationVersions returns the versions recorded in schema_migrations, in
// order.
func migrationVersions(t *testing.T, db *store.DB) []int64 {
	t.Helper()
	rows, err := db.SQL().QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func schemaVersion(t *testing.T, db *store.DB) int64 {
	t.Helper()
	v, err := db.SchemaVersion(t.Context())
	if err != nil {
		t.Fatalf("SchemaVersion: %v", err)
	}
	return v
}

func testOpenMigratesAnEmptyDatabase(t *testing.T, newDSN func(t testing.TB) string) {
	db := openStore(t, newDSN(t), testclock.New())
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if e := db.Engine(); e != "sqlite" && e != "postgres" {
		t.Errorf("Engine() = %q, want sqlite or postgres", e)
	}

	// Every embedded migration is recorded once, and the schema version is
	// the last of them.
	versions := migrationVersions(t, db)
	if len(versions) == 0 {
		t.Fatal("schema_migrations is empty after Open")
	}
	if want := store.MigrationVersions(); fmt.Sprint(versions) != fmt.Sprint(want) {
		t.Fatalf("schema_migrations versions %v, want the embedded migrations %v", versions, want)
	}
	if got, want := schemaVersion(t, db), versions[len(versions)-1]; got != want {
		t.Errorf("SchemaVersion() = %d, want %d", got, want)
	}
	// The tables the store works on exist and are empty.
	for _, table := range []string{"users", "bootstrap", "tokens", "events"} {
		var n int
		if err := db.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
			t.Errorf("table %s after Open: %v", table, err)
		} else if n != 0 {
			t.Errorf("table %s has %d rows after Open, want 0", table, n)
		}
	}
}

func testOpenAgainIsIdempotent(t *testing.T, newDSN func(t testing.TB) string) {
	fx := &fixture{t: t, root: t, ctx: t.Context(), dsn: newDSN(t), clock: testclock.New()}
	first, err := store.Open(t.Context(), fx.dsn, storeOptions(t, fx.clock))
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	closeFirst := closeAtEnd(t, first)
	fx.db = first
	owner := fx.addUser("owner@example.com")
	tok, _ := fx.createToken(owner)
	version, versions := schemaVersion(t, first), migrationVersions(t, first)

	check := func(name string, db *store.DB) {
		t.Helper()
		if got := schemaVersion(t, db); got != version {
			t.Errorf("%s: SchemaVersion() = %d, want %d as before", name, got, version)
		}
		if diff := cmp.Diff(versions, migrationVersions(t, db)); diff != "" {
			t.Errorf("%s: schema_migrations changed (-before +after):\n%s", name, diff)
		}
		got, err := db.FindTokenByID(t.Context(), tok.ID)
		if err != nil {
			t.Fatalf("%s: FindTokenByID: %v", name, err)
		}
		if diff := cmp.Diff(tok, got, storedFields); diff != "" {
			t.Errorf("%s: token changed (-before +after):\n%s", name, diff)
		}
	}
	// A second replica opens the database while the first is using it.
	check("second Open beside the first", openStore(t, fx.dsn, fx.clock))
	// And a restart opens it again.
	closeFirst()
	check("Open after Close", openStore(t, fx.dsn, fx.clock))
}

func testConcurrentOpensOfAFreshDatabaseAllSucceed(t *testing.T, newDSN func(t testing.TB) string) {
	const n = 4
	dsn, clock := newDSN(t), testclock.New()
	dbs := make([]*store.DB, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		dbs[i], errs[i] = store.Open(t.Context(), dsn, storeOptions(t, clock))
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d of %d: %v", i+1, n, err)
			continue
		}
		closeAtEnd(t, dbs[i])
	}
	if t.Failed() {
		t.FailNow()
	}
	versions := migrationVersions(t, dbs[0])
	for i, db := range dbs {
		if got, want := schemaVersion(t, db), versions[len(versions)-1]; got != want {
			t.Errorf("store %d: SchemaVersion() = %d, want %d", i+1, got, want)
		}
	}
	if want := store.MigrationVersions(); fmt.Sprint(versions) != fmt.Sprint(want) {
		t.Fatalf("schema_migrations versions %v, want each embedded migration once: %v", versions, want)
	}
}
