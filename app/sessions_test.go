package app_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

func TestSessions(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		su := s.AdminToken
		const pw = "pw alice@example.com"
		alice := createUser(t, s, "alice@example.com", "org_admin")
		signInAs := func(email, password string) apptest.Response {
			return s.Do("POST", "/v1/sessions", "", map[string]any{"email": email, "password": password})
		}

		t.Run("SignInSetsAHardenedCookie", func(t *testing.T) {
			r := signInAs("Alice@Example.com", pw).Want(t, http.StatusCreated)
			cs := (&http.Response{Header: r.Header}).Cookies()
			if len(cs) != 1 {
				t.Fatalf("cookies: %v", cs)
			}
			c := cs[0]
			if c.Name != "keysmith_session" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" ||
				c.MaxAge != int((12*time.Hour).Seconds()) || !strings.HasPrefix(c.Value, "ksb_") {
				t.Errorf("cookie = %+v (Secure only over TLS)", c)
			}
			if strings.Contains(string(r.Raw), c.Value) {
				t.Errorf("the body repeats the session secret: %s", r.Raw)
			}
			if u, _ := r.Body["user"].(map[string]any); u["id"] != alice || r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("sign-in answered %s", r.Raw)
			}
		})

		t.Run("CookieAuthenticatesTheAPI", func(t *testing.T) {
			c := signIn(t, s, "alice@example.com", pw)
			me := withCookie(t, s, c, "GET", "/v1/me", nil, nil).Want(t, http.StatusOK)
			if u := me.Body["user"].(map[string]any); u["id"] != alice || me.String("session_expires_at") == "" || me.Body["token_id"] != nil {
				t.Errorf("/v1/me = %s", me.Raw)
			}
			withCookie(t, s, c, "POST", "/v1/tokens", map[string]any{"name": "from the dashboard"}, nil).Want(t, http.StatusCreated)
			withCookie(t, s, c, "POST", "/v1/tokens", map[string]any{"name": "same origin"}, map[string]string{"Origin": s.URL}).
				Want(t, http.StatusCreated)
			tokMe := s.Do("GET", "/v1/me", su, nil).Want(t, http.StatusOK)
			if tokMe.String("token_id") == "" {
				t.Errorf("/v1/me by token lacks token_id: %s", tokMe.Raw)
			}
			withCookie(t, s, "kss_nonsense", "GET", "/v1/me", nil, nil).Want(t, http.StatusUnauthorized)
		})

		t.Run("CrossOriginWritesWithACookieAreRefused", func(t *testing.T) {
			c := signIn(t, s, "alice@example.com", pw)
			before := len(s.Do("GET", "/v1/tokens?limit=200", su, nil).Body["items"].([]any))
			for _, h := range []map[string]string{
				{"Origin": "https://evil.example"},
				{"Sec-Fetch-Site": "cross-site"},
			} {
				withCookie(t, s, c, "POST", "/v1/tokens", map[string]any{"name": "csrf"}, h).Want(t, http.StatusForbidden)
				withCookie(t, s, c, "DELETE", "/v1/sessions/current", nil, h).Want(t, http.StatusForbidden)
			}
			withCookie(t, s, c, "GET", "/v1/me", nil, map[string]string{"Origin": "https://evil.example"}).Want(t, http.StatusOK)
			if after := len(s.Do("GET", "/v1/tokens?limit=200", su, nil).Body["items"].([]any)); after != before {
				t.Errorf("tokens: %d before, %d after refused requests", before, after)
			}
		})

		t.Run("FailuresAnswerAlikeWhateverTheReason", func(t *testing.T) {
			svc := s.Do("POST", "/v1/users", su, map[string]any{"email": "svc@example.com", "name": "svc", "role": "developer", "type": "service"}).
				Want(t, http.StatusCreated).String("id")
			noPw := s.Do("POST", "/v1/users", su, map[string]any{"email": "nopw@example.com", "name": "x", "role": "developer"}).
				Want(t, http.StatusCreated).String("id")
			_, _ = svc, noPw
			var desc []string
			for _, c := range [][2]string{
				{"alice@example.com", "wrong password"},
				{"nobody@example.com", "whatever it is"},
				{"svc@example.com", "whatever it is"},
				{"nopw@example.com", "whatever it is"},
			} {
				desc = append(desc, signInAs(c[0], c[1]).Want(t, http.StatusUnauthorized).String("error_description"))
			}
			for _, d := range desc[1:] {
				if d != desc[0] {
					t.Errorf("failures differ: %q", desc)
				}
			}
			signInAs("", "x").Want(t, http.StatusBadRequest)
			signInAs("alice@example.com", "").Want(t, http.StatusBadRequest)
			s.Do("POST", "/v1/sessions", "", `{"email":"alice@example.com","password":"x","remember":true}`).Want(t, http.StatusBadRequest)
			signInAs("alice@example.com", pw).Want(t, http.StatusCreated) // resets alice's count
		})

		t.Run("SignOutEndsTheSession", func(t *testing.T) {
			c := signIn(t, s, "alice@example.com", pw)
			r := withCookie(t, s, c, "DELETE", "/v1/sessions/current", nil, nil).Want(t, http.StatusNoContent)
			if !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
				t.Errorf("sign-out does not clear the cookie: %q", r.Header.Get("Set-Cookie"))
			}
			withCookie(t, s, c, "GET", "/v1/me", nil, nil).Want(t, http.StatusUnauthorized)
			s.Do("DELETE", "/v1/sessions/current", su, nil).Want(t, http.StatusBadRequest)
			s.Do("DELETE", "/v1/sessions/current", "", nil).Want(t, http.StatusUnauthorized)
		})

		t.Run("SessionsExpire", func(t *testing.T) {
			c := signIn(t, s, "alice@example.com", pw)
			s.Clock.Advance(12*time.Hour - time.Second)
			withCookie(t, s, c, "GET", "/v1/me", nil, nil).Want(t, http.StatusOK)
			s.Clock.Advance(time.Second)
			withCookie(t, s, c, "GET", "/v1/me", nil, nil).Want(t, http.StatusUnauthorized)
		})

		t.Run("DeactivationAndPasswordChangeEndSessions", func(t *testing.T) {
			c := signIn(t, s, "alice@example.com", pw)
			s.Do("POST", "/v1/users/"+alice+"/deactivate", su, nil).Want(t, http.StatusOK)
			withCookie(t, s, c, "GET", "/v1/me", nil, nil).Want(t, http.StatusUnauthorized)
			s.Do("POST", "/v1/users/"+alice+"/activate", su, nil).Want(t, http.StatusOK)
			withCookie(t, s, c, "GET", "/v1/me", nil, nil).Want(t, http.StatusUnauthorized)

			c = signIn(t, s, "alice@example.com", pw)
			withCookie(t, s, c, "PATCH", "/v1/users/"+alice, map[string]any{"password": "a new password"}, nil).Want(t, http.StatusOK)
			withCookie(t, s, c, "GET", "/v1/me", nil, nil).Want(t, http.StatusUnauthorized)
			signInAs("alice@example.com", pw).Want(t, http.StatusUnauthorized)
			signIn(t, s, "alice@example.com", "a new password")
			s.Do("PATCH", "/v1/users/"+alice, su, map[string]any{"password": pw}).Want(t, http.StatusOK)
		})

		t.Run("RepeatedFailuresForOneAccountAreAnswered429", func(t *testing.T) {
			createUser(t, s, "bob@example.com", "developer")
			for i := 0; i < 6; i++ {
				signInAs("bob@example.com", fmt.Sprint("guess ", i)).Want(t, http.StatusUnauthorized)
			}
			r := signInAs("bob@example.com", "pw bob@example.com").Want(t, http.StatusTooManyRequests)
			if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
				t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
			}
			signIn(t, s, "alice@example.com", pw) // another account is unaffected
			s.Clock.Advance(time.Second)
			signInAs("bob@example.com", "guess 6").Want(t, http.StatusUnauthorized)
			signInAs("bob@example.com", "pw bob@example.com").Want(t, http.StatusTooManyRequests) // now 2 s
			s.Clock.Advance(2 * time.Second)
			signIn(t, s, "bob@example.com", "pw bob@example.com")
			signInAs("bob@example.com", "one more guess").Want(t, http.StatusUnauthorized) // success reset the count
		})

		t.Run("FailedSignInsAreLoggedWithoutThePassword", func(t *testing.T) {
			s.Clock.Advance(time.Minute) // 127.0.0.1's failures so far are forgotten
			signInAs("alice@example.com", "a logged guess").Want(t, http.StatusUnauthorized)
			var data string
			err := s.App.Store.SQL().QueryRow(`SELECT data FROM events WHERE type = 'user.sign_in_failed' ORDER BY seq DESC LIMIT 1`).Scan(&data)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(data, `"outcome":"failure"`) || !strings.Contains(data, `"reason":"wrong_password"`) ||
				!strings.Contains(data, alice) || strings.Contains(data, "a logged guess") {
				t.Errorf("sign-in failure event = %s", data)
			}
			signIn(t, s, "alice@example.com", pw)
		})

		t.Run("NoTableHoldsAPasswordOrSessionSecret", func(t *testing.T) {
			c := signIn(t, s, "alice@example.com", pw)
			storetest.AssertNoPlaintext(t, s.App.Store.SQL(), s.App.Store.Engine(), c, pw)
		})

		// Last: it exhausts the allowance of 127.0.0.1.
		t.Run("RepeatedFailuresFromOneAddressAreAnswered429", func(t *testing.T) {
			s.Clock.Advance(time.Hour) // the earlier failures are forgotten
			// The failed_sign_ins group allows 10 failures a minute per address.
			for i := 0; i < 10; i++ {
				signInAs(fmt.Sprintf("guess%d@example.com", i), "nope nope").Want(t, http.StatusUnauthorized)
			}
			r := signInAs("alice@example.com", pw).Want(t, http.StatusTooManyRequests)
			for _, h := range []string{"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
				if r.Header.Get(h) == "" {
					t.Errorf("429 without %s", h)
				}
			}
			s.Clock.Advance(time.Hour)
			signIn(t, s, "alice@example.com", pw)
		})
	})
}

