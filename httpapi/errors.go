package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/keysmith/keysmith"
)

// statusOf is the one table from domain error codes to HTTP statuses and the
// error names clients see. Anything else is a 500 "server_error".
var statusOf = map[keysmith.Code]struct {
	status int
	name   string
}{
	keysmith.CodeInvalid:      {http.StatusBadRequest, "invalid_request"},
	keysmith.CodeUnauthorized: {http.StatusUnauthorized, "unauthorized"},
	keysmith.CodeForbidden:    {http.StatusForbidden, "forbidden"},
	keysmith.CodeNotFound:     {http.StatusNotFound, "not_found"},
	keysmith.CodeConflict:     {http.StatusConflict, "conflict"},
	keysmith.CodeRateLimited:  {http.StatusTooManyRequests, "rate_limited"},
	keysmith.CodeUpstream:     {http.StatusBadGateway, "key_manager_error"},
}

// httpError is an error that only the transport knows about (a body too large,
// a wrong media type): it carries its own status and name.
type httpError struct {
	status  int
	name    string
	message string
}

func (e *httpError) Error() string { return e.message }

// errorBody is every error response: an OAuth-style pair, which RFC 6749
// clients and humans can both read.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// writeError answers err. Internal errors are logged with their cause and
// answered with a generic message, so no internals reach the client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeErrorOf(w, r, requestID(r.Context()), err)
}

// writeErrorOf is writeError for the request with id.
func (s *Server) writeErrorOf(w http.ResponseWriter, r *http.Request, id string, err error) {
	var body errorBody
	status := http.StatusInternalServerError
	if he, ok := err.(*httpError); ok {
		status, body = he.status, errorBody{he.name, he.message}
	} else if m, ok := statusOf[keysmith.ErrorCode(err)]; ok {
		status, body = m.status, errorBody{m.name, keysmith.ErrorMessage(err)}
	} else {
		body = errorBody{"server_error", keysmith.ErrorMessage(err)}
		s.Log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", truncateString(r.URL.Path, maxLoggedLen),
			"request_id", id, "err", err)
	}
	var ke *keysmith.Error
	if errors.As(err, &ke) && ke.Reason != "" && status < http.StatusInternalServerError {
		body.Error = ke.Reason
	}
	if errors.As(err, &ke) && ke.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ke.RetryAfter.Seconds()))))
	}
	if status == http.StatusUnauthorized && body.Error != keysmith.ReasonReauthenticationRequired {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keysmith", error="invalid_token"`)
	}
	writeJSON(w, status, body)
}

// jsonType is the Content-Type of every JSON answer, one slice shared by
// all of them, like nosniff.
var jsonType = []string{"application/json"}

// encodeBufs holds buffers for writeJSON; one that grew past 64 KiB (a
// long list) is left to the collector rather than kept.
var encodeBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON answers v as JSON with status, then a newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := encodeBufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			encodeBufs.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil { // as json.Marshal writes it, and "\n"
		http.Error(w, `{"error":"server_error","error_description":"encoding the response failed"}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonType
	h["X-Content-Type-Options"] = nosniff
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
