package keymanager

import (
	"context"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/keysmith/keysmith"
)

// discoveryDoc is what Keysmith reads of an OpenID discovery document
// (OpenID Connect Discovery 1.0 §3) or OAuth authorization server metadata
// (RFC 8414 §2).
type discoveryDoc struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	RegistrationEndpoint  string `json:"registration_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
}

// invalid is a CodeInvalid error saying which step failed and why.
func invalid(step string, err error) error {
	return keysmith.Errorf(keysmith.CodeInvalid, "%s: %s", step, bounded(err.Error()))
}

// Discover reads the issuer's discovery document (OpenID Connect
// Discovery, then RFC 8414 metadata), checks that it names the issuer
// exactly and that every endpoint may be called, then fetches the JWKS and
// requires at least one key. The error says which of discovery or JWKS
// failed, and why.
func (c *Connector) Discover(ctx context.Context, typ keysmith.KeyManagerType, issuer string) (keysmith.Discovery, error) {
	if _, err := c.HTTP.CheckURL(issuer); err != nil {
		return keysmith.Discovery{}, invalid("issuer", err)
	}
	base := strings.TrimSuffix(issuer, "/")
	var doc discoveryDoc
	err := c.HTTP.GetJSON(ctx, base+"/.well-known/openid-configuration", &doc)
	if err != nil {
		var alt discoveryDoc
		if c.HTTP.GetJSON(ctx, base+"/.well-known/oauth-authorization-server", &alt) == nil {
			doc, err = alt, nil
		}
	}
	if err != nil {
		return keysmith.Discovery{}, invalid("discovery failed", err)
	}
	if doc.Issuer != issuer {
		return keysmith.Discovery{}, keysmith.Errorf(keysmith.CodeInvalid,
			"discovery failed: the document names issuer %q, not %q; give the issuer exactly as the provider states it",
			bounded(doc.Issuer), issuer)
	}
	if doc.JWKSURI == "" {
		return keysmith.Discovery{}, keysmith.Errorf(keysmith.CodeInvalid, "discovery failed: the document names no jwks_uri")
	}
	d := keysmith.Discovery{Issuer: doc.Issuer, JWKSURI: doc.JWKSURI, RegistrationEndpoint: doc.RegistrationEndpoint,
		IntrospectionEndpoint: doc.IntrospectionEndpoint, TokenEndpoint: doc.TokenEndpoint}
	if d.RegistrationEndpoint == "" {
		d.RegistrationEndpoint = defaultRegistrationEndpoint(typ, issuer)
	}
	for name, u := range map[string]string{"jwks_uri": d.JWKSURI, "registration_endpoint": d.RegistrationEndpoint,
		"introspection_endpoint": d.IntrospectionEndpoint, "token_endpoint": d.TokenEndpoint} {
		if u == "" {
			continue
		}
		if _, err := c.HTTP.CheckURL(u); err != nil {
			return keysmith.Discovery{}, invalid("discovery failed: "+name, err)
		}
	}
	if d.RegistrationEndpoint != "" && hostOf(d.RegistrationEndpoint) != hostOf(issuer) {
		// The registration token is sent there: only to the issuer's host.
		return keysmith.Discovery{}, keysmith.Errorf(keysmith.CodeInvalid,
			"discovery failed: registration_endpoint %q is not on the issuer's host %s; Keysmith sends the registration token only there",
			bounded(d.RegistrationEndpoint), hostOf(issuer))
	}
	if err := c.checkJWKS(ctx, d.JWKSURI); err != nil {
		return keysmith.Discovery{}, err
	}
	return d, nil
}

// checkJWKS fetches the key set and requires at least one key.
func (c *Connector) checkJWKS(ctx context.Context, uri string) error {
	var set jose.JSONWebKeySet
	if err := c.HTTP.GetJSON(ctx, uri, &set); err != nil {
		return invalid("JWKS failed", err)
	}
	if len(set.Keys) == 0 {
		return keysmith.Errorf(keysmith.CodeInvalid, "JWKS failed: %s holds no keys", uri)
	}
	return nil
}

// defaultRegistrationEndpoint is where a type registers clients when the
// discovery document names no registration_endpoint: Okta's DCR API lives
// at the org, /oauth2/v1/clients, whichever authorization server issues;
// Keycloak's at the realm, /clients-registrations/openid-connect.
func defaultRegistrationEndpoint(typ keysmith.KeyManagerType, issuer string) string {
	switch typ {
	case keysmith.KeyManagerOkta:
		if i := strings.Index(issuer, "://"); i >= 0 {
			if j := strings.Index(issuer[i+3:], "/"); j >= 0 {
				return issuer[:i+3+j] + "/oauth2/v1/clients"
			}
		}
		return strings.TrimSuffix(issuer, "/") + "/oauth2/v1/clients"
	case keysmith.KeyManagerKeycloak:
		return strings.TrimSuffix(issuer, "/") + "/clients-registrations/openid-connect"
	}
	return ""
}

// hostOf is the host (and port) of a URL, lower-cased; "" if it has none.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

// maxShown bounds what Keysmith repeats of another server's words.
const maxShown = 300

// bounded keeps s printable and short, to repeat it safely.
func bounded(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > maxShown {
		s = string(r[:maxShown]) + "…"
	}
	return s
}
