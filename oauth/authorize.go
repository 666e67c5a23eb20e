package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// AuthorizeRequest is a checked authorization request (RFC 6749 §4.1.1,
// RFC 7636 §4.3, OpenID Connect Core §3.1.2.1): its client exists, is
// active and may use the code grant, and RedirectURI is one of the client's,
// so errors from here on may be sent there.
type AuthorizeRequest struct {
	Client          *keysmith.Client
	RedirectURI     string
	Scopes          []string
	State           string
	Nonce           string
	Challenge       string
	ChallengeMethod string // "S256" or "plain"; "" without a challenge
	// Prompt holds the prompt values (none, login, consent).
	Prompt []string
	// MaxAge is the max_age in seconds, or -1 when absent.
	MaxAge int64
}

// HasPrompt reports whether the request asked for prompt p.
func (r *AuthorizeRequest) HasPrompt(p string) bool { return slices.Contains(r.Prompt, p) }

// AuthorizeError is a refused authorization request. With RedirectTo set
// the browser is sent there (the error, the state and iss in its query,
// RFC 6749 §4.1.2.1, RFC 9207); without, the redirect URI could not be
// trusted and the error is shown on a page, never redirected.
type AuthorizeError struct {
	Code        string
	Description string
	RedirectTo  string
}

func (e *AuthorizeError) Error() string { return e.Code + ": " + e.Description }

// maxAuthorizeParam bounds each parameter of an authorization request.
const maxAuthorizeParam = 2000

// ParseAuthorize checks an authorization request's query. Every error is
// an *AuthorizeError (or a failure of the store). The client and the
// redirect URI are checked first: until both are known good nothing is
// redirected anywhere.
func (a *Authority) ParseAuthorize(ctx context.Context, q url.Values) (*AuthorizeRequest, error) {
	page := func(desc string) error { return &AuthorizeError{Code: "invalid_request", Description: desc} }
	for k, v := range q {
		if len(v) > 1 {
			return nil, page("parameter " + k + " is given more than once")
		}
		if len(v[0]) > maxAuthorizeParam || !keysmith.ValidText(v[0]) || !keysmith.ValidText(k) {
			return nil, page("parameter " + strconv.Quote(k) + " is too long or not text")
		}
	}
	id := q.Get("client_id")
	if id == "" {
		return nil, page("client_id is required")
	}
	if !plausibleClientID(id) {
		// Every client id is NewID("cli"): anything else is unknown
		// without a lookup, so made-up ids cost an anonymous caller's
		// requests nothing but parsing.
		return nil, page("unknown client_id, or the client is revoked or its owner deactivated")
	}
	e, err := a.client(ctx, id)
	if err != nil {
		return nil, err
	}
	if e == nil || e.client.RevokedAt != nil || !e.ownerActive {
		return nil, page("unknown client_id, or the client is revoked or its owner deactivated")
	}
	c := e.client
	if !c.HasGrant(keysmith.GrantAuthorizationCode) {
		return nil, page("this client may not use the authorization code flow (its grant_types lack authorization_code)")
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" {
		if len(c.RedirectURIs) != 1 {
			return nil, page("redirect_uri is required: the client registered several")
		}
		redirect = c.RedirectURIs[0]
	} else if !slices.Contains(c.RedirectURIs, redirect) {
		return nil, page("redirect_uri is not one the client registered (it must match exactly); nothing was sent to it")
	}
	r := &AuthorizeRequest{Client: c, RedirectURI: redirect, State: q.Get("state"), Nonce: q.Get("nonce"),
		Challenge: q.Get("code_challenge"), ChallengeMethod: q.Get("code_challenge_method"),
		Prompt: strings.Fields(q.Get("prompt")), MaxAge: -1}
	fail := func(code, desc string) error {
		return &AuthorizeError{Code: code, Description: desc, RedirectTo: a.ErrorRedirect(r, code, desc)}
	}
	if rt := q.Get("response_type"); rt != "code" {
		if rt == "" {
			return nil, fail("invalid_request", "response_type is required; Keysmith supports code")
		}
		return nil, fail("unsupported_response_type", "response_type "+strconv.Quote(rt)+" is not supported; use code")
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		return nil, fail("invalid_request", "response_mode "+strconv.Quote(rm)+" is not supported; use query")
	}
	if q.Has("request") || q.Has("request_uri") {
		return nil, fail("request_not_supported", "request objects are not supported")
	}
	if err := r.checkPKCE(); err != nil {
		return nil, fail("invalid_request", err.Error())
	}
	for _, p := range r.Prompt {
		if p != "none" && p != "login" && p != "consent" && p != "select_account" {
			return nil, fail("invalid_request", "prompt "+strconv.Quote(p)+" is not known: use none, login or consent")
		}
	}
	if r.HasPrompt("none") && len(r.Prompt) > 1 {
		return nil, fail("invalid_request", "prompt none may not be combined with other values")
	}
	if ma := q.Get("max_age"); ma != "" {
		n, err := strconv.ParseInt(ma, 10, 64)
		if err != nil || n < 0 {
			return nil, fail("invalid_request", "max_age must be a number of seconds")
		}
		r.MaxAge = n
	}
	if r.Scopes, err = a.requestedScopes(ctx, c, q.Get("scope")); err != nil {
		return nil, fail("invalid_scope", err.Error())
	}
	return r, nil
}

