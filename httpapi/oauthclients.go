package httpapi

import (
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// clientJSON is an OAuth client as the API shows it. ClientSecret is set
// only in the response that creates it.
type clientJSON struct {
	// ID is Keysmith's record of the client (/v1/oauth/clients/{id});
	// ClientID what the client presents: the same for Keysmith's own
	// clients, the manager's client_id for one registered at an external
	// key manager (KeyManager, "keysmith" for Keysmith's own).
	ID           string   `json:"id"`
	KeyManager   string   `json:"key_manager"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Name         string   `json:"name"`
	AppID        string   `json:"app_id,omitempty"`
	OwnerID      string   `json:"owner_id"`
	Environment  string   `json:"environment"`
	Scopes       []string `json:"scopes"`
	// UnregisteredScopes are the scopes no API registers now: not issued.
	UnregisteredScopes []string `json:"unregistered_scopes"`
	GrantTypes         []string `json:"grant_types"`
	TokenTTLSeconds    int64    `json:"token_ttl_seconds"`
	TokenFormat        string   `json:"token_format"`
	Audience           string   `json:"audience,omitempty"`
	Status             string   `json:"status"`
	// The authorization code flow's settings: redirect URIs (exact match),
	// how the client authenticates at the token endpoint ("none": a public
	// client without secrets), PKCE, whether it skips consent, and its
	// refresh tokens' lifetimes in seconds.
	RedirectURIs               []string   `json:"redirect_uris"`
	PostLogoutRedirectURIs     []string   `json:"post_logout_redirect_uris"`
	TokenEndpointAuthMethod    string     `json:"token_endpoint_auth_method"`
	PKCERequired               bool       `json:"pkce_required"`
	PKCEAllowPlain             bool       `json:"pkce_allow_plain"`
	FirstParty                 bool       `json:"first_party"`
	RefreshTokenTTLSeconds     int64      `json:"refresh_token_ttl"`
	RefreshTokenIdleTTLSeconds int64      `json:"refresh_token_idle_ttl"`
	CreatedAt                  time.Time  `json:"created_at"`
	CreatedBy                  string     `json:"created_by"`
	RevokedAt                  *time.Time `json:"revoked_at,omitempty"`
	RevokedBy                  string     `json:"revoked_by,omitempty"`
}

func toClientJSON(c *keysmith.Client) clientJSON {
	ttl := int64(c.TokenTTL / time.Second)
	if c.TokenTTL < 0 {
		ttl = -1
	}
	clientID, km := c.ID, keysmith.BuiltinKeyManager
	if c.External() {
		clientID, km = c.ExternalClientID, c.KeyManagerID
	}
	return clientJSON{ID: c.ID, KeyManager: km, ClientID: clientID, Name: c.Name, AppID: c.AppID, OwnerID: c.OwnerID, Environment: string(c.Environment),
		Scopes: c.Scopes, UnregisteredScopes: nonNilStrings(c.UnregisteredScopes), GrantTypes: c.GrantTypes, TokenTTLSeconds: ttl, TokenFormat: string(c.TokenFormat),
		Audience: c.Audience, Status: c.Status(), CreatedAt: c.CreatedAt, CreatedBy: c.CreatedBy,
		RevokedAt: c.RevokedAt, RevokedBy: c.RevokedBy,
		RedirectURIs: nonNilStrings(c.RedirectURIs), PostLogoutRedirectURIs: nonNilStrings(c.PostLogoutRedirectURIs),
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, PKCERequired: c.PKCERequired, PKCEAllowPlain: c.PKCEAllowPlain,
		FirstParty: c.FirstParty, RefreshTokenTTLSeconds: int64(c.RefreshTokenTTL / time.Second),
		RefreshTokenIdleTTLSeconds: int64(c.RefreshTokenIdleTTL / time.Second)}
}

// secretJSON is a client secret, masked: only its last four characters.
// Secret is set only in the response that creates it.
type secretJSON struct {
	SecretID     string     `json:"secret_id"`
	ClientSecret string     `json:"client_secret,omitempty"`
	Description  string     `json:"description"`
	Last4        string     `json:"last4"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
	// Expired: expires_at is at or before now. An expired secret
	// authenticates nothing and does not count towards the client's cap;
	// it is listed until deleted.
	Expired bool `json:"expired"`
}

func toSecretJSON(s *keysmith.ClientSecret, now time.Time) secretJSON {
	return secretJSON{SecretID: s.ID, Description: s.Description, Last4: s.Last4, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
		Expired: s.Expired(now)}
}

func (s *Server) clientRoutes(mux routes) {
	mux.Handle("POST /v1/oauth/clients", s.authed(s.createClient))
	mux.Handle("GET /v1/oauth/clients", s.authed(s.listClients))
	mux.Handle("GET /v1/oauth/clients/{id}", s.authed(s.getClient))
	mux.Handle("PATCH /v1/oauth/clients/{id}", s.authed(s.updateClient))
	mux.Handle("DELETE /v1/oauth/clients/{id}", s.authed(s.revokeClient))
	mux.Handle("POST /v1/oauth/clients/{id}/secrets", s.authed(s.createSecret))
	mux.Handle("GET /v1/oauth/clients/{id}/secrets", s.authed(s.listSecrets))
	mux.Handle("DELETE /v1/oauth/clients/{id}/secrets/{secret_id}", s.authed(s.deleteSecret))
	mux.Handle("POST /v1/oauth/clients/{id}/secrets/reset", s.authed(s.resetSecrets))
}

func (s *Server) createClient(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Name            string   `json:"name"`
		AppID           string   `json:"app_id"`
		Environment     string   `json:"environment"`
		Scopes          []string `json:"scopes"`
		GrantTypes      []string `json:"grant_types"`
		TokenTTLSeconds *int64   `json:"token_ttl_seconds"`
		TokenFormat     string   `json:"token_format"`
		Audience        string   `json:"audience"`

		RedirectURIs            []string `json:"redirect_uris"`
		PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris"`
		TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
		PKCERequired            *bool    `json:"pkce_required"`
		PKCEAllowPlain          *bool    `json:"pkce_allow_plain"`
		FirstParty              bool     `json:"first_party"`
		RefreshTokenTTL         *int64   `json:"refresh_token_ttl"`
		RefreshTokenIdleTTL     *int64   `json:"refresh_token_idle_ttl"`
		KeyManager              string   `json:"key_manager"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, sec, plain, err := s.Service.CreateClient(r.Context(), p, keysmith.CreateClientInput{
		Name: req.Name, AppID: req.AppID, Environment: req.Environment, Scopes: req.Scopes, GrantTypes: req.GrantTypes,
		TokenTTLSeconds: req.TokenTTLSeconds, TokenFormat: req.TokenFormat, Audience: req.Audience,
		RedirectURIs: req.RedirectURIs, PostLogoutRedirectURIs: req.PostLogoutRedirectURIs,
		TokenEndpointAuthMethod: req.TokenEndpointAuthMethod, PKCERequired: req.PKCERequired,
		PKCEAllowPlain: req.PKCEAllowPlain, FirstParty: req.FirstParty,
		RefreshTokenTTLSeconds: req.RefreshTokenTTL, RefreshTokenIdleTTLSeconds: req.RefreshTokenIdleTTL,
		KeyManager: req.KeyManager})
	if err != nil {
		return err
	}
	// A public client has no secret: neither client_secret nor secret_id.
	out := struct {
		clientJSON
		SecretID string `json:"secret_id,omitempty"`
	}{clientJSON: toClientJSON(c)}
	if sec != nil {
		out.SecretID = sec.ID
	}
	// Keysmith's secret, or the one the key manager gave (kept there only).
	out.ClientSecret = plain.Reveal()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/v1/oauth/clients/"+c.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	q, page, err := listQuery(r, "app_id")
	if err != nil {
		return err
	}
	cs, next, err := s.Service.FindClients(r.Context(), p, keysmith.ClientFilter{AppID: q.Get("app_id"), Page: page})
	if err != nil {
		return err
	}
	items := make([]clientJSON, len(cs))
	for i, c := range cs {
		items[i] = toClientJSON(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

func (s *Server) getClient(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	c, err := s.Service.FindClientByID(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toClientJSON(c))
	return nil
}

func nonNilStrings(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// updateClient changes a client's settings; absent fields stay, and a list
// given replaces the list.
func (s *Server) updateClient(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Name            *string   `json:"name"`
		Scopes          *[]string `json:"scopes"`
		Audience        *string   `json:"audience"`
		TokenTTLSeconds *int64    `json:"token_ttl_seconds"`

		GrantTypes              *[]string `json:"grant_types"`
		RedirectURIs            *[]string `json:"redirect_uris"`
		PostLogoutRedirectURIs  *[]string `json:"post_logout_redirect_uris"`
		TokenEndpointAuthMethod *string   `json:"token_endpoint_auth_method"`
		PKCERequired            *bool     `json:"pkce_required"`
		PKCEAllowPlain          *bool     `json:"pkce_allow_plain"`
		FirstParty              *bool     `json:"first_party"`
		RefreshTokenTTL         *int64    `json:"refresh_token_ttl"`
		RefreshTokenIdleTTL     *int64    `json:"refresh_token_idle_ttl"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, err := s.Service.UpdateClient(r.Context(), p, r.PathValue("id"), keysmith.ClientUpdate{Name: req.Name,
		Scopes: req.Scopes, Audience: req.Audience, TokenTTLSeconds: req.TokenTTLSeconds,
		GrantTypes: req.GrantTypes, RedirectURIs: req.RedirectURIs, PostLogoutRedirectURIs: req.PostLogoutRedirectURIs,
		TokenEndpointAuthMethod: req.TokenEndpointAuthMethod, PKCERequired: req.PKCERequired,
		PKCEAllowPlain: req.PKCEAllowPlain, FirstParty: req.FirstParty,
		RefreshTokenTTLSeconds: req.RefreshTokenTTL, RefreshTokenIdleTTLSeconds: req.RefreshTokenIdleTTL})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toClientJSON(c))
	return nil
}

