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

// TestIdleExpiryIsFinalAcrossReplicas runs two replicas on PostgreSQL, each
// with its own manual clock, that flush their uses only when the test says
// (as a replica that is paused, or slow, would): a use that reaches the store
// after another replica has answered EXPIRED, or too long after the
// deadline, does not revive the token, and its expiry is logged once.
func TestIdleExpiryIsFinalAcrossReplicas(t *testing.T) {
	cfg := app.Config{UsageFlushInterval: time.Hour} // flushed by the test only
	a := apptest.Start(t, storetest.Postgres(t), cfg)
	b := apptest.StartReplica(t, a, cfg)
	advance := func(d time.Duration) {
		a.Clock.Advance(d)
		b.Clock.Advance(d)
	}
	// newIdle makes a token with an idle TTL and returns its id, secret and
	// the clock reading it was created at.
	newIdle := func(t *testing.T, ttl int) (string, string, time.Time) {
		c := create(t, a, a.AdminToken, map[string]any{"name": "idle", "idle_ttl": ttl})
		return c.String("id"), c.String("token"), timeField(t, c, "created_at")
	}
	at := func(created time.Time, since time.Duration) {
		advance(created.Add(since).Sub(a.Clock.Now()))
	}
	wantExpiredEverywhere := func(t *testing.T, id, secret string) {
		t.Helper()
		for name, s := range map[string]*apptest.Server{"A": a, "B": b} {
			if code := verifyCode(t, s, secret); code != "EXPIRED" {
				t.Errorf("replica %s verifies %s, want EXPIRED", name, code)
			}
			if st := get(t, s, s.AdminToken, id).String("status"); st != "expired" {
				t.Errorf("replica %s shows status %s, want expired", name, st)
			}
			s.Do("GET", "/v1/tokens", secret, nil).Want(t, http.StatusUnauthorized)
		}
	}
	wantOneExpiry := func(t *testing.T, id string, created time.Time, ttl time.Duration) {
		t.Helper()
		items, _ := logs(t, b, b.AdminToken, url.Values{"type": {string(keysmith.EventAPITokenExpired)}, "target": {id}})
		if len(items) != 1 {
			t.Fatalf("%d api_token.expired events for the token, want 1: %v", len(items), items)
		}
		details, _ := items[0]["details"].(map[string]any)
		want := created.Add(ttl).UTC().Format(time.RFC3339Nano)
		if details["reason"] != "idle" || details["expired_at"] != want {
			t.Errorf("expiry event details = %v, want reason idle, expired_at %s", details, want)
		}
	}

	t.Run("AUseFlushedAfterAnotherReplicaAnsweredExpiredDoesNotReviveTheToken", func(t *testing.T) {
		id, secret, created := newIdle(t, 180)
		at(created, 179300*time.Millisecond)
		if code := verifyCode(t, a, secret); code != "VALID" {
			t.Fatalf("A, 0.7 s before the deadline: %s", code)
		}
		// A is paused with the use unflushed; B answers.
		at(created, 181*time.Second)
		if code := verifyCode(t, b, secret); code != "EXPIRED" {
			t.Fatalf("B, after the deadline: %s", code)
		}
		b.Do("GET", "/v1/tokens", secret, nil).Want(t, http.StatusUnauthorized)
		at(created, 255*time.Second)
		if err := b.App.Maintain(t.Context()); err != nil {
			t.Fatal(err)
		}
		flush(t, a) // A resumes and flushes its old use
		wantExpiredEverywhere(t, id, secret)
		wantOneExpiry(t, id, created, 180*time.Second)
	})

	t.Run("AnExpiryAnsweredWithinTheSettleTimeIsFinal", func(t *testing.T) {
		id, secret, created := newIdle(t, 60)
		at(created, 59930*time.Millisecond)
		if code := verifyCode(t, a, secret); code != "VALID" {
			t.Fatalf("A, before the deadline: %s", code)
		}
		at(created, 60100*time.Millisecond)
		if code := verifyCode(t, b, secret); code != "EXPIRED" {
			t.Fatalf("B, after the deadline: %s", code)
		}
		at(created, 60500*time.Millisecond)
		flush(t, a) // on time, but after B's verdict
		at(created, 61150*time.Millisecond)
		wantExpiredEverywhere(t, id, secret)
		wantOneExpiry(t, id, created, time.Minute)
	})

	t.Run("AUseRenewsWhenItIsFlushedBeforeAnyReplicaAnswersExpired", func(t *testing.T) {
		id, secret, created := newIdle(t, 60)
		at(created, 59930*time.Millisecond)
		verifyCode(t, a, secret)
		at(created, 60500*time.Millisecond)
		flush(t, a)
		at(created, 61150*time.Millisecond)
		for name, s := range map[string]*apptest.Server{"A": a, "B": b} {
			if code := verifyCode(t, s, secret); code != "VALID" {
				t.Errorf("replica %s verifies %s, want VALID (renewed at 59.93 s)", name, code)
			}
		}
		if st := get(t, b, b.AdminToken, id).String("status"); st != "active" {
			t.Errorf("status %s, want active", st)
		}
	})

	t.Run("AUseArrivingLaterThanTheSettleTimeIsRefusedAndTheExpiryLogged", func(t *testing.T) {
		id, secret, created := newIdle(t, 60)
		at(created, 59*time.Second)
		verifyCode(t, a, secret)
		// Nobody asks B; A flushes 11 s after the deadline.
		at(created, 60*time.Second+keysmith.IdleSettle+time.Second)
		flush(t, a)
		wantExpiredEverywhere(t, id, secret)
		wantOneExpiry(t, id, created, time.Minute)
	})
}
