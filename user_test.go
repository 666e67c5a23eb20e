package keysmith_test

import (
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
)

func TestNormalizeEmail(t *testing.T) {
	// 64 + 1 + 189 = 254 characters, the longest address allowed.
	longest := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com"
	if len(longest) != 254 {
		t.Fatalf("len(longest) = %d, want 254", len(longest))
	}
	tests := []struct {
		in, want string // want "" means invalid
	}{
		{"alice@example.com", "alice@example.com"},
		{"Alice@Example.COM", "alice@example.com"},
		{"  bob@example.com\t\n", "bob@example.com"},
		{"a+tag@example.com", "a+tag@example.com"},
		{"admin@localhost", "admin@localhost"},
		{"ÄLICE@example.com", "älice@example.com"},
		{longest, longest},
		{"a" + longest, ""},
		{"", ""},
		{"   ", ""},
		{"alice", ""},
		{"alice@", ""},
		{"@example.com", ""},
		{"a@b@example.com", ""},
		{"a b@example.com", ""},
		{"a..b@example.com", ""},
		{"a@example..com", ""},
		{"a\x00@example.com", ""},
		// Only a bare address is canonical: display names and quoted local
		// parts do not read back as written.
		{"Alice <alice@example.com>", ""},
		{`"alice"@example.com`, ""},
	}
	for _, tt := range tests {
		got, err := keysmith.NormalizeEmail(tt.in)
		if tt.want == "" {
			if err == nil || keysmith.ErrorCode(err) != keysmith.CodeInvalid {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want a %q error", tt.in, got, err, keysmith.CodeInvalid)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}

	t.Run("MessageSaysWhatIsExpected", func(t *testing.T) {
		_, err := keysmith.NormalizeEmail("alice")
		if msg := keysmith.ErrorMessage(err); !strings.Contains(msg, `"alice"`) || !strings.Contains(msg, "name@example.com") {
			t.Errorf("message = %q, want the input and an example", msg)
		}
		_, err = keysmith.NormalizeEmail(" ")
		if msg := keysmith.ErrorMessage(err); msg != "email is required" {
			t.Errorf("message = %q, want %q", msg, "email is required")
		}
	})
}
