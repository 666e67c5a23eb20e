package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// verifyAs verifies token as a caller at ip (the server trusts 127.0.0.0/8
// as a proxy, so X-Forwarded-For names the caller) and returns the code.
func verifyAs(t *testing.T, s *apptest.Server, ip, token string) string {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL+"/v1/verify", strings.NewReader(`{"token":"`+token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	return s.Send(req).Want(t, http.StatusOK).String("code")
}

// Anyone can mint well-formed tokens (the checksum is public), each a
// database lookup: the lookups one address causes are bounded by the
// unknown_tokens rate limit, and past it the address is answered from the
// caches only: a token they do not hold is RATE_LIMITED (it may be real), not
// NOT_FOUND.
func TestUnknownTokens(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{TrustedProxies: mustPrefixes(t, "127.0.0.0/8")})
		s.Do("PUT", "/v1/settings/rate-limits", s.AdminToken, map[string]any{"unknown_tokens": 5}).Want(t, http.StatusOK)
		const flooder, bystander = "198.51.100.1", "198.51.100.2"
		// A token's creation is published before the API answers, and a
		// store skips the echo of its own changes through PostgreSQL's
		// LISTEN: no later notice drops an entry this test relies on.
		newSecret := func(name string) string {
			t.Helper()
			_, secret := newToken(t, s, s.AdminToken, name)
			return secret
		}
		known := newSecret("in use")
		if c := verifyAs(t, s, flooder, known); c != "VALID" { // found: costs no budget
			t.Fatalf("a real token: %s", c)
		}

		t.Run("AnAddressPastItsBudgetIsAnsweredFromTheCachesOnly", func(t *testing.T) {
			for i := range 8 {
				minted, _ := keysmith.NewAPITokenSecret()
				want := "NOT_FOUND"
				if i >= 5 {
					want = "RATE_LIMITED"
				}
				if c := verifyAs(t, s, flooder, minted.Reveal()); c != want {
					t.Fatalf("minted token %d: %s, want %s", i+1, c, want)
				}
			}
			if c := verifyAs(t, s, flooder, known); c != "VALID" {
				t.Errorf("a cached real token past the budget: %s, want VALID", c)
			}
			fresh := newSecret("not yet cached")
			if c := verifyAs(t, s, flooder, fresh); c != "RATE_LIMITED" {
				t.Errorf("an uncached token past the budget: %s, want RATE_LIMITED (no lookup, and no false NOT_FOUND)", c)
			}
			s.Do("GET", "/v1/me", fresh, nil).Want(t, http.StatusOK) // from 127.0.0.1, whose budget is untouched
			if c := verifyAs(t, s, bystander, fresh); c != "VALID" {
				t.Errorf("the same token from another address: %s, want VALID", c)
			}
			if c := verifyAs(t, s, flooder, fresh); c != "VALID" {
				t.Errorf("once cached, from the flooding address: %s, want VALID", c)
			}
			later := newSecret("after a refill")
			s.Clock.Advance(time.Minute)
			if c := verifyAs(t, s, flooder, later); c != "VALID" {
				t.Errorf("a minute later: %s, want VALID", c)
			}
		})

		t.Run("MintedSessionCookiesCostTheSameBudget", func(t *testing.T) {
			const minter = "198.51.100.3"
			for i := range 8 {
				minted, _ := keysmith.NewSessionSecret()
				want := http.StatusUnauthorized
				if i >= 5 {
					want = http.StatusTooManyRequests
				}
				if r := from(t, s, minter, "GET", "/v1/me", "", minted.Reveal(), nil); r.Status != want {
					t.Fatalf("minted session %d: %d %s, want %d", i+1, r.Status, r.Raw, want)
				}
			}
			createUser(t, s, "cookie-budget@example.com", "developer")
			cookie := signIn(t, s, "cookie-budget@example.com", "pw cookie-budget@example.com")
			for range 8 { // more than the budget: a session that exists gives its unit back
				from(t, s, "198.51.100.4", "GET", "/v1/me", "", cookie, nil).Want(t, http.StatusOK)
			}
		})
	})
}
