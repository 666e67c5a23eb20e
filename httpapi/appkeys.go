package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// appKeyJSON is an application's API key as the API shows it. Key (the
// secret) is set only in the responses that create or rotate it.
type appKeyJSON struct {
	ID                      string          `json:"id"`
	Name                    string          `json:"name"`
	Key                     string          `json:"key,omitempty"`
	Type                    string          `json:"type"`
	AppID                   string          `json:"app_id"`
	Environment             string          `json:"environment"`
	Scopes                  []string        `json:"scopes"`
	Status                  string          `json:"status"`
	Color                   *string         `json:"color"`
	Enabled                 bool            `json:"enabled"`
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
	Meta                    json.RawMessage `json:"meta"`
	Network                 networkJSON     `json:"network"`
	RateLimitPercent        int             `json:"rate_limit_percent"`
}

func (s *Server) appKeyJSON(t *keysmith.Token) appKeyJSON {
	tj := s.tokenJSON(t) // status, colour, meta and network as tokens show them
	scopes := t.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return appKeyJSON{
		ID: t.ID, Name: t.Name, Type: string(t.Type), AppID: t.AppID, Environment: string(t.Environment), Scopes: scopes,
		Status: tj.Status, Color: tj.Color, Enabled: tj.Enabled, OwnerID: t.OwnerID,
		CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, ExpiresAt: t.ExpiresAt,
		IdleTTL: tj.IdleTTL, IdleExpiresAt: tj.IdleExpiresAt, LastUsedAt: t.LastUsedAt, LastUsedIP: t.LastUsedIP,
		RevokedAt: t.RevokedAt, RevokedBy: t.RevokedBy, DisabledAt: t.DisabledAt, RotatedAt: t.RotatedAt,
		PreviousSecretExpiresAt: t.PrevSecretExpiresAt, Meta: tj.Meta, Network: tj.Network, RateLimitPercent: t.RateLimitPercent,
	}
}

func (s *Server) appKeyRoutes(mux routes) {
	mux.Handle("POST /v1/apps/{app_id}/keys", s.authed(s.createAppKey))
	mux.Handle("GET /v1/apps/{app_id}/keys", s.authed(s.listAppKeys))
	mux.Handle("GET /v1/apps/{app_id}/keys/{id}", s.authed(s.getAppKey))
	mux.Handle("PATCH /v1/apps/{app_id}/keys/{id}", s.authed(s.patchAppKey))
	mux.Handle("DELETE /v1/apps/{app_id}/keys/{id}", s.authed(s.revokeAppKey))
	mux.Handle("POST /v1/apps/{app_id}/keys/{id}/rotate", s.authed(s.rotateAppKey))
}

func (s *Server) createAppKey(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Name             string          `json:"name"`
		Environment      string          `json:"environment"`
		Scopes           []string        `json:"scopes"`
		ExpiresAt        *time.Time      `json:"expires_at"`
		IdleTTL          *int64          `json:"idle_ttl"` // seconds
		Meta             json.RawMessage `json:"meta"`
		Network          *networkJSON    `json:"network"`
		RateLimitPercent *int            `json:"rate_limit_percent"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	in := keysmith.CreateAppKeyInput{Name: req.Name, Environment: req.Environment, Scopes: req.Scopes,
		ExpiresAt: req.ExpiresAt, Meta: req.Meta, Network: req.Network.policy(), RateLimitPercent: req.RateLimitPercent}
	if req.IdleTTL != nil {
		d, err := seconds("idle_ttl", *req.IdleTTL)
		if err != nil {
			return err
		}
		in.IdleTTL = &d
	}
	appID := r.PathValue("app_id")
	t, secret, err := s.Service.CreateAppKey(r.Context(), p, appID, in)
	if err != nil {
		return err
	}
	out := s.appKeyJSON(t)
	out.Key = secret.Reveal()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/v1/apps/"+appID+"/keys/"+t.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// appKeyFilters are the filters of GET /v1/apps/{app_id}/keys, besides
// limit and cursor: those of the token list that apply to keys.
var appKeyFilters = []string{"q", "status", "sort", "order"}

func (s *Server) listAppKeys(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	q, page, err := listQuery(r, appKeyFilters...)
	if err != nil {
		return err
	}
	f := keysmith.TokenFilter{Page: page, Query: q.Get("q"), Status: keysmith.TokenStatus(q.Get("status")),
		Sort: keysmith.TokenSort(q.Get("sort")), Order: keysmith.SortOrder(q.Get("order"))}
	ts, next, err := s.Service.FindAppKeys(r.Context(), p, r.PathValue("app_id"), f)
	if err != nil {
		return err
	}
	items := make([]appKeyJSON, len(ts))
	for i, t := range ts {
		items[i] = s.appKeyJSON(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

func (s *Server) getAppKey(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	t, err := s.Service.FindAppKeyByID(r.Context(), p, r.PathValue("app_id"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.appKeyJSON(t))
	return nil
}

// patchAppKey changes a key's name, enabled state, meta, network policy,
// rate-limit share or scopes; absent fields stay as they are.
func (s *Server) patchAppKey(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req tokenPatch
	if err := decode(w, r, &req); err != nil {
		return err
	}
	t, err := s.Service.UpdateAppKey(r.Context(), p, r.PathValue("app_id"), r.PathValue("id"), req.appKeyUpdate())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.appKeyJSON(t))
	return nil
}

// revokeAppKey revokes a key, as DELETE /v1/tokens/{id} revokes a token:
// the record stays, listed as revoked.
func (s *Server) revokeAppKey(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if _, err := s.Service.RevokeAppKey(r.Context(), p, r.PathValue("app_id"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotateAppKey gives a key a new secret, shown once. The body is optional:
// without one the old secret stops working at once.
func (s *Server) rotateAppKey(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
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
	t, secret, err := s.Service.RotateAppKey(r.Context(), p, r.PathValue("app_id"), r.PathValue("id"), grace)
	if err != nil {
		return err
	}
	out := s.appKeyJSON(t)
	out.Key = secret.Reveal()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}
