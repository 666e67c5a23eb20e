package httpapi

import (
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// tokenJSON is an API token as the API shows it. Token (the secret) is set
// only in the response that creates it.
type tokenJSON struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Token      string      `json:"token,omitempty"`
	Type       string      `json:"type"`
	Status     string      `json:"status"`
	OwnerID    string      `json:"owner_id"`
	CreatedAt  time.Time   `json:"created_at"`
	CreatedBy  string      `json:"created_by"`
	ExpiresAt  *time.Time  `json:"expires_at"`
	LastUsedAt *time.Time  `json:"last_used_at"`
	LastUsedIP string      `json:"last_used_ip,omitempty"`
	RevokedAt  *time.Time  `json:"revoked_at,omitempty"`
	RevokedBy  string      `json:"revoked_by,omitempty"`
	Network    networkJSON `json:"network"`
	// RateLimitPercent is the token's share of every rate-limit maximum.
	RateLimitPercent int `json:"rate_limit_percent"`
}

// networkJSON is a token's network policy.
type networkJSON struct {
	Mode  string   `json:"mode"`
	Zones []string `json:"zones"`
}

func (n *networkJSON) policy() *keysmith.NetworkPolicy {
	if n == nil {
		return nil
	}
	return &keysmith.NetworkPolicy{Mode: keysmith.NetworkMode(n.Mode), Zones: n.Zones}
}

func (s *Server) tokenJSON(t *keysmith.Token) tokenJSON {
	zones := t.Network.Zones
	if zones == nil {
		zones = []string{}
	}
	return tokenJSON{
		ID: t.ID, Name: t.Name, Type: string(t.Type), Status: string(t.Status(s.Service.Now())),
		OwnerID: t.OwnerID, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, ExpiresAt: t.ExpiresAt,
		LastUsedAt: t.LastUsedAt, LastUsedIP: t.LastUsedIP, RevokedAt: t.RevokedAt, RevokedBy: t.RevokedBy,
		Network:          networkJSON{Mode: string(t.Network.Mode), Zones: zones},
		RateLimitPercent: t.RateLimitPercent,
	}
}

func (s *Server) tokenRoutes(mux *http.ServeMux) {
	mux.Handle("POST /v1/tokens", s.authed(s.createToken))
	mux.Handle("GET /v1/tokens", s.authed(s.listTokens))
	mux.Handle("GET /v1/tokens/{id}", s.authed(s.getToken))
	mux.Handle("DELETE /v1/tokens/{id}", s.authed(s.revokeToken))
	mux.Handle("PATCH /v1/tokens/{id}", s.authed(s.updateToken))
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Name             string       `json:"name"`
		ExpiresAt        *time.Time   `json:"expires_at"`
		OwnerID          string       `json:"owner_id"` // a service account; "" for the caller
		Network          *networkJSON `json:"network"`
		RateLimitPercent *int         `json:"rate_limit_percent"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	t, secret, err := s.Service.CreateToken(r.Context(), p, keysmith.CreateTokenInput{Name: req.Name, ExpiresAt: req.ExpiresAt,
		OwnerID: req.OwnerID, Network: req.Network.policy(), RateLimitPercent: req.RateLimitPercent})
	if err != nil {
		return err
	}
	out := s.tokenJSON(t)
	out.Token = secret.Reveal()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/v1/tokens/"+t.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	f := keysmith.TokenFilter{Limit: limit, Cursor: cursor}
	ts, next, err := s.Service.FindTokens(r.Context(), p, f)
	if err != nil {
		return err
	}
	items := make([]tokenJSON, len(ts))
	for i, t := range ts {
		items[i] = s.tokenJSON(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	t, err := s.Service.FindTokenByID(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.tokenJSON(t))
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if _, err := s.Service.RevokeToken(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tokenPatch is the body of PATCH /v1/tokens/{id}: absent fields stay.
type tokenPatch struct {
	Network          *networkJSON `json:"network"`
	RateLimitPercent *int         `json:"rate_limit_percent"`
}

func (s *Server) updateToken(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req tokenPatch
	if err := decode(w, r, &req); err != nil {
		return err
	}
	t, err := s.Service.UpdateToken(r.Context(), p, r.PathValue("id"),
		keysmith.TokenUpdate{Network: req.Network.policy(), RateLimitPercent: req.RateLimitPercent})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.tokenJSON(t))
	return nil
}
