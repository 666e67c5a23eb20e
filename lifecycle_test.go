package keysmith_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
)

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
		{"Disabled", tok(func(t *keysmith.Token) { t.DisabledAt = at(now) }), keysmith.TokenDisabled, keysmith.ColorGray},
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
		{Type: "robot"}, {Status: "green"}, {Sort: "id"}, {Order: "up"}, {Limit: keysmith.MaxPageSize + 1},
	} {
		if err := bad.Validate(); keysmith.ErrorCode(err) != keysmith.CodeInvalid {
			t.Errorf("Validate(%+v) = %v, want invalid", bad, err)
		}
	}
}
