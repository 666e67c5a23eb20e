package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// The CLI over HTTP is reached through main's run; logs and signing-keys keep
// their database mode unless a server is named.
func TestHTTPCommandsGoToTheCLI(t *testing.T) {
	home := t.TempDir() // no one logged in, whatever the machine's own config holds
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("HOME", home)
	t.Setenv("KEYSMITH_URL", "")
	t.Setenv("KEYSMITH_PROFILE", "")
	s := apptest.Start(t, storetest.SQLite(t), app.Config{})
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"tokens", "list", "--server", s.URL, "--token", s.AdminToken, "--quiet"}, &out, &errb); code != 0 ||
		!strings.HasPrefix(out.String(), "tok_") {
		t.Fatalf("tokens list: exit %d, %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"logs", "--server", s.URL, "--token", s.AdminToken, "--json"}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), `"type":"user.created"`) {
		t.Fatalf("logs --server: exit %d, %q %q", code, out.String(), errb.String())
	}
	for _, c := range []struct {
		args []string
		http bool
	}{
		{[]string{"tokens", "list"}, true},
		{[]string{"logs"}, false},
		{[]string{"logs", "--db", "x.db"}, false},
		{[]string{"logs", "--server", "http://x"}, true},
		{[]string{"logs", "--server=http://x", "--db=x.db"}, false},
		{[]string{"logs", "verify", "--server", "http://x"}, false},
		{[]string{"signing-keys", "list", "--profile", "p"}, true},
		{[]string{"signing-keys", "list"}, false},
		{[]string{"serve"}, false},
		// Connection flags may come before the command.
		{[]string{"--server", "http://x", "tokens", "list"}, true},
		{[]string{"--server=http://x", "--json", "logs"}, true},
		{[]string{"--json", "logs"}, false},
	} {
		if got := useHTTPCLI(c.args); got != c.http {
			t.Errorf("useHTTPCLI(%v) = %v", c.args, got)
		}
	}
}

// Someone logged in (a default profile): logs and signing-keys go to that
// server unless --db names a database.
func TestLoggedInLogsGoToTheServer(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("HOME", home)
	t.Setenv("KEYSMITH_URL", "")
	t.Setenv("KEYSMITH_PROFILE", "")
	s := apptest.Start(t, storetest.SQLite(t), app.Config{})
	writeProfile(t, home, s.URL, s.AdminToken) // as keysmith login leaves it
	var out, errb bytes.Buffer
	if !useHTTPCLI([]string{"logs"}) || useHTTPCLI([]string{"logs", "--db", "x.db"}) {
		t.Fatal("with a profile, logs should go to its server, and --db to the database")
	}
	if code := run(context.Background(), []string{"logs", "--json"}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), `"type":"user.created"`) {
		t.Fatalf("logs with a profile: exit %d, %q %q", code, out.String(), errb.String())
	}
}

func writeProfile(t *testing.T, home, server, token string) {
	t.Helper()
	dir := filepath.Join(home, "keysmith")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"profiles": map[string]any{"default": map[string]string{"server": server, "token": token}}})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}
