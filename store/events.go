package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/keysmith/keysmith"
)

// record appends the event of the change tx is making to the system log, in
// tx, so that no change commits without its event and no event survives a
// failed change. Actor, address, user agent and request id come from the
// Audit in the transaction's context. Every write method calls this; it is
// the one place events are made.
func (tx *txn) record(typ keysmith.EventType, details map[string]any, targets ...keysmith.Ref) error {
	return tx.recordOutcome(typ, keysmith.OutcomeSuccess, details, targets...)
}

// recordAll records the events the domain drafted for a change.
func (tx *txn) recordAll(evs ...keysmith.EventDraft) error {
	for _, ev := range evs {
		if err := tx.record(ev.Type, ev.Details, ev.Targets...); err != nil {
			return err
		}
	}
	return nil
}

// recordOutcome is record with an outcome other than success.
func (tx *txn) recordOutcome(typ keysmith.EventType, outcome string, details map[string]any, targets ...keysmith.Ref) error {
	a := keysmith.AuditFrom(tx.ctx)
	ev := keysmith.Event{
		ID:        keysmith.NewID("evt"),
		Time:      tx.db.now(),
		Type:      typ,
		Message:   typ.Message(),
		Actor:     a.Actor,
		Targets:   targets,
		ClientIP:  a.ClientIP,
		UserAgent: a.UserAgent,
		RequestID: a.RequestID,
		Outcome:   outcome,
		Details:   details,
	}
	if ev.Targets == nil {
		ev.Targets = []keysmith.Ref{}
	}
	if ev.Details == nil {
		ev.Details = map[string]any{}
	}
	if err := tx.lockLog(); err != nil {
		return err
	}
	if !tx.head.known {
		seq, hash, err := tx.logHead()
		if err != nil {
			return err
		}
		tx.head = logHead{seq: seq, hash: hash, known: true}
	}
	prevHash := tx.head.hash
	ev.Seq = tx.head.seq + 1
	data, err := keysmith.CanonicalEvent(ev)
	if err != nil {
		return err
	}
	ev.PrevHash, ev.Hash = prevHash, keysmith.ChainHash(prevHash, data)
	_, err = tx.ExecContext(tx.ctx, `INSERT INTO events (seq, id, time, type, actor_id, data, prev_hash, hash, target_ids, outcome)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		ev.Seq, ev.ID, micros(ev.Time), string(ev.Type), ev.Actor.ID, data, ev.PrevHash, ev.Hash,
		keysmith.TargetIDs(ev.Targets), ev.Outcome)
	if err != nil {
		return fmt.Errorf("append to system log: %w", err)
	}
	if err := tx.indexEvent(ev.Seq, ev.Targets); err != nil {
		return err
	}
	tx.head = logHead{seq: ev.Seq, hash: ev.Hash, known: true}
	return nil
}

// logHead is the newest event a transaction holding the log's lock has
// read or appended: the next event links to it, with no need to read it
// again.
type logHead struct {
	seq   int64
	hash  string
	known bool
}

// lockLog takes the system log's lock, once per transaction: the last lock
// it takes (see write).
func (tx *txn) lockLog() error {
	if tx.logLocked {
		return nil
	}
	if err := tx.db.dialect.lockLog(tx.ctx, tx.Tx); err != nil {
		return fmt.Errorf("lock system log: %w", err)
	}
	tx.logLocked = true
	return nil
}

// logHead is the seq and hash the next event links to: the newest event's,
// or the anchor's when pruning has just removed them all.
func (tx *txn) logHead() (int64, string, error) {
	var seq int64
	var hash string
	err := tx.QueryRowContext(tx.ctx, `SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(tx.ctx, `SELECT seq, hash FROM event_anchor WHERE id = 1`).Scan(&seq, &hash)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, "", fmt.Errorf("read system log head: %w", err)
	}
	return seq, hash, nil
}

// userRef is how the user with id appears as a target, read in tx; the id
// alone if the user cannot be read.
func (tx *txn) userRef(id string) keysmith.Ref {
	if tx.bulk == nil {
		return tx.readUserRef(id)
	}
	ref, ok := tx.bulk.users[id]
	if !ok {
		ref = tx.readUserRef(id)
		tx.bulk.users[id] = ref
	}
	return ref
}

// readUserRef is userRef read from the database.
func (tx *txn) readUserRef(id string) keysmith.Ref {
	var email string
	if err := tx.QueryRowContext(tx.ctx, `SELECT email FROM users WHERE id = $1`, id).Scan(&email); err != nil {
		return keysmith.Ref{Type: "user", ID: id}
	}
	return keysmith.Ref{Type: "user", ID: id, DisplayName: email}
}
