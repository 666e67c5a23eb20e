package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith/bench/internal/load"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/storetest"
)

// TestMain lets the test binary play the hello process, as the scale
// binary does, so -measure starts the real separate process.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == load.HelloCommand {
		os.Exit(load.RunHello(os.Args[2:], os.Stderr))
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binDir holds the keysmith binary the tests build once.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

// keysmithBin builds ./cmd/keysmith once for every test.
func keysmithBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binError = os.MkdirTemp("", "keysmith-scale-test-"); binError == nil {
			binPath, binError = load.BuildKeysmith(context.Background(), binDir)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// smallConfig is the tool at a small N with tiny durations.
func smallConfig(t *testing.T, dsn string) config {
	t.Helper()
	cfg, err := parseFlags([]string{"-db", dsn, "-tokens", "2000", "-sample", filepath.Join(t.TempDir(), "sample.txt"),
		"-measure", "-bin", keysmithBin(t), "-c", "4", "-d", "300ms", "-warmup", "100ms", "-probe", "2s", "-maintenance", "1s", "-create-for", "300ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestScale(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		cfg := smallConfig(t, dsn)
		s, err := seed(t.Context(), cfg, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("SeedsTheHistoryTheAPIWouldWrite", func(t *testing.T) {
			checkSeeded(t, dsn, cfg, s)
		})
		t.Run("RefusesADatabaseThatIsNotEmpty", func(t *testing.T) {
			if _, err := seed(t.Context(), cfg, io.Discard); err == nil || !strings.Contains(err.Error(), "empty") {
				t.Errorf("seeding twice: %v, want a refusal that asks for an empty database", err)
			}
		})
		t.Run("MeasuresVerifyProbeAndReadsThroughTheRealServer", func(t *testing.T) {
			res, err := measureAll(t.Context(), cfg, s, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range res.Verify {
				if v.Res.Requests == 0 || v.Res.Errors != 0 {
					t.Errorf("%s: %d requests, %d failed (%v); want some, none: every sampled token verifies valid",
						v.Name, v.Res.Requests, v.Res.Errors, v.Res.ErrorKind)
				}
			}
			if res.Probe.Writes < 3 || res.Probe.Failed != 0 {
				t.Errorf("probe: %d writes, %d failed (%v); want several, none", res.Probe.Writes, res.Probe.Failed, res.Probe.Errors)
			}
			for _, r := range res.Reads {
				if r.Items == 0 {
					t.Errorf("read %s answered no items", r.Path)
				}
			}
			if res.RSSKiB <= 0 {
				t.Errorf("RSS %d KiB, want the server's", res.RSSKiB)
			}
			var b strings.Builder
			if err := res.writeTable(&b, cfg); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"| verify, uniform over", "| RSS after the verify load", "| probe max / p99 / p50", "/v1/logs?q=orchid"} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, b.String())
				}
			}
			// The server pruned the backlog older than the retention; the
			// chain still verifies from the anchor.
			db := openStore(t, dsn)
			c, err := db.VerifyEvents(t.Context())
			if err != nil || c.Problem != nil || c.AnchorSeq == 0 {
				t.Errorf("after measuring: %+v, %v; want an intact chain from a pruning anchor", c, err)
			}
		})
	})
}

// checkSeeded checks the chain and the spread of what seeding wrote.
func checkSeeded(t *testing.T, dsn string, cfg config, s *seeded) {
	t.Helper()
	db := openStore(t, dsn)
	c, err := db.VerifyEvents(t.Context())
	if err != nil || c.Problem != nil {
		t.Fatalf("VerifyEvents: %+v, %v; want an intact chain", c, err)
	}
	if c.Events != s.Events {
		t.Errorf("chain holds %d events, seeding counted %d", c.Events, s.Events)
	}
	if ratio := float64(s.Events) / float64(cfg.tokens); ratio < 1 || ratio > 1.6 {
		t.Errorf("%.2f events per token, want about one", ratio)
	}
	retention := time.Now().Add(-30 * 24 * time.Hour).UnixMicro()
	for _, q := range []struct {
		what, sql string
		min, max  float64 // shares of the tokens
		arg       []any
	}{
		{"tokens", `SELECT COUNT(*) FROM tokens`, 1, 1.001, nil},
		{"service tokens", `SELECT COUNT(*) FROM tokens WHERE type = 'service'`, 0.15, 0.35, nil},
		{"used", `SELECT COUNT(*) FROM tokens WHERE last_used_at IS NOT NULL`, 0.6, 0.9, nil},
		{"revoked", `SELECT COUNT(*) FROM tokens WHERE revoked_at IS NOT NULL`, 0.02, 0.08, nil},
		{"disabled", `SELECT COUNT(*) FROM tokens WHERE disabled_at IS NOT NULL`, 0.01, 0.06, nil},
		{"expiry recorded", `SELECT COUNT(*) FROM tokens WHERE expiry_recorded_at IS NOT NULL`, 0.1, 0.5, nil},
		{"absolute expiry", `SELECT COUNT(*) FROM tokens WHERE expires_at IS NOT NULL`, 0.4, 0.6, nil},
		{"with meta", `SELECT COUNT(*) FROM tokens WHERE meta <> '{}'`, 0.5, 0.8, nil},
		{"events older than 30 days", `SELECT COUNT(*) FROM events WHERE time < $1`, 0.15, 0.35, []any{retention}},
	} {
		var n float64
		if err := db.SQL().QueryRowContext(t.Context(), q.sql, q.arg...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q.what, err)
		}
		if share := n / float64(cfg.tokens); share < q.min || share > q.max {
			t.Errorf("%s: %.3f of the tokens, want %.2f to %.2f", q.what, share, q.min, q.max)
		}
	}
	var roles int
	if err := db.SQL().QueryRowContext(t.Context(), `SELECT COUNT(DISTINCT role) FROM users`).Scan(&roles); err != nil || roles < 5 {
		t.Errorf("users of %d roles (%v), want at least 5", roles, err)
	}
	lines, err := os.ReadFile(cfg.sample)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(lines), "\n"); n != s.Sampled || n < cfg.tokens/3 || n != s.Live {
		t.Errorf("sample of %d tokens (%d live, %d sampled); want every live token, at least a third", n, s.Live, s.Sampled)
	}
	if !strings.HasPrefix(s.AdminToken, "ks_") {
		t.Errorf("admin token %q is not an API token", s.AdminToken)
	}
}

func openStore(t *testing.T, dsn string) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, dsn, store.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestParseFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-db", "x", "-tokens", "0"},
		{"-db", "x", "-measure"},
		{"-db", "x", "-d", "1h"},
		{"-db", "x", "extra"},
		{"-db", "x", "-seeded", "admin.txt"},
	} {
		t.Run("Rejects"+strings.Join(args, ""), func(t *testing.T) {
			if _, err := parseFlags(args, io.Discard); err == nil {
				t.Errorf("parseFlags(%q) accepted it", args)
			}
		})
	}
}
