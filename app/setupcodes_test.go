package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// postSetup sends the setup form as a browser would, without following the
// redirect.
func postSetup(t *testing.T, s *apptest.Server, code, password string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/setup", strings.NewReader(url.Values{"code": {code}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestSetupCode: the first admin's setup code sets a password once, within
// an hour, on both engines; wrong codes count as failed sign-ins.
func TestSetupCode(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		_, code, err := s.App.Service.CreateSetupCode(t.Context(), s.AdminID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(code.Reveal(), keysmith.SetupCodePrefix) {
			t.Fatalf("setup code %q lacks its prefix", code.Reveal())
		}

		t.Run("ATooShortPasswordIsRefusedAndTheCodeKept", func(t *testing.T) {
			if r := postSetup(t, s, code.Reveal(), "short"); r.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", r.StatusCode)
			}
		})
		t.Run("TheCodeSetsThePasswordOnce", func(t *testing.T) {
			r := postSetup(t, s, code.Reveal(), "the first admin's password")
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/sign-in?done=setup" {
				t.Fatalf("status %d, Location %q", r.StatusCode, r.Header.Get("Location"))
			}
			signIn(t, s, "admin@localhost", "the first admin's password")
			if r := postSetup(t, s, code.Reveal(), "another password"); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("second use: status %d, want 401", r.StatusCode)
			}
			items, _ := logs(t, s, s.AdminToken, url.Values{"type": {string(keysmith.EventSetupCodeUsed)}})
			if len(items) != 1 {
				t.Errorf("%d setup_code.used events, want 1", len(items))
			}
		})
		t.Run("ACodeExpiresAfterAnHour", func(t *testing.T) {
			_, late, err := s.App.Service.CreateSetupCode(t.Context(), s.AdminID)
			if err != nil {
				t.Fatal(err)
			}
			s.Clock.Advance(keysmith.SetupCodeTTL + time.Second)
			if r := postSetup(t, s, late.Reveal(), "too late a password"); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", r.StatusCode)
			}
		})
	})
}

// TestGuessingSetupCodesIsLimited: wrong codes spend the source address's
// budget of failed sign-ins, so that codes cannot be guessed faster than
// passwords; past it the answer is 429.
func TestGuessingSetupCodesIsLimited(t *testing.T) {
	s := apptest.Start(t, storetest.DSN(t, "sqlite"), app.Config{})
	var last int
	for i := 0; i < 40; i++ {
		wrong, _ := keysmith.NewSetupCodeSecret()
		if last = postSetup(t, s, wrong.Reveal(), "a password long enough").StatusCode; last == http.StatusTooManyRequests {
			break
		}
		if last != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: status %d, want 401", i, last)
		}
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("40 wrong setup codes from one address were all answered; want 429 before that")
	}
}
