package keysmith

import (
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
