package keysmith_test

import (
	"hash/crc32"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// checksum computes the documented checksum independently of the package:
// the CRC-32 (IEEE) of the random part, as 6 base62 digits, most significant
// first. Secret scanners recompute it the same way.
func checksum(body string) string {
	c := crc32.ChecksumIEEE([]byte(body))
	out := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		out[i] = base62[c%62]
		c /= 62
	}
	return string(out)
}

func isBase62(s string) bool {
	for _, c := range []byte(s) {
		if strings.IndexByte(base62, c) < 0 {
			return false
		}
	}
	return true
}

// newToken returns a fresh token's plaintext.
func newToken(t *testing.T) string {
	t.Helper()
	s, _ := keysmith.NewAPITokenSecret()
	return s.Reveal()
}

func TestNewAPITokenSecret(t *testing.T) {
	const draws = 10_000
	seen := make(map[string]bool, draws)
	for range draws {
		secret, hash := keysmith.NewAPITokenSecret()
		s := secret.Reveal()
		if len(s) != keysmith.TokenLen || keysmith.TokenLen != 41 {
			t.Fatalf("len(%q) = %d, TokenLen = %d, want both 41", s, len(s), keysmith.TokenLen)
		}
		body, sum := s[3:35], s[35:]
		if !strings.HasPrefix(s, "ks_") || !isBase62(body) || sum != checksum(body) {
			t.Fatalf("token %q: want ks_ + 32 base62 + checksum %q", s, checksum(body))
		}
		if hash != keysmith.HashOf(s) {
			t.Fatalf("NewAPITokenSecret hash = %v, want HashOf(token) = %v", hash, keysmith.HashOf(s))
		}
		h, ok := keysmith.ParseAPIToken(s)
		if !ok || h != hash {
			t.Fatalf("ParseAPIToken(%q) = %v, %v; want %v, true", s, h, ok, hash)
		}
		if seen[s] {
			t.Fatalf("token %q drawn twice in %d draws", s, len(seen))
		}
		seen[s] = true
	}
}

// TestNewAPITokenSecretIsUniform checks that no base62 character is favoured,
// as it would be with a plain byte%62 (the first 8 characters would come up
// 25% more often). Each of the 62 counts is ~5 160 ± 72; the bound is ±10%,
// about 7 standard deviations, so the test does not flake.
func TestNewAPITokenSecretIsUniform(t *testing.T) {
	var counts [256]int
	const draws = 10_000
	for range draws {
		s := newToken(t)
		for _, c := range []byte(s[3:35]) {
			counts[c]++
		}
	}
	want := float64(draws*32) / 62
	for _, c := range []byte(base62) {
		if got := float64(counts[c]); got < want*0.9 || got > want*1.1 {
			t.Errorf("character %q drawn %.0f times, want %.0f ± 10%%", c, got, want)
		}
	}
}

