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
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/verify"
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

// authed authenticates the caller by a Bearer API token or, failing that, a
// session cookie (see authenticate), answering 401 for a missing, malformed,
// unknown, expired or revoked credential or an inactive owner, 403 when a
// token's network policy refuses the client's address, and 429 when a token
// has used its share of the path's rate-limit group (a session, its user's
// share), or the caller its budget of refusals (see denied). The
// principal's user is as they are now: a role change or a deactivation
// applies to the next request.
func (s *Server) authed(h authedHandler) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(w, r)
		if p.User != nil {
			a := keysmith.AuditFrom(r.Context())
			a.Actor = keysmith.UserRef(p.User)
			r = r.WithContext(keysmith.WithAudit(r.Context(), a))
		}
		if err == nil {
			err = h(w, r, p)
		}
		if keysmith.ErrorCode(err) == keysmith.CodeForbidden {
			err = s.denied(w, r, p, err)
		}
		return err
	})
}

// tokenPrincipal authenticates a Bearer API token through the verifier's
// cache, applying its network policy and counting it against its share of the
// path's rate-limit group (whose standing goes into the response headers).
func (s *Server) tokenPrincipal(w http.ResponseWriter, r *http.Request, raw string) (keysmith.Principal, error) {
	addr := clientAddr(r.Context())
	res, err := s.Verifier.CheckFrom(r.Context(), raw, addr, addr, groupOf(r.URL.Path))
	if err != nil {
		return keysmith.Principal{}, err
	}
	if res.RateLimit != nil && (res.Valid() || res.Code == verify.RateLimited) {
		setRateLimitHeaders(w, *res.RateLimit)
	}
	switch res.Code {
	case verify.Valid:
		return keysmith.Principal{User: res.Owner, Token: res.Token}, nil
	case verify.IPForbidden:
		// The principal goes back with the refusal, so that the system log
		// names whose token was used from the wrong network.
		return keysmith.Principal{User: res.Owner, Token: res.Token}, keysmith.Errorf(keysmith.CodeForbidden,
			"the API token's network policy refuses requests from %s; use it from an allowed network or change its policy", ipString(addr))
	case verify.RateLimited:
		return keysmith.Principal{}, rateLimited(*res.RateLimit)
	case verify.Malformed:
		if oauth.LooksLikeAccessToken(raw) {
			return keysmith.Principal{}, keysmith.Errorf(keysmith.CodeUnauthorized, "OAuth access tokens are for your own APIs; Keysmith's API takes an API token (ks_…)")
		}
	}
	return keysmith.Principal{}, keysmith.Errorf(keysmith.CodeUnauthorized, "%s", unauthorizedMessage(res.Code))
}

func unauthorizedMessage(c verify.Code) string {
	switch c {
	case verify.Malformed:
		return "the API token is malformed; check that it was copied whole"
	case verify.Expired:
		return "the API token has expired (past its expiry, or unused for longer than its idle TTL); create a new one"
	case verify.Revoked:
		return "the API token has been revoked"
	case verify.Disabled:
		return "the API token is disabled; its owner or an admin can enable it again"
	case verify.OwnerInactive:
		return "the API token's owner is deactivated"
	}
	return "the API token is not known"
}

// bearer extracts the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
