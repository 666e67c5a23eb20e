package keysmith_test

import (
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
			// far away, and tested in lifecycle_test.go.
			tt.token.CreatedAt, tt.token.IdleTTL = now.Add(-time.Hour), keysmith.DefaultIdleTTL
			if got := tt.token.Status(now); got != tt.want {
				t.Errorf("Status(now) = %q, want %q", got, tt.want)
			}
		})
	}
}
