package app_test

import (
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/password"
	"github.com/keysmith/keysmith/storetest"
)

// Password hashing leaves a core for everything else (verify above all):
// at most GOMAXPROCS-1 argon2id hashes run at once, and a sign-in that
// cannot get a slot within a short wait is answered 429.
func TestPasswordHashing(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{PasswordWait: 20 * time.Millisecond})
		createUser(t, s, "busy@example.com", "developer")
		h := s.App.Service.Passwords.(*password.Hasher)

		t.Run("AtMostOneHashPerCoreButOne", func(t *testing.T) {
			if got, want := h.Slots(), max(1, runtime.GOMAXPROCS(0)-1); got != want {
				t.Errorf("%d hashes at once, want %d (GOMAXPROCS %d)", got, want, runtime.GOMAXPROCS(0))
			}
		})

		t.Run("SignInsBeyondTheSlotsAreAnswered429AndCountAsNoFailure", func(t *testing.T) {
			var release []func()
			for range h.Slots() {
				r, err := h.Acquire()
				if err != nil {
					t.Fatal(err)
				}
				release = append(release, r)
			}
			for range 12 { // more than the failures an address or an account may have
				r := s.Do("POST", "/v1/sessions", "", map[string]any{"email": "busy@example.com", "password": "pw busy@example.com"})
				r.Want(t, http.StatusTooManyRequests)
				if r.Header.Get("Retry-After") != "1" || r.String("error") != "rate_limited" {
					t.Fatalf("busy: %s %v", r.Raw, r.Header)
				}
			}
			_, tok := newToken(t, s, s.AdminToken, "verified while busy")
			if c := verifyCode(t, s, tok); c != "VALID" {
				t.Errorf("verify while every hashing slot is busy: %s", c)
			}
			for _, r := range release {
				r()
			}
			signIn(t, s, "busy@example.com", "pw busy@example.com")
		})

		t.Run("UnknownAccountsAnswerAlikeAfterTheHasherWasBusy", func(t *testing.T) {
			// The first sign-in without a password hash makes the dummy hash
			// it is checked against; made while every slot is busy, it
			// fails, and must not be kept as empty (that would answer
			// unknown accounts at once, telling them apart, uncounted).
			var release []func()
			for range h.Slots() {
				r, err := h.Acquire()
				if err != nil {
					t.Fatal(err)
				}
				release = append(release, r)
			}
			unknown := map[string]any{"email": "nobody-busy@example.com", "password": "whatever pw"}
			s.Do("POST", "/v1/sessions", "", unknown).Want(t, http.StatusTooManyRequests)
			for _, r := range release {
				r()
			}
			for range 3 {
				if r := s.Do("POST", "/v1/sessions", "", unknown); r.Status != http.StatusUnauthorized {
					t.Fatalf("unknown account after the hasher was busy: %d %s, want 401", r.Status, r.Raw)
				}
			}
		})
	})
}
