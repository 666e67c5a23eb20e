package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keysmith/keysmith"
)

type requestIDKey struct{}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// middleware gives every request an id, a panic guard, an audit context and
// an access-log line. The verify endpoint is logged at debug level: it is
// called once per request to the customer's API.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		addr := s.resolveClientAddr(r)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		ctx = context.WithValue(ctx, clientAddrKey{}, addr)
		ctx = keysmith.WithAudit(ctx, keysmith.Audit{
			Actor: keysmith.Ref{Type: "anonymous"}, ClientIP: ipString(addr),
			UserAgent: userAgent(r), RequestID: id,
		})
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
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
			if r.URL.Path == "/v1/verify" || r.URL.Path == "/healthz" {
				level = slog.LevelDebug
			}
			if s.Log.Enabled(ctx, level) {
				s.Log.Log(ctx, level, "request", "method", r.Method, "path", truncateString(r.URL.Path, maxLoggedLen), "status", rec.status,
					"duration_ms", float64(time.Since(start).Microseconds())/1000, "request_id", id,
					"client_ip", ipString(addr))
			}
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
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
