package oauth

import (
	"context"
	"net/url"
	"slices"

	"github.com/keysmith/keysmith"
)

// LogoutRequest is a checked RP-initiated logout request (OpenID Connect
// RP-Initiated Logout 1.0 §2): the client that asked, if it could be told,
// and where to send the browser once it is signed out.
type LogoutRequest struct {
	// Client is the client named by client_id or the id_token_hint; nil
	// when neither names a live one.
	Client *keysmith.Client
	// RedirectTo is post_logout_redirect_uri with the state added, only
	// when it is exactly one of Client's PostLogoutRedirectURIs; "" sends
	// the browser to Keysmith's own signed-out page.
	RedirectTo string
	// Unregistered reports that a post_logout_redirect_uri was given but
	// is not one the client registered (so nothing is sent there).
	Unregistered bool
}

// ParseLogout checks a logout request's parameters: client_id,
// id_token_hint, post_logout_redirect_uri and state. A client_id and a hint
// that name different clients are refused (CodeInvalid); an unregistered
// redirect address is never used, only reported.
func (a *Authority) ParseLogout(ctx context.Context, q url.Values) (*LogoutRequest, error) {
	for k, v := range q {
		if len(v) > 1 {
			return nil, keysmith.Errorf(keysmith.CodeInvalid, "parameter %s is given more than once", k)
		}
		if len(v[0]) > 4*maxAuthorizeParam || !keysmith.ValidText(v[0]) || !keysmith.ValidText(k) {
			return nil, keysmith.Errorf(keysmith.CodeInvalid, "a parameter is too long or not text")
		}
	}
	id := q.Get("client_id")
	if hint := q.Get("id_token_hint"); hint != "" {
		if aud, _, ok := a.IDTokenHint(ctx, hint); ok {
			if id != "" && id != aud {
				return nil, keysmith.Errorf(keysmith.CodeInvalid, "client_id and id_token_hint name different applications")
			}
			id = aud
		}
	}
	out := &LogoutRequest{}
	if id != "" && len(id) <= 100 {
		e, err := a.client(ctx, id)
		if err != nil {
			return nil, err
		}
		if e != nil && e.client.RevokedAt == nil && e.ownerActive {
			out.Client = e.client
		}
	}
	uri := q.Get("post_logout_redirect_uri")
	if uri == "" {
		return out, nil
	}
	if out.Client == nil || !slices.Contains(out.Client.PostLogoutRedirectURIs, uri) {
		out.Unregistered = true
		return out, nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		out.Unregistered = true
		return out, nil
	}
	if st := q.Get("state"); st != "" {
		v := u.Query()
		v.Set("state", st)
		u.RawQuery = v.Encode()
	}
	out.RedirectTo = u.String()
	return out, nil
}
