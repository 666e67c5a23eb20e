package store

import (
	"cmp"
	"context"
	"database/sql"
	"math"
	"slices"
	"time"

	"github.com/keysmith/keysmith"
)

// Token uses and expiries. Idle expiry is final once recorded: the use flush,
// the verifier (through RecordTokenExpiry) and the sweep all record it the
// same way, and the flush refuses uses that would revive a token.
//
// Lock order (see write): these methods lock token rows one at a time in id
// order, and append to the system log only after the last row lock.

// useUpdate stores one batched use unless it would revive the token: the
// batch must have begun before the stored idle deadline ($4), arrive before
// that deadline plus IdleSettle ($5 is now minus IdleSettle), and the
// token's expiry must not be recorded. (The uses of a batch after its first
// each came within the idle TTL of the one before, or the verifier would
// have refused them.)
const useUpdate = `UPDATE tokens SET last_used_at = $1, last_used_ip = $2
	WHERE id = $3 AND (last_used_at IS NULL OR last_used_at < $1) AND expiry_recorded_at IS NULL
	AND ` + idleDeadlineExpr + ` > $4 AND ` + idleDeadlineExpr + ` > $5`

// defaultUseBatch bounds the uses one RecordTokenUses transaction stores.
const defaultUseBatch = 500

// RecordTokenUses stores a batch of last-use records, in token id order, in
// transactions of at most Options.BatchSize (default 500) uses each, so
// that a large flush never holds the write lock for long. A record older
// than the stored one is ignored, so replicas may flush in any order, and a
// flush that failed part way may be repeated whole. A record that may not
// revive its token (see useUpdate) is refused; if the token has expired by
// what is stored, the refusal records its expiry, and either way the change
// is published so that caches holding the refused use read the token
// again. Other uses are not changes: nothing is published or recorded for
// them.
func (db *DB) RecordTokenUses(ctx context.Context, uses []keysmith.TokenUse) error {
	uses = slices.Clone(uses)
	slices.SortStableFunc(uses, func(a, b keysmith.TokenUse) int { return cmp.Compare(a.TokenID, b.TokenID) })
	for chunk := range slices.Chunk(uses, db.batch(defaultUseBatch)) {
		if err := db.recordTokenUses(ctx, chunk); err != nil {
			return err
		}
	}
	return nil
}

// recordTokenUses stores uses, sorted by token id, in one transaction.
func (db *DB) recordTokenUses(ctx context.Context, uses []keysmith.TokenUse) error {
	return db.write(ctx, func(tx *txn) error {
		now := db.now()
		stmt, err := tx.PrepareContext(ctx, useUpdate)
		if err != nil {
			return err
		}
		defer stmt.Close()
		var expired []*keysmith.Token
		for _, u := range uses {
			first := u.First
			if first.IsZero() || first.After(u.At) {
				first = u.At
			}
			res, err := stmt.ExecContext(ctx, micros(u.At), u.IP, u.TokenID, micros(first), micros(now.Add(-keysmith.IdleSettle)))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				continue
			}
			t, err := tx.settleRefusedUse(u.TokenID, now)
			if err != nil {
				return err
			}
			if t != nil {
				expired = append(expired, t)
			}
		}
		return tx.recordExpired(expired, now)
	})
}

// settleRefusedUse looks at a token whose use was not stored. If its expiry
// is recorded, caches must drop the use they hold; if it has expired by
// what is stored, its expiry is recorded now (the token is returned, for
// recordExpired). A use that was merely older than the stored one changes
// nothing.
func (tx *txn) settleRefusedUse(id string, now time.Time) (*keysmith.Token, error) {
	var recorded, expiredNow bool
	err := tx.QueryRowContext(tx.ctx, `SELECT expiry_recorded_at IS NOT NULL,
		revoked_at IS NULL AND ((expires_at IS NOT NULL AND expires_at <= $2) OR `+idleDeadlineExpr+` <= $2)
		FROM tokens WHERE id = $1`, id, micros(now)).Scan(&recorded, &expiredNow)
	switch {
	case err == sql.ErrNoRows:
		return nil, nil
	case err != nil:
		return nil, err
	case recorded:
		tx.changed(keysmith.ChangeToken, id)
		return nil, nil
	case !expiredNow:
		return nil, nil
	}
	return tx.markExpired(id, now, now)
}

