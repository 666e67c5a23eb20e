package web

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

func (s *Server) logRoutes(mux *http.ServeMux) {
	mux.Handle("GET /logs", s.page(s.logsPage))
	mux.Handle("GET /logs/export", s.page(s.exportLogs))
}

// logTimeLayout is how the filter's since and until inputs
// (datetime-local) write a time; the page reads them as UTC.
const logTimeLayout = "2006-01-02T15:04"

// logFilterParams are the query parameters of the log's filter, the same on
// the page and its export.
var logFilterParams = []string{"type", "actor", "target", "outcome", "q", "since", "until"}

// logFilter reads the filter from the query. A time that does not parse is
// an error the page shows above the form.
func logFilter(q url.Values) (keysmith.EventFilter, error) {
	f := keysmith.EventFilter{
		Type: keysmith.EventType(q.Get("type")), ActorID: strings.TrimSpace(q.Get("actor")),
		TargetID: strings.TrimSpace(q.Get("target")), Outcome: q.Get("outcome"), Query: q.Get("q"),
		Page: keysmith.Page{Cursor: q.Get("cursor")},
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := strings.TrimSpace(q.Get(p.name))
		if v == "" {
			continue
		}
		t, err := time.ParseInLocation(logTimeLayout, v, time.UTC)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, v); err != nil {
				return f, keysmith.Errorf(keysmith.CodeInvalid, "%s must be a date and time like 2030-01-02T15:04 (UTC)", p.name)
			}
		}
		*p.dst = t
	}
	return f, nil
}

// filterQuery is the filter's part of q (no cursor), for the pager and the
// export links.
func filterQuery(q url.Values) url.Values {
	out := url.Values{}
	for _, k := range logFilterParams {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}

// eventType is an event type as the filter's select offers it.
type eventType struct {
	Type    keysmith.EventType
	Message string
}

func eventTypes() []eventType {
	ts := keysmith.EventTypes()
	out := make([]eventType, len(ts))
	for i, t := range ts {
		out[i] = eventType{t, t.Message()}
	}
	return out
}

func (s *Server) logsPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	q := r.URL.Query()
	status, formErr := http.StatusOK, ""
	var evs []*keysmith.Event
	next := ""
	f, err := logFilter(q)
	if err == nil {
		evs, next, err = s.Service.FindEvents(r.Context(), c.Principal, f)
	}
	if err != nil {
		if !isFormError(err) {
			return err
		}
		status, formErr = http.StatusBadRequest, keysmith.ErrorMessage(err)
	}
	fq := filterQuery(q)
	nextURL := ""
	if next != "" {
		nq := filterQuery(q)
		nq.Set("cursor", next)
		nextURL = "/logs?" + nq.Encode()
	}
	exportQ := filterQuery(q)
	exportQ.Set("format", "csv")
	csvURL := "/logs/export?" + exportQ.Encode()
	exportQ.Set("format", "ndjson")
	ndjsonURL := "/logs/export?" + exportQ.Encode()
	s.render(w, r, c, status, "logs", "System log", map[string]any{
		"Events": evs, "Next": nextURL, "Error": formErr, "Filter": form{Values: fq}, "Filtered": len(fq) > 0,
		"Types": eventTypes(), "Outcomes": []string{keysmith.OutcomeSuccess, keysmith.OutcomeFailure, keysmith.OutcomeDenied},
		"ExportCSV": csvURL, "ExportNDJSON": ndjsonURL,
	})
	return nil
}

// exportLogs streams every event the filter selects, oldest first, as a
// download: NDJSON (the JSON API's export, one event a line) or CSV. The
// status is sent with the first event, so a refused or invalid filter still
// gets an error page; a failure after that aborts the response, so the
// browser sees a failed download rather than a complete-looking short one.
func (s *Server) exportLogs(w http.ResponseWriter, r *http.Request, c *Caller) error {
	q := r.URL.Query()
	f, err := logFilter(q)
	if err != nil {
		return err
	}
	format := q.Get("format")
	if format == "" {
		format = "ndjson"
	}
	var write func(*keysmith.Event) error
	var flush func() error
	switch format {
	case "ndjson":
		enc := json.NewEncoder(w)
		write = func(ev *keysmith.Event) error { return enc.Encode(ev) }
		flush = func() error { return nil }
	case "csv":
		cw := csv.NewWriter(w)
		write = func(ev *keysmith.Event) error { return cw.Write(eventCSV(ev)) }
		flush = func() error { cw.Flush(); return cw.Error() }
	default:
		return keysmith.Errorf(keysmith.CodeInvalid, "format must be ndjson or csv, not %q", truncate(format, 20))
	}
	rc := http.NewResponseController(w)
	started := false
	start := func() error {
		started = true
		h := w.Header()
		if format == "csv" {
			h.Set("Content-Type", "text/csv; charset=utf-8")
		} else {
			h.Set("Content-Type", "application/x-ndjson")
		}
		name := "keysmith-events-" + s.Service.Now().UTC().Format("20060102-150405") + "." + format
		h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		if format == "csv" {
			return write(nil)
		}
		return nil
	}
	n := 0
	err = s.Service.ExportEvents(r.Context(), c.Principal, f, func(ev *keysmith.Event) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		rc.SetWriteDeadline(time.Now().Add(time.Minute)) // a long export may outlast the write timeout
		if err := write(ev); err != nil {
			return err
		}
		if n++; n%100 == 0 {
			if err := flush(); err != nil {
				return err
			}
			rc.Flush()
		}
		return nil
	})
	if err != nil && !started {
		return err
	}
	if err == nil && !started {
		err = start()
	}
	if err == nil {
		err = flush()
	}
	if err != nil {
		s.Log.WarnContext(r.Context(), "log export cut short", "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// eventCSVHeader names the export's CSV columns; eventCSV(nil) writes it.
var eventCSVHeader = []string{"seq", "id", "time", "type", "message", "outcome", "actor_type", "actor_id", "actor_name",
	"targets", "client_ip", "user_agent", "request_id", "details"}

// eventCSV is one event as a CSV row (the header for nil). Targets are
// "type:id (name)" joined by "; ", details their JSON. A cell a spreadsheet
// would read as a formula is prefixed with a quote.
func eventCSV(ev *keysmith.Event) []string {
	if ev == nil {
		return eventCSVHeader
	}
	targets := make([]string, len(ev.Targets))
	for i, t := range ev.Targets {
		targets[i] = t.Type + ":" + t.ID
		if t.DisplayName != "" {
			targets[i] += " (" + t.DisplayName + ")"
		}
	}
	details := ""
	if len(ev.Details) > 0 {
		b, _ := json.Marshal(ev.Details)
		details = string(b)
	}
	row := []string{strconv.FormatInt(ev.Seq, 10), ev.ID, ev.Time.UTC().Format(time.RFC3339Nano), string(ev.Type), ev.Message,
		ev.Outcome, ev.Actor.Type, ev.Actor.ID, ev.Actor.DisplayName, strings.Join(targets, "; "), ev.ClientIP, ev.UserAgent,
		ev.RequestID, details}
	for i, v := range row {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			row[i] = "'" + v
		}
	}
	return row
}