func TestParseAPIToken(t *testing.T) {
	valid := newToken(t)
	body, sum := valid[3:35], valid[35:]
	// withByte returns s with s[i] replaced by c.
	withByte := func(s string, i int, c byte) string { b := []byte(s); b[i] = c; return string(b) }
	// other returns a base62 character different from c.
	other := func(c byte) byte {
		if c == 'a' {
			return 'b'
		}
		return 'a'
	}
	badBody := body[:10] + "-" + body[11:] // '-' is not base62

	tests := []struct {
		name string
		in   string
	}{
		{"Empty", ""},
		{"PrefixOnly", "ks_"},
		{"WrongPrefix", "gh_" + body + sum},
		{"UpperCasePrefix", "KS_" + body + sum},
		{"NoPrefix", body + sum + "xyz"},
		{"TooShort", valid[:len(valid)-1]},
		{"TooLong", valid + "a"},
		{"BearerScheme", "Bearer " + valid},
		{"SurroundingSpace", " " + valid[:len(valid)-1]},
		{"NonBase62CharWithMatchingChecksum", "ks_" + badBody + checksum(badBody)},
		{"NonASCIIChar", "ks_" + "é" + body[2:] + sum},
		{"BodyCharFlipped", withByte(valid, 10, other(valid[10]))},
		{"ChecksumCharFlipped", withByte(valid, 38, other(valid[38]))},
		{"ChecksumOfAnotherBody", "ks_" + body + checksum(strings.ToUpper(body))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h, ok := keysmith.ParseAPIToken(tt.in); ok {
				t.Errorf("ParseAPIToken(%q) = %v, true; want rejected", tt.in, h)
			}
		})
	}

	t.Run("AcceptsAWellFormedTokenItDidNotGenerate", func(t *testing.T) {
		const body = "0123456789abcdefghijklmnopqrstuv"
		s := "ks_" + body + checksum(body)
		if h, ok := keysmith.ParseAPIToken(s); !ok || h != keysmith.HashOf(s) {
			t.Errorf("ParseAPIToken(%q) = %v, %v; want HashOf, true", s, h, ok)
		}
	})

	// CRC-32 detects every error confined to 32 bits, so every single
	// substituted character and every swap of two neighbours is caught.
	t.Run("RejectsEverySingleCharacterSubstitution", func(t *testing.T) {
		for i := len("ks_"); i < len(valid); i++ {
			for _, c := range []byte(base62) {
				if c == valid[i] {
					continue
				}
				if s := withByte(valid, i, c); accepted(s) {
					t.Fatalf("ParseAPIToken(%q) accepted (position %d changed to %q)", s, i, c)
				}
			}
		}
	})
	t.Run("RejectsEverySwapOfNeighbours", func(t *testing.T) {
		for i := len("ks_"); i < len(valid)-1; i++ {
			if valid[i] == valid[i+1] {
				continue
			}
			b := []byte(valid)
			b[i], b[i+1] = b[i+1], b[i]
			if accepted(string(b)) {
				t.Fatalf("ParseAPIToken(%q) accepted (positions %d and %d swapped)", b, i, i+1)
			}
		}
	})
}

// accepted reports whether ParseAPIToken accepts s.
func accepted(s string) bool { _, ok := keysmith.ParseAPIToken(s); return ok }

func FuzzParseAPIToken(f *testing.F) {
	valid := func() string { s, _ := keysmith.NewAPITokenSecret(); return s.Reveal() }()
	for _, seed := range []string{
		valid,
		valid[:len(valid)-1],
		valid + "0",
		"",
		"ks_",
		"ks_" + strings.Repeat("0", 38),
		"ks_" + strings.Repeat("\xff", 38),
		"Bearer " + valid,
		strings.ToUpper(valid),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := keysmith.ParseAPIToken(s)
		if !ok {
			if h != (keysmith.Hash{}) {
				t.Errorf("ParseAPIToken(%q) rejected the token but returned hash %v", s, h)
			}
			return
		}
		body := s[3 : len(s)-6]
		if len(s) != keysmith.TokenLen || !strings.HasPrefix(s, keysmith.TokenPrefix) || !isBase62(body) {
			t.Errorf("ParseAPIToken(%q) accepted a string not of the form ks_ + 32 base62 + checksum", s)
		}
		if s[len(s)-6:] != checksum(body) {
			t.Errorf("ParseAPIToken(%q) accepted a wrong checksum (want %s)", s, checksum(body))
		}
		if h != keysmith.HashOf(s) {
			t.Errorf("ParseAPIToken(%q) = %v, want HashOf = %v", s, h, keysmith.HashOf(s))
		}
	})
}

func TestHash(t *testing.T) {
	s := newToken(t)
	h := keysmith.HashOf(s)
	if got := h.String(); len(got) != 64 || strings.ToLower(got) != got {
		t.Errorf("Hash.String() = %q, want 64 lower-case hex digits", got)
	}
	if got, ok := keysmith.ParseHash(h.String()); !ok || got != h {
		t.Errorf("ParseHash(h.String()) = %v, %v; want %v, true", got, ok, h)
	}
	if !h.Equal(keysmith.HashOf(s)) || h.Equal(keysmith.HashOf(s+"x")) {
		t.Errorf("Hash.Equal: equal digests must compare equal and different ones not")
	}
	for _, bad := range []string{"", h.String()[:62], h.String() + "00", strings.Repeat("zz", 32)} {
		if _, ok := keysmith.ParseHash(bad); ok {
			t.Errorf("ParseHash(%q) accepted, want rejected", bad)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := keysmith.NewID("tok")
		if len(id) != len("tok_")+16 || !strings.HasPrefix(id, "tok_") || !isBase62(id[4:]) {
			t.Fatalf("NewID(%q) = %q, want tok_ + 16 base62 characters", "tok", id)
		}
		if seen[id] {
			t.Fatalf("NewID returned %q twice", id)
		}
		seen[id] = true
	}
}
