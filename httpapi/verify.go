package httpapi

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/ratelimit"
)

// verifyResponse is the answer to a gateway. Fields beyond valid and code are
// present only when the token is known.
type verifyResponse struct {
	Valid     bool       `json:"valid"`
	Code      string     `json:"code"`
	TokenID   string     `json:"token_id,omitempty"`
	OwnerID   string     `json:"owner_id,omitempty"`
	Type      string     `json:"type,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Meta is the token's meta object, for a valid token only.
	Meta json.RawMessage `json:"meta,omitempty"`
	// Set for OAuth access tokens.
	ClientID    string         `json:"client_id,omitempty"`
	AppID       string         `json:"app_id,omitempty"`
	Environment string         `json:"env,omitempty"`
	Scope       string         `json:"scope,omitempty"`
	Owner       *ownerJSON     `json:"owner,omitempty"`
	RateLimit   *rateLimitJSON `json:"ratelimit,omitempty"`
}

// ownerJSON is the owner of a valid token, as the verifier knows them now.
type ownerJSON struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Role   string `json:"role"`
	Status string `json:"status"`
}

// rateLimitJSON is a token's standing in its verified share: the limit per
// minute, what is left of it now, and the seconds until it is whole again
// (as the RateLimit-* headers count).
type rateLimitJSON struct {
	Limit     int `json:"limit"`
	Remaining int `json:"remaining"`
	Reset     int `json:"reset"`
}

func (s *Server) verifyRoutes(mux *http.ServeMux) {
	mux.Handle("POST /v1/verify", s.handle(s.verify))
}

// verify answers whether a presented credential is good. It needs no caller
// authentication: holding the token is the proof, and the answer reveals
// nothing about other tokens. ip is the address the gateway saw its client
// at; without it, the network policy is checked against the caller's own
// address.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Token string  `json:"token"`
		IP    *string `json:"ip"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if s.OAuth != nil && oauth.LooksLikeAccessToken(req.Token) {
		return s.verifyAccessToken(w, r, req.Token)
	}
	addr := clientAddr(r.Context())
	if req.IP != nil {
		a, err := netip.ParseAddr(*req.IP)
		if err != nil || a.Zone() != "" {
			return keysmith.Errorf(keysmith.CodeInvalid, "ip %q is not an IPv4 or IPv6 address", *req.IP)
		}
		addr = a.Unmap()
	}
	// Unknown tokens are looked up on the budget of whoever sends them,
	// not of the ip they name (which the caller chooses).
	res, err := s.Verifier.CheckFrom(r.Context(), req.Token, addr, clientAddr(r.Context()), keysmith.GroupVerified)
	if err != nil {
		return err
	}
	out := verifyResponse{Valid: res.Valid(), Code: string(res.Code)}
	if res.Token != nil {
		out.TokenID = res.Token.ID
		if out.Valid {
			out.OwnerID, out.Type, out.ExpiresAt = res.Token.OwnerID, string(res.Token.Type), res.Token.ExpiresAt
			if o := res.Owner; o != nil {
				out.Owner = &ownerJSON{ID: o.ID, Email: o.Email, Role: string(o.Role), Status: string(o.Status)}
			}
			out.Meta = res.Token.Meta
			if res.Token.Type == keysmith.TokenAppKey {
				out.AppID, out.Environment = res.Token.AppID, string(res.Token.Environment)
			}
		}
	}
	if rl := res.RateLimit; rl != nil {
		out.RateLimit = &rateLimitJSON{Limit: rl.Limit, Remaining: rl.Remaining, Reset: ratelimit.Seconds(rl.Reset)}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// verifyAccessToken answers verify for an OAuth access token, with the same
// codes as for API tokens.
func (s *Server) verifyAccessToken(w http.ResponseWriter, r *http.Request, raw string) error {
	ch, err := s.OAuth.CheckAccessToken(r.Context(), raw)
	if err != nil {
		return err
	}
	out := verifyResponse{Valid: ch.Status == oauth.Active, Code: string(ch.Status)}
	if t := ch.Token; t != nil {
		out.TokenID = t.ID
		if out.Valid {
			out.Type, out.ClientID, out.AppID, out.Environment, out.Scope, out.ExpiresAt =
				"access_token", t.ClientID, t.AppID, string(t.Environment), t.Scope, t.ExpiresAt
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}