func TestServiceAccountTokens(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		su := s.AdminToken
		svc := s.Do("POST", "/v1/users", su, map[string]any{"email": "ci@example.com", "name": "CI", "role": "org_admin", "type": "service"}).
			Want(t, http.StatusCreated)
		id := svc.String("id")
		if svc.String("type") != "service" {
			t.Fatalf("service account = %s", svc.Raw)
		}

		r := s.Do("POST", "/v1/tokens", su, map[string]any{"name": "ci", "owner_id": id}).Want(t, http.StatusCreated)
		tok := r.String("token")
		if r.String("type") != "service" || r.String("owner_id") != id || r.String("created_by") != s.AdminID {
			t.Errorf("token for the service account = %s", r.Raw)
		}
		if o, _ := r.Body["owner"].(map[string]any); o["id"] != id || o["email"] != "ci@example.com" || o["role"] != "org_admin" {
			t.Errorf("create answers owner %v, want the service account", r.Body["owner"])
		}
		v := s.Do("POST", "/v1/verify", "", map[string]any{"token": tok}).Want(t, http.StatusOK)
		if o, _ := v.Body["owner"].(map[string]any); v.String("code") != "VALID" || v.String("type") != "service" || o["email"] != "ci@example.com" {
			t.Errorf("verify = %s", v.Raw)
		}
		s.Do("GET", "/v1/users", tok, nil).Want(t, http.StatusOK) // acts with the account's role

		s.Do("POST", "/v1/sessions", "", map[string]any{"email": "ci@example.com", "password": "anything at all"}).Want(t, http.StatusUnauthorized)
		s.Do("PATCH", "/v1/users/"+id, su, map[string]any{"password": "long enough"}).Want(t, http.StatusBadRequest)

		createUser(t, s, "org@example.com", "org_admin")
		_, org := tokenOf(t, s, "org@example.com")
		s.Do("POST", "/v1/tokens", org, map[string]any{"name": "by org", "owner_id": id}).Want(t, http.StatusCreated)
		root := s.Do("POST", "/v1/users", su, map[string]any{"email": "root-bot@example.com", "name": "root", "role": "super_admin", "type": "service"}).
			Want(t, http.StatusCreated).String("id")
		s.Do("POST", "/v1/tokens", org, map[string]any{"name": "escalate", "owner_id": root}).Want(t, http.StatusForbidden)
		s.Do("POST", "/v1/tokens", su, map[string]any{"name": "x", "owner_id": "usr_missing"}).Want(t, http.StatusBadRequest)

		s.Do("POST", "/v1/users/"+id+"/deactivate", su, nil).Want(t, http.StatusOK)
		s.Do("POST", "/v1/tokens", su, map[string]any{"name": "late", "owner_id": id}).Want(t, http.StatusConflict)
		if c := verifyCode(t, s, tok); c != "OWNER_INACTIVE" {
			t.Errorf("deactivated service account's token: %s", c)
		}
	})
}

