package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Event is an event of the system log, with its place in the hash chain.
type Event struct {
	Seq       int64          `json:"seq"`
	ID        string         `json:"id"`
	Time      time.Time      `json:"time"`
	Type      string         `json:"type"`
	Message   string         `json:"message"`
	Actor     Ref            `json:"actor"`
	Targets   []Ref          `json:"targets"`
	ClientIP  string         `json:"client_ip"`
	UserAgent string         `json:"user_agent"`
	RequestID string         `json:"request_id"`
	Outcome   string         `json:"outcome"`
	Details   map[string]any `json:"details"`
	PrevHash  string         `json:"prev_hash"`
	Hash      string         `json:"hash"`
}

// Ref names the actor or a target of an event.
type Ref struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
}

// LogFilter selects the events ListLogs answers; zero fields select all.
type LogFilter struct {
	ListOptions
	Type     string // such as "token.created"
	ActorID  string
	TargetID string
	Outcome  string
	Query    string
	Since    time.Time
	Until    time.Time
}

// ListLogs answers one page of the system log, newest first.
func (c *Client) ListLogs(ctx context.Context, f LogFilter) (*Page[Event], error) {
	q := f.values(url.Values{})
	setIf(q, "type", f.Type)
	setIf(q, "actor", f.ActorID)
	setIf(q, "target", f.TargetID)
	setIf(q, "outcome", f.Outcome)
	setIf(q, "q", f.Query)
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	var p Page[Event]
	return &p, c.do(ctx, http.MethodGet, "/v1/logs", q, nil, &p)
}