// checkPKCE applies the client's PKCE settings, before anyone signs in.
func (r *AuthorizeRequest) checkPKCE() error {
	c := r.Client
	switch {
	case r.Challenge == "" && r.ChallengeMethod != "":
		return errorString("code_challenge_method without code_challenge")
	case r.Challenge == "":
		if c.PKCERequired || c.Public() {
			return errorString("code_challenge is required: this client must use PKCE (RFC 7636) with S256")
		}
		return nil
	}
	if r.ChallengeMethod == "" {
		r.ChallengeMethod = "plain" // RFC 7636 §4.3
	}
	switch r.ChallengeMethod {
	case "S256":
	case "plain":
		if !c.PKCEAllowPlain || c.Public() {
			return errorString("code_challenge_method plain is not allowed for this client; use S256")
		}
	default:
		return errorString("code_challenge_method " + strconv.Quote(r.ChallengeMethod) + " is not supported; use S256")
	}
	if !validVerifier(r.Challenge) {
		return errorString("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
	}
	return nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// validVerifier checks the form of a PKCE code verifier (RFC 7636 §4.1),
// which is also the form of an S256 or plain challenge.
func validVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// verifierMatches checks a code verifier against the stored challenge, in
// constant time.
func verifierMatches(verifier, challenge, method string) bool {
	if !validVerifier(verifier) {
		return false
	}
	got := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// requestedScopes decides the scopes of an authorization request: those
// asked for (all of the client's granted scopes when none is), each one the
// client's and granted to it. offline_access needs the refresh_token grant.
func (a *Authority) requestedScopes(ctx context.Context, c *keysmith.Client, scope string) ([]string, error) {
	out, err := a.grantedScopes(ctx, c, scope)
	if err != nil {
		var oe *Error
		if ok := asOAuth(err, &oe); ok {
			return nil, errorString(oe.Description)
		}
		return nil, err
	}
	out = slices.Clone(out)
	if slices.Contains(out, "offline_access") && !c.HasGrant(keysmith.GrantRefreshToken) {
		if strings.TrimSpace(scope) != "" {
			return nil, errorString("offline_access needs the refresh_token grant, which this client lacks")
		}
		out = slices.DeleteFunc(out, func(s string) bool { return s == "offline_access" })
	}
	return out, nil
}

// ErrorRedirect is the address that tells the client of an error: the
// redirect URI with error, error_description, state and iss.
func (a *Authority) ErrorRedirect(r *AuthorizeRequest, code, desc string) string {
	v := url.Values{"error": {code}}
	if desc != "" {
		v.Set("error_description", desc)
	}
	return a.redirectWith(r, v)
}

// redirectWith adds v, the state and iss (RFC 9207) to the redirect URI's
// own query.
func (a *Authority) redirectWith(r *AuthorizeRequest, v url.Values) string {
	if r.State != "" {
		v.Set("state", r.State)
	}
	v.Set("iss", a.issuer)
	u, err := url.Parse(r.RedirectURI)
	if err != nil { // registered URIs parse (keysmith.ValidateRedirectURIs)
		return r.RedirectURI
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// ConsentDetails is what the consent page shows of a request.
type ConsentDetails struct {
	ClientName string
	AppName    string // "" for a client without an application
	OwnerName  string
	OwnerEmail string
	Scopes     []keysmith.Scope // with their descriptions, in request order
}

// Details reads what the consent page names: the application, its owner
// and the scopes with their descriptions.
func (a *Authority) Details(ctx context.Context, r *AuthorizeRequest) (*ConsentDetails, error) {
	d := &ConsentDetails{ClientName: r.Client.Name}
	if r.Client.AppID != "" {
		app, err := a.store.FindAppByID(ctx, r.Client.AppID)
		if err != nil && keysmith.ErrorCode(err) != keysmith.CodeNotFound {
			return nil, err
		}
		if app != nil {
			d.AppName = app.Name
		}
	}
	if u, err := a.store.FindUserByID(ctx, r.Client.OwnerID); err == nil {
		d.OwnerName, d.OwnerEmail = u.Name, u.Email
	}
	reg, err := a.store.FindScopes(ctx, r.Scopes)
	if err != nil {
		return nil, err
	}
	for _, n := range r.Scopes {
		s, ok := reg[n]
		if !ok {
			s, _ = keysmith.BuiltinScope(n)
		}
		s.Name = n
		d.Scopes = append(d.Scopes, s)
	}
	return d, nil
}

// NeedsConsent reports whether the person must be asked: not for a
// first-party client, nor when an earlier consent covers the scopes, unless
// the request says prompt=consent.
func (a *Authority) NeedsConsent(ctx context.Context, r *AuthorizeRequest, u *keysmith.User) (bool, error) {
	if r.Client.FirstParty {
		return false, nil
	}
	if r.HasPrompt("consent") {
		return true, nil
	}
	c, err := a.store.FindConsent(ctx, u.ID, r.Client.ID)
	if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return !c.Covers(r.Scopes), nil
}

// Approve issues a code for the person u, who proved their password at
// authTime and has consented (keysmith.Service.GrantConsent, or before, or
// the client is first-party: NeedsConsent is false). It returns the address
// to send the browser to.
func (a *Authority) Approve(ctx context.Context, r *AuthorizeRequest, u *keysmith.User, authTime time.Time) (string, error) {
	if u.Status != keysmith.UserActive || u.Type != keysmith.UserPerson {
		return "", keysmith.Errorf(keysmith.CodeForbidden, "only an active person signs in to applications")
	}
	now := a.now()
	code, hash := keysmith.NewAuthorizationCode()
	rec := &keysmith.AuthorizationCode{ID: keysmith.NewID("grt"), ClientID: r.Client.ID, UserID: u.ID,
		RedirectURI: r.RedirectURI, Scope: strings.Join(r.Scopes, " "), Challenge: r.Challenge,
		ChallengeMethod: r.ChallengeMethod, Nonce: r.Nonce, AuthTime: authTime.Truncate(time.Second),
		CreatedAt: now, ExpiresAt: now.Add(keysmith.AuthorizationCodeTTL)}
	if err := a.store.CreateAuthorizationCode(ctx, rec, hash); err != nil {
		return "", err
	}
	return a.redirectWith(r, url.Values{"code": {code.Reveal()}}), nil
}

// Deny answers a person's refusal: access_denied to the client.
func (a *Authority) Deny(r *AuthorizeRequest) string {
	return a.ErrorRedirect(r, "access_denied", "the person declined to authorise the application")
}

func asOAuth(err error, target **Error) bool { return errors.As(err, target) }

// plausibleClientID reports whether id has the form of a client id
// (keysmith.NewID("cli"): "cli_" and 16 base62 characters).
func plausibleClientID(id string) bool {
	if len(id) != 20 || !strings.HasPrefix(id, "cli_") {
		return false
	}
	for i := 4; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
