package oauth

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// TokenSet is what the code and refresh grants answer: an access token,
// and a refresh token and an ID token when the grant gives them.
type TokenSet struct {
	Access  *Issued
	Refresh keysmith.Secret // zero when none is issued
	IDToken string          // "" without the openid scope
}

func invalidGrant(desc string) *Error { return oauthErr(http.StatusBadRequest, "invalid_grant", desc) }

// errBadCode is the one answer for a code that cannot be exchanged, so that
// it tells nothing of why.
var errBadCode = invalidGrant("the authorization code is invalid, expired, already used, or was issued to another client or redirect URI")

// AuthenticatePublicClient authenticates a public client by its client_id
// alone (RFC 6749 §2.1): only a client registered with
// token_endpoint_auth_method none is public; any other is invalid_client
// without its secret.
func (a *Authority) AuthenticatePublicClient(ctx context.Context, id string) (*keysmith.Client, error) {
	if id == "" || len(id) > 100 || !keysmith.ValidText(id) {
		return nil, errInvalidClient
	}
	e, err := a.client(ctx, id)
	if err != nil {
		return nil, err
	}
	if e == nil || e.client.RevokedAt != nil || !e.client.Public() {
		return nil, errInvalidClient
	}
	if !e.ownerActive {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client",
			"the client's owner is deactivated, so the client issues no tokens until an admin activates the owner again")
	}
	return e.client, nil
}

// ExchangeCode is the authorization code grant (RFC 6749 §4.1.3, RFC 7636
// §4.6). The code is checked, the tokens made, and then the code is spent
// and the tokens stored in one transaction; a code presented after it was
// spent revokes every token its exchange issued (RFC 6749 §4.1.2). A
// refused attempt (wrong verifier, client or redirect URI) does not spend
// it: it proves nothing about the code's rightful holder.
func (a *Authority) ExchangeCode(ctx context.Context, c *keysmith.Client, code, redirectURI, verifier string) (*TokenSet, error) {
	set, err := a.exchangeCode(ctx, c, code, redirectURI, verifier)
	if err == nil {
		a.issued[issuedAuthorizationCode].Add(1)
	}
	return set, err
}

func (a *Authority) exchangeCode(ctx context.Context, c *keysmith.Client, code, redirectURI, verifier string) (*TokenSet, error) {
	if !c.HasGrant(keysmith.GrantAuthorizationCode) {
		return nil, oauthErr(http.StatusBadRequest, "unauthorized_client", "this client may not use the authorization_code grant")
	}
	h, ok := keysmith.ParseAuthorizationCode(code)
	if !ok {
		return nil, errBadCode
	}
	rec, err := a.store.FindAuthorizationCodeByHash(ctx, h)
	switch {
	case keysmith.ErrorCode(err) == keysmith.CodeNotFound:
		return nil, errBadCode
	case err != nil:
		return nil, err
	case rec.ClientID != c.ID:
		// Only the client it was issued to proves a reuse: another one
		// could otherwise revoke a victim's grant with a leaked code.
		return nil, errBadCode
	case rec.UsedAt != nil:
		return nil, a.codeReused(ctx, rec)
	}
	if err := checkCode(rec, c, redirectURI, verifier, a.now()); err != nil {
		return nil, err
	}
	u, err := a.grantee(ctx, c, rec.UserID, strings.Fields(rec.Scope))
	if err != nil {
		return nil, err
	}
	scopes, err := a.stillGranted(ctx, c, strings.Fields(rec.Scope))
	if err != nil {
		return nil, err
	}
	set := &TokenSet{}
	var issued keysmith.GrantTokens
	if set.Access, issued.AccessHash, err = a.mint(ctx, c, u.ID, rec.ID, scopes); err != nil {
		return nil, err
	}
	issued.Access = set.Access.Record
	if c.HasGrant(keysmith.GrantRefreshToken) && slices.Contains(scopes, "offline_access") {
		now := a.now()
		issued.Refresh = &keysmith.RefreshToken{ID: keysmith.NewID("rt"), GrantID: rec.ID, ClientID: c.ID, UserID: u.ID,
			Scope: strings.Join(scopes, " "), AuthTime: rec.AuthTime, CreatedAt: now,
			ExpiresAt: now.Add(c.RefreshTokenTTL), IdleExpiresAt: minTime(now.Add(c.RefreshTokenIdleTTL), now.Add(c.RefreshTokenTTL))}
		set.Refresh, issued.RefreshHash = keysmith.NewRefreshToken()
	}
	if slices.Contains(scopes, "openid") {
		if set.IDToken, err = a.idToken(ctx, c, u, scopes, rec.AuthTime, rec.Nonce, set.Access.Token.Reveal()); err != nil {
			return nil, err
		}
	}
	switch _, err := a.store.RedeemAuthorizationCode(ctx, h, a.now(), issued); keysmith.ErrorCode(err) {
	case "":
		return set, nil
	case keysmith.CodeConflict: // spent meanwhile by a concurrent exchange
		return nil, a.codeReused(ctx, rec)
	case keysmith.CodeNotFound: // pruned meanwhile
		return nil, errBadCode
	default:
		return nil, err
	}
}

