// Package storetest is the contract every Keysmith store must keep, as one
// test suite run against each engine, and the helpers that give tests real
// databases: a fresh SQLite file, or a fresh PostgreSQL database on the local
// server (dropped when the test ends).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith/store"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for creating databases
)

// DefaultPostgres is the server tests use unless KEYSMITH_TEST_POSTGRES names
// another; its database is only used to create and drop per-test databases.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Engines lists the engines every storage-dependent test runs against.
var Engines = []string{"sqlite", "postgres"}

// DSN returns the DSN of a fresh, empty database of the engine for t.
func DSN(t testing.TB, engine string) string {
	t.Helper()
	switch engine {
	case "sqlite":
		return SQLite(t)
	case "postgres":
		return Postgres(t)
	}
	t.Fatalf("unknown engine %q", engine)
	return ""
}

// ForEachEngine runs f as a subtest per engine, each with a fresh database
// (on SQLite already migrated, see MigratedSQLite);
// the subtests run in parallel, after the calling function returns.
func ForEachEngine(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Helper()
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			// The engines' runs share nothing: they overlap, so that one
			// waits on its disk while the other computes.
			t.Parallel()
			dsn := ""
			if engine == "sqlite" {
				dsn = MigratedSQLite(t)
			} else {
				dsn = DSN(t, engine)
			}
			f(t, dsn)
		})
	}
}

// sqliteTemplate is an empty SQLite database at the current schema, made
// once per test process and kept in memory.
var sqliteTemplate = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "keysmith-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "keysmith.db")
	db, err := store.Open(context.Background(), path, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil { // the last connection's close empties the WAL into the file
		return nil, err
	}
	return os.ReadFile(path)
})

// MigratedSQLite returns the path of a new SQLite file in the test's temp
// dir holding an empty database at the current schema, as Open leaves a
// new one: a copy of one migrated once per test process, since applying
// every migration again for each test costs most of a second under -race.
func MigratedSQLite(t testing.TB) string {
	t.Helper()
	data, err := sqliteTemplate()
	if err != nil {
		t.Fatalf("migrate the template SQLite database: %v", err)
	}
	path := SQLite(t)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// SQLite returns the path of a new SQLite file in the test's temp dir.
func SQLite(t testing.TB) string {
	return filepath.Join(t.TempDir(), "keysmith.db")
}

// Postgres creates a fresh database on the test server and returns its DSN;
// the database is dropped when the test ends. When the server cannot be
// reached the test is skipped, unless CI is set: there, it fails.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("KEYSMITH_TEST_POSTGRES")
	if base == "" {
		base = DefaultPostgres
	}
	admin, err := sql.Open("pgx", base)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at %s is required under CI and cannot be reached: %v", base, err)
		}
		t.Skipf("PostgreSQL at %s not reachable (set KEYSMITH_TEST_POSTGRES): %v", base, err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "keysmith_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("KEYSMITH_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
