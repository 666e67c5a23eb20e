package keymanager

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/keysmith/keysmith"
)

// Connector registers clients at external key managers and reads their
// discovery documents: keysmith.KeyManagerConnector. Every call goes
// through HTTP.
type Connector struct{ HTTP *HTTP }

var _ keysmith.KeyManagerConnector = (*Connector)(nil)

// registrationRequest is the client metadata Keysmith sends (RFC 7591
// §2). Okta's DCR API takes the same names, plus application_type.
type registrationRequest struct {
	ClientID                string   `json:"client_id,omitempty"` // RFC 7592 §2.2: updates name the client
	ClientName              string   `json:"client_name"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	RedirectURIs            []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope,omitempty"`
	ApplicationType         string   `json:"application_type,omitempty"`
}

// registrationResponse is what a manager answers (RFC 7591 §3.2.1, RFC
// 7592 §3; Okta's and Keycloak's answers use the same names).
type registrationResponse struct {
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret"`
	RegistrationAccessToken string `json:"registration_access_token"`
	RegistrationClientURI   string `json:"registration_client_uri"`
}

// errorResponse is a manager's refusal: RFC 7591 §3.2.2 (error,
// error_description), or Okta's error object (errorSummary, errorCauses).
type errorResponse struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorSummary     string `json:"errorSummary"`
	ErrorCauses      []struct {
		ErrorSummary string `json:"errorSummary"`
	} `json:"errorCauses"`
	ErrorMessage string `json:"errorMessage"` // Keycloak's admin-style answers
}

func requestBody(typ keysmith.KeyManagerType, clientID string, md keysmith.ClientMetadata) registrationRequest {
	req := registrationRequest{ClientID: clientID, ClientName: md.Name, GrantTypes: md.GrantTypes,
		RedirectURIs: md.RedirectURIs, PostLogoutRedirectURIs: md.PostLogoutRedirectURIs,
		TokenEndpointAuthMethod: md.TokenEndpointAuthMethod, Scope: strings.Join(md.Scopes, " "),
		ResponseTypes: []string{}}
	if req.TokenEndpointAuthMethod == "" {
		req.TokenEndpointAuthMethod = keysmith.AuthSecretBasic
	}
	for _, g := range md.GrantTypes {
		if g == keysmith.GrantAuthorizationCode {
			req.ResponseTypes = []string{"code"}
		}
	}
	if typ == keysmith.KeyManagerOkta {
		// Okta: application_type "service" for machine-to-machine
		// clients, "web" for a confidential code-flow client, "browser"
		// for a public one. Okta grants scopes by its authorization
		// servers' access policies, not by client metadata: no scope.
		req.Scope = ""
		switch {
		case len(req.ResponseTypes) == 0:
			req.ApplicationType = "service"
		case req.TokenEndpointAuthMethod == keysmith.AuthNone:
			req.ApplicationType = "browser"
		default:
			req.ApplicationType = "web"
		}
	}
	return req
}

// call sends body (if any) to url with the Authorization header auth and
// reads the answer into out when it is one of ok. Anything else is the
// manager's refusal, shown as it said it.
func (c *Connector) call(ctx context.Context, m *keysmith.KeyManager, method, url, auth string, body, out any, ok ...int) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, url, rd)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, url, nil)
	}
	if err != nil {
		return keysmith.Errorf(keysmith.CodeUpstream, "key manager %s: %q is not a URL Keysmith can call", m.Name, bounded(url))
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return keysmith.Errorf(keysmith.CodeUpstream, "key manager %s could not be reached: %s", m.Name, bounded(err.Error()))
	}
	for _, s := range ok {
		if res.Status == s {
			if out == nil || len(res.Body) == 0 {
				return nil
			}
			if err := json.Unmarshal(res.Body, out); err != nil {
				return keysmith.Errorf(keysmith.CodeUpstream, "key manager %s answered %d with a body that is not the JSON expected", m.Name, res.Status)
			}
			return nil
		}
	}
	return managerError(m, res)
}

// managerError is the manager's refusal as it said it: CodeInvalid when it
// refused the client's metadata (something the caller can change),
// CodeUpstream otherwise (Keysmith's registration token, the manager's
// own failure).
func managerError(m *keysmith.KeyManager, res *Response) error {
	var e errorResponse
	_ = json.Unmarshal(res.Body, &e)
	said := e.Error
	if e.ErrorDescription != "" {
		said = strings.TrimPrefix(said+": "+e.ErrorDescription, ": ")
	}
	if e.ErrorSummary != "" {
		said = e.ErrorSummary
		for _, c := range e.ErrorCauses {
			said += "; " + c.ErrorSummary
		}
	}
	if said == "" {
		said = e.ErrorMessage
	}
	if said == "" {
		said = http.StatusText(res.Status)
	}
	code := keysmith.CodeUpstream
	if res.Status == http.StatusBadRequest {
		code = keysmith.CodeInvalid
	}
	return keysmith.Errorf(code, "key manager %s answered %d: %s", m.Name, res.Status, bounded(said))
}

// auth is the Authorization header that registers at m: Okta's API token
// (SSWS), otherwise the initial access token as a Bearer (RFC 7591 §3).
func auth(m *keysmith.KeyManager, token string) string {
	switch {
	case token == "":
		return ""
	case m.Type == keysmith.KeyManagerOkta:
		return "SSWS " + token
	}
	return "Bearer " + token
}

