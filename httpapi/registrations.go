package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// Dynamic client registration: the initial access tokens admins hand out
// (/v1/oauth/registration-tokens) and the RFC 7591/7592 endpoints that
// tools call with them (/v1/oauth/register).

// registrationTokenJSON is an initial access token as the API shows it;
// Token is set only in the answer that created it.
type registrationTokenJSON struct {
	ID          string     `json:"id"`
	Token       string     `json:"token,omitempty"`
	AppID       string     `json:"app_id"`
	Environment string     `json:"environment"`
	Description string     `json:"description"`
	ExpiresAt   time.Time  `json:"expires_at"`
	MaxUses     int        `json:"max_uses"`
	Uses        int        `json:"uses"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

func (s *Server) registrationTokenJSON(t *keysmith.RegistrationToken) registrationTokenJSON {
	status := "active"
	now := s.Service.Now()
	switch {
	case t.RevokedAt != nil:
		status = "revoked"
	case !now.Before(t.ExpiresAt):
		status = "expired"
	case t.Uses >= t.MaxUses:
		status = "used_up"
	}
	return registrationTokenJSON{ID: t.ID, AppID: t.AppID, Environment: string(t.Environment), Description: t.Description,
		ExpiresAt: t.ExpiresAt, MaxUses: t.MaxUses, Uses: t.Uses, Status: status, CreatedAt: t.CreatedAt,
		CreatedBy: t.CreatedBy, RevokedAt: t.RevokedAt}
}

// registrationTokenRequest is the body of POST /v1/oauth/registration-tokens.
type registrationTokenRequest struct {
	AppID       string `json:"app_id"`
	Environment string `json:"environment"`
	Description string `json:"description"`
	ExpiresIn   *int64 `json:"expires_in"`
	MaxUses     *int   `json:"max_uses"`
}

func (s *Server) registrationRoutes(mux routes) {
	mux.Handle("POST /v1/oauth/registration-tokens", s.authed(s.createRegistrationToken))
	mux.Handle("GET /v1/oauth/registration-tokens", s.authed(s.listRegistrationTokens))
	mux.Handle("DELETE /v1/oauth/registration-tokens/{id}", s.authed(s.revokeRegistrationToken))
	mux.Handle("POST /v1/oauth/register", s.handle(s.registerClient))
	mux.Handle("GET /v1/oauth/register/{client_id}", s.handle(s.readRegistration))
	mux.Handle("PUT /v1/oauth/register/{client_id}", s.handle(s.updateRegistration))
	mux.Handle("DELETE /v1/oauth/register/{client_id}", s.handle(s.deleteRegistration))
}

func (s *Server) createRegistrationToken(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req registrationTokenRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	t, plain, err := s.Service.CreateRegistrationToken(r.Context(), p, keysmith.CreateRegistrationTokenInput{
		AppID: req.AppID, Environment: req.Environment, Description: req.Description,
		ExpiresInSeconds: req.ExpiresIn, MaxUses: req.MaxUses})
	if err != nil {
		return err
	}
	out := s.registrationTokenJSON(t)
	out.Token = plain.Reveal()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/v1/oauth/registration-tokens/"+t.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listRegistrationTokens(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	_, page, err := listQuery(r)
	if err != nil {
		return err
	}
	ts, next, err := s.Service.FindRegistrationTokens(r.Context(), p, keysmith.RegistrationTokenFilter{Page: page})
	if err != nil {
		return err
	}
	items := make([]registrationTokenJSON, len(ts))
	for i, t := range ts {
		items[i] = s.registrationTokenJSON(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

func (s *Server) revokeRegistrationToken(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if _, err := s.Service.RevokeRegistrationToken(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxRegistrationBody bounds a registration's metadata: a client's lists
// of redirect URIs and scopes are bounded far below it.
const maxRegistrationBody = 64 << 10

// registrationMetadataJSON is the client metadata a registration answers
// (RFC 7591 §3.2.1, RFC 7592 §3): the client's, as Keysmith stores it.
type registrationMetadataJSON struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string   `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
	ClientName              string   `json:"client_name"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	RedirectURIs            []string `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris"`
	Scope                   string   `json:"scope"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
}

func (s *Server) registrationMetadata(c *keysmith.Client) registrationMetadataJSON {
	responses := []string{}
	if c.HasGrant(keysmith.GrantAuthorizationCode) {
		responses = []string{"code"}
	}
	return registrationMetadataJSON{ClientID: c.ID, ClientIDIssuedAt: c.CreatedAt.Unix(),
		RegistrationClientURI: s.OAuth.Issuer() + "/v1/oauth/register/" + c.ID, ClientName: c.Name,
		GrantTypes: c.GrantTypes, ResponseTypes: responses, RedirectURIs: c.RedirectURIs,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, Scope: strings.Join(c.Scopes, " "), TokenEndpointAuthMethod: c.TokenEndpointAuthMethod}
}

// registerClient is RFC 7591's client registration endpoint. The initial
// access token is looked up under the caller's address's unknown_tokens
// budget, as every unauthenticated credential lookup is: a wrong token
// keeps its unit, so guessing is bounded per address.
func (s *Server) registerClient(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	raw, ok := bearer(r)
	if !ok {
		return errNoRegistrationBearer("the initial access token")
	}
	att, err := s.reserveAttempt(w, r, keysmith.GroupUnknownTokens)
	if err != nil {
		return err
	}
	md, perr := readRegistrationMetadata(w, r, "")
	var reg *keysmith.Registered
	if perr != nil {
		// The token is judged first: a bad one is 401 whatever the body.
		if err = s.Service.CheckRegistrationToken(r.Context(), raw); err == nil {
			err = perr
		}
	} else {
		reg, err = s.Service.RegisterClient(r.Context(), raw, md)
	}
	att.settle(isInvalidToken(err))
	if err != nil {
		return err
	}
	out := s.registrationMetadata(reg.Client)
	out.ClientSecret = reg.Secret.Reveal()
	var never int64
	if !reg.Client.Public() {
		out.ClientSecretExpiresAt = &never
	}
	out.RegistrationAccessToken = reg.AccessToken.Reveal()
	w.Header().Set("Location", out.RegistrationClientURI)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// registration runs an RFC 7592 call: the registration access token is
// looked up under the unknown_tokens budget like an initial access token.
func (s *Server) registration(w http.ResponseWriter, r *http.Request, f func(raw string) error) error {
	w.Header().Set("Cache-Control", "no-store")
	raw, ok := bearer(r)
	if !ok {
		return errNoRegistrationBearer("the registration access token")
	}
	att, err := s.reserveAttempt(w, r, keysmith.GroupUnknownTokens)
	if err != nil {
		return err
	}
	err = f(raw)
	att.settle(isInvalidToken(err))
	return err
}

func (s *Server) readRegistration(w http.ResponseWriter, r *http.Request) error {
	return s.registration(w, r, func(raw string) error {
		c, err := s.Service.FindRegisteredClient(r.Context(), r.PathValue("client_id"), raw)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, s.registrationMetadata(c))
		return nil
	})
}

func (s *Server) updateRegistration(w http.ResponseWriter, r *http.Request) error {
	return s.registration(w, r, func(raw string) error {
		id := r.PathValue("client_id")
		md, perr := readRegistrationMetadata(w, r, id)
		if perr != nil {
			// The token first, as for a registration.
			if _, err := s.Service.FindRegisteredClient(r.Context(), id, raw); err != nil {
				return err
			}
			return perr
		}
		c, err := s.Service.UpdateRegisteredClient(r.Context(), id, raw, md)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, s.registrationMetadata(c))
		return nil
	})
}

func (s *Server) deleteRegistration(w http.ResponseWriter, r *http.Request) error {
	return s.registration(w, r, func(raw string) error {
		if err := s.Service.DeleteRegisteredClient(r.Context(), r.PathValue("client_id"), raw); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func errNoRegistrationBearer(what string) error {
	return &keysmith.Error{Code: keysmith.CodeUnauthorized, Reason: keysmith.ReasonInvalidToken,
		Message: "send " + what + " as Authorization: Bearer <token>"}
}

func isInvalidToken(err error) bool {
	var e *keysmith.Error
	return errors.As(err, &e) && e.Reason == keysmith.ReasonInvalidToken
}

func badMetadata(msg string) error {
	return &keysmith.Error{Code: keysmith.CodeInvalid, Reason: keysmith.ReasonInvalidClientMetadata, Message: msg}
}

// readRegistrationMetadata reads RFC 7591 client metadata: one JSON object
// of at most maxRegistrationBody bytes, valid text throughout, no key
// given twice. Known fields must have their type; other metadata is
// ignored (RFC 7591 §2). clientID, for an RFC 7592 update, is what the
// body's client_id must be.
func readRegistrationMetadata(w http.ResponseWriter, r *http.Request, clientID string) (keysmith.RegistrationMetadata, error) {
	var md keysmith.RegistrationMetadata
	if err := checkContentType(r); err != nil {
		return md, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRegistrationBody))
	if err != nil {
		return md, badMetadata("the client metadata is larger than " + strconv.Itoa(maxRegistrationBody) + " bytes, or was not sent whole")
	}
	if !json.Valid(body) {
		return md, badMetadata("the body must be one JSON object of client metadata (RFC 7591)")
	}
	if err := scanValidJSON(body, reflect.TypeFor[map[string]json.RawMessage]()); err != nil {
		return md, badMetadata(keysmith.ErrorMessage(err))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return md, badMetadata("the body must be one JSON object of client metadata (RFC 7591)")
	}
	var id string
	for _, f := range []struct {
		name string
		dst  any
	}{
		{"client_name", &md.ClientName}, {"grant_types", &md.GrantTypes}, {"response_types", &md.ResponseTypes},
		{"redirect_uris", &md.RedirectURIs}, {"post_logout_redirect_uris", &md.PostLogoutRedirectURIs},
		{"scope", &md.Scope}, {"token_endpoint_auth_method", &md.TokenEndpointAuthMethod}, {"client_id", &id},
	} {
		v, ok := fields[f.name]
		if !ok || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			what := "a string"
			if _, list := f.dst.(*[]string); list {
				what = "an array of strings"
			}
			return md, badMetadata(f.name + " must be " + what)
		}
	}
	if clientID != "" && id != clientID {
		return md, badMetadata("client_id in the body must be the client's id, as in the URL (RFC 7592 §2.2)")
	}
	return md, nil
}
