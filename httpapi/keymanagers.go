package httpapi

import (
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// keyManagerJSON is a key manager as the API shows it: never its secrets,
// only whether it holds them.
type keyManagerJSON struct {
	ID                     string     `json:"id"`
	Name                   string     `json:"name"`
	Type                   string     `json:"type"`
	Builtin                bool       `json:"builtin"`
	Issuer                 string     `json:"issuer"`
	Audience               string     `json:"audience"`
	Enabled                bool       `json:"enabled"`
	JWKSURI                string     `json:"jwks_uri"`
	RegistrationEndpoint   string     `json:"registration_endpoint"`
	IntrospectionEndpoint  string     `json:"introspection_endpoint"`
	TokenEndpoint          string     `json:"token_endpoint"`
	HasRegistrationToken   bool       `json:"has_registration_token"`
	IntrospectionClientID  string     `json:"introspection_client_id"`
	HasIntrospectionSecret bool       `json:"has_introspection_client_secret"`
	OpaqueTokenPrefix      string     `json:"opaque_token_prefix"`
	AcceptUnregistered     bool       `json:"accept_unregistered_clients"`
	CreatedAt              *time.Time `json:"created_at"`
	UpdatedAt              *time.Time `json:"updated_at"`
}

func toKeyManagerJSON(m *keysmith.KeyManager) keyManagerJSON {
	return keyManagerJSON{ID: m.ID, Name: m.Name, Type: string(m.Type), Issuer: m.Issuer, Audience: m.Audience,
		Enabled: m.Enabled, JWKSURI: m.JWKSURI, RegistrationEndpoint: m.RegistrationEndpoint,
		IntrospectionEndpoint: m.IntrospectionEndpoint, TokenEndpoint: m.TokenEndpoint,
		HasRegistrationToken: m.RegistrationTokenSealed != "", IntrospectionClientID: m.IntrospectionClientID,
		HasIntrospectionSecret: m.IntrospectionSecretSealed != "", OpaqueTokenPrefix: m.OpaqueTokenPrefix,
		AcceptUnregistered: m.AcceptUnregisteredClients, CreatedAt: &m.CreatedAt, UpdatedAt: &m.UpdatedAt}
}

// builtinKeyManagerJSON is Keysmith itself, always first in the list.
func (s *Server) builtinKeyManagerJSON() keyManagerJSON {
	k := keyManagerJSON{ID: keysmith.BuiltinKeyManager, Name: "Keysmith", Type: keysmith.BuiltinKeyManager, Builtin: true,
		Enabled: true, OpaqueTokenPrefix: "ksa_"}
	if s.OAuth != nil {
		iss := s.OAuth.Issuer()
		k.Issuer, k.JWKSURI, k.TokenEndpoint = iss, iss+"/.well-known/jwks.json", iss+"/v1/oauth/token"
		k.IntrospectionEndpoint = iss + "/v1/oauth/introspect"
	}
	return k
}

// keyManagerRequest is the body of POST and PATCH /v1/key-managers; a
// field absent from a PATCH stays.
type keyManagerRequest struct {
	Name                      *string `json:"name"`
	Type                      *string `json:"type"`
	Issuer                    *string `json:"issuer"`
	Audience                  *string `json:"audience"`
	Enabled                   *bool   `json:"enabled"`
	RegistrationToken         *string `json:"registration_token"`
	IntrospectionClientID     *string `json:"introspection_client_id"`
	IntrospectionClientSecret *string `json:"introspection_client_secret"`
	OpaqueTokenPrefix         *string `json:"opaque_token_prefix"`
	AcceptUnregisteredClients *bool   `json:"accept_unregistered_clients"`
}

func (s *Server) keyManagerRoutes(mux routes) {
	mux.Handle("POST /v1/key-managers", s.authed(s.createKeyManager))
	mux.Handle("GET /v1/key-managers", s.authed(s.listKeyManagers))
	mux.Handle("GET /v1/key-managers/{id}", s.authed(s.getKeyManager))
	mux.Handle("PATCH /v1/key-managers/{id}", s.authed(s.updateKeyManager))
	mux.Handle("DELETE /v1/key-managers/{id}", s.authed(s.deleteKeyManager))
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func secretPtr(p *string) *keysmith.Secret {
	if p == nil {
		return nil
	}
	s := keysmith.NewSecret(*p)
	return &s
}

func (s *Server) createKeyManager(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req keyManagerRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	m, err := s.Service.CreateKeyManager(r.Context(), p, keysmith.CreateKeyManagerInput{Name: str(req.Name), Type: str(req.Type),
		Issuer: str(req.Issuer), Audience: str(req.Audience), Enabled: req.Enabled,
		RegistrationToken: keysmith.NewSecret(str(req.RegistrationToken)), IntrospectionClientID: str(req.IntrospectionClientID),
		IntrospectionClientSecret: keysmith.NewSecret(str(req.IntrospectionClientSecret)),
		OpaqueTokenPrefix:         str(req.OpaqueTokenPrefix), AcceptUnregisteredClients: req.AcceptUnregisteredClients != nil && *req.AcceptUnregisteredClients})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/key-managers/"+m.ID)
	writeJSON(w, http.StatusCreated, toKeyManagerJSON(m))
	return nil
}

func (s *Server) listKeyManagers(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := onlyParams(r.URL.Query(), nil); err != nil {
		return err
	}
	ms, err := s.Service.FindKeyManagers(r.Context(), p)
	if err != nil {
		return err
	}
	items := []keyManagerJSON{s.builtinKeyManagerJSON()}
	for _, m := range ms {
		items = append(items, toKeyManagerJSON(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": ""})
	return nil
}

func (s *Server) getKeyManager(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if r.PathValue("id") == keysmith.BuiltinKeyManager {
		writeJSON(w, http.StatusOK, s.builtinKeyManagerJSON())
		return nil
	}
	m, err := s.Service.FindKeyManagerByID(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toKeyManagerJSON(m))
	return nil
}

func (s *Server) updateKeyManager(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req keyManagerRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Type != nil {
		return keysmith.Errorf(keysmith.CodeInvalid, "type cannot change: add a new key manager instead")
	}
	if r.PathValue("id") == keysmith.BuiltinKeyManager {
		return keysmith.Errorf(keysmith.CodeInvalid, "the built-in key manager (Keysmith itself) cannot be changed")
	}
	m, err := s.Service.UpdateKeyManager(r.Context(), p, r.PathValue("id"), keysmith.KeyManagerUpdate{Name: req.Name,
		Issuer: req.Issuer, Audience: req.Audience, Enabled: req.Enabled, RegistrationToken: secretPtr(req.RegistrationToken),
		IntrospectionClientID: req.IntrospectionClientID, IntrospectionClientSecret: secretPtr(req.IntrospectionClientSecret),
		OpaqueTokenPrefix: req.OpaqueTokenPrefix, AcceptUnregisteredClients: req.AcceptUnregisteredClients})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toKeyManagerJSON(m))
	return nil
}

func (s *Server) deleteKeyManager(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if r.PathValue("id") == keysmith.BuiltinKeyManager {
		return keysmith.Errorf(keysmith.CodeInvalid, "the built-in key manager (Keysmith itself) cannot be deleted")
	}
	if err := s.Service.DeleteKeyManager(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
