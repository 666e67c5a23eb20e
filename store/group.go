package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/keysmith/keysmith"
)

// writeGroup commits SQLite's write transactions in groups. SQLite lets one
// writer in at a time and, with synchronous=FULL, syncs the log to disk at
// every commit; one commit per write made 32 concurrent writers on a large
// file wait in line for as many syncs (issue 22). So one goroutine takes
// the writes that queued while the previous group committed and runs them
// all in ONE SQLite transaction, each in its own savepoint: one that fails
// rolls back to its savepoint and hears its own error, the others commit
// together, with one sync. Each caller hears success only once the group's
// COMMIT has returned, so nothing acknowledged can be lost.
//
// The writes themselves run in their callers' goroutines, one after the
// other, each given the group's transaction in turn (so a panic unwinds the
// caller, as it would without groups), in the order they queued: the serial
// order in which each reads what the earlier members wrote, and in which
// their events extend the hash chain. A group holds the process's writer
// turn (dialect.queueWrite) from BEGIN to COMMIT, so background jobs'
// statements (DB.exec) and DB.tx queue with the groups, first come first
// served.
//
// PostgreSQL does not group: its writers do not exclude each other.
type writeGroup struct {
	db    *DB
	queue chan *groupMember
	stop  chan struct{} // closed by close
	once  sync.Once
	done  chan struct{} // closed when the loop has returned

	// waiting counts the writes not yet given their turn; groups and
	// members count the groups committed and the writes in them. For
	// tests.
	waiting         atomic.Int64
	groups, members atomic.Uint64
}

// maxGroup is the most writes one group commits: enough to take every
// write queued behind a busy writer, few enough that the group's
// transaction stays short.
const maxGroup = 64

// groupMember is one write waiting for, running in, or done with a group.
type groupMember struct {
	ctx context.Context
	// alone asks for a group of this write only (a Batch: thousands of
	// changes, which others should not wait behind inside one
	// transaction).
	alone bool
	// turn gives the member the group's transaction, or nil when it is not
	// to run (err says why).
	turn chan *sql.Tx
	// ran says the member has finished with the transaction; buffered.
	ran chan struct{}
	// answer is closed once the group's outcome is known.
	answer chan struct{}

	number  uint64            // the transaction's number (see DB.write)
	err     error             // the member's error, or the group's
	changes []keysmith.Change // to publish; set once f succeeded
	// broken is set when the member's savepoint could not be rolled back:
	// the whole group's transaction is gone.
	broken error
}

// errClosed answers writes made after Close.
var errClosed = errors.New("the store is closed")

// errPanicked is a member's outcome while its function runs: a panic
// leaves it so.
var errPanicked = errors.New("write panicked")

func newWriteGroup(db *DB) *writeGroup {
	g := &writeGroup{db: db, queue: make(chan *groupMember), stop: make(chan struct{}), done: make(chan struct{})}
	go g.loop()
	return g
}

// close stops the group writer once its current group is done; writes
// queued but not begun hear errClosed.
func (g *writeGroup) close() {
	g.once.Do(func() { close(g.stop) })
	<-g.done
}

// write runs f as a member of a group (see writeGroup) and publishes its
// changes once the group has committed.
func (g *writeGroup) write(ctx context.Context, f func(tx *txn) error, alone bool) error {
	m := &groupMember{ctx: ctx, alone: alone, turn: make(chan *sql.Tx, 1), ran: make(chan struct{}, 1),
		answer: make(chan struct{})}
	g.waiting.Add(1)
	select {
	case g.queue <- m:
	case <-ctx.Done():
		g.waiting.Add(-1)
		return fmt.Errorf("wait to write: %w", ctx.Err())
	case <-g.stop:
		g.waiting.Add(-1)
		return errClosed
	}
	stx := <-m.turn
	g.waiting.Add(-1)
	if stx != nil {
		g.run(m, stx, f)
	}
	<-m.answer
	if m.err != nil && len(m.changes) > 0 { // the commit failed, and may have committed
		g.db.failed.add(m.number)
	}
	for _, c := range m.changes {
		g.db.publish(c)
	}
	return m.err
}