// RecordTokenExpiry records the expiry of a token if, by the uses stored, it
// was not used within its idle TTL before now (or its absolute expiry has
// passed): a replica calls it before answering EXPIRED, so that no use
// flushed later can revive the token. Nothing changes for a token that was
// renewed, revoked or whose expiry is recorded already, or that does not
// exist.
func (db *DB) RecordTokenExpiry(ctx context.Context, id string, now time.Time) error {
	ctx = keysmith.WithAudit(ctx, keysmith.Audit{Actor: keysmith.SystemActor}) // not the request's: the clock's
	return db.write(ctx, func(tx *txn) error {
		t, err := tx.markExpired(id, now, now)
		if err != nil || t == nil {
			return err
		}
		return tx.recordExpired([]*keysmith.Token{t}, now)
	})
}

// defaultExpiryBatch bounds the tokens one expiry sweep transaction marks.
const defaultExpiryBatch = 50

// idleSweepMargin is how long after a token's idle deadline (by its stored
// last use) the sweep waits before recording it expired: until then a use
// made just before the deadline may still arrive from another replica;
// after it the store refuses such a use anyway.
const idleSweepMargin = keysmith.IdleSettle

// expiryDue is one way a token comes due: an expression of when, which
// migration 009 indexes (word for word, so that both engines match it) over
// the tokens whose expiry may still be recorded.
type expiryDue struct {
	at string
	// after is the condition on ($2, $3), a due time and id, that keeps
	// the candidates after that cursor (see expiryCandidates).
	after string
	// margin is how long after at the sweep waits.
	margin time.Duration
}

// expiryDues are the sweep's passes: absolute expiry, then idle expiry.
var expiryDues = []expiryDue{
	{at: `tokens.expires_at`, after: `(tokens.expires_at, tokens.id) > ($2, $3)`},
	{at: idleDeadlineExpr, after: idleDeadlineExpr + ` >= $2 AND (` + idleDeadlineExpr + `, tokens.id) > ($2, $3)`,
		margin: idleSweepMargin},
}

// dueCursor is where a pass of the sweep has read to: the due time and id
// of the last candidate.
type dueCursor struct {
	at int64
	id string
}

