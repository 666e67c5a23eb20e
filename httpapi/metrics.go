package httpapi

import (
	"time"

	"github.com/keysmith/keysmith"
)

// Metrics receives what the server measures per request (package metrics
// implements it with Prometheus). Server.Metrics nil measures nothing, at
// the cost of a nil check. Both methods are called on the gateway
// endpoints' hot path: they must not allocate or block.
type Metrics interface {
	// Gateway counts one answer of a gateway endpoint: the code it gave
	// (a verify.Code, or an OAuth status, which uses the same words) and
	// the kind of credential presented (CredentialNone when there was none
	// or it was not recognised).
	Gateway(e GatewayEndpoint, code string, kind keysmith.CredentialKind)
	// Request observes how long a request took, by the ServeMux pattern
	// that answered it ("" when none did, like a wrong method): never the
	// raw path, so that the set of routes stays fixed.
	Request(pattern string, d time.Duration)
}

// GatewayEndpoint tells the gateway endpoints apart in Metrics.
type GatewayEndpoint uint8

// The gateway endpoints.
const (
	EndpointVerify      GatewayEndpoint = iota // POST /v1/verify
	EndpointForwardAuth                        // /v1/forward-auth
)

// CredentialNone is the credential kind counted for a request that
// presented none, or one of no known form.
const CredentialNone keysmith.CredentialKind = "none"

// countGateway counts a gateway answer when metrics are on.
func (s *Server) countGateway(e GatewayEndpoint, code string, kind keysmith.CredentialKind) {
	if s.Metrics != nil {
		s.Metrics.Gateway(e, code, kind)
	}
}

// credentialKind is the kind counted for a credential: an API token's or
// app key's when the verifier knew it (t), else the kind raw presents
// itself as by its prefix (keysmith.Claims; CredentialNone for none), so
// that an unknown credential costs no checksum here. Call it only with
// metrics on.
func credentialKind(t *keysmith.Token, raw string) keysmith.CredentialKind {
	if t != nil {
		if t.Type == keysmith.TokenAppKey {
			return keysmith.CredentialAppKey
		}
		return keysmith.CredentialAPIToken
	}
	if k, ok := keysmith.Claims(raw); ok {
		return k
	}
	return CredentialNone
}
