package httpapi

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
)

// maxFormBody is the largest form an OAuth endpoint accepts.
const maxFormBody = 64 << 10

func (s *Server) oauthRoutes(mux routes) {
	mux.Handle("POST /v1/oauth/token", s.handle(s.token))
	mux.Handle("POST /v1/oauth/introspect", s.handle(s.introspect))
	mux.Handle("POST /v1/oauth/revoke", s.handle(s.revoke))
	mux.Handle("GET /.well-known/jwks.json", s.handle(s.jwks))
	mux.Handle("GET /.well-known/oauth-authorization-server", s.handle(s.discovery))
	mux.Handle("GET /.well-known/openid-configuration", s.handle(s.discovery))
	mux.Handle("GET /v1/oauth/userinfo", s.handle(s.userinfo))
	mux.Handle("POST /v1/oauth/userinfo", s.handle(s.userinfo))
}

// writeOAuth answers err the OAuth way, or the usual way for errors that
// are not OAuth errors (a failing store is a 500 server_error either way).
func (s *Server) writeOAuth(w http.ResponseWriter, r *http.Request, err error, basic bool) error {
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		if keysmith.ErrorCode(err) == keysmith.CodeInvalid {
			oe = &oauth.Error{Code: "invalid_request", Description: keysmith.ErrorMessage(err), Status: http.StatusBadRequest}
		} else {
			return err
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if oe.Status == http.StatusUnauthorized && basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="keysmith", charset="UTF-8"`)
	}
	writeJSON(w, oe.Status, errorBody{oe.Code, oe.Description})
	return nil
}

func invalidRequest(desc string) *oauth.Error {
	return &oauth.Error{Code: "invalid_request", Description: desc, Status: http.StatusBadRequest}
}

// readForm reads an application/x-www-form-urlencoded body. Parameters
// may not repeat (RFC 6749 §3.2), and names and values must be text
// (keysmith.CheckText), except the values of client_id and client_secret:
// those are credentials, which client authentication refuses as it refuses
// any wrong credential.
func readForm(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("send the parameters as an application/x-www-form-urlencoded body")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBody))
	if err != nil {
		return nil, invalidRequest("the request body is larger than " + strconv.Itoa(maxFormBody) + " bytes")
	}
	vals, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, invalidRequest("the request body is not valid form encoding")
	}
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		if err := keysmith.CheckText("a parameter name", k); err != nil {
			return nil, err
		}
		if len(v) > 1 {
			return nil, invalidRequest("parameter " + k + " is given more than once")
		}
		if k != "client_id" && k != "client_secret" {
			if err := keysmith.CheckText("parameter "+strconv.Quote(k), v[0]); err != nil {
				return nil, err
			}
		}
		out[k] = v[0]
	}
	return out, nil
}

// clientCredentials finds the client's id and secret in a Basic header
// (client_secret_basic, form-encoded inside per RFC 6749 §2.3.1) or in the
// form (client_secret_post). Using both is invalid_request.
func clientCredentials(r *http.Request, form map[string]string) (id, secret string, basic bool, err error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Basic") {
			basic = true
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
			u, p, ok := strings.Cut(string(b), ":")
			if err != nil || !ok {
				return "", "", true, invalidRequest("the Basic credentials are not base64 of client_id:client_secret")
			}
			if id, err = url.QueryUnescape(u); err == nil {
				secret, err = url.QueryUnescape(p)
			}
			if err != nil {
				return "", "", true, invalidRequest("the Basic credentials are not form-encoded")
			}
			if _, ok := form["client_secret"]; ok {
				return "", "", true, invalidRequest("use one client authentication method: Basic or client_secret in the body, not both")
			}
			if fid, ok := form["client_id"]; ok && fid != id {
				return "", "", true, invalidRequest("client_id in the body differs from the Basic credentials")
			}
			return id, secret, true, nil
		}
	}
	return form["client_id"], form["client_secret"], false, nil
}

// token is the token endpoint (RFC 6749 §3.2): the client_credentials,
// authorization_code (with PKCE) and refresh_token grants.
func (s *Server) token(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return s.writeOAuth(w, r, err, false)
	}
	id, secret, basic, err := clientCredentials(r, form)
	if err != nil {
		return s.writeOAuth(w, r, err, basic)
	}
	grant := form["grant_type"]
	if grant == "" {
		return s.writeOAuth(w, r, invalidRequest("grant_type is required: authorization_code, refresh_token or client_credentials"), basic)
	}
	c, err := s.tokenClient(w, r, id, secret)
	if err != nil {
		return s.writeOAuth(w, r, err, basic)
	}
	if err := s.countIssuance(w, r, c.ID); err != nil {
		return err
	}
	// What the grants record (a grant revoked for a reused code or refresh
	// token) is done by the client presenting it.
	a := keysmith.AuditFrom(r.Context())
	a.Actor = keysmith.ClientRef(c)
	ctx := keysmith.WithAudit(r.Context(), a)
	var set *oauth.TokenSet
	switch grant {
	case keysmith.GrantClientCredentials:
		var iss *oauth.Issued
		if iss, err = s.OAuth.IssueClientCredentials(ctx, c, form["scope"]); err == nil {
			set = &oauth.TokenSet{Access: iss}
		}
	case keysmith.GrantAuthorizationCode:
		if form["code"] == "" {
			return s.writeOAuth(w, r, invalidRequest("code is required"), basic)
		}
		set, err = s.spendGrant(w, r, func() (*oauth.TokenSet, error) {
			return s.OAuth.ExchangeCode(ctx, c, form["code"], form["redirect_uri"], form["code_verifier"])
		})
	case keysmith.GrantRefreshToken:
		if form["refresh_token"] == "" {
			return s.writeOAuth(w, r, invalidRequest("refresh_token is required"), basic)
		}
		set, err = s.spendGrant(w, r, func() (*oauth.TokenSet, error) {
			return s.OAuth.Refresh(ctx, c, form["refresh_token"], form["scope"])
		})
	default:
		err = &oauth.Error{Code: "unsupported_grant_type", Status: http.StatusBadRequest,
			Description: "grant_type " + strconv.Quote(grant) + " is not supported: use authorization_code, refresh_token or client_credentials"}
	}
	if err != nil {
		return s.writeOAuth(w, r, err, basic)
	}
	out := struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int64  `json:"expires_in,omitempty"`
		Scope        string `json:"scope"`
		RefreshToken string `json:"refresh_token,omitempty"`
		IDToken      string `json:"id_token,omitempty"`
	}{AccessToken: set.Access.Token.Reveal(), TokenType: "Bearer", ExpiresIn: set.Access.ExpiresIn,
		Scope: set.Access.Record.Scope, RefreshToken: set.Refresh.Reveal(), IDToken: set.IDToken}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// tokenClient authenticates the client at the token endpoint: with its
// secret, or, when it sends none, as a public client by its id alone (a
// confidential client without its secret is invalid_client).
func (s *Server) tokenClient(w http.ResponseWriter, r *http.Request, id, secret string) (*keysmith.Client, error) {
	if secret != "" || id == "" {
		return s.authenticateClient(w, r, id, secret)
	}
	att, err := s.reserveAttempt(w, r, keysmith.GroupFailedClientAuth)
	if err != nil {
		return nil, err
	}
	c, err := s.OAuth.AuthenticatePublicClient(r.Context(), id)
	att.settle(isOAuthError(err, "invalid_client"))
	return c, err
}

// spendGrant runs a code or refresh exchange. A failed one (invalid_grant)
// takes a unit of the failed_client_auth budget of the caller's address:
// a public client is known by its id alone, so guessing codes or refresh
// tokens must be bounded like guessing secrets.
func (s *Server) spendGrant(w http.ResponseWriter, r *http.Request, f func() (*oauth.TokenSet, error)) (*oauth.TokenSet, error) {
	att, err := s.reserveAttempt(w, r, keysmith.GroupFailedClientAuth)
	if err != nil {
		return nil, err
	}
	set, err := f()
	att.settle(isOAuthError(err, "invalid_grant"))
	return set, err
}

// authenticateClient checks a client's credentials. Guessing client secrets
// is limited per source address: the attempt takes a unit of the
// failed_client_auth budget first, kept only when the credentials are wrong.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, id, secret string) (*keysmith.Client, error) {
	att, err := s.reserveAttempt(w, r, keysmith.GroupFailedClientAuth)
	if err != nil {
		return nil, err
	}
	c, err := s.OAuth.AuthenticateClient(r.Context(), id, secret)
	att.settle(isOAuthError(err, "invalid_client"))
	return c, err
}

func isOAuthError(err error, code string) bool {
	var oe *oauth.Error
	return errors.As(err, &oe) && oe.Code == code
}

// userinfo is the OpenID Connect userinfo endpoint: the claims of the
// person an access token with the openid scope acts for.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) error {
	raw, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keysmith"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{"invalid_token", "send the access token as Authorization: Bearer"})
		return nil
	}
	att, err := s.reserveAttempt(w, r, keysmith.GroupUnknownTokens)
	if err != nil {
		return err
	}
	out, err := s.OAuth.UserInfo(r.Context(), raw)
	att.settle(isOAuthError(err, "invalid_token"))
	var oe *oauth.Error
	if errors.As(err, &oe) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keysmith", error="`+oe.Code+`"`)
		writeJSON(w, oe.Status, errorBody{oe.Code, oe.Description})
		return nil
	}
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// caller is who asks to introspect or revoke: a client, or an admin by an
// API token.
type caller struct {
	client *keysmith.Client
	admin  *keysmith.User
	p      keysmith.Principal // the admin's, when admin is set
	basic  bool
}

