package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// The CLI over HTTP is reached through main's run; logs and signing-keys keep
// their database mode unless a server is named.
func TestHTTPCommandsGoToTheCLI(t *testing.T) {
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
	} {
		if got := useHTTPCLI(c.args); got != c.http {
			t.Errorf("useHTTPCLI(%v) = %v", c.args, got)
		}
	}
}
