package httpapi

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/keymanager"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/ratelimit"
	"github.com/keysmith/keysmith/verify"
)

// External checks the access tokens of external key managers (Okta,
// Keycloak, any OpenID provider); *keymanager.Verifier implements it. The
// gateway endpoints and introspection ask it about a token Keysmith does
// not know: a JWT whose issuer is not Keysmith, or an opaque token of no
// form of Keysmith's. It costs no outbound call unless an enabled manager
// could have issued the token, and its introspection calls are bounded per
// caller address.
type External interface {
	Verify(ctx context.Context, raw string, caller netip.Addr) (keymanager.Result, error)
}

// headerKeyManager names the key manager that issued an admitted token.
const headerKeyManager = "X-Keysmith-Key-Manager"

// asksExternal reports whether raw, which Keysmith's own check answered
// code for, may be an external manager's: one Keysmith does not know, and
// not in the form of one of Keysmith's other credentials (an API token, a
// client secret, a session), which no manager issues. Access tokens in
// Keysmith's forms may be another Keysmith's, acting as a manager.
func (s *Server) asksExternal(code, raw string) bool {
	if s.External == nil || code != string(verify.Malformed) && code != string(verify.NotFound) {
		return false
	}
	kind, ok := keysmith.Claims(raw)
	return !ok || kind == keysmith.CredentialAccessToken || kind == keysmith.CredentialJWT
}

// verifyExternal answers verify for a token of an external manager, with
// the same codes and fields as for Keysmith's own access tokens plus
// key_manager, so that requirements and zones apply alike.
// It reports false (and writes nothing) when no enabled manager claims
// the token: then Keysmith's own answer stands.
func (s *Server) verifyExternal(w http.ResponseWriter, r *http.Request, raw string, need *verify.Requirement, caller netip.Addr) (bool, error) {
	res, claimed, err := s.askExternal(r.Context(), raw, caller)
	if err != nil || !claimed {
		return false, err
	}
	out := verifyResponse{Valid: res.Valid(), Code: string(res.Code), externalJSON: &externalJSON{KeyManager: res.KeyManagerID}}
	if res.Scopes != nil {
		out.TokenID, out.Scopes = res.JTI, orEmpty(res.Scopes)
		out.meets(need, res.Scopes, res.Environment)
		if out.Valid || out.Code == string(verify.WrongEnvironment) {
			out.ClientID, out.AppID, out.Environment = res.ClientID, res.AppID, string(res.Environment)
		}
		if out.Valid {
			out.Type, out.Scope, out.ExpiresAt = "access_token", strings.Join(res.Scopes, " "), res.ExpiresAt
			out.Subject = res.Subject
		}
	}
	if rl := res.RateLimit; rl != nil {
		out.RateLimit = &rateLimitJSON{Limit: rl.Limit, Remaining: rl.Remaining, Reset: ratelimit.Seconds(rl.Reset)}
	}
	s.countGateway(EndpointVerify, out.Code, keysmith.CredentialAccessToken)
	w.Header()["Cache-Control"] = noStore
	writeVerify(w, &out)
	return true, nil
}

// askExternal asks External about raw. claimed is false when no enabled
// manager could have issued it (no manager named in its answer, and no
// refusal for the caller's budget).
func (s *Server) askExternal(ctx context.Context, raw string, caller netip.Addr) (keymanager.Result, bool, error) {
	res, err := s.External.Verify(ctx, raw, caller)
	if err != nil {
		return res, false, err
	}
	return res, res.KeyManagerID != "" || res.Code == verify.RateLimited, nil
}

// forwardExternal is forwardAuth for a token of an external manager: the
// identity headers of an access token, the manager's client id, and the
// key manager's id.
// It reports false (and writes nothing) when no enabled manager claims
// the token.
func (s *Server) forwardExternal(w http.ResponseWriter, r *http.Request, raw string, need *verify.Requirement, caller netip.Addr) (bool, error) {
	res, claimed, err := s.askExternal(r.Context(), raw, caller)
	if err != nil || !claimed {
		return false, err
	}
	code := res.Code
	if code == verify.Valid && !need.IsZero() {
		code, _ = need.Check(res.Scopes, res.Environment)
	}
	s.countGateway(EndpointForwardAuth, string(code), keysmith.CredentialAccessToken)
	if rl := res.RateLimit; rl != nil {
		setRateLimitHeaders(w, *rl)
	}
	if code != verify.Valid {
		return true, forwardRefusal(w, code)
	}
	h := w.Header()
	setIf(h, headerCredentialID, res.JTI)
	h[headerCredentialKind] = kindAccessToken
	setIf(h, headerClientID, res.ClientID)
	setIf(h, headerAppID, res.AppID)
	setIf(h, headerEnvironment, string(res.Environment))
	h[headerScopes] = []string{strings.Join(res.Scopes, " ")}
	h[headerKeyManager] = []string{res.KeyManagerID}
	w.WriteHeader(http.StatusOK)
	return true, nil
}

// introspection is an RFC 7662 answer, with the key manager that issued
// the token when it is not Keysmith.
type introspection struct {
	oauth.Introspection
	KeyManager string `json:"key_manager,omitempty"`
}

// introspectExternal answers introspection for a token Keysmith does not
// know: active when an enabled manager vouches for it and, for a client
// caller, it maps to the caller's environment.
func (s *Server) introspectExternal(r *http.Request, raw string, env keysmith.Environment) (introspection, error) {
	res, err := s.External.Verify(r.Context(), raw, s.resolveClientAddr(r))
	if err != nil || !res.Valid() || env != "" && res.Environment != env {
		return introspection{}, err
	}
	out := introspection{Introspection: oauth.Introspection{Active: true, Scope: strings.Join(res.Scopes, " "),
		ClientID: res.ClientID, TokenType: "Bearer", Sub: res.Subject, Jti: res.JTI,
		Env: string(res.Environment), AppID: res.AppID}, KeyManager: res.KeyManagerID}
	if res.ExpiresAt != nil {
		out.Exp = res.ExpiresAt.Unix()
	}
	if res.IssuedAt != nil {
		out.Iat = res.IssuedAt.Unix()
	}
	return out, nil
}
