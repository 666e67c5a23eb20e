package verify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/verify"
)

func TestRequirementCheck(t *testing.T) {
	f := newFixture(t)
	query := func(s string) *string { return &s }
	tests := []struct {
		name        string
		scopes      []string
		permissions *string
		environment string
		has         []string
		env         keysmith.Environment
		want        verify.Code
		missing     []string
	}{
		{name: "NothingRequiredIsValid", want: verify.Valid},
		{name: "HeldScopesAreValid", scopes: []string{"a", "b"}, has: []string{"b", "a"}, want: verify.Valid},
		{name: "LackingScopesAreListed", scopes: []string{"a", "b", "a"}, has: []string{"b"},
			want: verify.InsufficientPermissions, missing: []string{"a"}},
		{name: "NoScopesLackEveryOne", scopes: []string{"a", "b"},
			want: verify.InsufficientPermissions, missing: []string{"a", "b"}},
		{name: "QuerySatisfied", permissions: query("a AND (b OR c)"), has: []string{"a", "c"}, want: verify.Valid},
		{name: "QueryNotSatisfied", permissions: query("a AND (b OR c)"), has: []string{"a"},
			want: verify.InsufficientPermissions, missing: []string{"b"}},
		{name: "ScopesAndQueryBothCount", scopes: []string{"x"}, permissions: query("a OR x"),
			want: verify.InsufficientPermissions, missing: []string{"x", "a"}},
		{name: "EnvironmentMatches", environment: "sandbox", env: keysmith.EnvSandbox, want: verify.Valid},
		{name: "OtherEnvironment", environment: "production", env: keysmith.EnvSandbox, want: verify.WrongEnvironment},
		{name: "NoEnvironmentIsWrongWhenOneIsRequired", environment: "sandbox", want: verify.WrongEnvironment},
		{name: "WrongEnvironmentComesFirst", scopes: []string{"a"}, environment: "production", env: keysmith.EnvSandbox,
			want: verify.WrongEnvironment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := f.v.ParseRequirement(tt.scopes, tt.permissions, tt.environment)
			if err != nil {
				t.Fatal(err)
			}
			code, missing := r.Check(tt.has, tt.env)
			if code != tt.want {
				t.Errorf("Check = %s, want %s", code, tt.want)
			}
			if diff := cmp.Diff(tt.missing, missing); diff != "" {
				t.Errorf("missing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRequirementRejects(t *testing.T) {
	f := newFixture(t)
	empty, bad := "", "a AND"
	tests := []struct {
		name        string
		scopes      []string
		permissions *string
		environment string
		want        string
	}{
		{name: "EmptyQuery", permissions: &empty, want: `expected a scope or "("`},
		{name: "MalformedQuery", permissions: &bad, want: "at the end of the query (position 6)"},
		{name: "UnknownEnvironment", environment: "staging", want: `environment "staging" is not sandbox or production`},
		{name: "EmptyScope", scopes: []string{"a", ""}, want: `scopes[1] "" is not a scope name`},
		{name: "ScopeWithSpace", scopes: []string{"a b"}, want: `scopes[0] "a b" is not a scope name`},
		{name: "TooManyScopes", scopes: strings.Fields(strings.Repeat("a ", 101)), want: "at most 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.v.ParseRequirement(tt.scopes, tt.permissions, tt.environment)
			if keysmith.ErrorCode(err) != keysmith.CodeInvalid || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseRequirement = %v, want CodeInvalid saying %q", err, tt.want)
			}
		})
	}
}

// TestVerifyWithRequirementAllocatesNoMore: a cached valid token meeting a
// cached query costs no allocation beyond those of a plain verify.
func TestVerifyWithRequirementAllocatesNoMore(t *testing.T) {
	f := newFixtureWith(t, verify.Options{Now: keysmith.SystemClock, MaxAge: time.Hour})
	raw := f.scopedToken(t, "a", "c")
	q := "a AND (b OR c)"
	f.mustBe(t, raw, verify.Valid)
	plain := testing.AllocsPerRun(100, func() { _, _ = f.v.VerifyAPIToken(f.ctx, raw, "192.0.2.1") })
	withQuery := testing.AllocsPerRun(100, func() {
		r, _ := f.v.ParseRequirement(nil, &q, "")
		res, _ := f.v.VerifyAPIToken(f.ctx, raw, "192.0.2.1")
		if code, _ := r.Check(res.Token.Scopes, res.Token.Environment); code != verify.Valid {
			t.Fatalf("Check = %s", code)
		}
	})
	if withQuery != plain {
		t.Errorf("a verify with a cached query allocates %v times, a plain one %v", withQuery, plain)
	}
}

// scopedToken registers scopes under a new API and stores a token of the
// owner holding them.
func (f *fixture) scopedToken(t testing.TB, scopes ...string) string {
	t.Helper()
	now := f.now()
	api := &keysmith.API{ID: keysmith.NewID("api"), Name: "bench", Identifier: "https://" + keysmith.NewID("api") + ".example",
		CreatedAt: now, UpdatedAt: now}
	for _, s := range scopes {
		api.Scopes = append(api.Scopes, keysmith.Scope{Name: s})
	}
	if err := f.db.CreateAPI(f.ctx, api); err != nil {
		t.Fatalf("create API: %v", err)
	}
	secret, h := keysmith.NewAPITokenSecret()
	tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "scoped", Type: keysmith.TokenUser,
		OwnerID: f.owner.ID, CreatedAt: now, CreatedBy: f.owner.ID, Scopes: scopes}
	if err := f.db.CreateToken(f.ctx, tok, h); err != nil {
		t.Fatalf("create token: %v", err)
	}
	return secret.Reveal()
}
