package keysmith_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// TestParsePermissionQuery shows the grammar by the shortest form (String)
// of what each query parses to.
func TestParsePermissionQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"orders:read", "orders:read"},
		{"  a\t", "a"},
		{"a AND b", "a AND b"},
		{"a and b And c", "a AND b AND c"},
		{"a or b", "a OR b"},
		{"a OR b AND c", "a OR b AND c"},      // AND binds tighter
		{"(a OR b) AND c", "(a OR b)AND c"},   // parentheses kept where needed
		{"a AND (b OR c)", "a AND(b OR c)"},   // the benchmark's query
		{"(a AND b) OR c", "a AND b OR c"},    // and dropped where not
		{"((a))", "a"},                        // redundant ones too
		{"a AND (b AND c)", "a AND(b AND c)"}, // grouping is kept as written
		{"(a)AND(b)", "a AND b"},              // parentheses separate words
		{"a:b/c.d-e_f*", "a:b/c.d-e_f*"},      // a scope is any run of other bytes
		{"é AND ü", "é AND ü"},                // including UTF-8
		{"orders:read AND (orders:write OR admin)", "orders:read AND(orders:write OR admin)"},
	}
	for _, tt := range tests {
		q, err := keysmith.ParsePermissionQuery(tt.in)
		if err != nil {
			t.Errorf("ParsePermissionQuery(%q): %v", tt.in, err)
			continue
		}
		if got := q.String(); got != tt.want {
			t.Errorf("ParsePermissionQuery(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestParsePermissionQueryErrors: every malformed query is CodeInvalid with
// a message that says where and what was expected.
func TestParsePermissionQueryErrors(t *testing.T) {
	deep := strings.Repeat("(", keysmith.MaxPermissionQueryDepth+1) + "a" + strings.Repeat(")", keysmith.MaxPermissionQueryDepth+1)
	many := strings.TrimSuffix(strings.Repeat("a OR ", keysmith.MaxPermissionQueryTerms+1), " OR ")
	tests := []struct{ in, want string }{
		{"", `expected a scope or "(" at the end of the query (position 1)`},
		{"   ", `expected a scope or "(" at the end of the query (position 4)`},
		{"AND", `expected a scope or "(" at position 1, found "AND"`},
		{"a AND", `expected a scope or "(" at the end of the query (position 6)`},
		{"a OR OR b", `expected a scope or "(" at position 6, found "OR"`},
		{"a b", `expected "AND", "OR" or the end of the query at position 3, found "b"`},
		{"a)", `expected "AND", "OR" or the end of the query at position 2, found ")"`},
		{"(a OR b", `expected "AND", "OR" or ")" (to close the "(" at position 1) at the end of the query (position 8)`},
		{"x AND (a b)", `expected "AND", "OR" or ")" (to close the "(" at position 7) at position 10, found "b"`},
		{"()", `expected a scope or "(" at position 2, found ")"`},
		{deep, "nests parentheses more than 20 deep at position 21"},
		{many, "names more than 100 scopes (at position 501)"},
		{strings.Repeat("a", keysmith.MaxPermissionQueryBytes+1), "1001 bytes long; a query may be at most 1000"},
	}
	for _, tt := range tests {
		_, err := keysmith.ParsePermissionQuery(tt.in)
		if keysmith.ErrorCode(err) != keysmith.CodeInvalid || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePermissionQuery(%.40q) = %v, want CodeInvalid saying %q", tt.in, err, tt.want)
		}
	}
	// At the limits exactly, a query parses.
	for _, ok := range []string{
		strings.Repeat("(", keysmith.MaxPermissionQueryDepth) + "a" + strings.Repeat(")", keysmith.MaxPermissionQueryDepth),
		strings.TrimSuffix(strings.Repeat("a OR ", keysmith.MaxPermissionQueryTerms), " OR "),
		strings.Repeat("a", keysmith.MaxPermissionQueryBytes),
	} {
		if _, err := keysmith.ParsePermissionQuery(ok); err != nil {
			t.Errorf("ParsePermissionQuery(%.40q) at a limit: %v", ok, err)
		}
	}
}

func TestPermissionQueryMissing(t *testing.T) {
	tests := []struct {
		query string
		has   []string
		want  []string
	}{
		{"a", []string{"a"}, nil},
		{"a", nil, []string{"a"}},
		{"a AND b", []string{"a", "b"}, nil},
		{"a AND b", []string{"b"}, []string{"a"}},
		{"a AND b AND a", nil, []string{"a", "b"}}, // each once
		{"a OR b", []string{"b"}, nil},
		{"a OR b", nil, []string{"a"}},                     // first on a tie
		{"(a AND b) OR c", nil, []string{"c"}},             // the fewest
		{"(a AND b) OR c", []string{"a"}, []string{"b"}},   // fewest counts what is held
		{"a AND (b OR c)", []string{"a", "c"}, nil},        // the benchmark's token
		{"a AND (b OR c)", nil, []string{"a", "b"}},        // AND: the union
		{"a AND (b OR c)", []string{"c"}, []string{"a"}},   // only failing parts
		{"(a OR b) AND (b OR c)", nil, []string{"a", "b"}}, // union without duplicates
		{"orders:read AND (orders:write OR admin)", []string{"orders:read", "admin"}, nil},
	}
	for _, tt := range tests {
		q, err := keysmith.ParsePermissionQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		got := q.Missing(func(s string) bool { return slices.Contains(tt.has, s) })
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q.Missing(%v) (-want +got):\n%s", tt.query, tt.has, diff)
		}
		if diff := cmp.Diff(tt.want, q.MissingFrom(tt.has)); diff != "" {
			t.Errorf("%q.MissingFrom(%v) (-want +got):\n%s", tt.query, tt.has, diff)
		}
	}
}

func TestPermissionQuerySatisfiedAllocatesNothing(t *testing.T) {
	q, err := keysmith.ParsePermissionQuery("a AND (b OR c)")
	if err != nil {
		t.Fatal(err)
	}
	scopes := []string{"a", "c"}
	if n := testing.AllocsPerRun(100, func() { _ = q.MissingFrom(scopes) }); n != 0 {
		t.Errorf("MissingFrom allocates %v times when satisfied, want 0", n)
	}
}

// FuzzParsePermissionQuery: no input panics; what parses is within the
// limits and parses back from its String to an equal query; and a
// credential holding every scope the query names satisfies it.
func FuzzParsePermissionQuery(f *testing.F) {
	for _, seed := range []string{
		"a", "a AND b", "a or b and c", "(a OR b) AND c", "a AND (b OR (c AND d))", "((a))", "(a)AND(b)",
		"orders:read AND (orders:write OR admin)", "", "(", ")", "a AND", "AND", "a b", "(a OR b",
		"\ta\t", "é OR ü", strings.Repeat("(", 21) + "a" + strings.Repeat(")", 21), "a\x00b", "a\nb",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := keysmith.ParsePermissionQuery(s)
		if err != nil {
			if keysmith.ErrorCode(err) != keysmith.CodeInvalid {
				t.Fatalf("ParsePermissionQuery(%q) = %v, want CodeInvalid", s, err)
			}
			return
		}
		out := q.String()
		if len(out) > len(s) {
			t.Errorf("String() = %q is longer than the query %q", out, s)
		}
		again, err := keysmith.ParsePermissionQuery(out)
		if err != nil {
			t.Fatalf("ParsePermissionQuery(%q) parsed, its String() %q did not: %v", s, out, err)
		}
		if !reflect.DeepEqual(q, again) {
			t.Fatalf("ParsePermissionQuery(%q) and of its String() %q differ", s, out)
		}
		all := q.Scopes()
		if len(all) == 0 || len(all) > keysmith.MaxPermissionQueryTerms {
			t.Errorf("ParsePermissionQuery(%q) names %d scopes", s, len(all))
		}
		if m := q.MissingFrom(all); m != nil {
			t.Errorf("%q with every scope it names still misses %v", s, m)
		}
		if m := q.MissingFrom(nil); len(m) == 0 {
			t.Errorf("%q with no scope misses nothing", s)
		}
	})
}
