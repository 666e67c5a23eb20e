package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/storetest"
)

// keysmith runs the binary and returns stdout, stderr and the exit status.
func keysmith(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestLogsCommand(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		if _, stderr, code := keysmith(t, "init", "--db", dsn, "--email", "ops@example.com"); code != 0 {
			t.Fatalf("init: %d %s", code, stderr)
		}

		t.Run("PrintsAlignedLinesForPeople", func(t *testing.T) {
			out, stderr, code := keysmith(t, "logs", "--db", dsn)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "SEQ") {
				t.Fatalf("exit %d, stderr %q, output:\n%s", code, stderr, out)
			}
			col := strings.Index(lines[0], "TYPE")
			if !strings.HasPrefix(lines[1][col:], "user.created") || !strings.HasPrefix(lines[2][col:], "api_token.created") {
				t.Errorf("columns not aligned under TYPE:\n%s", out)
			}
		})

		t.Run("PrintsNDJSONWithJSON", func(t *testing.T) {
			out, _, code := keysmith(t, "logs", "--db", dsn, "--json", "--type", "api_token.created", "--since", "2000-01-01")
			sc := bufio.NewScanner(strings.NewReader(out))
			n := 0
			for sc.Scan() {
				var ev map[string]any
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev["type"] != "api_token.created" || ev["hash"] == "" {
					t.Errorf("line %q: %v", sc.Text(), err)
				}
				n++
			}
			if code != 0 || n != 1 {
				t.Errorf("exit %d, %d lines:\n%s", code, n, out)
			}
		})

		t.Run("VerifySaysIntact", func(t *testing.T) {
			out, stderr, code := keysmith(t, "logs", "verify", "--db", dsn)
			if code != 0 || !strings.HasPrefix(out, "chain intact: 2 events") {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
			}
		})

		t.Run("VerifyNamesTheModifiedEvent", func(t *testing.T) {
			db, err := store.Open(context.Background(), dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var id string
			db.SQL().QueryRow(`SELECT id FROM events WHERE seq = 1`).Scan(&id)
			if _, err := db.SQL().Exec(`UPDATE events SET data = REPLACE(data, 'ops@', 'eve@') WHERE seq = 1`); err != nil {
				t.Fatal(err)
			}
			db.Close()
			out, stderr, code := keysmith(t, "logs", "verify", "--db", dsn)
			if code != 1 || !strings.Contains(stderr, "event seq 1 ("+id+") modified") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 naming seq 1 (%s)", code, out, stderr, id)
			}
		})
	})
}

func TestLogsCommandMistakes(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"BadSince", []string{"logs", "--since", "last tuesday"}, 1, "is not a time"},
		{"UntilBeforeSince", []string{"logs", "--since", "2030-01-02", "--until", "2030-01-01"}, 1, "until must be later"},
		{"NegativeRetention", []string{"serve", "--log-retention-days", "-1"}, 1, "--log-retention-days"},
		{"ZeroVerifyCache", []string{"serve", "--verify-cache", "0"}, 1, "--verify-cache 0: must be at least 1"},
		{"VerifyExtraArgument", []string{"logs", "verify", "now"}, 2, "unexpected argument"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, c.args...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != c.code {
				t.Fatalf("exit: %v, want status %d; output:\n%s", err, c.code, out)
			}
			if !strings.Contains(string(out), c.says) {
				t.Errorf("output does not say %q:\n%s", c.says, out)
			}
		})
	}
}
