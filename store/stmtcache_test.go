package store

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// TestStmtCacheKeepsTheTextsUsedLast: the cache stays bounded and evicts
// the least recently used text, so texts built at run time do not crowd
// out the constant ones for good; an evicted statement still runs in a
// transaction that took it before.
func TestStmtCacheKeepsTheTextsUsedLast(t *testing.T) {
	pool, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var c stmtCache
	defer c.close()
	text := func(i int) string { return fmt.Sprintf("SELECT %d", i) }
	get := func(i int) *sql.Stmt {
		st, err := c.get(t.Context(), pool, text(i))
		if err != nil || st == nil {
			t.Fatalf("get %q: %v, %v", text(i), st, err)
		}
		return st
	}
	first := get(0)
	tx, err := pool.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	inTx := tx.StmtContext(t.Context(), get(1))
	for i := 2; i < maxCachedStmts; i++ {
		get(i)
	}
	if get(0) != first { // a hit: 0 is now the most recently used, 1 the least
		t.Fatal("a cached text was prepared again")
	}
	get(maxCachedStmts) // one more: evicts 1
	if c.lru.Len() != maxCachedStmts || len(c.m) != maxCachedStmts {
		t.Errorf("%d cached (%d in the map), want %d", c.lru.Len(), len(c.m), maxCachedStmts)
	}
	if _, ok := c.m[text(1)]; ok {
		t.Error("the least recently used text is still cached")
	}
	if _, ok := c.m[text(0)]; !ok {
		t.Error("a text used lately was evicted")
	}
	var n int
	if err := inTx.QueryRowContext(t.Context()).Scan(&n); err != nil || n != 1 {
		t.Errorf("the evicted statement in its transaction: %d, %v", n, err)
	}
}
