package keysmith

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"
)

// The outcomes an event records.
const (
	OutcomeSuccess = "success" // the change was made
	OutcomeFailure = "failure" // an attempt failed (for example a wrong password)
	OutcomeDenied  = "denied"  // the caller was authenticated but not allowed
)

// EventStore keeps the system log. Changes record their events themselves, in
// their own transactions; these methods read the log, record events that are
// not changes, and keep the log's chain.
type EventStore interface {
	// RecordEvent appends an event that is not part of a change (a refused
	// request, a failed sign-in), with the Audit from ctx.
	RecordEvent(ctx context.Context, typ EventType, outcome string, details map[string]any, targets ...Ref) error
	// FindEvents returns one page of events, newest first, and the cursor of
	// the next page ("" on the last). CodeInvalid for a bad cursor.
	FindEvents(ctx context.Context, f EventFilter) ([]*Event, string, error)
	// ExportEvents calls fn with every event that f selects, oldest first.
	// f.Limit and f.Cursor are ignored. It stops at fn's first error.
	ExportEvents(ctx context.Context, f EventFilter, fn func(*Event) error) error
	// VerifyEvents walks the hash chain from its anchor and reports the first
	// event that was modified, removed or reordered.
	VerifyEvents(ctx context.Context) (*LogCheck, error)
	// PruneEvents deletes the oldest events recorded before the time, keeps
	// the last deleted event's seq and hash as the anchor the rest of the
	// chain is verified from, and records the pruning. It returns how many
	// events it deleted.
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
	// RecordTokenExpiries records api_token.expired, once per token, for every
	// unrevoked token whose expiry has passed at now. It returns how many.
	RecordTokenExpiries(ctx context.Context, now time.Time) (int, error)
}

// EventFilter selects events. Zero fields select everything.
type EventFilter struct {
	Type     EventType
	ActorID  string
	TargetID string
	Outcome  string
	Query    string    // case-insensitive substring of the event's JSON
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	Limit    int       // 1..MaxPageSize; 0 means DefaultPageSize
	Cursor   string    // opaque, from the previous page
}

// maxQueryLen bounds the free-text search.
const maxQueryLen = 200

// Validate checks the filter's values.
func (f *EventFilter) Validate() error {
	if f.Limit < 0 || f.Limit > MaxPageSize {
		return Errorf(CodeInvalid, "limit must be between 1 and %d", MaxPageSize)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return Errorf(CodeInvalid, "until must be later than since")
	}
	if n := utf8.RuneCountInString(f.Query); n > maxQueryLen || !utf8.ValidString(f.Query) {
		return Errorf(CodeInvalid, "q must be valid UTF-8 of at most %d characters", maxQueryLen)
	}
	switch f.Outcome {
	case "", OutcomeSuccess, OutcomeFailure, OutcomeDenied:
	default:
		return Errorf(CodeInvalid, "outcome must be %s, %s or %s", OutcomeSuccess, OutcomeFailure, OutcomeDenied)
	}
	return nil
}

// LogCheck is what walking the chain found.
type LogCheck struct {
	Events     int64  // events walked
	FirstSeq   int64  // 0 when there are none
	LastSeq    int64  // the head
	HeadHash   string // note it elsewhere to detect a truncated tail later
	AnchorSeq  int64  // the last pruned event, 0 if none was pruned
	AnchorHash string
	Problem    *LogProblem // nil when the chain is intact
}

// The kinds of LogProblem.
const (
	ProblemModified  = "modified"
	ProblemRemoved   = "removed"
	ProblemReordered = "reordered"
	ProblemAnchor    = "anchor"
)

// LogProblem names the first event that breaks the chain.
type LogProblem struct {
	Seq    int64  // where the chain breaks
	ID     string // the event's id, "" when it is gone
	Kind   string // ProblemModified, ProblemRemoved, ProblemReordered, ProblemAnchor
	Detail string // what is wrong, for people
}

func (p *LogProblem) String() string {
	id := ""
	if p.ID != "" {
		id = " (" + p.ID + ")"
	}
	return fmt.Sprintf("event seq %d%s %s: %s", p.Seq, id, p.Kind, p.Detail)
}

// FindEvents lists system-log events for an admin.
func (s *Service) FindEvents(ctx context.Context, p Principal, f EventFilter) ([]*Event, string, error) {
	if err := canReadLogs(p, &f); err != nil {
		return nil, "", err
	}
	return s.Store.FindEvents(ctx, f)
}

// ExportEvents streams system-log events, oldest first, for an admin.
func (s *Service) ExportEvents(ctx context.Context, p Principal, f EventFilter, fn func(*Event) error) error {
	f.Limit, f.Cursor = 0, ""
	if err := canReadLogs(p, &f); err != nil {
		return err
	}
	return s.Store.ExportEvents(ctx, f, fn)
}

func canReadLogs(p Principal, f *EventFilter) error {
	if !CanReadLogs(p.User) {
		return Errorf(CodeForbidden, "role %s may not read the system log; ask an admin", p.User.Role)
	}
	return f.Validate()
}
