// Package redistest gives tests real Redis: a client on the local server and
// a key prefix of their own, whose keys are deleted when the test ends, so
// that runs never see each other's counters.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultURL is the server tests use unless KEYSMITH_TEST_REDIS names another.
const DefaultURL = "redis://127.0.0.1:6379/0"

// URL returns the test server's URL and a fresh key prefix. When the server
// cannot be reached the test is skipped, unless CI is set: there, it fails.
func URL(t testing.TB) (url, prefix string) {
	t.Helper()
	url = os.Getenv("KEYSMITH_TEST_REDIS")
	if url == "" {
		url = DefaultURL
	}
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatalf("KEYSMITH_TEST_REDIS: %v", err)
	}
	c := goredis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s is required under CI and cannot be reached: %v", url, err)
		}
		t.Skipf("Redis at %s not reachable (set KEYSMITH_TEST_REDIS): %v", url, err)
	}
	var b [6]byte
	rand.Read(b[:])
	prefix = "keysmith_test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return url, prefix
}

// New returns a client on the test server and a fresh key prefix; both are
// cleaned up when the test ends.
func New(t testing.TB) (*goredis.Client, string) {
	t.Helper()
	url, prefix := URL(t)
	opt, _ := goredis.ParseURL(url) // URL checked it
	c := goredis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c, prefix
}
