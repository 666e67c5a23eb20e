package keysmith_test

import (
	"encoding/json"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
)

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func at(t time.Time) *time.Time { return &t }

func TestCreateTokenInputValidate(t *testing.T) {
	tests := []struct {
		name    string
		in      keysmith.CreateTokenInput
		wantErr string // substring of the message; "" for valid
	}{
		{"NameOnly", keysmith.CreateTokenInput{Name: "ci"}, ""},
		{"EmptyName", keysmith.CreateTokenInput{Name: ""}, "name is required"},
		{"OneCharacter", keysmith.CreateTokenInput{Name: "x"}, ""},
		{"100Characters", keysmith.CreateTokenInput{Name: strings.Repeat("a", 100)}, ""},
		{"101Characters", keysmith.CreateTokenInput{Name: strings.Repeat("a", 101)}, "at most 100 characters, got 101"},
		// The limit is on characters, not bytes: 100 × "é" is 200 bytes.
		{"100TwoByteRunes", keysmith.CreateTokenInput{Name: strings.Repeat("é", 100)}, ""},
		{"100FourByteRunes", keysmith.CreateTokenInput{Name: strings.Repeat("🔑", 100)}, ""},
		{"101TwoByteRunes", keysmith.CreateTokenInput{Name: strings.Repeat("é", 101)}, "at most 100 characters, got 101"},
		{"InvalidUTF8", keysmith.CreateTokenInput{Name: "ci\xff"}, "name must be valid UTF-8"},
		{"TruncatedRune", keysmith.CreateTokenInput{Name: "é"[:1]}, "name must be valid UTF-8"},
		{"InvalidUTF8AndTooLong", keysmith.CreateTokenInput{Name: strings.Repeat("\xff", 101)}, "name must be valid UTF-8"},
		{"OnlyWhiteSpace", keysmith.CreateTokenInput{Name: " \t "}, "must not be only white space"},
		{"ControlCharacter", keysmith.CreateTokenInput{Name: "ci\x1b[31m"}, "must not contain control characters"},
		{"Newline", keysmith.CreateTokenInput{Name: "ci\nadmin"}, "must not contain control characters"},
		{"ExpiresInThePast", keysmith.CreateTokenInput{Name: "ci", ExpiresAt: at(now.Add(-time.Hour))}, "expires_at must be in the future"},
		{"ExpiresNow", keysmith.CreateTokenInput{Name: "ci", ExpiresAt: at(now)}, "expires_at must be in the future"},
		{"ExpiresAMicrosecondFromNow", keysmith.CreateTokenInput{Name: "ci", ExpiresAt: at(now.Add(time.Microsecond))}, ""},
		{"ExpiresNextYear", keysmith.CreateTokenInput{Name: "ci", ExpiresAt: at(now.AddDate(1, 0, 0))}, ""},
		{"NameIsCheckedFirst", keysmith.CreateTokenInput{Name: "", ExpiresAt: at(now.Add(-time.Hour))}, "name is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate(now)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if code := keysmith.ErrorCode(err); code != keysmith.CodeInvalid {
				t.Fatalf("Validate() = %v (code %q), want code %q", err, code, keysmith.CodeInvalid)
			}
			if msg := keysmith.ErrorMessage(err); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("Validate() message = %q, want it to contain %q", msg, tt.wantErr)
			}
		})
	}
}

func TestTokenStatus(t *testing.T) {
	tests := []struct {
		name  string
		token keysmith.Token
		want  keysmith.TokenStatus
	}{
		{"NoExpiry", keysmith.Token{}, keysmith.TokenActive},
		{"ExpiresAfterNow", keysmith.Token{ExpiresAt: at(now.Add(time.Nanosecond))}, keysmith.TokenActive},
		{"ExpiresExactlyNow", keysmith.Token{ExpiresAt: at(now)}, keysmith.TokenExpired},
		{"ExpiredBeforeNow", keysmith.Token{ExpiresAt: at(now.Add(-time.Nanosecond))}, keysmith.TokenExpired},
		{"Revoked", keysmith.Token{RevokedAt: at(now.Add(-time.Hour))}, keysmith.TokenRevoked},
		{"RevokedBeatsExpired", keysmith.Token{RevokedAt: at(now.Add(-2 * time.Hour)), ExpiresAt: at(now.Add(-time.Hour))}, keysmith.TokenRevoked},
		{"RevokedBeforeExpiry", keysmith.Token{RevokedAt: at(now.Add(-time.Hour)), ExpiresAt: at(now.Add(time.Hour))}, keysmith.TokenRevoked},
		// Time zones do not matter: the same instant is the same instant.
		{"ExpiresNowInAnotherZone", keysmith.Token{ExpiresAt: at(now.In(time.FixedZone("X", 5*3600)))}, keysmith.TokenExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Created an hour ago with the default idle TTL: idle expiry is
			// far away, and tested below.
			tt.token.CreatedAt, tt.token.IdleTTL = now.Add(-time.Hour), keysmith.DefaultIdleTTL
			if got := tt.token.Status(now); got != tt.want {
				t.Errorf("Status(now) = %q, want %q", got, tt.want)
			}
		})
	}
}

// tok is a token created a day before now with a 30-day idle TTL.
func tok(edit func(t *keysmith.Token)) keysmith.Token {
	t := keysmith.Token{CreatedAt: now.Add(-24 * time.Hour), IdleTTL: keysmith.DefaultIdleTTL, Type: keysmith.TokenUser}
	if edit != nil {
		edit(&t)
	}
	return t
}

