package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/keysmith/keysmith"
)

// Batch is one write transaction that makes many changes the way the API
// makes them one at a time: the same rows, the same events in the same hash
// chain, the same change notices, through the same code. It is for bulk
// loading (bench/scale seeds a million tokens with it): one transaction of a
// few thousand changes costs a fraction of as many transactions.
//
// Each call's ctx carries the Audit its events record (keysmith.WithAudit),
// as a request's does; the store's clock (Options.Now) gives the times, so a
// loader that moves its clock can lay down a history. A Batch is valid only
// inside the function given to DB.Batch.
type Batch struct{ tx *txn }

// Batch runs f in one write transaction: if f returns an error, nothing f
// did is kept. Once it commits, one ChangeAll is published (and sent to
// other replicas) for all its changes.
func (db *DB) Batch(ctx context.Context, f func(b *Batch) error) error {
	return db.writeTx(ctx, func(tx *txn) error {
		if err := db.dialect.prepareBulk(ctx, tx.Tx); err != nil {
			return err
		}
		tx.bulk = &bulkState{stmts: map[string]*sql.Stmt{}, users: map[string]keysmith.Ref{}}
		defer tx.bulk.close()
		if err := f(&Batch{tx: tx}); err != nil {
			return err
		}
		if len(tx.changes) > 1 {
			// One notice that anything may have changed costs replicas a
			// refill of their caches, and the batch one statement instead
			// of thousands.
			tx.changes = []keysmith.Change{{Kind: keysmith.ChangeAll}}
		}
		return nil
	}, true)
}

// bulkState is what a Batch's transaction keeps between its many changes:
// each statement text prepared once and how each user appears as a target
// (a Batch changes no user once made). The system log's head is the
// transaction's (txn.head), as in every write.
type bulkState struct {
	stmts map[string]*sql.Stmt
	users map[string]keysmith.Ref
}

func (b *bulkState) close() {
	for _, st := range b.stmts {
		st.Close()
	}
}

// ExecContext is the transaction's ExecContext, through a statement
// prepared once per text in a Batch or a group (see txn.stmt).
func (tx *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = tx.uncancelled(ctx)
	st, err := tx.stmt(ctx, query)
	if err != nil || st == nil {
		return tx.Tx.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// QueryRowContext is the transaction's QueryRowContext, through a
// statement prepared once per text in a Batch or a group.
func (tx *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = tx.uncancelled(ctx)
	st, err := tx.stmt(ctx, query)
	if err != nil || st == nil {
		return tx.Tx.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// QueryContext is the transaction's QueryContext, through a statement
// prepared once per text in a Batch or a group.
func (tx *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = tx.uncancelled(ctx)
	st, err := tx.stmt(ctx, query)
	if err != nil || st == nil {
		return tx.Tx.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// uncancelled returns ctx without its cancellation in a group: a
// statement interrupted there could roll back the whole group's
// transaction, not only the member's savepoint (see writeGroup.run), and
// members pass their own ctx to their statements.
func (tx *txn) uncancelled(ctx context.Context) context.Context {
	if tx.grouped {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// stmt returns query prepared for tx, or nil to run it unprepared (with
// any error preparing it: running it reports that error again). A Batch
// prepares each text once in its transaction; a write in a group
// (SQLite) reuses what the store prepared on the connection before (see
// stmtCache): parsing and planning the same few statements again for every
// write was a quarter of a token creation's time in the writer's turn.
func (tx *txn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	switch {
	case tx.bulk != nil:
		return tx.prepared(ctx, query)
	case tx.grouped:
		st, err := tx.db.stmts.get(ctx, tx.db.sql, query)
		if err != nil || st == nil {
			return nil, err
		}
		return tx.Tx.StmtContext(ctx, st), nil
	}
	return nil, nil
}

// prepared returns the Batch's statement for query, preparing it the first
// time.
func (tx *txn) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := tx.bulk.stmts[query]; ok {
		return st, nil
	}
	st, err := tx.Tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	tx.bulk.stmts[query] = st
	return st, nil
}

// use points the transaction at ctx, whose Audit the next events record.
func (b *Batch) use(ctx context.Context) *txn {
	b.tx.ctx = ctx
	return b.tx
}

// CreateUser is DB.CreateUser inside the batch.
func (b *Batch) CreateUser(ctx context.Context, u *keysmith.User, passwordHash string) error {
	return b.use(ctx).insertUser(u, passwordHash)
}

// CreateToken is DB.CreateToken inside the batch.
func (b *Batch) CreateToken(ctx context.Context, t *keysmith.Token, h keysmith.Hash) error {
	return b.use(ctx).insertToken(t, h)
}

// UpdateToken is DB.UpdateToken inside the batch, without reading the
// token back.
func (b *Batch) UpdateToken(ctx context.Context, id string, u keysmith.TokenUpdate) error {
	return b.use(ctx).updateToken(id, u)
}

// RevokeToken is DB.RevokeToken inside the batch.
func (b *Batch) RevokeToken(ctx context.Context, id, revokedBy string) error {
	_, err := b.use(ctx).revokeToken(id, revokedBy)
	return err
}

// RecordTokenUse is DB.RecordTokenUses for one use inside the batch: a use
// that may not revive its token is refused the same way, recording the
// token's expiry if it has expired by what is stored.
func (b *Batch) RecordTokenUse(ctx context.Context, u keysmith.TokenUse) error {
	tx := b.use(ctx)
	now := tx.db.now()
	first := u.First
	if first.IsZero() || first.After(u.At) {
		first = u.At
	}
	res, err := tx.ExecContext(ctx, useUpdate, micros(u.At), u.IP, u.TokenID, micros(first), micros(now.Add(-keysmith.IdleSettle)))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	t, err := tx.settleRefusedUse(u.TokenID, now)
	if err != nil || t == nil {
		return err
	}
	return tx.recordExpired([]*keysmith.Token{t}, now)
}

// RecordTokenExpiry is what the expiry sweep does for one token inside the
// batch: if the token has expired at now (its idle deadline counted from its
// stored last use), its expiry is recorded with the system as the actor.
// It reports whether it recorded one.
func (b *Batch) RecordTokenExpiry(ctx context.Context, id string, now time.Time) (bool, error) {
	tx := b.use(keysmith.WithAudit(ctx, keysmith.Audit{Actor: keysmith.SystemActor}))
	t, err := tx.markExpired(id, now, now)
	if err != nil || t == nil {
		return false, err
	}
	return true, tx.recordExpired([]*keysmith.Token{t}, now)
}