// TestSignOutEverywhere: GET /v1/sessions lists one's own sessions, the
// calling one marked; DELETE /v1/sessions ends all of them and no one
// else's, and leaves API tokens working.
func TestSignOutEverywhere(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		const pw = "pw alice@example.com"
		createUser(t, s, "alice@example.com", "org_admin")
		createUser(t, s, "bob@example.com", "org_admin")
		laptop := signIn(t, s, "alice@example.com", pw)
		phone := signIn(t, s, "alice@example.com", pw)
		bobs := signIn(t, s, "bob@example.com", "pw bob@example.com")

		r := withCookie(t, s, laptop, "GET", "/v1/sessions", nil, nil).Want(t, http.StatusOK)
		data, _ := r.Body["items"].([]any)
		if len(data) != 2 {
			t.Fatalf("alice's sessions: %s", r.Raw)
		}
		current := 0
		for _, d := range data {
			if d.(map[string]any)["current"] == true {
				current++
			}
		}
		if current != 1 || strings.Contains(string(r.Raw), laptop) || strings.Contains(string(r.Raw), phone) {
			t.Errorf("sessions list marks %d current or shows a secret: %s", current, r.Raw)
		}

		r = withCookie(t, s, phone, "DELETE", "/v1/sessions", nil, nil).Want(t, http.StatusOK)
		if n, _ := r.Body["ended"].(float64); n != 2 {
			t.Errorf("ended %v sessions, want 2", r.Body["ended"])
		}
		withCookie(t, s, laptop, "GET", "/v1/me", nil, nil).Want(t, http.StatusUnauthorized)
		withCookie(t, s, phone, "GET", "/v1/me", nil, nil).Want(t, http.StatusUnauthorized)
		withCookie(t, s, bobs, "GET", "/v1/me", nil, nil).Want(t, http.StatusOK)
		s.Do("GET", "/v1/me", s.AdminToken, nil).Want(t, http.StatusOK)
		s.Do("GET", "/v1/sessions", s.AdminToken, nil).Want(t, http.StatusOK)
	})
}