// checkCode checks a code against the exchange: its client, its expiry,
// its redirect URI and its PKCE challenge.
func checkCode(rec *keysmith.AuthorizationCode, c *keysmith.Client, redirectURI, verifier string, now time.Time) error {
	switch {
	case rec.ClientID != c.ID, !now.Before(rec.ExpiresAt):
		return errBadCode
	case redirectURI != rec.RedirectURI && !(redirectURI == "" && len(c.RedirectURIs) == 1 && c.RedirectURIs[0] == rec.RedirectURI):
		return errBadCode
	case rec.Challenge == "" && verifier != "":
		// RFC 9700 §2.1.1: a verifier without a challenge is a downgrade.
		return invalidGrant("code_verifier was sent but the authorization request had no code_challenge")
	case rec.Challenge != "" && verifier == "":
		return invalidGrant("code_verifier is required: the authorization request had a code_challenge")
	case rec.Challenge != "" && !verifierMatches(verifier, rec.Challenge, rec.ChallengeMethod):
		return invalidGrant("code_verifier does not match the code_challenge")
	}
	return nil
}

// codeReused revokes the grant of a code presented after it was spent.
func (a *Authority) codeReused(ctx context.Context, rec *keysmith.AuthorizationCode) error {
	if err := a.store.RevokeGrant(ctx, rec.ID, rec.ClientID, keysmith.GrantRevokedCodeReused); err != nil {
		return err
	}
	a.log.Warn("an authorization code was presented twice; the tokens of its first exchange are revoked",
		"client_id", rec.ClientID, "grant_id", rec.ID)
	return errBadCode
}

// grantee reads the person a grant acts for and checks they may still be
// acted for: an active person who still consents to the scopes (or the
// client is first-party).
func (a *Authority) grantee(ctx context.Context, c *keysmith.Client, userID string, scopes []string) (*keysmith.User, error) {
	u, err := a.store.FindUserByID(ctx, userID)
	if keysmith.ErrorCode(err) == keysmith.CodeNotFound || err == nil && (u.Status != keysmith.UserActive || u.Type != keysmith.UserPerson) {
		return nil, invalidGrant("the person who authorised this grant is no longer active")
	}
	if err != nil {
		return nil, err
	}
	if c.FirstParty {
		return u, nil
	}
	consent, err := a.store.FindConsent(ctx, userID, c.ID)
	if keysmith.ErrorCode(err) == keysmith.CodeNotFound || err == nil && !consent.Covers(scopes) {
		return nil, invalidGrant("the person's consent to this client was revoked")
	}
	return u, err
}

