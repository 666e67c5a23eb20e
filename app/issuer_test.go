package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// wantAccepted checks that a token from one server verifies and
// introspects on another, with the issuer iss.
func wantAccepted(t *testing.T, to *apptest.Server, c client, tok, iss string) {
	t.Helper()
	if code := verifyCode(t, to, tok); code != "VALID" {
		t.Errorf("verify on %s: %s, want VALID", to.URL, code)
	}
	if in := introspect(t, to, c, tok); in.Body["active"] != true || in.String("iss") != iss {
		t.Errorf("introspect on %s: %s, want active with iss %s", to.URL, in.Raw, iss)
	}
}

// TestIssuerIsDecidedOnce: the iss of access tokens is decided at the first
// start (from --issuer, or http:// and --addr) and stored in the database;
// later starts, on any replica and at any address, use the stored one unless
// --issuer replaces it. So replicas that differ only in --addr accept each
// other's tokens.
func TestIssuerIsDecidedOnce(t *testing.T) {
	t.Run("ReplicasStartedWithoutIssuerAcceptEachOthersTokens", func(t *testing.T) {
		a := apptest.Start(t, storetest.Postgres(t), app.Config{})
		b := apptest.StartReplica(t, a, app.Config{})
		c := newClient(t, a, a.AdminToken, map[string]any{})
		wantAccepted(t, b, c, accessToken(t, a, c), a.URL)
		wantAccepted(t, a, c, accessToken(t, b, c), a.URL)
	})

	t.Run("IssuerFlagReplacesTheStoredOneWithALogLine", func(t *testing.T) {
		a := apptest.Start(t, storetest.Postgres(t), app.Config{})
		var log logBuffer
		b := apptest.StartReplica(t, a, app.Config{Issuer: "https://keysmith.example/", Log: log.logger()})
		if l := log.String(); !strings.Contains(l, "replaces the stored issuer") || !strings.Contains(l, a.URL) ||
			!strings.Contains(l, "https://keysmith.example") {
			t.Errorf("the log does not say that --issuer replaced %s:\n%s", a.URL, l)
		}
		c := newClient(t, b, b.AdminToken, map[string]any{})
		tok := accessToken(t, b, c)
		// A replica started later without --issuer takes the new one.
		var quiet logBuffer
		d := apptest.StartReplica(t, a, app.Config{Log: quiet.logger()})
		wantAccepted(t, d, c, tok, "https://keysmith.example")
		wantAccepted(t, b, c, accessToken(t, d, c), "https://keysmith.example")
		// Giving the stored issuer again replaces nothing.
		apptest.StartReplica(t, a, app.Config{Issuer: "https://keysmith.example", Log: quiet.logger()})
		if strings.Contains(quiet.String(), "replaces the stored issuer") {
			t.Errorf("no change was logged as a replacement:\n%s", quiet.String())
		}
	})

	t.Run("SQLiteRestartKeepsTheIssuer", func(t *testing.T) {
		s := apptest.Start(t, storetest.SQLite(t), app.Config{})
		c := newClient(t, s, s.AdminToken, map[string]any{})
		tok := accessToken(t, s, c)
		again := apptest.Restart(t, s, app.Config{})
		if again.URL == s.URL {
			t.Fatalf("the restart listens at the same address, %s; the test needs another", s.URL)
		}
		wantAccepted(t, again, c, tok, s.URL)
		wantAccepted(t, again, c, accessToken(t, again, c), s.URL)
	})

	t.Run("IssuerThatIsNotAURLRefusesToStart", func(t *testing.T) {
		for _, bad := range []string{"keysmith.example", "ftp://keysmith.example", "https://", "https://keysmith.example/?x=1"} {
			a, err := app.Open(context.Background(), app.Config{DB: storetest.SQLite(t), Log: quiet(), Issuer: bad})
			if err == nil {
				a.Close()
			}
			if err == nil || !strings.Contains(err.Error(), "--issuer") || !strings.Contains(err.Error(), "https://") {
				t.Errorf("--issuer %q: %v, want a refusal that shows the expected form", bad, err)
			}
		}
	})
}