func (s *Server) revokeClient(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if _, err := s.Service.RevokeClient(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// secretRequest is the optional body of secret creation and reset; an
// empty body means no description and no expiry.
func decodeSecretRequest(w http.ResponseWriter, r *http.Request) (keysmith.CreateSecretInput, error) {
	var req struct {
		Description string     `json:"description"`
		ExpiresAt   *time.Time `json:"expires_at"`
	}
	if r.ContentLength != 0 {
		if err := decode(w, r, &req); err != nil {
			return keysmith.CreateSecretInput{}, err
		}
	}
	return keysmith.CreateSecretInput{Description: req.Description, ExpiresAt: req.ExpiresAt}, nil
}

// writeNewSecret answers a secret just made: the one response that shows it.
func writeNewSecret(w http.ResponseWriter, sec *keysmith.ClientSecret, plain keysmith.Secret, now time.Time) {
	out := toSecretJSON(sec, now)
	out.ClientSecret = plain.Reveal()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) createSecret(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	in, err := decodeSecretRequest(w, r)
	if err != nil {
		return err
	}
	sec, plain, err := s.Service.CreateClientSecret(r.Context(), p, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeNewSecret(w, sec, plain, s.Service.Now())
	return nil
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := onlyParams(r.URL.Query(), nil); err != nil {
		return err
	}
	secs, err := s.Service.FindClientSecrets(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	items := make([]secretJSON, len(secs))
	now := s.Service.Now()
	for i, sec := range secs {
		items[i] = toSecretJSON(sec, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := s.Service.DeleteClientSecret(r.Context(), p, r.PathValue("id"), r.PathValue("secret_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) resetSecrets(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	in, err := decodeSecretRequest(w, r)
	if err != nil {
		return err
	}
	sec, plain, err := s.Service.ResetClientSecrets(r.Context(), p, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeNewSecret(w, sec, plain, s.Service.Now())
	return nil
}
