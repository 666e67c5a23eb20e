package memlimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/keysmith/keysmith/memlimit"
)

func TestLimiter(t *testing.T) {
	ctx := context.Background()
	p := memlimit.Policy{Free: 2, Base: time.Second, Max: 4 * time.Second, Forget: time.Minute, MaxKeys: 3}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	wait := func(l *memlimit.Limiter, key string, at time.Time) time.Duration {
		t.Helper()
		d, err := l.Wait(ctx, key, at)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	attempt := func(l *memlimit.Limiter, key string, at time.Time) {
		t.Helper()
		if d, err := l.Attempt(ctx, key, at); err != nil || d != 0 {
			t.Fatalf("attempt refused: wait %v, %v", d, err)
		}
	}

	t.Run("EachFailureBeyondTheAllowanceDoublesTheWaitUpToMax", func(t *testing.T) {
		l := memlimit.New(p)
		want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
		at := t0
		for i, w := range want {
			attempt(l, "k", at)
			if got := wait(l, "k", at); got != w {
				t.Errorf("after %d failures: wait %v, want %v", i+1, got, w)
			}
			at = at.Add(w)
		}
		at = at.Add(-4 * time.Second) // the last failure
		if got := wait(l, "k", at.Add(3*time.Second)); got != time.Second {
			t.Errorf("wait 3 s later = %v, want 1s", got)
		}
		if got := wait(l, "other", t0); got != 0 {
			t.Errorf("another key waits %v", got)
		}
	})

	t.Run("KeysAreForgottenAfterQuietAndOnReset", func(t *testing.T) {
		l := memlimit.New(p)
		for range 3 {
			attempt(l, "k", t0)
		}
		if got := wait(l, "k", t0.Add(time.Minute)); got != 0 {
			t.Errorf("after Forget: wait %v", got)
		}
		attempt(l, "k", t0.Add(time.Minute))
		if got := wait(l, "k", t0.Add(time.Minute)); got != 0 {
			t.Errorf("a forgotten key starts over, but waits %v", got)
		}
		for range 3 {
			attempt(l, "j", t0)
		}
		l.Reset(ctx, "j")
		if got := wait(l, "j", t0); got != 0 {
			t.Errorf("after Reset: wait %v", got)
		}
	})

	t.Run("AnAttemptThatMustWaitCountsNothing", func(t *testing.T) {
		l := memlimit.New(p)
		for range 3 {
			attempt(l, "k", t0)
		}
		for range 10 {
			if d, _ := l.Attempt(ctx, "k", t0); d != time.Second {
				t.Fatalf("attempt while waiting: wait %v, want 1s", d)
			}
		}
		if got := wait(l, "k", t0.Add(time.Second)); got != 0 {
			t.Errorf("refused attempts were counted: wait %v after 1 s, want 0", got)
		}
	})

	t.Run("AReleasedAttemptCostsNothing", func(t *testing.T) {
		l := memlimit.New(p)
		for i := range 3 {
			attempt(l, "k", t0.Add(time.Duration(i)*time.Second))
		}
		before := wait(l, "k", t0.Add(2*time.Second))
		attempt(l, "k", t0.Add(3*time.Second))
		l.Release(ctx, "k")
		if got := wait(l, "k", t0.Add(2*time.Second)); got != before {
			t.Errorf("after a released attempt: wait %v, want %v as before it", got, before)
		}
		attempt(l, "single", t0)
		l.Release(ctx, "single")
		if got := wait(l, "single", t0); got != 0 {
			t.Errorf("a key whose only attempt was released waits %v", got)
		}
	})

	t.Run("MemoryIsBounded", func(t *testing.T) {
		l := memlimit.New(p)
		for _, k := range []string{"a", "b", "c", "d", "e"} {
			for range 3 {
				attempt(l, k, t0)
			}
		}
		if got := wait(l, "e", t0); got == 0 {
			t.Errorf("the newest key was dropped")
		}
	})
}
