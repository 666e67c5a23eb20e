package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/keysmith/keysmith"
)

// postgresDialect is the engine for several replicas. Changes reach the other
// replicas by NOTIFY on one channel, sent inside the changing transaction so
// that it is delivered exactly when the change commits. A payload is
// "origin:txn:kind:id": origin names the store that sent it, so that a store
// skips the echo of its own changes, which it published itself after the
// commit, and txn (a decimal number) the transaction, so that it does not
// skip the echo of one whose commit failed (see DB.write). A replica of an
// older version sends "kind:id", told apart by its first field being a
// known keysmith.ChangeKind (an origin is 16 hex digits, never one), and
// does not understand the new form: it falls back on its cache's age. The
// listener's heartbeat is "origin:hb:nonce" (see receive).
type postgresDialect struct {
	dsn    string
	origin string
	pool   *sql.DB // set by open; heartbeats go through it
}

// newOrigin returns a random name for one open store, for its NOTIFY
// payloads.
func newOrigin() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

const (
	changeChannel = "keysmith_changes"
	// Advisory lock keys; arbitrary but fixed.
	migrationLockKey = 7_362_001
	logLockKey       = 7_362_002
)

func (d *postgresDialect) name() string { return "postgres" }

func (d *postgresDialect) open() (*sql.DB, error) {
	db, err := openChecked("pgx", d.dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	d.pool = db
	return db, nil
}

func (d *postgresDialect) isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

func (d *postgresDialect) lockMigrations(ctx context.Context, db *sql.DB) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		conn.Close()
		return nil, err
	}
	return func() {
		conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, migrationLockKey)
		conn.Close()
	}, nil
}

// PostgreSQL writers lock rows, not the database: nothing to queue for.
func (d *postgresDialect) queueWrite(context.Context) (func(), error) { return func() {}, nil }

// Writers do not exclude each other: each commits on its own.
func (d *postgresDialect) groupsWrites() bool { return false }

func (d *postgresDialect) lockLog(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, logLockKey)
	return err
}

// PostgreSQL's buffers are the server's: nothing to do per transaction.
func (d *postgresDialect) prepareBulk(context.Context, *sql.Tx) error { return nil }

func (d *postgresDialect) notify(ctx context.Context, tx *sql.Tx, txn uint64, cs []keysmith.Change) error {
	if len(cs) == 0 {
		return nil
	}
	payloads := make([]string, len(cs))
	prefix := d.origin + ":" + strconv.FormatUint(txn, 10) + ":"
	for i, c := range cs {
		payloads[i] = prefix + string(c.Kind) + ":" + c.ID
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, changeChannel, payloads)
	return err
}

// listenerConfig is the listener's connection: the DSN's, named
// "<application_name>-listener" (keysmith-listener by default), so that it
// can be told apart in pg_stat_activity.
func (d *postgresDialect) listenerConfig() (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(d.dsn)
	if err != nil {
		return nil, err
	}
	name := cfg.RuntimeParams["application_name"]
	if name == "" {
		name = "keysmith"
	}
	cfg.RuntimeParams["application_name"] = name + "-listener"
	return cfg, nil
}

// listen holds one connection in LISTEN and publishes what arrives. When the
// connection fails (or cannot be made) changes may be missed: h.down. After
// a lost connection it reconnects with backoff and publishes ChangeAll,
// because notifications sent while it was away are gone, then h.up.
func (d *postgresDialect) listen(ctx context.Context, h listenHooks) {
	backoff := 100 * time.Millisecond
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
		}
		conn, err := d.connectListener(ctx)
		if err != nil {
			if ctx.Err() == nil {
				h.down()
				h.log.Warn("change listener cannot connect; caches trust entries only briefly until it can", "err", err)
			}
			h.ready()
			continue
		}
		if !first {
			h.publish(keysmith.Change{Kind: keysmith.ChangeAll})
			h.log.Info("change listener reconnected; dropped every cache")
		}
		h.up()
		h.ready()
		backoff = 100 * time.Millisecond
		err = d.receive(ctx, conn, h)
		if ctx.Err() == nil {
			h.lost()
			h.down()
			h.log.Warn("change listener lost its connection; dropped every cache, reconnecting", "err", err)
		}
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx)
		cancel()
	}
}

