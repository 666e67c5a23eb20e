// Package redis keeps rate-limit counters in Redis, so that one token's limit
// holds across any number of Keysmith replicas. Each check is one round trip:
// an atomic Lua script (GCRA, the same arithmetic as ratelimit.GCRA) reads,
// decides and writes the key's one number.
package redis

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/keysmith/keysmith/ratelimit"
)

// script decides one check. KEYS[1] is the counter, stored as "tat interval"
// (µs); ARGV are now (µs since the epoch, or "" for Redis's own clock), the
// limit, the window (µs) and the cost (1 counts, 0 peeks, -1 gives one
// back). It answers {allowed (1 or 0), the stored value before the check,
// the now it used}, so the caller can compute the rest with ratelimit.GCRA.
// Numbers travel as strings because Redis truncates Lua numbers to
// integers. Reading TIME before writing is allowed because scripts
// replicate their effects (the default since Redis 5, the only way since 7).
var script = goredis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local nowArg = ARGV[1]
if nowArg == '' then
  local t = redis.call('TIME')
  nowArg = t[1] .. string.format('%06d', tonumber(t[2]))
end
local now = tonumber(nowArg)
local limit = tonumber(ARGV[2])
local w = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local stored = redis.call('GET', KEYS[1])
local tat, interval = 0, 0
local existed = stored and true or false
if stored then
  local a, b = string.match(stored, '^(%S+) (%S+)$')
  tat, interval = tonumber(a) or 0, tonumber(b) or 0
else
  stored = '0 0'
end
local newInterval = w / limit
if tat < now then tat = now end
if interval > 0 and interval ~= newInterval then
  tat = now + (tat - now) / interval * newInterval
end
local new = tat + cost * newInterval
if cost < 0 then
  if existed then
    if new <= now then
      redis.call('DEL', KEYS[1])
    else
      local ttl = math.ceil((new - now) / 1000)
      redis.call('SET', KEYS[1], string.format('%.17g %.17g', new, newInterval), 'PX', ttl)
    end
  end
  return {1, stored, nowArg}
end
if cost > 0 and now < new - w then
  return {0, stored, nowArg}
end
if cost > 0 then
  local ttl = math.ceil((new - now) / 1000)
  if ttl < 1 then ttl = 1 end
  redis.call('SET', KEYS[1], string.format('%.17g %.17g', new, newInterval), 'PX', ttl)
end
return {1, stored, nowArg}
`)

// Limiter is a ratelimit.Limiter on Redis. It counts on Redis's clock, not
// the replica's: replicas whose clocks are apart would otherwise each see
// the shared counters refilled by the difference.
type Limiter struct {
	Client *goredis.Client
	Prefix string // prepended to every key, e.g. "keysmith:rl:"
	// Now replaces Redis's clock, for tests that move time by hand; nil in
	// production.
	Now func() time.Time
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// Open parses a redis:// or rediss:// URL and returns a client tuned for the
// hot path: short timeouts and one retry, so that a dead Redis is noticed in
// well under a second and the caller can fall back.
func Open(url string) (*goredis.Client, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL %q: %w (expected redis://[user:password@]host:port[/db])", url, err)
	}
	opt.DialTimeout = time.Second
	opt.ReadTimeout = 500 * time.Millisecond
	opt.WriteTimeout = 500 * time.Millisecond
	opt.MaxRetries = 1
	return goredis.NewClient(opt), nil
}

// Allow counts one request for key unless it would exceed the limit.
func (l *Limiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (ratelimit.Result, error) {
	return l.check(ctx, key, limit, window, 1)
}

// Peek reports the state of key without counting.
func (l *Limiter) Peek(ctx context.Context, key string, limit int, window time.Duration) (ratelimit.Result, error) {
	return l.check(ctx, key, limit, window, 0)
}

// Refund gives back one request counted for key.
func (l *Limiter) Refund(ctx context.Context, key string, limit int, window time.Duration) error {
	_, err := l.check(ctx, key, limit, window, -1)
	return err
}

func (l *Limiter) check(ctx context.Context, key string, limit int, window time.Duration, cost int) (ratelimit.Result, error) {
	now := ""
	if l.Now != nil {
		now = strconv.FormatInt(l.Now().UnixMicro(), 10)
	}
	v, err := script.Run(ctx, l.Client, []string{l.Prefix + key},
		now, limit, window.Microseconds(), cost).Slice()
	if err != nil {
		return ratelimit.Result{}, fmt.Errorf("redis rate limit: %w", err)
	}
	if len(v) != 3 {
		return ratelimit.Result{}, fmt.Errorf("redis rate limit: unexpected answer %v", v)
	}
	allowed, _ := v[0].(int64)
	s, _ := v[1].(string)
	nowS, _ := v[2].(string)
	t, err0 := strconv.ParseInt(nowS, 10, 64)
	a, b, _ := strings.Cut(s, " ")
	tat, err1 := strconv.ParseFloat(a, 64)
	interval, err2 := strconv.ParseFloat(b, 64)
	if err0 != nil || err1 != nil || err2 != nil || math.IsNaN(tat) || math.IsNaN(interval) {
		return ratelimit.Result{}, fmt.Errorf("redis rate limit: bad answer %q at %q", s, nowS)
	}
	r, _, _ := ratelimit.GCRA(tat, interval, float64(t), limit, window, cost)
	if cost > 0 && (allowed == 1) != r.Allowed { // the script's word is final
		r.Allowed = allowed == 1
		if !r.Allowed { // a rounding apart: the next request fits one interval on
			r.Remaining = 0
			r.RetryAfter = window / time.Duration(limit)
			r.Reset = max(r.Reset, r.RetryAfter)
		}
	}
	return r, nil
}
