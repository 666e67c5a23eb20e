package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// eventJSON is a system-log event as the API shows it: the recorded event
// and its place in the hash chain.
type eventJSON struct {
	*keysmith.Event
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

func newEventJSON(ev *keysmith.Event) eventJSON {
	return eventJSON{Event: ev, PrevHash: ev.PrevHash, Hash: ev.Hash}
}

func (s *Server) logRoutes(mux routes) {
	mux.Handle("GET /v1/logs", s.authed(s.listLogs))
	mux.Handle("GET /v1/logs/export", s.authed(s.exportLogs))
}

// eventFilter reads the query parameters both log endpoints take.
func eventFilter(r *http.Request) (keysmith.EventFilter, error) {
	q, page, err := listQuery(r, "type", "actor", "target", "outcome", "q", "since", "until")
	if err != nil {
		return keysmith.EventFilter{}, err
	}
	f := keysmith.EventFilter{
		Type: keysmith.EventType(q.Get("type")), ActorID: q.Get("actor"), TargetID: q.Get("target"),
		Outcome: q.Get("outcome"), Query: q.Get("q"), Page: page,
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return f, keysmith.Errorf(keysmith.CodeInvalid, "%s must be an RFC 3339 time, like 2030-01-02T15:04:05Z", p.name)
			}
			*p.dst = t
		}
	}
	return f, nil
}

// listLogs answers one page of the system log, newest first.
func (s *Server) listLogs(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	f, err := eventFilter(r)
	if err != nil {
		return err
	}
	evs, next, err := s.Service.FindEvents(r.Context(), p, f)
	if err != nil {
		return err
	}
	items := make([]eventJSON, len(evs))
	for i, ev := range evs {
		items[i] = newEventJSON(ev)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

// exportLogs streams the selected events as NDJSON, oldest first. The
// status is sent with the first event, so a refused or invalid request still
// gets a JSON error; a failure after that aborts the response, so the client
// sees a broken stream rather than a complete-looking short one.
func (s *Server) exportLogs(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if q := r.URL.Query(); q.Get("cursor") != "" || q.Has("limit") {
		return keysmith.Errorf(keysmith.CodeInvalid, "export takes no cursor or limit: it streams every event selected")
	}
	f, err := eventFilter(r)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	started := false
	start := func() {
		started = true
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
	enc := json.NewEncoder(w)
	n := 0
	err = s.Service.ExportEvents(r.Context(), p, f, func(ev *keysmith.Event) error {
		if !started {
			start()
		}
		// A long export may outlast the server's write timeout.
		rc.SetWriteDeadline(time.Now().Add(time.Minute))
		if err := enc.Encode(newEventJSON(ev)); err != nil {
			return err
		}
		if n++; n%exportFlushEvery == 0 {
			rc.Flush()
		}
		return nil
	})
	if err != nil && !started {
		return err
	}
	if err != nil {
		s.Log.WarnContext(r.Context(), "log export cut short", "request_id", requestID(r.Context()), "err", err)
		panic(http.ErrAbortHandler)
	}
	if !started {
		start()
	}
	return nil
}

// exportFlushEvery is how many events an export writes between flushes.
const exportFlushEvery = 100

// recordDenied records access.denied for a request refused with 403, with
// the caller as the actor (from r's Audit). Every 403 of an authenticated
// endpoint within the caller's budget of refusals passes here (see
// denied); the strings taken from the request are cut to maxLoggedLen. Failing to record does not change the answer, which
// is a refusal either way; it is logged.
func (s *Server) recordDenied(r *http.Request, refusal error) {
	// A caller that hung up is still recorded.
	err := s.Service.RecordAccessDenied(context.WithoutCancel(r.Context()), truncateString(r.Method, maxLoggedLen),
		truncateString(r.URL.Path, maxLoggedLen), r.Pattern, truncateString(keysmith.ErrorMessage(refusal), maxLoggedLen))
	if err != nil {
		s.Log.ErrorContext(r.Context(), "recording a refused request in the system log failed",
			"request_id", requestID(r.Context()), "err", err)
	}
}