// RecordTokenExpiries records api_token.expired for each unrevoked token
// whose absolute expiry, or idle deadline (plus idleSweepMargin), has passed
// at now and has not been recorded, marking the token so that the event is
// recorded once, even with several replicas sweeping at the same time. The
// actor is the system.
//
// It never holds the write lock for long, whatever the number of tokens:
// it reads candidates through the due-time indexes, outside any
// transaction, in order of due time and id, and marks and records each
// batch of at most Options.BatchSize (default 50) in a short transaction of
// its own (markExpired checks each token again under its row lock). A token
// that comes due while the sweep runs may wait for the next sweep.
func (db *DB) RecordTokenExpiries(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for _, due := range expiryDues {
		n, err := db.sweepExpiries(ctx, due, now)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// sweepExpiries is one pass of RecordTokenExpiries: the tokens due by one
// expression at now.
func (db *DB) sweepExpiries(ctx context.Context, due expiryDue, now time.Time) (int, error) {
	total := 0
	batch := db.batch(defaultExpiryBatch)
	cur := dueCursor{at: math.MinInt64}
	for {
		cands, err := db.expiryCandidates(ctx, due, micros(now.Add(-due.margin)), cur, batch)
		if err != nil {
			return total, db.mapError(err)
		}
		if len(cands) == 0 {
			return total, nil
		}
		cur = cands[len(cands)-1]
		ids := make([]string, len(cands))
		for i, c := range cands {
			ids[i] = c.id
		}
		slices.Sort(ids) // the lock order: rows in id order
		n := 0
		err = db.write(ctx, func(tx *txn) error {
			var ts []*keysmith.Token
			for _, id := range ids {
				t, err := tx.markExpired(id, now, now.Add(-idleSweepMargin))
				if err != nil {
					return err
				}
				if t != nil { // else another replica recorded it, or it was renewed or revoked meanwhile
					ts = append(ts, t)
				}
			}
			n = len(ts)
			return tx.recordExpired(ts, now)
		})
		if err != nil {
			return total, err
		}
		total += n
		if len(cands) < batch {
			return total, nil
		}
	}
}

// expiryCandidates returns, in order of due time and id, up to limit tokens
// after cur that are due by due.at at or before by and whose expiry may
// still be recorded. It reads without a transaction, through migration
// 009's index on (due.at, id), which the row value comparison of due.after
// starts its range at, on both engines: a batch does not read again the
// tokens that share a due time with the cursor and came before it (the
// form "at > $2 OR (at = $2 AND id > $3)" would, every batch). SQLite
// ranges by a row value only over plain columns, not over the idle
// deadline's expression; there the bound on the due time alone starts
// the range (ties read again), and PostgreSQL uses the row value.
func (db *DB) expiryCandidates(ctx context.Context, due expiryDue, by int64, cur dueCursor, limit int) ([]dueCursor, error) {
	return queryAll(ctx, db.sql, expiryCandidatesQuery(due), []any{by, cur.at, cur.id, limit},
		func(row scanner) (dueCursor, error) {
			var c dueCursor
			err := row.Scan(&c.id, &c.at)
			return c, err
		})
}

// expiryCandidatesQuery is expiryCandidates' statement for due.
func expiryCandidatesQuery(due expiryDue) string {
	return `SELECT tokens.id, ` + due.at + ` FROM tokens
		WHERE tokens.revoked_at IS NULL AND tokens.expiry_recorded_at IS NULL
		AND ` + due.at + ` <= $1 AND ` + due.after + `
		ORDER BY ` + due.at + `, tokens.id LIMIT $4`
}

// markExpired marks a token's expiry recorded, taking its row lock, if it is
// unrevoked, not marked yet, and expired at now: absolutely, or idle by
// idleBefore (its stored idle deadline at or before it). It returns the
// token if it marked it, nil if not; the caller records the event with
// recordExpired once every row it needs is locked.
func (tx *txn) markExpired(id string, now, idleBefore time.Time) (*keysmith.Token, error) {
	res, err := tx.ExecContext(tx.ctx, `UPDATE tokens SET expiry_recorded_at = $1
		WHERE id = $2 AND expiry_recorded_at IS NULL AND revoked_at IS NULL
		AND ((expires_at IS NOT NULL AND expires_at <= $3) OR `+idleDeadlineExpr+` <= $4)`,
		micros(tx.db.now()), id, micros(now), micros(idleBefore))
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nil
	}
	return tx.tokenByID(id)
}

// recordExpired appends api_token.expired (app_key.expired for an app key)
// for each token markExpired
// marked, and publishes the change: a replica holding a use of the token
// that the store will refuse must read it again.
func (tx *txn) recordExpired(ts []*keysmith.Token, now time.Time) error {
	owners := make([]keysmith.Ref, len(ts)) // read before the log's lock, which is held until commit
	for i, t := range ts {
		owners[i] = tx.userRef(t.OwnerID)
	}
	for i, t := range ts {
		tx.changed(keysmith.ChangeToken, t.ID)
		at, reason := tokenExpiry(t, now)
		details := map[string]any{"expired_at": at, "reason": reason, "owner_id": t.OwnerID}
		if t.Type == keysmith.TokenAppKey {
			details["app_id"] = t.AppID
		}
		err := tx.record(t.EventType(keysmith.EventAPITokenExpired), details, keysmith.TokenRef(t), owners[i])
		if err != nil {
			return err
		}
	}
	return nil
}

// tokenExpiry says when and why a token found expired at now expired: at
// its absolute expiry ("absolute") or its idle deadline ("idle"),
// whichever came first.
func tokenExpiry(t *keysmith.Token, now time.Time) (time.Time, string) {
	last := t.CreatedAt
	if t.LastUsedAt != nil && t.LastUsedAt.After(last) {
		last = *t.LastUsedAt
	}
	idle := last.Add(t.IdleTTL)
	if t.ExpiresAt != nil && !t.ExpiresAt.After(now) && !t.ExpiresAt.After(idle) {
		return t.ExpiresAt.UTC(), "absolute"
	}
	return idle.UTC(), "idle"
}
