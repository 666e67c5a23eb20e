package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// TestReadyzNamesNoInternals: /readyz is often public (load balancers probe
// it), so it answers only fixed words; what went wrong, with addresses and
// driver errors, goes to the log.
func TestReadyzNamesNoInternals(t *testing.T) {
	want := func(t *testing.T, r apptest.Response, body map[string]string) {
		t.Helper()
		got := map[string]string{}
		if err := json.Unmarshal(r.Raw, &got); err != nil {
			t.Fatalf("readyz: %s: %v", r.Raw, err)
		}
		if len(got) != len(body) {
			t.Errorf("readyz answered %s, want %v", r.Raw, body)
		}
		for k, v := range body {
			if got[k] != v {
				t.Errorf("readyz answered %s, want %v", r.Raw, body)
				break
			}
		}
	}

	t.Run("RedisDownIsDegradedWithTheDetailLogged", func(t *testing.T) {
		var log logBuffer
		s := apptest.Start(t, storetest.SQLite(t), app.Config{Redis: "redis://127.0.0.1:1", Log: log.logger()})
		r := s.Do("GET", "/readyz", "", nil).Want(t, http.StatusOK)
		want(t, r, map[string]string{"status": "degraded", "database": "ok", "rate_limits": "unavailable"})
		for _, internal := range []string{"127.0.0.1", "dial", "refused", "since"} {
			if strings.Contains(string(r.Raw), internal) {
				t.Errorf("readyz shows %q: %s", internal, r.Raw)
			}
		}
		if l := log.String(); !strings.Contains(l, "127.0.0.1:1") {
			t.Errorf("the log does not say why Redis is unavailable:\n%s", l)
		}
	})

	t.Run("DatabaseDownIsUnavailableWithTheDetailLogged", func(t *testing.T) {
		var log logBuffer
		s := apptest.Start(t, storetest.SQLite(t), app.Config{Log: log.logger()})
		s.App.Store.SQL().Close()
		r := s.Do("GET", "/readyz", "", nil).Want(t, http.StatusServiceUnavailable)
		want(t, r, map[string]string{"status": "unavailable", "database": "unavailable"})
		if l := log.String(); !strings.Contains(l, "database is closed") {
			t.Errorf("the log does not say why the database is unavailable:\n%s", l)
		}
	})
}
