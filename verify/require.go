package verify

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keysmith/keysmith"
)

// The codes of a credential that is otherwise valid but does not meet what
// the gateway requires of it (a Requirement). Every other code takes
// precedence over them.
const (
	// InsufficientPermissions: the credential lacks scopes the requirement
	// names; Requirement.Check says which would do.
	InsufficientPermissions Code = "INSUFFICIENT_PERMISSIONS"
	// WrongEnvironment: the credential works in another environment, or in
	// none (API tokens have none).
	WrongEnvironment Code = "WRONG_ENVIRONMENT"
)

// Requirement is what a gateway requires of a credential beyond its being
// valid: every scope of Scopes, the permission query Query, and the
// environment Environment; each optional. The zero Requirement requires
// nothing. It works on every kind of credential: Check takes the
// credential's scopes and environment, not the credential.
type Requirement struct {
	Scopes      []string
	Query       *keysmith.PermissionQuery
	Environment keysmith.Environment // "" for any
}

// Check says whether a credential with scopes and env meets r: Valid, or
// WrongEnvironment, or InsufficientPermissions with the scopes that would
// make up for it (those of Scopes it lacks, then those Query misses, each
// once). A wrong environment is answered first: scopes held elsewhere are
// beside the point. It allocates nothing when r is met.
func (r *Requirement) Check(scopes []string, env keysmith.Environment) (code Code, missing []string) {
	if r.Environment != "" && env != r.Environment {
		return WrongEnvironment, nil
	}
	if r.met(scopes) {
		return Valid, nil
	}
	for _, s := range r.Scopes {
		if !slices.Contains(scopes, s) && !slices.Contains(missing, s) {
			missing = append(missing, s)
		}
	}
	if r.Query != nil {
		for _, s := range r.Query.MissingFrom(scopes) {
			if !slices.Contains(missing, s) {
				missing = append(missing, s)
			}
		}
	}
	return InsufficientPermissions, missing
}

// met reports whether scopes hold every scope of r.Scopes and satisfy
// r.Query: the common case, answered without building a list.
func (r *Requirement) met(scopes []string) bool {
	for _, s := range r.Scopes {
		if !slices.Contains(scopes, s) {
			return false
		}
	}
	return r.Query == nil || r.Query.SatisfiedBy(scopes)
}

// IsZero reports whether r requires nothing.
func (r *Requirement) IsZero() bool {
	return len(r.Scopes) == 0 && r.Query == nil && r.Environment == ""
}

// ParseRequirement checks what a gateway requires, as a verify request
// states it: scopes (all required; nil for none, and an empty list is an
// error, for the same reason as an empty query), a permission query (nil for none; an
// empty one is an error, not "nothing required", so that a misconfigured
// gateway fails closed), and an environment ("" for any). Every problem is
// CodeInvalid naming it. Queries are parsed once per distinct text (see
// queryCache).
func (v *Verifier) ParseRequirement(scopes []string, permissions *string, environment string) (r Requirement, err error) {
	if scopes != nil && len(scopes) == 0 {
		return Requirement{}, keysmith.Errorf(keysmith.CodeInvalid,
			"scopes is an empty list: name the scopes required, or leave scopes out to require none")
	}
	if len(scopes) > 0 {
		if err := checkScopeNames(scopes); err != nil {
			return Requirement{}, err
		}
		r.Scopes = scopes
	}
	if permissions != nil {
		if r.Query, err = v.queries.parse(*permissions); err != nil {
			return Requirement{}, err
		}
	}
	if environment != "" {
		if r.Environment, err = parseEnvironment(environment); err != nil {
			return Requirement{}, err
		}
	}
	return r, nil
}

// checkScopeNames checks the scopes a verify request requires.
func checkScopeNames(scopes []string) error {
	if len(scopes) > keysmith.MaxPermissionQueryTerms {
		return keysmith.Errorf(keysmith.CodeInvalid, "scopes names %d scopes; at most %d", len(scopes), keysmith.MaxPermissionQueryTerms)
	}
	for i, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n()") {
			return keysmith.Errorf(keysmith.CodeInvalid, "scopes[%d] %q is not a scope name: it must be non-empty, without spaces or parentheses", i, s)
		}
	}
	return nil
}

// parseEnvironment checks the environment a verify request requires.
func parseEnvironment(s string) (keysmith.Environment, error) {
	env, err := keysmith.ParseEnvironment(s)
	if err != nil {
		return "", keysmith.Errorf(keysmith.CodeInvalid, "environment %q is not sandbox or production", s)
	}
	return env, nil
}

// maxCachedQueries bounds the parsed-query cache: gateways send a handful
// of distinct queries, a caller sending many costs no more than this.
const maxCachedQueries = 1024

// queryCache remembers parsed permission queries by their text, so a query
// is parsed once, not once per request. Gateways send the same few queries
// on every request: the last one found is checked first (one atomic load
// and a comparison), then a sync.Map, read without a lock. When the map
// holds maxCachedQueries it is emptied. Only queries that parse are kept:
// a bad one is answered 400 and is cheap to reject again. The zero value
// is ready to use.
type queryCache struct {
	last atomic.Pointer[cachedQuery]
	m    sync.Map // string → *cachedQuery
	n    atomic.Int64
}

type cachedQuery struct {
	text string
	q    *keysmith.PermissionQuery
}

func (c *queryCache) parse(s string) (*keysmith.PermissionQuery, error) {
	if l := c.last.Load(); l != nil && l.text == s {
		return l.q, nil
	}
	if v, ok := c.m.Load(s); ok {
		cq := v.(*cachedQuery)
		c.last.Store(cq)
		return cq.q, nil
	}
	q, err := keysmith.ParsePermissionQuery(s)
	if err != nil {
		return nil, err
	}
	if c.n.Add(1) > maxCachedQueries {
		c.m.Clear()
		c.n.Store(1)
	}
	cq := &cachedQuery{text: s, q: q}
	c.m.Store(s, cq)
	c.last.Store(cq)
	return q, nil
}