// connectListener connects and LISTENs on the change channel.
func (d *postgresDialect) connectListener(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := d.listenerConfig()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// receive publishes the notifications conn receives until it fails, but
// for this store's own (see postgresDialect). A connection quiet for
// h.check gets a heartbeat: a notice sent through the pool, which must be
// heard on conn within h.check, or conn has failed. A connection can die
// silently (a dropped route, a firewall that forgot it), or stay up but
// hear nothing (LISTEN lost, or a pooler in transaction mode between), and
// would otherwise wait for notifications forever while every cache went
// stale. A ping would answer in both cases; only a notice heard proves
// that notices are heard.
func (d *postgresDialect) receive(ctx context.Context, conn *pgx.Conn, h listenHooks) error {
	var (
		beat     string // the heartbeat awaited; "" when none is
		beats    uint64
		deadline = time.Now().Add(h.check) // to send a heartbeat, or to hear it
		echoing  uint64                    // see deliver
	)
	for {
		wctx, cancel := context.WithDeadline(ctx, deadline)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if n.Payload == beat {
				beat = ""
			}
			d.deliver(n.Payload, h, &echoing)
			if beat == "" {
				deadline = time.Now().Add(h.check)
			}
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !pgconn.Timeout(err):
			return err
		case beat != "":
			return fmt.Errorf("its heartbeat was not heard within %s", h.check)
		}
		beats++
		beat = d.origin + ":hb:" + strconv.FormatUint(beats, 10)
		deadline = time.Now().Add(h.check)
		sctx, cancel := context.WithDeadline(ctx, deadline)
		_, err = d.pool.ExecContext(sctx, `SELECT pg_notify($1, $2)`, changeChannel, beat)
		cancel()
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("send a heartbeat: %w", err)
		}
	}
}

// notice is one parsed payload (see postgresDialect).
type notice struct {
	origin    string // "" in an older replica's form
	txn       uint64 // 0 when the payload names none
	heartbeat bool
	change    keysmith.Change
}

// parseNotice reads a payload of either form. What it cannot read becomes a
// change of an unknown kind, which subscribers treat as ChangeAll.
func parseNotice(payload string) notice {
	first, rest, _ := strings.Cut(payload, ":")
	if kind := keysmith.ChangeKind(first); kind.Known() { // kind:id
		return notice{change: keysmith.Change{Kind: kind, ID: rest}}
	}
	n := notice{origin: first}
	field, rest, _ := strings.Cut(rest, ":")
	if field == "hb" {
		n.heartbeat = true
		return n
	}
	// The form before transaction numbers, origin:kind:id, has none.
	if txn, err := strconv.ParseUint(field, 10, 64); err == nil {
		n.txn = txn
		field, rest, _ = strings.Cut(rest, ":")
	}
	n.change = keysmith.Change{Kind: keysmith.ChangeKind(field), ID: rest}
	return n
}

// deliver publishes a payload's change unless it is a heartbeat or this
// store's own echo. The echo of a transaction whose commit failed is
// published: every notice of it, which arrive together, so *echoing holds
// the number of the transaction being published.
func (d *postgresDialect) deliver(payload string, h listenHooks, echoing *uint64) {
	n := parseNotice(payload)
	switch {
	case n.heartbeat:
	case n.origin != d.origin:
		h.publish(n.change)
	case n.txn != 0 && (n.txn == *echoing || h.failed(n.txn)):
		*echoing = n.txn
		h.publish(n.change)
	}
}

// eventSearch is pg_trgm's index of each event's search text, stored:
// LIKE checks the substring itself.
func (d *postgresDialect) eventSearch() eventSearchSQL {
	return eventSearchSQL{
		from:       `event_search`,
		key:        `event_search.seq`,
		insert:     `INSERT INTO event_search (seq, doc) VALUES `,
		onConflict: ` ON CONFLICT (seq) DO NOTHING`,
		remove:     `DELETE FROM event_search WHERE seq >= $1 AND seq <= $2`,
		finish:     []string{`ANALYZE event_search, event_targets`},
		match: func(c *conditions, q string) string {
			return `event_search.doc LIKE ` + c.arg(likePattern(q)) + ` ESCAPE '\'`
		},
		holds: func(c *conditions, q, seq string) string {
			return `EXISTS (SELECT 1 FROM event_search s WHERE s.seq = ` + seq +
				` AND s.doc LIKE ` + c.arg(likePattern(q)) + ` ESCAPE '\')`
		},
	}
}

func (d *postgresDialect) namePrefix(arg func(any) string, q string) string {
	return `SELECT s.id FROM tokens AS s WHERE s.name_lower LIKE ` + arg(escapeLike(q)+"%") + ` ESCAPE '\'`
}

// nameSearch is LIKE, which the pg_trgm index of migration 017 serves.
func (d *postgresDialect) nameSearch(arg func(any) string, q string) string {
	return `SELECT s.id FROM tokens AS s WHERE s.name_lower LIKE ` + arg("%"+escapeLike(q)+"%") + ` ESCAPE '\'`
}

// listExpr is the expression PostgreSQL's list indexes are built on: it
// matches an indexed expression by meaning, so qualified names are fine.
func (d *postgresDialect) listExpr(name string) string {
	switch name {
	case "list_state":
		return tokenStateExpr
	case "list_last_used":
		return `COALESCE(tokens.last_used_at, -1)`
	case "list_expiry":
		return effectiveExpiryExpr
	case "list_due":
		return `(CASE WHEN tokens.revoked_at IS NULL AND tokens.expiry_recorded_at IS NULL THEN ` + effectiveExpiryExpr + ` END)`
	}
	panic("store: no token list key " + name)
}
