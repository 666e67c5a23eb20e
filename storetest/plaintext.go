package storetest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
)

// leakWindow is the length of the pieces of a token searched for: any run of
// this many of its characters found stored would be a leak.
const leakWindow = 16

// needles returns the token and every leakWindow-long piece of it.
func needles(token string) []string {
	out := []string{token}
	for i := 0; i+leakWindow <= len(token); i++ {
		out = append(out, token[i:i+leakWindow])
	}
	return out
}

// tables lists the database's tables from its catalog, so that tables added
// later are searched too.
func (fx *fixture) tables() []string {
	fx.t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if fx.db.Engine() == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`
	}
	rows, err := fx.db.SQL().QueryContext(fx.ctx, q)
	if err != nil {
		fx.t.Fatalf("list tables: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			fx.t.Fatal(err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		fx.t.Fatal(err)
	}
	return out
}

// cell is one stored value, as text.
type cell struct {
	table, column, value string
}

// cells returns every value of every column of table.
func (fx *fixture) cells(table string) []cell {
	fx.t.Helper()
	rows, err := fx.db.SQL().QueryContext(fx.ctx, `SELECT * FROM `+table)
	if err != nil {
		fx.t.Fatalf("read table %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		fx.t.Fatal(err)
	}
	var out []cell
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			fx.t.Fatalf("read table %s: %v", table, err)
		}
		for i, v := range vals {
			var s string
			switch v := v.(type) {
			case nil:
			case []byte:
				s = string(v)
			case string:
				s = v
			default:
				s = fmt.Sprint(v)
			}
			out = append(out, cell{table, cols[i], s})
		}
	}
	if err := rows.Err(); err != nil {
		fx.t.Fatal(err)
	}
	return out
}

func testNoPlaintextTokenIsStored(t *testing.T, fx *fixture) {
	// Tokens through every write: bootstrap, creation (with and without an
	// expiry), revocation, use.
	now := fx.clock.Now()
	u, boot, _ := fx.firstAdmin("admin@example.com")
	bootSecret, bootHash := keysmith.NewAPITokenSecret()
	ctx, _ := audited(fx.ctx, u)
	if err := fx.db.Bootstrap(ctx, u, boot, bootHash); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	secrets := []string{bootSecret.Reveal()}
	var uses []keysmith.TokenUse
	for i := range 5 {
		tok, secret, h := fx.newToken(u)
		if i%2 == 1 {
			tok.ExpiresAt = ptr(now.Add(time.Hour))
		}
		fx.mustCreate(ctx, tok, h)
		secrets = append(secrets, secret.Reveal())
		uses = append(uses, keysmith.TokenUse{TokenID: tok.ID, At: now.Add(time.Minute), IP: "192.0.2.1"})
		if i%2 == 0 {
			if _, err := fx.db.RevokeToken(ctx, tok.ID, u.ID); err != nil {
				t.Fatalf("RevokeToken: %v", err)
			}
		}
	}
	if err := fx.db.RecordTokenUses(fx.ctx, uses); err != nil {
		t.Fatalf("RecordTokenUses: %v", err)
	}
	// An authorization code and refresh tokens, through every write: issue,
	// redemption, rotation, revocation of their grant.
	client, _ := fx.createClient(u, "")
	code, codeSecret, codeHash := fx.newCode(client, u)
	if err := fx.db.CreateAuthorizationCode(ctx, code, codeHash); err != nil {
		t.Fatalf("CreateAuthorizationCode: %v", err)
	}
	if _, err := fx.db.RedeemAuthorizationCode(ctx, codeHash, now, keysmith.GrantTokens{}); err != nil {
		t.Fatalf("RedeemAuthorizationCode: %v", err)
	}
	first, firstSecret, firstHash := fx.newRefreshToken(code.ID, client, u)
	if err := fx.db.CreateRefreshToken(ctx, first, firstHash); err != nil {
		t.Fatalf("CreateRefreshToken: %v", err)
	}
	next, nextSecret, nextHash := fx.newRefreshToken(code.ID, client, u)
	if err := fx.db.RotateRefreshToken(ctx, first.ID, keysmith.GrantTokens{Refresh: next, RefreshHash: nextHash}); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	if err := fx.db.RevokeGrant(ctx, code.ID, client.ID, keysmith.GrantRevokedRefreshReused); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	secrets = append(secrets, codeSecret.Reveal(), firstSecret.Reveal(), nextSecret.Reveal())

	// Every column of every table.
	tables := fx.tables()
	scanned := map[string]int{}
	for _, table := range tables {
		for _, c := range fx.cells(table) {
			scanned[table]++
			for _, s := range secrets {
				for _, n := range needles(s) {
					if strings.Contains(c.value, n) {
						t.Errorf("%s.%s holds %q, part of a token", c.table, c.column, n)
						break
					}
				}
			}
		}
	}
	for _, table := range []string{"users", "tokens", "events", "oauth_codes", "oauth_refresh_tokens"} {
		if scanned[table] == 0 {
			t.Errorf("no values of table %s scanned (tables found: %v)", table, tables)
		}
	}
	if t.Failed() || fx.db.Engine() != "sqlite" {
		return
	}

	// The SQLite files themselves, byte for byte: the database, and while it
	// is open its write-ahead log, then the database again once closed and
	// checkpointed.
	path := strings.TrimPrefix(strings.TrimPrefix(fx.dsn, "sqlite://"), "sqlite:")
	searchFiles := func(when string) {
		t.Helper()
		files, err := filepath.Glob(path + "*")
		if err != nil || len(files) == 0 {
			t.Fatalf("no SQLite files at %s (%v)", path, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				for _, n := range needles(s) {
					if bytes.Contains(b, []byte(n)) {
						t.Errorf("%s: file %s holds %q, part of a token", when, filepath.Base(f), n)
						break
					}
				}
			}
		}
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no write-ahead log beside the open database: %v", err)
	}
	searchFiles("while open")
	fx.closeDB()
	searchFiles("after Close")
}
