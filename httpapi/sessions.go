package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// SessionCookie is the name of the browser session cookie over plain HTTP.
const SessionCookie = "keysmith_session"

// SecureSessionCookie is its name when the browser uses HTTPS. Browsers take
// a __Host- cookie only if it is Secure, for path / and without a domain, so
// neither a sibling subdomain nor anyone on the network can plant one; only
// this name is read then, or the unprefixed one could be planted instead.
const SecureSessionCookie = "__Host-" + SessionCookie

// sessionCookieName is the cookie's name for r: see secureRequest.
func (s *Server) sessionCookieName(r *http.Request) (name string, secure bool) {
	if s.secureRequest(r) {
		return SecureSessionCookie, true
	}
	return SessionCookie, false
}

// secureRequest reports whether the browser reached Keysmith over HTTPS.
// Keysmith serves plain HTTP behind a TLS-terminating proxy, so r.TLS is
// rarely set: an https issuer (the public URL) says so for every request,
// and otherwise a trusted proxy (one whose X-Forwarded-For is believed) may
// say so with X-Forwarded-Proto. Any https among its values counts: a
// client that claims HTTPS over HTTP only gets a cookie its browser will
// not send back, while missing a real HTTPS would leave the cookie without
// Secure.
func (s *Server) secureRequest(r *http.Request) bool {
	if r.TLS != nil || (s.OAuth != nil && strings.HasPrefix(strings.ToLower(s.OAuth.Issuer()), "https://")) {
		return true
	}
	protos := r.Header.Values("X-Forwarded-Proto")
	if len(protos) == 0 {
		return false
	}
	zones, err := s.Verifier.Zones(r.Context())
	if err != nil {
		s.Log.WarnContext(r.Context(), "cannot read network zones; ignoring X-Forwarded-Proto", "err", err)
		return false
	}
	if !zones.IsProxy(remoteAddr(r)) {
		return false
	}
	for _, v := range protos {
		for p := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "https") {
				return true
			}
		}
	}
	return false
}

// crossOrigin refuses cross-origin browser requests (by Sec-Fetch-Site, or
// Origin against Host). Requests without either header come from programs,
// not browsers, and are let through.
var crossOrigin = http.NewCrossOriginProtection()

func (s *Server) sessionRoutes(mux routes) {
	mux.Handle("POST /v1/sessions", s.handle(s.signIn))
	mux.Handle("DELETE /v1/sessions/current", s.authed(s.signOut))
	mux.Handle("GET /v1/sessions", s.authed(s.listSessions))
	mux.Handle("DELETE /v1/sessions", s.authed(s.endSessions))
	mux.Handle("POST /v1/sessions/reauthenticate", s.authed(s.reauthenticate))
	mux.Handle("GET /v1/me", s.authed(s.me))
}

// meJSON is who the caller is, and by which credential.
type meJSON struct {
	User             userJSON   `json:"user"`
	GroupIDs         []string   `json:"group_ids"`
	TokenID          string     `json:"token_id,omitempty"`
	SessionExpiresAt *time.Time `json:"session_expires_at,omitempty"`
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	groups, err := s.Service.GroupIDsOf(r.Context(), p.User.ID)
	if err != nil {
		return err
	}
	out := meJSON{User: toUserJSON(p.User), GroupIDs: groups}
	if p.Token != nil {
		out.TokenID = p.Token.ID
	}
	if p.Session != nil {
		out.SessionExpiresAt = &p.Session.ExpiresAt
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	// Guessing passwords is limited per source address (shared by replicas
	// through Redis when configured) and, in the service, per account.
	att, err := s.reserveAttempt(w, r, keysmith.GroupFailedSignIns)
	if err != nil {
		return err
	}
	u, sess, secret, err := s.Service.SignIn(r.Context(), keysmith.SignInInput{
		Email: req.Email, Password: req.Password, ClientIP: ipString(clientAddr(r.Context())), UserAgent: userAgent(r)})
	att.settle(keysmith.ErrorCode(err) == keysmith.CodeUnauthorized)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, r, sess, secret)
	writeJSON(w, http.StatusCreated, map[string]any{"user": toUserJSON(u), "expires_at": sess.ExpiresAt})
	return nil
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := s.Service.SignOut(r.Context(), p); err != nil {
		return err
	}
	s.ClearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sessionJSON is one of the caller's own sessions. The secret is never
// shown again; current marks the session making the request.
type sessionJSON struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	ClientIP  string    `json:"client_ip"`
	UserAgent string    `json:"user_agent"`
	Current   bool      `json:"current"`
}

// listSessions answers the caller's own sessions, newest first.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	ss, err := s.Service.FindSessions(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]sessionJSON, 0, len(ss))
	for _, x := range ss {
		out = append(out, sessionJSON{ID: x.ID, CreatedAt: x.CreatedAt, ExpiresAt: x.ExpiresAt, ClientIP: x.ClientIP,
			UserAgent: x.UserAgent, Current: p.Session != nil && p.Session.ID == x.ID})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "next_cursor": ""})
	return nil
}

// endSessions signs the caller out everywhere; their API tokens stay.
func (s *Server) endSessions(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	n, err := s.Service.EndSessions(r.Context(), p)
	if err != nil {
		return err
	}
	if p.Session != nil {
		s.ClearSessionCookie(w, r)
	}
	writeJSON(w, http.StatusOK, map[string]any{"ended": n})
	return nil
}

// reauthenticate renews the session's password proof for the step-up rule
// (keysmith.Service.RequireRecentAuth), under the sign-in limits.
func (s *Server) reauthenticate(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Password string `json:"password"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	until, err := s.Reauthenticate(w, r, p, req.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"reauthenticated_until": until})
	return nil
}
