package app_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// TestReauthentication: from a browser session, creating or replacing a
// secret and changing one's own password or e-mail need a password given
// within --reauth-window; an API token is its own proof.
func TestReauthentication(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{ReauthWindow: 30 * time.Second})
		const pw = "pw olga@example.com"
		olga := createUser(t, s, "olga@example.com", "org_admin")
		cookie := signIn(t, s, "olga@example.com", pw)
		create := func() apptest.Response {
			return withCookie(t, s, cookie, "POST", "/v1/tokens", map[string]any{"name": "stepped up"}, nil)
		}
		reauth := func(password string) apptest.Response {
			return withCookie(t, s, cookie, "POST", "/v1/sessions/reauthenticate", map[string]any{"password": password}, nil)
		}

		t.Run("ASecretRightAfterSignInNeedsNothingMore", func(t *testing.T) {
			create().Want(t, http.StatusCreated)
		})
		t.Run("PastTheWindowASecretNeedsThePasswordAgain", func(t *testing.T) {
			s.Clock.Advance(31 * time.Second)
			before := len(listTokenIDs(t, s))
			r := create().Want(t, http.StatusUnauthorized)
			if r.String("error") != "reauthentication_required" {
				t.Errorf("error %q, want reauthentication_required: %s", r.String("error"), r.Raw)
			}
			if len(listTokenIDs(t, s)) != before {
				t.Error("a refused create made a token")
			}
			// What returns no secret is not asked.
			withCookie(t, s, cookie, "GET", "/v1/tokens", nil, nil).Want(t, http.StatusOK)
			withCookie(t, s, cookie, "PATCH", "/v1/users/"+olga, map[string]any{"name": "Olga"}, nil).Want(t, http.StatusOK)
			// Nor is an API token.
			s.Do("POST", "/v1/tokens", s.AdminToken, map[string]any{"name": "by token"}).Want(t, http.StatusCreated)
		})
		t.Run("SettingAnotherPersonsPasswordNeedsItToo", func(t *testing.T) {
			dev := createUser(t, s, "dev@example.com", "developer")
			withCookie(t, s, cookie, "PATCH", "/v1/users/"+dev, map[string]any{"password": "chosen by olga"}, nil).
				Want(t, http.StatusUnauthorized)
			withCookie(t, s, cookie, "POST", "/v1/users", map[string]any{"email": "new@example.com", "name": "New", "role": "org_admin",
				"type": "person", "password": "chosen by olga"}, nil).Want(t, http.StatusUnauthorized)
			withCookie(t, s, cookie, "POST", "/v1/users", map[string]any{"email": "nopw@example.com", "name": "No password", "role": "developer",
				"type": "person"}, nil).Want(t, http.StatusCreated)
		})
		t.Run("OwnPasswordAndEmailChangesNeedItToo", func(t *testing.T) {
			r := withCookie(t, s, cookie, "PATCH", "/v1/users/"+olga, map[string]any{"email": "olga2@example.com"}, nil)
			r.Want(t, http.StatusUnauthorized)
			withCookie(t, s, cookie, "PATCH", "/v1/users/"+olga, map[string]any{"password": "a brand new password"}, nil).
				Want(t, http.StatusUnauthorized)
		})
		t.Run("AWrongPasswordIsRefusedAndRecordedAsAFailure", func(t *testing.T) {
			reauth("wrong password").Want(t, http.StatusUnauthorized)
			create().Want(t, http.StatusUnauthorized)
			items, _ := logs(t, s, s.AdminToken, url.Values{"type": {string(keysmith.EventUserSignInFailed)}})
			if len(items) == 0 {
				t.Error("no user.sign_in_failed event for a wrong re-authentication")
			}
		})
		t.Run("TheRightPasswordRenewsTheWindowAndIsRecorded", func(t *testing.T) {
			r := reauth(pw).Want(t, http.StatusOK)
			if r.String("reauthenticated_until") == "" {
				t.Errorf("answer: %s", r.Raw)
			}
			create().Want(t, http.StatusCreated)
			items, _ := logs(t, s, s.AdminToken, url.Values{"type": {string(keysmith.EventSessionReauthenticated)}})
			if len(items) != 1 {
				t.Errorf("%d session.reauthenticated events, want 1", len(items))
			}
		})
		t.Run("AnAPITokenCannotReauthenticate", func(t *testing.T) {
			s.Do("POST", "/v1/sessions/reauthenticate", s.AdminToken, map[string]any{"password": "x"}).Want(t, http.StatusBadRequest)
		})
		t.Run("GuessingIsLimitedLikeSignIn", func(t *testing.T) {
			var last int
			for range 30 {
				if last = reauth("still wrong").Status; last == http.StatusTooManyRequests {
					break
				}
			}
			if last != http.StatusTooManyRequests {
				t.Errorf("30 wrong re-authentications were all answered; want 429 before that")
			}
		})
	})
}

// listTokenIDs lists the ids of every API token, as the first admin.
func listTokenIDs(t *testing.T, s *apptest.Server) []string {
	t.Helper()
	r := s.Do("GET", "/v1/tokens?limit=200", s.AdminToken, nil).Want(t, http.StatusOK)
	items, _ := r.Body["items"].([]any)
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}
