package oauth

import "context"

// IDTokenHint reads an id_token_hint (OpenID Connect RP-Initiated Logout
// §2): the client (aud) and person (sub) of an ID token Keysmith signed,
// expired or not; ok false if it is not one.
func (a *Authority) IDTokenHint(ctx context.Context, raw string) (clientID, userID string, ok bool) {
	return "", "", false // replaced with the ID token work
}