// stillGranted keeps the scopes the client still holds and was granted: a
// scope taken from the client since the person consented is no longer
// issued.
func (a *Authority) stillGranted(ctx context.Context, c *keysmith.Client, scopes []string) ([]string, error) {
	granted, err := a.grantedScopes(ctx, c, "")
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, s := range scopes {
		if slices.Contains(granted, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// errBadRefresh is the one answer for a refresh token that cannot be used.
var errBadRefresh = invalidGrant("the refresh token is invalid, expired, revoked, already used, or was issued to another client")

// Refresh is the refresh token grant (RFC 6749 §6) with rotation: the
// token is replaced by a new one on every use, and presenting a replaced
// one again revokes its whole grant (RFC 9700 §4.14.2). scope may narrow
// the grant's scopes for this access token, never widen them.
func (a *Authority) Refresh(ctx context.Context, c *keysmith.Client, raw, scope string) (*TokenSet, error) {
	set, err := a.refresh(ctx, c, raw, scope)
	if err == nil {
		a.issued[issuedRefreshToken].Add(1)
	}
	return set, err
}

func (a *Authority) refresh(ctx context.Context, c *keysmith.Client, raw, scope string) (*TokenSet, error) {
	if !c.HasGrant(keysmith.GrantRefreshToken) {
		return nil, oauthErr(http.StatusBadRequest, "unauthorized_client", "this client may not use the refresh_token grant")
	}
	h, ok := keysmith.ParseRefreshToken(raw)
	if !ok {
		return nil, errBadRefresh
	}
	rt, err := a.store.FindRefreshTokenByHash(ctx, h)
	if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
		return nil, errBadRefresh
	}
	if err != nil {
		return nil, err
	}
	now := a.now()
	switch {
	case rt.ClientID != c.ID, rt.RevokedAt != nil:
		return nil, errBadRefresh
	case rt.UsedAt != nil:
		return nil, a.refreshReused(ctx, rt)
	case !now.Before(rt.ExpiresAt), !now.Before(rt.IdleExpiresAt):
		return nil, errBadRefresh
	}
	family := strings.Fields(rt.Scope)
	if !slices.Contains(family, "offline_access") {
		return nil, errBadRefresh // issued without offline_access consented
	}
	requested := family
	if scope != "" {
		requested = dedupe(strings.Fields(scope))
		for _, s := range requested {
			if !slices.Contains(family, s) {
				return nil, oauthErr(http.StatusBadRequest, "invalid_scope", "scope "+s+" was not granted with this refresh token")
			}
		}
	}
	u, err := a.grantee(ctx, c, rt.UserID, family)
	if err != nil {
		return nil, err
	}
	scopes, err := a.stillGranted(ctx, c, requested)
	if err != nil {
		return nil, err
	}
	if still, err := a.stillGranted(ctx, c, []string{"offline_access"}); err != nil || len(still) == 0 {
		if err != nil {
			return nil, err
		}
		return nil, invalidGrant("the client no longer holds offline_access, so its refresh tokens are no longer honoured")
	}
	next := &keysmith.RefreshToken{ID: keysmith.NewID("rt"), GrantID: rt.GrantID, ClientID: c.ID, UserID: u.ID,
		Scope: rt.Scope, AuthTime: rt.AuthTime, CreatedAt: now, ExpiresAt: rt.ExpiresAt,
		IdleExpiresAt: minTime(now.Add(c.RefreshTokenIdleTTL), rt.ExpiresAt)}
	set := &TokenSet{}
	issued := keysmith.GrantTokens{Refresh: next}
	set.Refresh, issued.RefreshHash = keysmith.NewRefreshToken()
	if set.Access, issued.AccessHash, err = a.mint(ctx, c, u.ID, rt.GrantID, scopes); err != nil {
		return nil, err
	}
	issued.Access = set.Access.Record
	if slices.Contains(scopes, "openid") {
		if set.IDToken, err = a.idToken(ctx, c, u, scopes, rt.AuthTime, "", set.Access.Token.Reveal()); err != nil {
			return nil, err
		}
	}
	switch err := a.store.RotateRefreshToken(ctx, rt.ID, issued); keysmith.ErrorCode(err) {
	case "":
		return set, nil
	case keysmith.CodeConflict: // used meanwhile, by a concurrent request
		return nil, a.refreshReused(ctx, rt)
	default:
		return nil, err
	}
}

// refreshReused revokes the grant of a refresh token presented after it
// was replaced: either the client or an attacker holds a stolen copy, and
// which one cannot be told.
func (a *Authority) refreshReused(ctx context.Context, rt *keysmith.RefreshToken) error {
	if err := a.store.RevokeGrant(ctx, rt.GrantID, rt.ClientID, keysmith.GrantRevokedRefreshReused); err != nil {
		return err
	}
	a.log.Warn("a used refresh token was presented again; its grant is revoked", "client_id", rt.ClientID, "grant_id", rt.GrantID)
	return errBadRefresh
}

// RevokeRefreshToken revokes the grant of a refresh token (RFC 7009 §2.1:
// revoking a refresh token should revoke the access tokens of its grant). A
// token that is not ours or not the client's is left alone without error.
func (a *Authority) RevokeRefreshToken(ctx context.Context, raw string, by *keysmith.Client) (bool, error) {
	h, ok := keysmith.ParseRefreshToken(raw)
	if !ok {
		return false, nil
	}
	rt, err := a.store.FindRefreshTokenByHash(ctx, h)
	if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
		return true, nil
	}
	if err != nil || (by != nil && rt.ClientID != by.ID) {
		return true, err
	}
	return true, a.store.RevokeGrant(ctx, rt.GrantID, rt.ClientID, keysmith.GrantRevokedRequest)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
