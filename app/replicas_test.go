package app_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/redis/redistest"
	"github.com/keysmith/keysmith/storetest"
)

// Two replicas share one PostgreSQL database and one Redis, as a deployment
// behind a load balancer would.
func TestTwoReplicas(t *testing.T) {
	url, prefix := redistest.URL(t)
	cfg := app.Config{Redis: url, RedisPrefix: prefix}
	a := apptest.Start(t, storetest.Postgres(t), cfg)
	b := apptest.StartReplica(t, a, cfg)
	for _, s := range []*apptest.Server{a, b} {
		r := s.Do("GET", "/readyz", "", nil).Want(t, http.StatusOK)
		if r.String("rate_limits") != "redis" {
			t.Fatalf("readyz: %s, want rate limits in redis", r.Raw)
		}
	}

	t.Run("OneTokensLimitHoldsAcrossReplicas", func(t *testing.T) {
		a.Do("PUT", "/v1/settings/rate-limits", a.AdminToken, map[string]any{"verified": 40}).Want(t, http.StatusOK)
		_, secret := newToken(t, a, a.AdminToken, "shared share") // 50 %: 20 per minute
		waitFor(t, "replica B to apply the new limit", func() bool {
			_, probe := newToken(t, a, a.AdminToken, "probe")
			r := b.Do("POST", "/v1/verify", "", map[string]any{"token": probe}).Want(t, http.StatusOK)
			rl, _ := r.Body["ratelimit"].(map[string]any)
			return rl["limit"] == float64(20)
		})
		var mu sync.Mutex
		accepted := 0
		var wg sync.WaitGroup
		for _, s := range []*apptest.Server{a, b, a, b} {
			wg.Go(func() {
				for range 15 {
					r := s.Do("POST", "/v1/verify", "", map[string]any{"token": secret})
					if r.String("code") == "VALID" {
						mu.Lock()
						accepted++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if accepted != 20 {
			t.Errorf("replicas together accepted %d of 60 verifies, want the token's limit, 20", accepted)
		}
	})

	t.Run("ZoneEditOnOneReplicaIsEnforcedByTheOther", func(t *testing.T) {
		zid := newZone(t, a, "replicated", []string{"192.0.2.0/24"}, nil)
		_, secret := newPolicyToken(t, a, "in_zones", zid)
		waitFor(t, "replica B to know the token and zone", func() bool {
			return verifyFrom(t, b, secret, "192.0.2.5").String("code") == "VALID"
		})
		a.Do("PATCH", "/v1/zones/"+zid, a.AdminToken, map[string]any{"gateways": []string{"198.51.100.0/24"}}).Want(t, http.StatusOK)
		waitFor(t, "replica B to enforce the edited zone", func() bool {
			return verifyFrom(t, b, secret, "192.0.2.5").String("code") == "IP_FORBIDDEN"
		})
		if c := verifyFrom(t, b, secret, "198.51.100.5").String("code"); c != "VALID" {
			t.Errorf("replica B, inside the edited zone: %s", c)
		}
	})

	// Last: it sets replica B's clock a minute ahead.
	t.Run("ReplicaClocksApartDoNotWidenALimit", func(t *testing.T) {
		a.Do("PUT", "/v1/settings/rate-limits", a.AdminToken, map[string]any{"verified": 20}).Want(t, http.StatusOK)
		_, secret := newToken(t, a, a.AdminToken, "clocks apart") // 50 %: 10 per minute
		waitFor(t, "replica B to apply the new limit", func() bool {
			_, probe := newToken(t, a, a.AdminToken, "probe")
			r := b.Do("POST", "/v1/verify", "", map[string]any{"token": probe}).Want(t, http.StatusOK)
			rl, _ := r.Body["ratelimit"].(map[string]any)
			return rl["limit"] == float64(10)
		})
		b.Clock.Advance(time.Minute)
		accepted := 0
		for _, s := range []*apptest.Server{a, b} {
			for range 15 {
				if verifyCode(t, s, secret) == "VALID" {
					accepted++
				}
			}
		}
		if accepted != 10 {
			t.Errorf("replicas a minute apart accepted %d of 30 verifies, want the token's limit, 10", accepted)
		}
	})
}

// waitFor polls cond for up to one second: how long a change may take to
// reach another replica.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 1 s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRedisDownFallsBackToInProcessLimits(t *testing.T) {
	s := apptest.Start(t, storetest.SQLite(t), app.Config{Redis: "redis://127.0.0.1:1"})
	r := s.Do("GET", "/readyz", "", nil).Want(t, http.StatusOK)
	if r.String("status") != "degraded" || r.String("database") != "ok" || r.String("rate_limits") == "redis" {
		t.Errorf("readyz with Redis down: %s", r.Raw)
	}
	s.Do("PUT", "/v1/settings/rate-limits", s.AdminToken, map[string]any{"verified": 2}).Want(t, http.StatusOK)
	_, secret := newToken(t, s, s.AdminToken, "fallback")
	if c := verifyCode(t, s, secret); c != "VALID" {
		t.Fatalf("with Redis down: %s", c)
	}
	if c := verifyCode(t, s, secret); c != "RATE_LIMITED" {
		t.Errorf("in-process fallback: %s, want RATE_LIMITED", c)
	}
	s.Do("POST", "/v1/verify", "", `{"token": 1}`).Want(t, http.StatusBadRequest)
}