// run runs f in its own savepoint of the group's transaction stx, in the
// caller's goroutine. Once it has begun, the write runs to its end even if
// ctx ends meanwhile: an interrupted statement would roll back the whole
// group's transaction, so f's statements get ctx without its cancellation.
func (g *writeGroup) run(m *groupMember, stx *sql.Tx, f func(tx *txn) error) {
	if err := m.ctx.Err(); err != nil { // the caller gave up while the write waited
		m.err = fmt.Errorf("wait to write: %w", err)
		m.ran <- struct{}{}
		return
	}
	ctx := context.WithoutCancel(m.ctx)
	if _, err := stx.ExecContext(ctx, `SAVEPOINT member`); err != nil {
		m.err, m.broken = fmt.Errorf("begin savepoint: %w", err), err
		m.ran <- struct{}{}
		return
	}
	m.number = g.db.txns.Add(1)
	m.err = errPanicked
	defer func() { // also when f panics: the panic then goes on up the caller's stack
		if m.err != nil {
			if _, err := stx.ExecContext(ctx, `ROLLBACK TO member`); err != nil {
				m.broken = err
			}
		}
		if m.broken == nil {
			if _, err := stx.ExecContext(ctx, `RELEASE member`); err != nil {
				m.broken = err
			}
		}
		m.ran <- struct{}{}
	}()
	tx := &txn{Tx: stx, db: g.db, ctx: ctx, grouped: true}
	if err := f(tx); err != nil {
		m.err = g.db.mapError(err)
		return
	}
	if err := g.db.dialect.notify(ctx, stx, m.number, tx.changes); err != nil {
		m.err = g.db.mapError(err)
		return
	}
	m.err, m.changes = nil, tx.changes
}

// loop takes queued writes and runs them in groups until close.
func (g *writeGroup) loop() {
	defer close(g.done)
	var pending []*groupMember // received, not yet run; in the order they queued
	for {
		select {
		case <-g.stop:
			for _, m := range pending {
				g.answer(m, errClosed)
			}
			return
		default:
		}
		if len(pending) == 0 {
			select {
			case m := <-g.queue:
				pending = append(pending, m)
			case <-g.stop:
				continue
			}
		}
		var members []*groupMember
		members, pending = g.gather(pending)
		pending = append(g.runGroup(members), pending...)
	}
}

// gather takes the next group from pending and whatever else has queued
// meanwhile, and returns it with what is left pending.
func (g *writeGroup) gather(pending []*groupMember) (members, rest []*groupMember) {
	if pending[0].alone {
		return pending[:1], pending[1:]
	}
	n := 0
	for n < len(pending) && n < maxGroup && !pending[n].alone {
		n++
	}
	members, rest = pending[:n:n], pending[n:]
	for len(rest) == 0 && len(members) < maxGroup {
		select {
		case m := <-g.queue:
			if m.alone {
				rest = append(rest, m)
			} else {
				members = append(members, m)
			}
		default:
			return members, rest
		}
	}
	return members, rest
}

// runGroup runs members in one transaction, in order, commits it, and
// answers them. If the transaction was lost in the middle (a member's
// savepoint could not be rolled back), those that ran fail with it, and
// those that had not run yet are returned, to run in the next group.
func (g *writeGroup) runGroup(members []*groupMember) (again []*groupMember) {
	db := g.db
	done, err := db.dialect.queueWrite(context.Background())
	if err != nil { // only a cancelled ctx ends the wait
		panic(err)
	}
	stx, err := db.sql.BeginTx(context.Background(), nil)
	if err != nil {
		done()
		for _, m := range members {
			g.answer(m, db.mapError(fmt.Errorf("begin transaction: %w", err)))
		}
		return nil
	}
	for i, m := range members {
		m.turn <- stx
		<-m.ran
		if m.broken != nil {
			stx.Rollback()
			done()
			for _, r := range members[:i+1] {
				r.changes = nil // rolled back
				if r.err == nil {
					r.err = db.mapError(fmt.Errorf("the transaction was rolled back: %w", m.broken))
				}
				close(r.answer)
			}
			return members[i+1:]
		}
	}
	err = stx.Commit()
	done()
	if err == nil {
		g.groups.Add(1)
		g.members.Add(uint64(len(members)))
	}
	for _, m := range members {
		if err != nil && m.err == nil {
			m.err = db.mapError(fmt.Errorf("commit: %w", err))
		}
		close(m.answer)
	}
	return nil
}

// answer tells m, which has not run, that it will not: err.
func (g *writeGroup) answer(m *groupMember, err error) {
	m.err = err
	m.turn <- nil
	close(m.answer)
}
