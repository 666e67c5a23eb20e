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

// lostFeedMaxAge is how long a replica whose change listener is not
// connected trusts a cache entry (verify.Options.LostFeedMaxAge's default).
const lostFeedMaxAge = time.Second

// A replica trusts its cache for long only while it hears every change.
// When its listening connection dies, it drops everything and trusts what it
// loads for a second until the listener is back, then drops everything
// again: a revocation it never heard of shows within that second, and
// nothing stale is served after the reconnection.
func TestChangeFeedLoss(t *testing.T) {
	dsn := storetest.Postgres(t)
	a := apptest.Start(t, dsn, app.Config{})
	proxy := startPGProxy(t, dsn)
	bDSN, err := url.Parse(proxy.dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := bDSN.Query()
	q.Set("application_name", "replica-b") // its listener: replica-b-listener
	bDSN.RawQuery = q.Encode()
	b := apptest.StartReplica(t, a, app.Config{DB: bDSN.String()})
	heard := make(chan keysmith.Change, 100)
	b.App.Store.Subscribe(func(c keysmith.Change) {
		if c.Kind == keysmith.ChangeFeedLost || c.Kind == keysmith.ChangeAll {
			heard <- c
		}
	})

	t.Run("ARevocationMissedWhileDisconnectedShowsWithinTheShortAge", func(t *testing.T) {
		id, secret := newToken(t, a, a.AdminToken, "watched")
		if code := verifyCode(t, b, secret); code != "VALID" {
			t.Fatalf("B before the loss: %s", code)
		}
		proxy.refusing.Store(true) // B's listener stays away
		var killed int
		if err := a.App.Store.SQL().QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = 'replica-b-listener'`).Scan(&killed); err != nil || killed != 1 {
			t.Fatalf("terminating B's listener: %d connections, %v; want 1", killed, err)
		}
		waitHeard(t, heard, keysmith.ChangeFeedLost)
		if st := b.App.Verifier.Stats(); st.FeedHealthy || st.Size != 0 {
			t.Fatalf("B after the loss: feed healthy %v, %d entries cached; want lost and empty", st.FeedHealthy, st.Size)
		}
		if code := verifyCode(t, b, secret); code != "VALID" { // loaded anew, trusted briefly
			t.Fatalf("B during the loss: %s", code)
		}
		a.Do("DELETE", "/v1/tokens/"+id, a.AdminToken, nil).Want(t, http.StatusNoContent)
		b.Clock.Advance(lostFeedMaxAge)
		if code := verifyCode(t, b, secret); code != "REVOKED" {
			t.Fatalf("B %s after a revocation it could not hear: %s, want REVOKED", lostFeedMaxAge, code)
		}

		proxy.refusing.Store(false)
		waitHeard(t, heard, keysmith.ChangeAll)
		waitLong(t, "B's feed to be healthy again", func() bool { return b.App.Verifier.Stats().FeedHealthy })
		for _, step := range []time.Duration{0, time.Minute, 30 * time.Minute} {
			b.Clock.Advance(step)
			if code := verifyCode(t, b, secret); code != "REVOKED" {
				t.Fatalf("B after reconnecting, %s on: %s, want REVOKED", step, code)
			}
		}
	})

	t.Run("AReplicaThatNeverConnectedItsListenerTrustsEntriesBriefly", func(t *testing.T) {
		proxy.refusing.Store(true)
		defer proxy.refusing.Store(false)
		c := apptest.StartReplica(t, a, app.Config{DB: proxy.dsn})
		if c.App.Verifier.Stats().FeedHealthy {
			t.Fatal("C's feed is healthy although its listener could not LISTEN")
		}
		id, secret := newToken(t, a, a.AdminToken, "never heard")
		if code := verifyCode(t, c, secret); code != "VALID" {
			t.Fatalf("C: %s", code)
		}
		a.Do("DELETE", "/v1/tokens/"+id, a.AdminToken, nil).Want(t, http.StatusNoContent)
		c.Clock.Advance(lostFeedMaxAge)
		if code := verifyCode(t, c, secret); code != "REVOKED" {
			t.Fatalf("C %s after a revocation it could not hear: %s, want REVOKED", lostFeedMaxAge, code)
		}
	})

	t.Run("WithTheFeedBackARevocationReachesTheOtherReplicaAtOnce", func(t *testing.T) {
		id, secret := newToken(t, a, a.AdminToken, "heard")
		if code := verifyCode(t, b, secret); code != "VALID" {
			t.Fatalf("B: %s", code)
		}
		start := time.Now()
		a.Do("DELETE", "/v1/tokens/"+id, a.AdminToken, nil).Want(t, http.StatusNoContent)
		waitFor(t, "B to hear of the revocation", func() bool { return verifyCode(t, b, secret) == "REVOKED" })
		t.Logf("B answered REVOKED %s after the revocation was sent to A", time.Since(start))
	})
}

// waitHeard waits up to 10 s for a change of kind on heard.
func waitHeard(t *testing.T, heard <-chan keysmith.Change, kind keysmith.ChangeKind) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case c := <-heard:
			if c.Kind == kind {
				return
			}
		case <-deadline:
			t.Fatalf("no %s change within 10 s", kind)
		}
	}
}
