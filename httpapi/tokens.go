package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// tokenJSON is an API token as the API shows it. Token (the secret) is set
// only in the responses that create or rotate it.
type tokenJSON struct {
	ID                      string          `json:"id"`
	Name                    string          `json:"name"`
	Token                   string          `json:"token,omitempty"`
	Type                    string          `json:"type"`
	Status                  string          `json:"status"`
	Color                   *string         `json:"color"`
	Enabled                 bool            `json:"enabled"`
	Owner                   tokenOwnerJSON  `json:"owner"`
	OwnerID                 string          `json:"owner_id"`
	CreatedAt               time.Time       `json:"created_at"`
	CreatedBy               string          `json:"created_by"`
	ExpiresAt               *time.Time      `json:"expires_at"`
	IdleTTL                 int64           `json:"idle_ttl"`
	IdleExpiresAt           time.Time       `json:"idle_expires_at"`
	LastUsedAt              *time.Time      `json:"last_used_at"`
	LastUsedIP              string          `json:"last_used_ip"`
	RevokedAt               *time.Time      `json:"revoked_at"`
	RevokedBy               string          `json:"revoked_by"`
	DisabledAt              *time.Time      `json:"disabled_at"`
	RotatedAt               *time.Time      `json:"rotated_at"`
	PreviousSecretExpiresAt *time.Time      `json:"previous_secret_expires_at,omitempty"`
	AgentID                 string          `json:"agent_id,omitempty"`
	Meta                    json.RawMessage `json:"meta"`
	Network                 networkJSON     `json:"network"`
	// RateLimitPercent is the token's share of every rate-limit maximum.
	RateLimitPercent int `json:"rate_limit_percent"`
	// Scopes are what the token may do at the customer's APIs (verify
	// checks them); [] when none.
	Scopes []string `json:"scopes"`
}

// tokenOwnerJSON is a token's owner beside the token in lists.
type tokenOwnerJSON struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Role  string `json:"role"`
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
	now := s.Service.Now()
	var color *string
	if c := t.Color(now); c != "" {
		cs := string(c)
		color = &cs
	}
	meta := t.Meta
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	zones := t.Network.Zones
	if zones == nil {
		zones = []string{}
	}
	return tokenJSON{
		ID: t.ID, Name: t.Name, Type: string(t.Type), Status: string(t.Status(now)), Color: color,
		Enabled: t.DisabledAt == nil, Owner: tokenOwnerJSON{ID: t.OwnerID, Email: t.Owner.Email, Role: string(t.Owner.Role)},
		OwnerID: t.OwnerID, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, ExpiresAt: t.ExpiresAt,
		IdleTTL: int64(t.IdleTTL / time.Second), IdleExpiresAt: t.IdleExpiresAt(),
		LastUsedAt: t.LastUsedAt, LastUsedIP: t.LastUsedIP, RevokedAt: t.RevokedAt, RevokedBy: t.RevokedBy,
		DisabledAt: t.DisabledAt, RotatedAt: t.RotatedAt, PreviousSecretExpiresAt: t.PrevSecretExpiresAt,
		AgentID: t.AgentID, Meta: meta,
		Network:          networkJSON{Mode: string(t.Network.Mode), Zones: zones},
		RateLimitPercent: t.RateLimitPercent,
		Scopes:           orEmpty(t.Scopes),
	}
}

