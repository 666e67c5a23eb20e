package keysmith_test

import (
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
)

func TestValidateScopeName(t *testing.T) {
	for _, ok := range []string{"orders:read", "a", "api.example.com/orders.write", "user@tenant", "A-B_c", "9lives", "andor", "NOTE"} {
		if err := keysmith.ValidateScopeName(ok); err != nil {
			t.Errorf("ValidateScopeName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a(b)", "(a", "*", "orders:*", "AND", "or", "Not", ":read", "-x", "a\"b",
		"é", "a\tb", strings.Repeat("a", 101)} {
		if err := keysmith.ValidateScopeName(bad); keysmith.ErrorCode(err) != keysmith.CodeInvalid {
			t.Errorf("ValidateScopeName(%q) = %v, want invalid", bad, err)
		}
	}
}

func TestValidateAPIIdentifier(t *testing.T) {
	for _, ok := range []string{"https://api.example.com", "https://api.example.com/v1", "urn:example:orders", "http://localhost:8080"} {
		if err := keysmith.ValidateAPIIdentifier(ok); err != nil {
			t.Errorf("ValidateAPIIdentifier(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "api.example.com", "/orders", "https://", "https:///path", "https://a.example/#x",
		"https://a.example/ x", "urn:" + strings.Repeat("a", 200), "https://a.example/\x00"} {
		if err := keysmith.ValidateAPIIdentifier(bad); keysmith.ErrorCode(err) != keysmith.CodeInvalid {
			t.Errorf("ValidateAPIIdentifier(%q) = %v, want invalid", bad, err)
		}
	}
}
