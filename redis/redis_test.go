package redis_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith/internal/testclock"
	"github.com/keysmith/keysmith/ratelimit"
	"github.com/keysmith/keysmith/ratelimit/ratelimittest"
	"github.com/keysmith/keysmith/redis"
	"github.com/keysmith/keysmith/redis/redistest"
)

func TestLimiter(t *testing.T) {
	client, prefix := redistest.New(t)
	clock := testclock.New()
	ratelimittest.Contract(t, &redis.Limiter{Client: client, Prefix: prefix, Now: clock.Now}, clock.Advance)
}

func TestLimiterKeepsKeysUnderItsPrefixAndExpiresThem(t *testing.T) {
	client, prefix := redistest.New(t)
	l := &redis.Limiter{Client: client, Prefix: prefix}
	ctx := context.Background()
	if _, err := l.Allow(ctx, "k", 10, time.Minute); err != nil {
		t.Fatal(err)
	}
	ttl, err := client.PTTL(ctx, prefix+"k").Result()
	if err != nil || ttl <= 0 || ttl > 6*time.Second {
		t.Errorf("key %sk has TTL %v (%v), want at most one interval (6s)", prefix, ttl, err)
	}
	if n, _ := client.Exists(ctx, prefix+"peeked").Result(); n != 0 {
		t.Error("before any check the key exists")
	}
	l.Peek(ctx, "peeked", 10, time.Minute)
	if n, _ := client.Exists(ctx, prefix+"peeked").Result(); n != 0 {
		t.Error("a peek wrote a key")
	}
}

func TestFallbackCountsInProcessWhileRedisIsDown(t *testing.T) {
	client, err := redis.Open("redis://127.0.0.1:1") // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	clock := testclock.New()
	fb := &ratelimit.Fallback{
		Primary:   &redis.Limiter{Client: client, Prefix: "x:", Now: clock.Now},
		Secondary: ratelimit.NewLocal(clock.Now),
		Probe:     func(ctx context.Context) error { return client.Ping(ctx).Err() },
		Name:      "redis",
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	defer fb.Close()
	if ok, detail := fb.Status(); !ok || detail != "redis" {
		t.Errorf("before any failure: %v %q", ok, detail)
	}
	ctx := context.Background()
	r, err := fb.Allow(ctx, "k", 1, time.Minute)
	if err != nil || !r.Allowed {
		t.Fatalf("first check with Redis down: %+v, %v; want allowed in process", r, err)
	}
	if r, _ := fb.Allow(ctx, "k", 1, time.Minute); r.Allowed {
		t.Error("the in-process fallback does not limit")
	}
	if ok, detail := fb.Status(); ok || !strings.Contains(detail, "in-process") || !strings.Contains(detail, "redis unreachable") {
		t.Errorf("status with Redis down: %v %q", ok, detail)
	}
}
