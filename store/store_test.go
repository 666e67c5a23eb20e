package store_test

import (
	"testing"

	"github.com/keysmith/keysmith/storetest"
)

// TestStore runs the store contract against every engine, each case on a
// fresh database: an SQLite file in a temp dir, or a PostgreSQL database
// created on the test server and dropped afterwards.
func TestStore(t *testing.T) {
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			storetest.Run(t, func(t testing.TB) string { return storetest.DSN(t, engine) })
		})
	}
}
