package httpapi

import (
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// The caller's own consents (the apps they have authorised): list and
// revoke. Nobody reads or revokes another person's.

func (s *Server) consentRoutes(mux routes) {
	mux.Handle("GET /v1/consents", s.authed(s.listConsents))
	mux.Handle("DELETE /v1/consents/{client_id}", s.authed(s.revokeConsent))
}

// consentJSON is a consent as the API shows it.
type consentJSON struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	AppName    string    `json:"app_name,omitempty"`
	Scopes     []string  `json:"scopes"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func (s *Server) listConsents(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	apps, err := s.Service.FindAuthorizedApps(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]consentJSON, 0, len(apps))
	for _, a := range apps {
		scopes := a.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		out = append(out, consentJSON{ClientID: a.ClientID, ClientName: a.ClientName, AppName: a.AppName,
			Scopes: scopes, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "next_cursor": ""})
	return nil
}

// revokeConsent withdraws the caller's consent to a client and every token
// the client holds for them; 404 when there is no such consent.
func (s *Server) revokeConsent(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := s.Service.RevokeConsent(r.Context(), p, r.PathValue("client_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
