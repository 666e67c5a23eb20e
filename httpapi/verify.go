package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
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
	// Set for OAuth access tokens.
	ClientID    string `json:"client_id,omitempty"`
	AppID       string `json:"app_id,omitempty"`
	Environment string `json:"env,omitempty"`
	Scope       string `json:"scope,omitempty"`
}

func (s *Server) verifyRoutes(mux *http.ServeMux) {
	mux.Handle("POST /v1/verify", s.handle(s.verify))
}

// verify answers whether a presented credential is good. It needs no caller
// authentication: holding the token is the proof, and the answer reveals
// nothing about other tokens.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Token string `json:"token"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if s.OAuth != nil && !strings.HasPrefix(req.Token, keysmith.TokenPrefix) && oauth.LooksLikeAccessToken(req.Token) {
		return s.verifyAccessToken(w, r, req.Token)
	}
	res, err := s.Verifier.VerifyAPIToken(r.Context(), req.Token, clientIP(r))
	if err != nil {
		return err
	}
	out := verifyResponse{Valid: res.Valid(), Code: string(res.Code)}
	if res.Token != nil {
		out.TokenID = res.Token.ID
		if out.Valid {
			out.OwnerID, out.Type, out.ExpiresAt = res.Token.OwnerID, string(res.Token.Type), res.Token.ExpiresAt
		}
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
