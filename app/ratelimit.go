package app

import (
	"context"
	"time"

	"github.com/keysmith/keysmith/ratelimit"
	"github.com/keysmith/keysmith/redis"
)

// openLimiter builds the rate limiter: in process without Redis; with it,
// Redis with the in-process limiter as fallback. An unreachable Redis at
// start is not fatal (Keysmith serves with per-replica limits and says so in
// its log and /readyz); a malformed URL is, because it will never work.
func openLimiter(ctx context.Context, cfg Config) (ratelimit.Limiter, func() (bool, string), func(), error) {
	local := ratelimit.NewLocal(cfg.Now)
	if cfg.Redis == "" {
		return local, func() (bool, string) { return true, "in-process" }, nil, nil
	}
	client, err := redis.Open(cfg.Redis)
	if err != nil {
		return nil, nil, nil, err
	}
	prefix := cfg.RedisPrefix
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	fb := &ratelimit.Fallback{
		// Redis counts on its own clock, so replicas' clocks do not matter.
		Primary:   &redis.Limiter{Client: client, Prefix: prefix},
		Secondary: local,
		Probe:     func(ctx context.Context) error { return client.Ping(ctx).Err() },
		Name:      "redis",
		Log:       cfg.Log,
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		fb.MarkDown(err)
	} else {
		cfg.Log.Info("rate limits counted in redis", "addr", client.Options().Addr)
	}
	return fb, fb.Status, func() { fb.Close(); client.Close() }, nil
}
