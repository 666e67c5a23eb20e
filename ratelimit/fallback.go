package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Fallback uses Primary (Redis) and, while it fails, Secondary (in-process),
// so that Keysmith keeps serving with limits per replica instead of failing
// or letting everything through. After a failure no request waits on Primary
// again: a background probe checks it every RetryInterval and switches back
// when it answers.
type Fallback struct {
	Primary       Limiter
	Secondary     Limiter
	Probe         func(ctx context.Context) error // reports whether Primary answers
	Name          string                          // of Primary, for logs: "redis"
	Log           *slog.Logger
	RetryInterval time.Duration // default 1 s

	mu       sync.Mutex
	down     bool
	since    time.Time
	lastErr  error
	probing  bool
	stopping chan struct{}
}

// Allow counts on Primary, or on Secondary while Primary is down.
func (f *Fallback) Allow(ctx context.Context, key string, limit int, window time.Duration) (Result, error) {
	if !f.isDown() {
		r, err := f.Primary.Allow(ctx, key, limit, window)
		if err == nil || ctx.Err() != nil {
			return r, err
		}
		f.fail(err)
	}
	return f.Secondary.Allow(ctx, key, limit, window)
}

// Peek reads Primary, or Secondary while Primary is down.
func (f *Fallback) Peek(ctx context.Context, key string, limit int, window time.Duration) (Result, error) {
	if !f.isDown() {
		r, err := f.Primary.Peek(ctx, key, limit, window)
		if err == nil || ctx.Err() != nil {
			return r, err
		}
		f.fail(err)
	}
	return f.Secondary.Peek(ctx, key, limit, window)
}

// Refund gives back on Primary, or on Secondary while Primary is down.
func (f *Fallback) Refund(ctx context.Context, key string, limit int, window time.Duration) error {
	if !f.isDown() {
		err := f.Primary.Refund(ctx, key, limit, window)
		if err == nil || ctx.Err() != nil {
			return err
		}
		f.fail(err)
	}
	return f.Secondary.Refund(ctx, key, limit, window)
}

// Status says where counters live now: ok is false while Primary is down,
// and detail explains it for /readyz.
func (f *Fallback) Status() (ok bool, detail string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return false, "in-process (" + f.Name + " unreachable since " + f.since.UTC().Format(time.RFC3339) + ": " + f.lastErr.Error() + ")"
	}
	return true, f.Name
}

// MarkDown switches to Secondary at once, for a Primary found unreachable
// at start.
func (f *Fallback) MarkDown(err error) { f.fail(err) }

// Close stops the background probe.
func (f *Fallback) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping == nil {
		f.stopping = make(chan struct{})
	}
	select {
	case <-f.stopping:
	default:
		close(f.stopping)
	}
}

func (f *Fallback) isDown() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

func (f *Fallback) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastErr = err
	if f.down {
		return
	}
	f.down, f.since = true, time.Now()
	f.log().Error("rate limits: "+f.Name+" is unreachable; counting in this process until it answers, so each replica enforces the limits on its own", "err", err)
	if !f.probing && f.Probe != nil {
		f.probing = true
		if f.stopping == nil {
			f.stopping = make(chan struct{})
		}
		go f.probe(f.stopping)
	}
}

func (f *Fallback) probe(stop chan struct{}) {
	interval := f.RetryInterval
	if interval == 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), interval)
		err := f.Probe(ctx)
		cancel()
		f.mu.Lock()
		if err != nil {
			f.lastErr = err
			f.mu.Unlock()
			continue
		}
		f.down, f.probing = false, false
		f.mu.Unlock()
		f.log().Info("rate limits: " + f.Name + " answers again; counting there")
		return
	}
}

func (f *Fallback) log() *slog.Logger {
	if f.Log == nil {
		return slog.Default()
	}
	return f.Log
}
