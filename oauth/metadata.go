package oauth

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/go-jose/go-jose/v4"
	"github.com/keysmith/keysmith"
)

// Introspection is an RFC 7662 answer. Only Active is set for an inactive
// token.
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       string `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	Jti       string `json:"jti,omitempty"`
	Env       string `json:"env,omitempty"`
	AppID     string `json:"app_id,omitempty"`
}

// Introspect answers RFC 7662 for raw. When env is set (the caller is a
// client of that environment) tokens of the other environment are
// inactive: credentials of one environment never work in the other.
func (a *Authority) Introspect(ctx context.Context, raw string, env keysmith.Environment) (Introspection, error) {
	ch, err := a.CheckAccessToken(ctx, raw)
	if err != nil || ch.Status != Active || (env != "" && ch.Token.Environment != env) {
		return Introspection{}, err
	}
	t := ch.Token
	out := Introspection{Active: true, Scope: t.Scope, ClientID: t.ClientID, TokenType: "Bearer",
		Iat: t.IssuedAt.Unix(), Sub: t.ClientID, Aud: t.Audience, Iss: a.issuer, Jti: t.ID,
		Env: string(t.Environment), AppID: t.AppID}
	if t.UserID != "" {
		out.Sub = t.UserID // the person it acts for (RFC 7662 §2.2)
	}
	if t.ExpiresAt != nil {
		out.Exp = t.ExpiresAt.Unix()
	}
	return out, nil
}

// JWKS returns the published public keys as a JSON Web Key Set: the signing
// key and every retired key that may still have live tokens.
func (a *Authority) JWKS(ctx context.Context) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	now := a.now()
	for _, k := range a.keySet(ctx).all {
		if k.meta.RetiredAt != nil && now.Sub(*k.meta.RetiredAt) > keyRetention {
			continue
		}
		set.Keys = append(set.Keys, k.public)
	}
	return json.Marshal(set)
}

// SigningKeys returns the metadata of the loaded keys, newest first.
func (a *Authority) SigningKeys() []*keysmith.SigningKey {
	var out []*keysmith.SigningKey
	for _, k := range a.keys.Load().all {
		out = append(out, k.meta)
	}
	return out
}

// Metadata is the RFC 8414 authorization server metadata, which is also
// the OpenID Connect discovery document (OpenID Connect Discovery §3).
func (a *Authority) Metadata() map[string]any {
	auth := []string{keysmith.AuthSecretBasic, keysmith.AuthSecretPost}
	algs := a.liveAlgorithms()
	return map[string]any{
		"issuer":                                         a.issuer,
		"authorization_endpoint":                         a.issuer + "/v1/oauth/authorize",
		"token_endpoint":                                 a.issuer + "/v1/oauth/token",
		"userinfo_endpoint":                              a.issuer + "/v1/oauth/userinfo",
		"end_session_endpoint":                           a.issuer + "/v1/oauth/logout",
		"jwks_uri":                                       a.issuer + "/.well-known/jwks.json",
		"introspection_endpoint":                         a.issuer + "/v1/oauth/introspect",
		"revocation_endpoint":                            a.issuer + "/v1/oauth/revoke",
		"registration_endpoint":                          a.issuer + "/v1/oauth/register",
		"grant_types_supported":                          []string{keysmith.GrantAuthorizationCode, keysmith.GrantRefreshToken, keysmith.GrantClientCredentials},
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"code_challenge_methods_supported":               []string{"S256"},
		"scopes_supported":                               builtinScopeNames(),
		"subject_types_supported":                        []string{"public"},
		"claims_supported":                               []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "name", "email", "email_verified"},
		"token_endpoint_auth_methods_supported":          append(auth, keysmith.AuthNone),
		"introspection_endpoint_auth_methods_supported":  auth,
		"revocation_endpoint_auth_methods_supported":     append(slices.Clone(auth), keysmith.AuthNone),
		"access_token_signing_alg_values_supported":      algs,
		"id_token_signing_alg_values_supported":          algs,
		"authorization_response_iss_parameter_supported": true,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"prompt_values_supported":                        []string{"none", "login", "consent"},
	}
}

// liveAlgorithms lists the algorithm of every published key, newest first:
// a token signed before a rotation to another algorithm still verifies.
func (a *Authority) liveAlgorithms() []string {
	out := []string{}
	now := a.now()
	for _, k := range a.keys.Load().all {
		if k.meta.RetiredAt != nil && now.Sub(*k.meta.RetiredAt) > keyRetention {
			continue
		}
		if !slices.Contains(out, k.meta.Algorithm) {
			out = append(out, k.meta.Algorithm)
		}
	}
	return out
}

func builtinScopeNames() []string {
	var out []string
	for _, s := range keysmith.BuiltinScopes {
		out = append(out, s.Name)
	}
	return out
}
