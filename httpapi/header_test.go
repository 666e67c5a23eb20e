package httpapi

import (
	"net/textproto"
	"testing"
)

// TestHeaderKeysAreCanonical: the header names the gateway endpoints read
// with header and write by map assignment must be in the form net/http
// stores them in, or a read finds nothing and a write goes out twice.
func TestHeaderKeysAreCanonical(t *testing.T) {
	for _, k := range []string{
		"Authorization", "X-Request-Id", "X-Forwarded-For", "X-Content-Type-Options", "Content-Type", "Cache-Control",
		"Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset", "Retry-After",
		headerRequireScope, headerRequirePermissions, headerRequireEnvironment,
		headerCredentialID, headerCredentialKind, headerOwnerID, headerAppID, headerEnvironment, headerScopes, headerClientID,
	} {
		if c := textproto.CanonicalMIMEHeaderKey(k); c != k {
			t.Errorf("header key %q is not canonical; net/http stores it as %q", k, c)
		}
	}
}