func TestTokenStatusAndColor(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name   string
		token  keysmith.Token
		status keysmith.TokenStatus
		color  keysmith.TokenColor
	}{
		{"NeverUsedIsGray", tok(nil), keysmith.TokenActive, keysmith.ColorGray},
		{"UsedWithinThreeDaysIsGreen", tok(func(t *keysmith.Token) { t.LastUsedAt = at(now.Add(-3*day + time.Second)) }), keysmith.TokenActive, keysmith.ColorGreen},
		{"UsedExactlyThreeDaysAgoIsGray", tok(func(t *keysmith.Token) { t.CreatedAt = now.Add(-10 * day); t.LastUsedAt = at(now.Add(-3 * day)) }), keysmith.TokenActive, keysmith.ColorGray},
		{"IdleDeadlineWithinSevenDaysIsRed", tok(func(t *keysmith.Token) { t.CreatedAt = now.Add(-23 * day) }), keysmith.TokenActive, keysmith.ColorRed},
		{"AbsoluteExpiryWithinSevenDaysIsRedEvenIfUsed", tok(func(t *keysmith.Token) { t.LastUsedAt = at(now); t.ExpiresAt = at(now.Add(7 * day)) }), keysmith.TokenActive, keysmith.ColorRed},
		{"UnusedForTheIdleTTLIsExpired", tok(func(t *keysmith.Token) { t.CreatedAt = now.Add(-30 * day) }), keysmith.TokenExpired, ""},
		{"UseRenewsTheIdleTTL", tok(func(t *keysmith.Token) { t.CreatedAt = now.Add(-40 * day); t.LastUsedAt = at(now.Add(-29 * day)) }), keysmith.TokenActive, keysmith.ColorRed},
		{"LastUseExactlyOneIdleTTLAgoIsExpired", tok(func(t *keysmith.Token) { t.CreatedAt = now.Add(-40 * day); t.LastUsedAt = at(now.Add(-30 * day)) }), keysmith.TokenExpired, ""},
		{"DisabledIsBlue", tok(func(t *keysmith.Token) { t.DisabledAt = at(now) }), keysmith.TokenDisabled, keysmith.ColorBlue},
		{"DisabledIsBlueEvenWhenUsedRecently", tok(func(t *keysmith.Token) { t.DisabledAt = at(now); t.LastUsedAt = at(now) }), keysmith.TokenDisabled, keysmith.ColorBlue},
		{"ExpiredBeatsDisabled", tok(func(t *keysmith.Token) { t.DisabledAt = at(now); t.ExpiresAt = at(now) }), keysmith.TokenExpired, ""},
		{"AgentTokenOfActiveAgent", tok(func(t *keysmith.Token) { t.Type = keysmith.TokenAgent; t.AgentActive = true }), keysmith.TokenActive, keysmith.ColorGray},
		{"AgentTokenWithoutActiveAgentIsSuspicious", tok(func(t *keysmith.Token) { t.Type = keysmith.TokenAgent }), keysmith.TokenSuspicious, keysmith.ColorYellow},
		{"SuspicionOutranksExpiringSoon", tok(func(t *keysmith.Token) { t.Type = keysmith.TokenAgent; t.ExpiresAt = at(now.Add(day)) }), keysmith.TokenSuspicious, keysmith.ColorYellow},
		{"RevokedHasNoColor", tok(func(t *keysmith.Token) { t.RevokedAt = at(now) }), keysmith.TokenRevoked, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.token.Status(now); got != tt.status {
				t.Errorf("Status = %q, want %q", got, tt.status)
			}
			if got := tt.token.Color(now); got != tt.color {
				t.Errorf("Color = %q, want %q", got, tt.color)
			}
		})
	}
}

func TestNormalizeMeta(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{`{"a": 1,  "b": [true]}`, `{"a":1,"b":[true]}`, ""},
		{`{}`, `{}`, ""},
		{`[]`, "", "must be a JSON object"},
		{`"x"`, "", "must be a JSON object"},
		{`null`, "", "must be a JSON object"},
		{`{"a":`, "", "must be a JSON object"},
		{`{"a":"` + strings.Repeat("x", keysmith.MaxMetaBytes) + `"}`, "", "at most 10240 bytes"},
	} {
		got, err := keysmith.NormalizeMeta(json.RawMessage(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(keysmith.ErrorMessage(err), c.err) {
				t.Errorf("NormalizeMeta(%.20s) = %v, want error with %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("NormalizeMeta(%s) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func TestTokenFilterValidate(t *testing.T) {
	f := keysmith.TokenFilter{}
	if err := f.Validate(); err != nil || f.Sort != keysmith.SortCreatedAt || f.Order != keysmith.OrderDesc {
		t.Errorf("empty filter: %v, sort %q order %q", err, f.Sort, f.Order)
	}
	for _, bad := range []keysmith.TokenFilter{
		{Type: "robot"}, {Status: "green"}, {Sort: "id"}, {Order: "up"}, {Page: keysmith.Page{Limit: keysmith.MaxPageSize + 1}},
	} {
		if err := bad.Validate(); keysmith.ErrorCode(err) != keysmith.CodeInvalid {
			t.Errorf("Validate(%+v) = %v, want invalid", bad, err)
		}
	}
}

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