func (s *Server) tokenRoutes(mux routes) {
	mux.Handle("POST /v1/tokens", s.authed(s.createToken))
	mux.Handle("GET /v1/tokens", s.authed(s.listTokens))
	mux.Handle("GET /v1/tokens/{id}", s.authed(s.getToken))
	mux.Handle("DELETE /v1/tokens/{id}", s.authed(s.revokeToken))
	s.tokenLifecycleRoutes(mux)
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Name             string          `json:"name"`
		ExpiresAt        *time.Time      `json:"expires_at"`
		IdleTTL          *int64          `json:"idle_ttl"` // seconds
		Meta             json.RawMessage `json:"meta"`
		OwnerID          string          `json:"owner_id"` // a service account; "" for the caller
		Network          *networkJSON    `json:"network"`
		RateLimitPercent *int            `json:"rate_limit_percent"`
		Scopes           []string        `json:"scopes"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	in := keysmith.CreateTokenInput{Name: req.Name, ExpiresAt: req.ExpiresAt, Meta: req.Meta,
		OwnerID: req.OwnerID, Network: req.Network.policy(), RateLimitPercent: req.RateLimitPercent, Scopes: req.Scopes}
	if req.IdleTTL != nil {
		d, err := seconds("idle_ttl", *req.IdleTTL)
		if err != nil {
			return err
		}
		in.IdleTTL = &d
	}
	t, secret, err := s.Service.CreateToken(r.Context(), p, in)
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

// patchToken changes a token's name, enabled state, meta, network policy,
// rate-limit share or scopes; absent fields stay as they are.
func (s *Server) patchToken(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req tokenPatch
	if err := decode(w, r, &req); err != nil {
		return err
	}
	t, err := s.Service.UpdateToken(r.Context(), p, r.PathValue("id"), req.update())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.tokenJSON(t))
	return nil
}

// tokenPatch is the body of PATCH /v1/tokens/{id} and of an app key's
// PATCH: absent fields stay as they are.
type tokenPatch struct {
	Name             *string          `json:"name"`
	Enabled          *bool            `json:"enabled"`
	Meta             *json.RawMessage `json:"meta"`
	Network          *networkJSON     `json:"network"`
	RateLimitPercent *int             `json:"rate_limit_percent"`
	Scopes           *[]string        `json:"scopes"`
}

func (p *tokenPatch) update() keysmith.TokenUpdate {
	return keysmith.TokenUpdate{Name: p.Name, Enabled: p.Enabled, Meta: p.Meta, Network: p.Network.policy(),
		RateLimitPercent: p.RateLimitPercent, Scopes: p.Scopes}
}

func (p *tokenPatch) appKeyUpdate() keysmith.AppKeyUpdate {
	return keysmith.AppKeyUpdate{Name: p.Name, Enabled: p.Enabled, Meta: p.Meta, Network: p.Network.policy(),
		RateLimitPercent: p.RateLimitPercent, Scopes: p.Scopes}
}

func (s *Server) tokenLifecycleRoutes(mux routes) {
	mux.Handle("GET /v1/tokens/summary", s.authed(s.tokenSummary))
	mux.Handle("PATCH /v1/tokens/{id}", s.authed(s.patchToken))
	mux.Handle("POST /v1/tokens/{id}/rotate", s.authed(s.rotateToken))
}

// tokenFilters are the filters of GET /v1/tokens, besides limit and cursor.
var tokenFilters = []string{"q", "type", "status", "owner", "sort", "order"}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	q, page, err := listQuery(r, tokenFilters...)
	if err != nil {
		return err
	}
	f := keysmith.TokenFilter{
		Page: page, Query: q.Get("q"), Type: keysmith.TokenType(q.Get("type")),
		Status: keysmith.TokenStatus(q.Get("status")), OwnerID: q.Get("owner"),
		Sort: keysmith.TokenSort(q.Get("sort")), Order: keysmith.SortOrder(q.Get("order")),
	}
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

func (s *Server) tokenSummary(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := onlyParams(r.URL.Query(), nil); err != nil {
		return err
	}
	sum, err := s.Service.SummarizeTokens(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"total": sum.Total, "by_type": sum.ByType, "by_status": sum.ByStatus, "by_color": sum.ByColor,
	})
	return nil
}

// rotateToken gives a token a new secret, shown once. The body is optional:
// without one the old secret stops working at once.
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		GraceSeconds int64 `json:"grace_seconds"`
	}
	if err := decodeOptional(w, r, &req); err != nil {
		return err
	}
	grace, err := seconds("grace_seconds", req.GraceSeconds)
	if err != nil {
		return err
	}
	t, secret, err := s.Service.RotateToken(r.Context(), p, r.PathValue("id"), grace)
	if err != nil {
		return err
	}
	out := s.tokenJSON(t)
	out.Token = secret.Reveal()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// decodeOptional is decode for endpoints whose body may be left out: an
// empty body leaves v as it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return decodeError(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decode(w, r, v)
}

// seconds turns a whole number of seconds from a request into a duration,
// refusing values too large to be one.
func seconds(field string, n int64) (time.Duration, error) {
	const limit = int64(1<<63-1) / int64(time.Second)
	if n < -limit || n > limit {
		return 0, keysmith.Errorf(keysmith.CodeInvalid, "%s is out of range", field)
	}
	return time.Duration(n) * time.Second, nil
}
