package web_test

import (
	"strings"
	"testing"
	"time"
)

// TestCreatingASecretAfterTheWindowAsksForThePassword: past the
// re-authentication window a form that creates a secret answers with a
// password prompt carrying the form; a wrong password asks again, the right
// one completes the action once.
func TestCreatingASecretAfterTheWindowAsksForThePassword(t *testing.T) {
	b := signedInAdmin(t)
	b.Server.Clock.Advance(6 * time.Minute)
	before := b.Server.Do("GET", "/v1/tokens/summary", b.Server.AdminToken, nil).Body["total"]

	b.Open("/tokens/new")
	b.Run(sendKeys("#name", "after a coffee"))
	b.Submit(`form[action="/tokens"] button[type=submit]`)
	if got := b.Text("h1"); got != "Confirm it's you" {
		t.Fatalf("after the window, creating a token shows %q, want the password prompt", got)
	}
	shots(b, "reauth")
	b.Run(sendKeys("#reauth-password", "not my password"))
	b.Submit(`#reauth-password ~ .actions button`)
	if got := b.Text(".alert-error"); !strings.Contains(got, "wrong") {
		t.Fatalf("wrong password: %q", got)
	}
	b.Run(sendKeys("#reauth-password", "olga's password"))
	b.Submit(`#reauth-password ~ .actions button`)
	if got := b.Body(); !strings.Contains(got, "Token created successfully") {
		t.Fatalf("after the password: %q", got)
	}
	after := b.Server.Do("GET", "/v1/tokens/summary", b.Server.AdminToken, nil).Body["total"]
	if after.(float64) != before.(float64)+1 {
		t.Errorf("tokens: %v before, %v after; want one more", before, after)
	}
}
