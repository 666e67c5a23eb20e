package keysmith

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
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
	Query    string    // case-insensitive substring of EventSearchText, MinQueryLen characters or more
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	Page
}

// maxQueryLen bounds the free-text search.
const maxQueryLen = 200

// Validate checks the filter's values.
func (f *EventFilter) Validate() error {
	if err := f.Page.Validate(); err != nil {
		return err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return Errorf(CodeInvalid, "until must be later than since")
	}
	if n := utf8.RuneCountInString(f.Query); n > maxQueryLen || !utf8.ValidString(f.Query) {
		return Errorf(CodeInvalid, "q must be valid UTF-8 of at most %d characters", maxQueryLen)
	}
	if n := queryLen(f.Query); n > 0 && n < MinQueryLen {
		return Errorf(CodeInvalid, "q must be at least %d characters: the log is searched for pieces of three characters or more", MinQueryLen)
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

// TargetIDs is the searchable form of an event's targets: ",id1,id2,".
func TargetIDs(targets []Ref) string {
	if len(targets) == 0 {
		return ""
	}
	var b strings.Builder
	for _, t := range targets {
		b.WriteString(",")
		b.WriteString(t.ID)
	}
	b.WriteString(",")
	return b.String()
}

// CanonicalEvent is the encoding the chain hash covers: the event's JSON with
// fields in declaration order and map keys sorted (encoding/json's rules),
// times in UTC with microseconds.
func CanonicalEvent(ev Event) (string, error) {
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

// EventRow is one row of the events table as stored: the event's
// canonical JSON (Data), its links, and the columns copied from it for
// searching, which the chain walk holds to the JSON.
type EventRow struct {
	Seq                                     int64
	ID, Type, ActorID, Data, PrevHash, Hash string
	Time                                    int64 // Unix microseconds
	TargetIDs, Outcome                      *string
}

// RecordedEvent is what the chain walk reads from an event's JSON.
type RecordedEvent struct {
	Seq     int64          `json:"seq"`
	ID      string         `json:"id"`
	Time    time.Time      `json:"time"`
	Type    string         `json:"type"`
	Actor   Ref            `json:"actor"`
	Targets []Ref          `json:"targets"`
	Outcome string         `json:"outcome"`
	Details map[string]any `json:"details"`
}

// CheckLink checks one row against the chain so far: the seq it must have,
// the hash it must link to, and the id of the event before it.
func CheckLink(r EventRow, next int64, prevHash, prevID string) (*RecordedEvent, *LogProblem) {
	bad := func(kind, format string, args ...any) *LogProblem {
		return &LogProblem{Seq: r.Seq, ID: r.ID, Kind: kind, Detail: fmt.Sprintf(format, args...)}
	}
	var d RecordedEvent
	if err := json.Unmarshal([]byte(r.Data), &d); err != nil {
		return nil, bad(ProblemModified, "its contents are not the JSON that was recorded")
	}
	if d.Seq != r.Seq {
		return nil, bad(ProblemReordered, "it was recorded as seq %d but is stored at seq %d", d.Seq, r.Seq)
	}
	if r.Seq != next {
		missing := fmt.Sprintf("seq %d", next)
		if r.Seq > next+1 {
			missing = fmt.Sprintf("seq %d to %d", next, r.Seq-1)
		}
		return nil, &LogProblem{Seq: next, Kind: ProblemRemoved,
			Detail: fmt.Sprintf("%s is missing: the chain goes on at seq %d (%s)", missing, r.Seq, r.ID)}
	}
	if d.ID != r.ID {
		return nil, bad(ProblemModified, "its id column differs from the id recorded (%s)", d.ID)
	}
	if ChainHash(prevHash, r.Data) != r.Hash {
		if r.PrevHash != prevHash && ChainHash(r.PrevHash, r.Data) == r.Hash {
			return nil, bad(ProblemModified, "it does not link to seq %d (%s): that event was rewritten with a new hash, or this one was",
				r.Seq-1, prevID)
		}
		return nil, bad(ProblemModified, "its contents do not match its hash")
	}
	if r.PrevHash != prevHash {
		return nil, bad(ProblemModified, "its prev_hash column was changed")
	}
	switch {
	case r.Time != d.Time.UnixMicro():
		return nil, bad(ProblemModified, "its time column differs from the time recorded")
	case r.Type != d.Type:
		return nil, bad(ProblemModified, "its type column differs from the type recorded (%s)", d.Type)
	case r.ActorID != d.Actor.ID:
		return nil, bad(ProblemModified, "its actor_id column differs from the actor recorded (%s)", d.Actor.ID)
	case r.TargetIDs == nil || *r.TargetIDs != TargetIDs(d.Targets):
		return nil, bad(ProblemModified, "its target_ids column differs from the targets recorded")
	case r.Outcome == nil || *r.Outcome != d.Outcome:
		return nil, bad(ProblemModified, "its outcome column differs from the outcome recorded (%s)", d.Outcome)
	}
	return &d, nil
}

// CheckAnchor confirms the anchor by the newest system_log.pruned event,
// which recorded it in the chain: an anchor moved by hand (to hide removed
// events) is not confirmed.
func CheckAnchor(seq int64, hash string, pruned *RecordedEvent) *LogProblem {
	if seq == 0 {
		return nil
	}
	p := &LogProblem{Seq: seq, Kind: ProblemAnchor}
	if pruned == nil {
		p.Detail = "the chain starts after this seq, but no system_log.pruned event records that pruning"
		return p
	}
	through, _ := pruned.Details["through_seq"].(float64)
	anchorHash, _ := pruned.Details["anchor_hash"].(string)
	if int64(through) != seq || anchorHash != hash {
		p.Detail = fmt.Sprintf("the anchor differs from the one the last pruning recorded (event %s: through seq %d)",
			pruned.ID, int64(through))
		return p
	}
	return nil
}
