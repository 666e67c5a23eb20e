package httpapi

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/ratelimit"
	"github.com/keysmith/keysmith/verify"
)

// verifyResponse is the answer to a gateway. Fields beyond valid and code are
// present only when the token is known.
type verifyResponse struct {
	Valid   bool   `json:"valid"`
	Code    string `json:"code"`
	TokenID string `json:"token_id,omitempty"`
	// Scopes are the credential's scopes, [] when it has none; absent when
	// the credential is unknown.
	Scopes []string `json:"scopes,omitzero"`
	// Missing are scopes that would meet the request's requirement, with
	// INSUFFICIENT_PERMISSIONS.
	Missing   []string   `json:"missing,omitempty"`
	OwnerID   string     `json:"owner_id,omitempty"`
	Type      string     `json:"type,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Meta is the token's meta object, for a valid token only.
	Meta json.RawMessage `json:"meta,omitempty"`
	// Set for OAuth access tokens.
	ClientID    string `json:"client_id,omitempty"`
	AppID       string `json:"app_id,omitempty"`
	Environment string `json:"env,omitempty"`
	Scope       string `json:"scope,omitempty"` // the access token's scopes as one string, as before "scopes"
	// UserID is the person an access token acts for (the authorization
	// code flow); absent for a client acting for itself.
	UserID string `json:"user_id,omitempty"`
	// Set for the tokens of external key managers (a pointer, so that
	// the answer for Keysmith's own credentials stays as small).
	*externalJSON
	Owner     *ownerJSON     `json:"owner,omitempty"`
	RateLimit *rateLimitJSON `json:"ratelimit,omitempty"`
}

// externalJSON is what verify answers beyond an access token's fields for
// a token of an external key manager: its sub (a client or person at the
// manager, not a Keysmith user) and the manager's id.
type externalJSON struct {
	Subject    string `json:"sub,omitempty"`
	KeyManager string `json:"key_manager,omitempty"`
}

// ownerJSON is the owner of a valid token, as the verifier knows them now.
type ownerJSON struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Role   string `json:"role"`
	Status string `json:"status"`
}

// rateLimitJSON is a token's standing in its verified share: the limit per
// minute, what is left of it now, and the seconds until it is whole again
// (as the RateLimit-* headers count).
type rateLimitJSON struct {
	Limit     int `json:"limit"`
	Remaining int `json:"remaining"`
	Reset     int `json:"reset"`
}

func (s *Server) verifyRoutes(mux routes) {
	mux.Handle("POST /v1/verify", s.gateway(s.verify))
}

// verifyRequest is what a gateway asks. Scopes (all required), Permissions
// (a permission query) and Environment are requirements beyond validity,
// checked only for a credential that is otherwise valid.
type verifyRequest struct {
	Token       string   `json:"token"`
	IP          *string  `json:"ip"`
	Scopes      []string `json:"scopes"`
	Permissions *string  `json:"permissions"`
	Environment string   `json:"environment"`
}

// verify answers whether a presented credential is good. It needs no caller
// authentication: holding the token is the proof, and the answer reveals
// nothing about other tokens. ip is the address the gateway saw its client
// at; without it, the network policy is checked against the caller's own
// address. A malformed requirement is a 400 before any lookup.
func (s *Server) verify(w http.ResponseWriter, r *http.Request, caller netip.Addr) error {
	var req verifyRequest
	if err := decodeVerify(w, r, &req); err != nil {
		return err
	}
	need, err := s.Verifier.ParseRequirement(req.Scopes, req.Permissions, req.Environment)
	if err != nil {
		return err
	}
	if s.OAuth != nil && oauth.LooksLikeAccessToken(req.Token) {
		return s.verifyAccessToken(w, r, req.Token, &need, caller)
	}
	addr := caller
	if req.IP != nil {
		a, err := netip.ParseAddr(*req.IP)
		if err != nil || a.Zone() != "" {
			return keysmith.Errorf(keysmith.CodeInvalid, "ip %q is not an IPv4 or IPv6 address", *req.IP)
		}
		addr = a.Unmap()
	}
	// Unknown tokens are looked up on the budget of whoever sends them,
	// not of the ip they name (which the caller chooses).
	res, err := s.Verifier.CheckFrom(r.Context(), req.Token, addr, caller, keysmith.GroupVerified)
	if err != nil {
		return err
	}
	if res.Token == nil && s.asksExternal(string(res.Code), req.Token) {
		if done, err := s.verifyExternal(w, r, req.Token, &need, caller); done || err != nil {
			return err
		}
	}
	out := verifyResponse{Valid: res.Valid(), Code: string(res.Code)}
	if t := res.Token; t != nil {
		out.TokenID, out.Scopes = t.ID, orEmpty(t.Scopes)
		out.meets(&need, t.Scopes, t.Environment)
		if out.Valid || out.Code == string(verify.WrongEnvironment) {
			out.AppID, out.Environment = t.AppID, string(t.Environment)
		}
		if out.Valid {
			out.OwnerID, out.Type, out.ExpiresAt = t.OwnerID, string(t.Type), t.ExpiresAt
			if o := res.Owner; o != nil {
				out.Owner = &ownerJSON{ID: o.ID, Email: o.Email, Role: string(o.Role), Status: string(o.Status)}
			}
			out.Meta = t.Meta
		}
	}
	if rl := res.RateLimit; rl != nil {
		out.RateLimit = &rateLimitJSON{Limit: rl.Limit, Remaining: rl.Remaining, Reset: ratelimit.Seconds(rl.Reset)}
	}
	if s.Metrics != nil {
		s.Metrics.Gateway(EndpointVerify, out.Code, credentialKind(res.Token, req.Token))
	}
	w.Header()["Cache-Control"] = noStore
	writeVerify(w, &out)
	return nil
}

// meets checks a credential that is otherwise valid against need, turning
// the answer into INSUFFICIENT_PERMISSIONS or WRONG_ENVIRONMENT when it
// falls short. Every other code takes precedence.
func (out *verifyResponse) meets(need *verify.Requirement, scopes []string, env keysmith.Environment) {
	if !out.Valid || need.IsZero() {
		return
	}
	if code, missing := need.Check(scopes, env); code != verify.Valid {
		out.Valid, out.Code, out.Missing = false, string(code), missing
	}
}

// orEmpty is scopes, or an empty list (answered []) when there are none.
func orEmpty(scopes []string) []string {
	if scopes == nil {
		return []string{}
	}
	return scopes
}

// verifyAccessToken answers verify for an OAuth access token, with the same
// codes as for API tokens.
func (s *Server) verifyAccessToken(w http.ResponseWriter, r *http.Request, raw string, need *verify.Requirement, caller netip.Addr) error {
	ch, err := s.OAuth.CheckAccessToken(r.Context(), raw)
	if err != nil {
		return err
	}
	if ch.Token == nil && s.asksExternal(string(ch.Status), raw) {
		if done, err := s.verifyExternal(w, r, raw, need, caller); done || err != nil {
			return err
		}
	}
	out := verifyResponse{Valid: ch.Status == oauth.Active, Code: string(ch.Status)}
	if t := ch.Token; t != nil {
		scopes := strings.Fields(t.Scope)
		out.TokenID, out.Scopes = t.ID, orEmpty(scopes)
		out.meets(need, scopes, t.Environment)
		if out.Valid || out.Code == string(verify.WrongEnvironment) {
			out.ClientID, out.AppID, out.Environment = t.ClientID, t.AppID, string(t.Environment)
		}
		if out.Valid {
			out.Type, out.Scope, out.ExpiresAt, out.UserID = "access_token", t.Scope, t.ExpiresAt, t.UserID
		}
	}
	s.countGateway(EndpointVerify, out.Code, keysmith.CredentialAccessToken)
	w.Header()["Cache-Control"] = noStore
	writeVerify(w, &out)
	return nil
}
