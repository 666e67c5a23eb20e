package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
)

// scanTarget has the shapes request bodies use: tags, a pointer to a nested
// struct, a slice, raw JSON, a time, an embedded struct, a skipped field.
type scanTarget struct {
	Name    string          `json:"name"`
	Network *networkJSON    `json:"network"`
	Zones   []string        `json:"zones"`
	Meta    json.RawMessage `json:"meta"`
	At      *time.Time      `json:"at"`
	Secret  string          `json:"-"`
	scanEmbedded
}

type scanEmbedded struct {
	Kind string `json:"kind"`
}

func TestScanJSON(t *testing.T) {
	for _, c := range []struct {
		name, body string
		wantErr    string // "" for none
	}{
		{"ExactNamesPass", `{"name":"a","network":{"mode":"any","zones":["z"]},"zones":[],"meta":{"A":1,"a":2},"at":"2030-01-01T00:00:00Z","kind":"ci"}`, ""},
		{"SyntaxErrorsAreLeftToTheDecoder", `{"name":`, ""},
		{"EmbeddedFieldsArePromoted", `{"kind":"ci"}`, ""},
		{"EmbeddedFieldInAnotherCase", `{"KIND":"ci"}`, `did you mean "kind"`},
		{"SkippedFieldIsUnknown", `{"Secret":"x"}`, `unknown field "Secret"`},
		{"UnknownField", `{"nme":"x"}`, `unknown field "nme"`},
		{"DuplicateInAnArrayOfObjects", `{"meta":[{},{"a":1,"a":1}]}`, `"meta[1].a" appears more than once`},
		{"NULInAFieldName", `{"meta":{"\u0000":1}}`, `field name "meta.\x00"`},
		{"InvalidUTF8InAFieldName", "{\"meta\":{\"\xff\":1}}", `field name "meta.\xff" is not valid UTF-8`},
		{"InvalidUTF8AtTheTop", "\"\xff\"", "the request body is not valid UTF-8"},
		{"EscapedSurrogateIsText", `{"name":"\ud800"}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := scanJSON([]byte(c.body), reflect.TypeFor[*scanTarget]())
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("scanJSON(%s) = %v, want nil", c.body, err)
			case c.wantErr != "" && (keysmith.ErrorCode(err) != keysmith.CodeInvalid || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("scanJSON(%s) = %v, want an invalid error containing %q", c.body, err, c.wantErr)
			}
		})
	}
}

func TestWildcards(t *testing.T) {
	got := wildcards("DELETE /v1/groups/{id}/members/{user_id}/{rest...}/{$}")
	if want := []string{"id", "user_id", "rest"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("wildcards = %q, want %q", got, want)
	}
}

// benchBodies are typical bodies: a token creation with a small meta object
// and a network policy (larger than most), and a verify (the hot path).
var benchBodies = []struct {
	name, body string
	into       func() any
}{
	{"CreateToken", `{"name":"deploy bot","expires_at":"2030-01-01T00:00:00Z","idle_ttl":3600,` +
		`"meta":{"team":"payments","env":"prod","tags":["a","b"]},"network":{"mode":"in_zones","zones":["zone_abc"]},` +
		`"rate_limit_percent":20}`, func() any { return new(tokenRequest) }},
	{"Verify", `{"token":"ks_0123456789abcdefghijABCDEFGHIJ01abcdef","ip":"203.0.113.7"}`,
		func() any {
			return new(struct {
				Token string  `json:"token"`
				IP    *string `json:"ip"`
			})
		}},
}

// tokenRequest is the body of POST /v1/tokens.
type tokenRequest struct {
	Name             string          `json:"name"`
	ExpiresAt        *time.Time      `json:"expires_at"`
	IdleTTL          *int64          `json:"idle_ttl"`
	Meta             json.RawMessage `json:"meta"`
	OwnerID          string          `json:"owner_id"`
	Network          *networkJSON    `json:"network"`
	RateLimitPercent *int            `json:"rate_limit_percent"`
}

// BenchmarkDecode measures decode, scan included, of typical bodies;
// BenchmarkDecodeWithoutScan is the same without scanJSON, and
// BenchmarkScanJSON the scan alone.
func BenchmarkDecode(b *testing.B) {
	for _, c := range benchBodies {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/v1/tokens", strings.NewReader(c.body))
				if err := decode(httptest.NewRecorder(), r, c.into()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeWithoutScan(b *testing.B) {
	for _, c := range benchBodies {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/v1/tokens", strings.NewReader(c.body))
				dec := json.NewDecoder(http.MaxBytesReader(httptest.NewRecorder(), r.Body, maxBody))
				dec.DisallowUnknownFields()
				if err := dec.Decode(c.into()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkScanJSON(b *testing.B) {
	for _, c := range benchBodies {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			body, t := []byte(c.body), reflect.TypeOf(c.into())
			for b.Loop() {
				if err := scanJSON(body, t); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