// Register registers a client at the manager's registration endpoint.
func (c *Connector) Register(ctx context.Context, m *keysmith.KeyManager, registrationToken string, md keysmith.ClientMetadata) (keysmith.ExternalRegistration, error) {
	if m.RegistrationEndpoint == "" {
		return keysmith.ExternalRegistration{}, keysmith.Errorf(keysmith.CodeInvalid,
			"key manager %s has no registration endpoint (its discovery document names none): clients cannot be registered there", m.Name)
	}
	if m.Type == keysmith.KeyManagerOkta && registrationToken == "" {
		return keysmith.ExternalRegistration{}, keysmith.Errorf(keysmith.CodeInvalid,
			"key manager %s has no registration token: Okta registers clients only with an API token", m.Name)
	}
	var out registrationResponse
	if err := c.call(ctx, m, http.MethodPost, m.RegistrationEndpoint, auth(m, registrationToken), requestBody(m.Type, "", md),
		&out, http.StatusCreated, http.StatusOK); err != nil {
		return keysmith.ExternalRegistration{}, err
	}
	if out.ClientID == "" {
		return keysmith.ExternalRegistration{}, keysmith.Errorf(keysmith.CodeUpstream, "key manager %s answered without a client_id", m.Name)
	}
	reg := keysmith.ExternalRegistration{ClientID: out.ClientID, RegistrationAccessToken: out.RegistrationAccessToken,
		RegistrationClientURI: out.RegistrationClientURI}
	if out.ClientSecret != "" {
		reg.Secret = keysmith.NewSecret(out.ClientSecret)
	}
	if m.Type == keysmith.KeyManagerOkta {
		// Okta's client is managed at /oauth2/v1/clients/{clientId} with
		// the API token; it answers no registration_client_uri.
		reg.RegistrationClientURI = strings.TrimSuffix(m.RegistrationEndpoint, "/") + "/" + out.ClientID
	}
	if reg.RegistrationClientURI != "" {
		if _, err := c.HTTP.CheckURL(reg.RegistrationClientURI); err != nil {
			// Registered, but not manageable: the caller deletes nothing
			// it cannot reach; say so.
			return reg, keysmith.Errorf(keysmith.CodeUpstream, "key manager %s registered client %s but answered a registration_client_uri Keysmith may not call (%s): delete that client at the manager",
				m.Name, bounded(reg.ClientID), bounded(err.Error()))
		}
	}
	return reg, nil
}

// manageAuth is the Authorization header that updates and deletes reg: the
// API token at Okta, the registration access token elsewhere (RFC 7592).
func manageAuth(m *keysmith.KeyManager, registrationToken string, reg keysmith.ExternalRegistration) (string, error) {
	if reg.RegistrationClientURI == "" {
		return "", keysmith.Errorf(keysmith.CodeInvalid,
			"key manager %s gave no registration_client_uri for client %s: change or delete it at the manager", m.Name, reg.ClientID)
	}
	if m.Type == keysmith.KeyManagerOkta {
		return auth(m, registrationToken), nil
	}
	if reg.RegistrationAccessToken == "" {
		return "", nil
	}
	return "Bearer " + reg.RegistrationAccessToken, nil
}

// UpdateRegistration replaces the client's metadata (RFC 7592 §2.2, Okta's
// PUT /oauth2/v1/clients/{clientId}); a new registration access token in
// the answer (Keycloak rotates it on every update) replaces the old one.
func (c *Connector) UpdateRegistration(ctx context.Context, m *keysmith.KeyManager, registrationToken string, reg keysmith.ExternalRegistration, md keysmith.ClientMetadata) (keysmith.ExternalRegistration, error) {
	a, err := manageAuth(m, registrationToken, reg)
	if err != nil {
		return reg, err
	}
	var out registrationResponse
	if err := c.call(ctx, m, http.MethodPut, reg.RegistrationClientURI, a, requestBody(m.Type, reg.ClientID, md), &out,
		http.StatusOK); err != nil {
		return reg, err
	}
	next := reg
	next.Secret = keysmith.Secret{}
	if out.RegistrationAccessToken != "" {
		next.RegistrationAccessToken = out.RegistrationAccessToken
	}
	if out.RegistrationClientURI != "" && m.Type != keysmith.KeyManagerOkta {
		if _, err := c.HTTP.CheckURL(out.RegistrationClientURI); err != nil {
			return reg, keysmith.Errorf(keysmith.CodeUpstream, "key manager %s registered client %s but answered a registration_client_uri Keysmith may not call (%s): delete that client at the manager",
				m.Name, bounded(reg.ClientID), bounded(err.Error()))
		}
		next.RegistrationClientURI = out.RegistrationClientURI
	}
	return next, nil
}

// DeleteRegistration deletes the client at the manager (RFC 7592 §2.3,
// Okta's DELETE /oauth2/v1/clients/{clientId}); one the manager no longer
// has (404) is gone already.
func (c *Connector) DeleteRegistration(ctx context.Context, m *keysmith.KeyManager, registrationToken string, reg keysmith.ExternalRegistration) error {
	a, err := manageAuth(m, registrationToken, reg)
	if err != nil {
		return err
	}
	return c.call(ctx, m, http.MethodDelete, reg.RegistrationClientURI, a, nil, nil, http.StatusNoContent, http.StatusOK, http.StatusNotFound)
}
