package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/keysmith/keysmith"
)

// requestInfo is what the middleware learns of a request, kept in its
// context under one key: its id and the client's address (see
// resolveClientAddr).
type requestInfo struct {
	id   string
	addr netip.Addr
}

type requestInfoKey struct{}

func requestID(ctx context.Context) string {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return ri.id
	}
	return ""
}

// clientAddr is the address the request came from, as the middleware
// resolved it; the zero Addr if unknown.
func clientAddr(ctx context.Context) netip.Addr {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return ri.addr
	}
	return netip.Addr{}
}

// requestIDs numbers the requests this process gives an id: a random
// prefix per process, then a counter, 16 hex digits in all. An id names a
// request in logs and events; it is not a secret (a client may send its
// own), so it needs no randomness per request.
var requestIDs struct {
	prefix [8]byte
	n      atomic.Uint32
}

func init() {
	var b [4]byte
	rand.Read(b[:])
	hex.Encode(requestIDs.prefix[:], b[:])
}

func newRequestID() string {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], requestIDs.n.Add(1))
	var b [16]byte
	copy(b[:8], requestIDs.prefix[:])
	hex.Encode(b[8:], n[:])
	return string(b[:])
}

// header is h.Get(key) for a key already in canonical form (as net/http
// stores the request's), without canonicalising it again: the gateway
// endpoints read several per request. TestHeaderKeysAreCanonical checks the
// keys given.
func header(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// noStore is the Cache-Control of the gateway endpoints' answers.
var noStore = []string{"no-store"}

// nosniff is the X-Content-Type-Options value every answer carries, one
// slice shared by all of them (headers are only set, never edited in place).
var nosniff = []string{"nosniff"}

// gatewayHandler is a gateway endpoint: it gets the client's address
// (resolveClientAddr) as an argument rather than from the context.
type gatewayHandler func(w http.ResponseWriter, r *http.Request, addr netip.Addr) error

// gateway adapts a gateway endpoint (verify, forward auth: called once per
// request to the customer's API, so their cost is the product's) without
// the general middleware's per-request work: the same client address, text
// checks and panic guard, and an access-log line at debug level, but no
// copy of the request with values in its context, no audit context (these
// endpoints change nothing but a token's recorded idle expiry, which is the
// system's doing), no status recorder unless the line is logged, and an
// X-Request-Id only when the gateway sent one or the answer is an error
// (which the log then names). X-Content-Type-Options goes with a body
// (writeJSON). An answer with few headers is cheap: net/http copies them,
// and more than eight grow a map. With Metrics it also reads the clock
// twice and observes the duration under the ServeMux pattern (r.Pattern,
// set by the gateway mux). BenchmarkGateway* measure it.
func (s *Server) gateway(h gatewayHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		logged := s.Log.Enabled(ctx, slog.LevelDebug)
		var start time.Time
		var rec *statusRecorder
		if logged || s.Metrics != nil {
			start = time.Now()
		}
		if logged {
			rec = &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			w = rec
		}
		id := header(r.Header, "X-Request-Id")
		if validRequestID(id) {
			w.Header()["X-Request-Id"] = []string{id}
		} else {
			id = ""
		}
		// named gives the request an id when something is to be said of it.
		named := func() string {
			if id == "" {
				id = newRequestID()
				w.Header()["X-Request-Id"] = []string{id}
			}
			return id
		}
		addr := s.resolveClientAddr(r)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.Log.ErrorContext(ctx, "panic in handler", "panic", p, "request_id", named())
				if rec == nil || !rec.wrote {
					s.writeErrorOf(w, r, id, keysmith.Errorf(keysmith.CodeInternal, "panic"))
				}
			}
		}()
		err := checkURLText(r)
		if err == nil {
			err = h(w, r, addr)
		}
		if err != nil {
			s.writeErrorOf(w, r, named(), err)
		}
		if s.Metrics != nil {
			s.Metrics.Request(r.Pattern, time.Since(start))
		}
		if logged {
			s.Log.DebugContext(ctx, "request", "method", r.Method, "path", truncateString(r.URL.Path, maxLoggedLen), "status", rec.status,
				"duration_ms", float64(time.Since(start).Microseconds())/1000, "request_id", named(),
				"client_ip", ipString(addr))
		}
	})
}

// middleware gives every request an id, a panic guard, an audit context and
// an access-log line. The gateway endpoints do not come here (see gateway);
// it keeps to one allocation per thing it adds all the same.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := header(r.Header, "X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		h := w.Header()
		h["X-Request-Id"] = []string{id} // canonical keys: set without Set's canonicalisation
		h["X-Content-Type-Options"] = nosniff
		addr := s.resolveClientAddr(r)
		ctx := context.WithValue(r.Context(), requestInfoKey{}, &requestInfo{id: id, addr: addr})
		ctx = keysmith.WithAudit(ctx, keysmith.Audit{
			Actor: keysmith.Ref{Type: "anonymous"}, ClientIP: ipString(addr),
			UserAgent: userAgent(r), RequestID: id,
		})
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		r2 := r.WithContext(ctx) // the ServeMux sets its Pattern
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.Log.ErrorContext(ctx, "panic in handler", "panic", p, "request_id", id)
				if !rec.wrote {
					s.writeError(rec, r, keysmith.Errorf(keysmith.CodeInternal, "panic"))
				}
			}
			level := slog.LevelInfo
			if r.URL.Path == "/healthz" {
				level = slog.LevelDebug
			}
			if s.Log.Enabled(ctx, level) {
				s.Log.Log(ctx, level, "request", "method", r.Method, "path", truncateString(r.URL.Path, maxLoggedLen), "status", rec.status,
					"duration_ms", float64(time.Since(start).Microseconds())/1000, "request_id", id,
					"client_ip", ipString(addr))
			}
			if s.Metrics != nil {
				s.Metrics.Request(r2.Pattern, time.Since(start))
			}
		}()
		next.ServeHTTP(rec, r2)
	})
}

// userAgent is the request's User-Agent as kept in sessions and the system
// log: cut to maxLoggedLen, with bytes that are not UTF-8 replaced (a
// gateway or an old client may send Latin-1; that is no reason to refuse
// the request, but stored text must be text). net/http refuses NUL.
func userAgent(r *http.Request) string {
	return truncateString(strings.ToValidUTF8(r.UserAgent(), "\uFFFD"), maxLoggedLen)
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// maxLoggedLen bounds every string taken from a request (a path, a user
// agent, a refusal's reason) before it is logged or stored, so that no
// request can make a log line or an event large.
const maxLoggedLen = 256

// truncateString cuts s to at most n bytes, at a character boundary so
// that valid UTF-8 stays valid.
func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusRecorder) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
