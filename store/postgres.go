package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/keysmith/keysmith"
)

// postgresDialect is the engine for several replicas. Changes reach the other
// replicas by NOTIFY on one channel, sent inside the changing transaction so
// that it is delivered exactly when the change commits. Each payload names
// the store that sent it (origin), so that a store skips the echo of its
// own changes, which it published itself after the commit.
type postgresDialect struct {
	dsn    string
	origin string
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

func (d *postgresDialect) lockLog(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, logLockKey)
	return err
}

// PostgreSQL's buffers are the server's: nothing to do per transaction.
func (d *postgresDialect) prepareBulk(context.Context, *sql.Tx) error { return nil }

func (d *postgresDialect) notify(ctx context.Context, tx *sql.Tx, cs []keysmith.Change) error {
	if len(cs) == 0 {
		return nil
	}
	payloads := make([]string, len(cs))
	for i, c := range cs {
		payloads[i] = d.origin + ":" + string(c.Kind) + ":" + c.ID
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
// for this store's own (see postgresDialect). A
// connection quiet for h.check is pinged, and one that does not answer
// within h.check has failed: a connection can die silently (a dropped route,
// a firewall that forgot it), and would otherwise wait for notifications
// forever while every cache went stale.
func (d *postgresDialect) receive(ctx context.Context, conn *pgx.Conn, h listenHooks) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, h.check)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			origin, change, _ := strings.Cut(n.Payload, ":")
			if origin != d.origin {
				kind, id, _ := strings.Cut(change, ":")
				h.publish(keysmith.Change{Kind: keysmith.ChangeKind(kind), ID: id})
			}
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !pgconn.Timeout(err):
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, h.check)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return fmt.Errorf("no answer to a ping within %s: %w", h.check, err)
		}
	}
}