// oauthCaller authenticates the caller of introspection and revocation.
func (s *Server) oauthCaller(w http.ResponseWriter, r *http.Request, form map[string]string, adminOK func(*keysmith.User) bool, public bool) (caller, error) {
	if raw, ok := bearer(r); ok {
		p, err := s.tokenPrincipal(w, r, raw)
		if err != nil {
			return caller{}, err
		}
		if !adminOK(p.User) {
			return caller{}, keysmith.Errorf(keysmith.CodeForbidden, "role %s may not do this; authenticate as the client instead", p.User.Role)
		}
		return caller{admin: p.User, p: p}, nil
	}
	id, secret, basic, err := clientCredentials(r, form)
	if err != nil {
		return caller{basic: basic}, err
	}
	if public { // RFC 7009 §2.1: a public client revokes by its id alone
		c, err := s.tokenClient(w, r, id, secret)
		return caller{client: c, basic: basic}, err
	}
	c, err := s.authenticateClient(w, r, id, secret)
	return caller{client: c, basic: basic}, err
}

// introspect answers RFC 7662 for a client (tokens of its environment) or
// an admin (any token).
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return s.writeOAuth(w, r, err, false)
	}
	who, err := s.oauthCaller(w, r, form, keysmith.IsAdminUser, false)
	if err != nil {
		return s.writeOAuth(w, r, err, who.basic)
	}
	tok, ok := form["token"]
	if !ok || tok == "" {
		return s.writeOAuth(w, r, invalidRequest("token is required"), who.basic)
	}
	var env keysmith.Environment
	if who.client != nil {
		env = who.client.Environment
	}
	in, err := s.OAuth.Introspect(r.Context(), tok, env)
	if err != nil {
		return err
	}
	out := introspection{Introspection: in}
	if !in.Active && s.External != nil {
		// Not Keysmith's, or not active here: an external manager's?
		if ch, err := s.OAuth.CheckAccessToken(r.Context(), tok); err != nil {
			return err
		} else if ch.Token == nil && s.asksExternal(string(ch.Status), tok) {
			if out, err = s.introspectExternal(r, tok, env); err != nil {
				return err
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// revoke answers RFC 7009: 200 whether or not there was anything to revoke.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return s.writeOAuth(w, r, err, false)
	}
	who, err := s.oauthCaller(w, r, form, keysmith.CanManageAllApps, true)
	if err == nil && who.admin != nil {
		err = keysmith.CanChangeCredentials(who.p)
	}
	if err != nil {
		return s.writeOAuth(w, r, err, who.basic)
	}
	tok, ok := form["token"]
	if !ok || tok == "" {
		return s.writeOAuth(w, r, invalidRequest("token is required"), who.basic)
	}
	ctx := r.Context()
	a := keysmith.AuditFrom(ctx)
	if who.client != nil {
		a.Actor = keysmith.ClientRef(who.client)
	} else {
		a.Actor = keysmith.UserRef(who.admin)
	}
	ctx = keysmith.WithAudit(ctx, a)
	if isRefresh, err := s.OAuth.RevokeRefreshToken(ctx, tok, who.client); isRefresh || err != nil {
		if err != nil {
			return err
		}
	} else if err := s.OAuth.Revoke(ctx, tok, who.client); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	b, err := s.OAuth.JWKS(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// Short, because a rotation starts signing with the new key at once.
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Write(b)
	return nil
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, s.OAuth.Metadata())
	return nil
}
