package httpapi

import (
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// appJSON is an application as the API shows it.
type appJSON struct {
	AppID       string    `json:"app_id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	OwnerID     string    `json:"owner_id"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func toAppJSON(a *keysmith.App) appJSON {
	return appJSON{AppID: a.ID, Name: a.Name, Description: a.Description, OwnerID: a.OwnerID,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

func (s *Server) appRoutes(mux routes) {
	mux.Handle("POST /v1/apps", s.authed(s.createApp))
	mux.Handle("GET /v1/apps", s.authed(s.listApps))
	mux.Handle("GET /v1/apps/{id}", s.authed(s.getApp))
	mux.Handle("PATCH /v1/apps/{id}", s.authed(s.updateApp))
	mux.Handle("DELETE /v1/apps/{id}", s.authed(s.deleteApp))
	mux.Handle("POST /v1/apps/{id}/transfer", s.authed(s.transferApp))
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	a, err := s.Service.CreateApp(r.Context(), p, keysmith.CreateAppInput{Name: req.Name, Description: req.Description})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/apps/"+a.ID)
	writeJSON(w, http.StatusCreated, toAppJSON(a))
	return nil
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	_, page, err := listQuery(r)
	if err != nil {
		return err
	}
	as, next, err := s.Service.FindApps(r.Context(), p, keysmith.AppFilter{Page: page})
	if err != nil {
		return err
	}
	items := make([]appJSON, len(as))
	for i, a := range as {
		items[i] = toAppJSON(a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	a, err := s.Service.FindAppByID(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAppJSON(a))
	return nil
}

func (s *Server) updateApp(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	a, err := s.Service.UpdateApp(r.Context(), p, r.PathValue("id"), keysmith.AppUpdate{Name: req.Name, Description: req.Description})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAppJSON(a))
	return nil
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := s.Service.DeleteApp(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// transferJSON answers a transfer: the application as it now is, and what
// was reset. It carries no secret: the new owner creates their own.
type transferJSON struct {
	appJSON
	PreviousOwnerID  string `json:"previous_owner_id"`
	CredentialsReset bool   `json:"credentials_reset"`
	RevokedKeys      int    `json:"revoked_keys"`
	DeletedSecrets   int    `json:"deleted_secrets"`
	RevokedClients   int    `json:"revoked_clients"`
	Note             string `json:"note"`
}

func (s *Server) transferApp(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		OwnerID         string `json:"owner_id"`
		KeepCredentials bool   `json:"keep_credentials"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	t, err := s.Service.TransferApp(r.Context(), p, r.PathValue("id"),
		keysmith.TransferAppInput{OwnerID: req.OwnerID, KeepCredentials: req.KeepCredentials})
	if err != nil {
		return err
	}
	note := "Every app key and OAuth client was revoked and every client secret deleted, so the access tokens issued " +
		"to those clients are refused too: the previous owner holds nothing that works. The new owner generates new keys."
	if !t.CredentialsReset {
		note = "Credentials were kept: every client secret and app key that worked still works, whoever holds it."
	}
	writeJSON(w, http.StatusOK, transferJSON{appJSON: toAppJSON(t.App), PreviousOwnerID: t.FromOwnerID,
		CredentialsReset: t.CredentialsReset, RevokedKeys: t.RevokedKeys, DeletedSecrets: t.DeletedSecrets, RevokedClients: t.RevokedClients, Note: note})
	return nil
}
