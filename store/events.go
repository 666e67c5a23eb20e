package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
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

// RecordEvent appends an event that is not part of a change (a failed
// sign-in, say) to the system log, in a transaction of its own.
func (db *DB) RecordEvent(ctx context.Context, typ keysmith.EventType, outcome string, details map[string]any, targets ...keysmith.Ref) error {
	return db.write(ctx, func(tx *txn) error { return tx.recordOutcome(typ, outcome, details, targets...) })
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
	if err := tx.db.dialect.lockLog(tx.ctx, tx.Tx); err != nil {
		return fmt.Errorf("lock system log: %w", err)
	}
	var prevSeq int64
	var prevHash string
	err := tx.QueryRowContext(tx.ctx, `SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1`).Scan(&prevSeq, &prevHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read system log head: %w", err)
	}
	ev.Seq = prevSeq + 1
	data, err := CanonicalEvent(ev)
	if err != nil {
		return err
	}
	ev.PrevHash, ev.Hash = prevHash, ChainHash(prevHash, data)
	_, err = tx.ExecContext(tx.ctx, `INSERT INTO events (seq, id, time, type, actor_id, data, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		ev.Seq, ev.ID, micros(ev.Time), string(ev.Type), ev.Actor.ID, data, ev.PrevHash, ev.Hash)
	if err != nil {
		return fmt.Errorf("append to system log: %w", err)
	}
	return nil
}

// CanonicalEvent is the encoding the chain hash covers: the event's JSON with
// fields in declaration order and map keys sorted (encoding/json's rules),
// times in UTC with microseconds.
func CanonicalEvent(ev keysmith.Event) (string, error) {
	ev.Time = ev.Time.UTC()
	b, err := json.Marshal(ev)
	if err != nil {
		return "", fmt.Errorf("encode event: %w", err)
	}
	return string(b), nil
}

// ChainHash links an event to its predecessor.
func ChainHash(prevHash, data string) string {
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write([]byte{0})
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil))
}
