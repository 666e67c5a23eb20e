//go:build unix

package app_test

import (
	"net/http"
	"os"
	"syscall"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// TestSQLiteFilesAreOwnerOnly: the database holds argon2 hashes and the
// digests of every credential, so the file and its WAL and shared-memory
// companions are created readable by their owner only, whatever the umask.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022) // the common default, which leaves files world-readable
	t.Cleanup(func() { syscall.Umask(old) })
	dsn := storetest.SQLite(t)
	s := apptest.Start(t, dsn, app.Config{})
	newToken(t, s, s.AdminToken, "a write, so the WAL holds something")
	s.Do("GET", "/v1/tokens", s.AdminToken, nil).Want(t, http.StatusOK)
	for _, path := range []string{dsn, dsn + "-wal", dsn + "-shm", app.MasterKeyFile(dsn)} {
		st, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want -rw------- (0600)", path, st.Mode().Perm())
		}
	}
}
