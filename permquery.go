package keysmith

import (
	"fmt"
	"slices"
	"strings"
)

// The limits of a permission query. They bound what one verify request can
// make the server parse and evaluate.
const (
	MaxPermissionQueryBytes = 1000
	MaxPermissionQueryTerms = 100 // scope names
	MaxPermissionQueryDepth = 20  // parentheses inside parentheses
)

// PermissionQuery is a boolean requirement on a credential's scopes, as a
// gateway states it in verify's "permissions":
//
//	orders:read AND (orders:write OR admin)
//
// The grammar:
//
//	query := or
//	or    := and ("OR" and)*
//	and   := term ("AND" term)*
//	term  := scope | "(" query ")"
//
// AND binds tighter than OR, so "a OR b AND c" is "a OR (b AND c)". The
// keywords are case-insensitive and stand between whitespace (spaces, tabs)
// or parentheses; a scope is a run of any other characters, so a scope may
// not be named AND or OR in any case. A query is at most
// MaxPermissionQueryBytes long, names at most MaxPermissionQueryTerms scopes
// and nests parentheses at most MaxPermissionQueryDepth deep.
//
// A query is immutable once parsed and safe for concurrent use.
type PermissionQuery struct {
	root queryNode
}

// queryNode is a scope (op 0) or an AND or OR of at least two kids.
type queryNode struct {
	op    queryOp
	scope string
	kids  []queryNode
}

type queryOp uint8

const (
	opScope queryOp = iota
	opAnd
	opOr
)

// ParsePermissionQuery parses s (see PermissionQuery for the grammar). A
// query that breaks the grammar or a limit is CodeInvalid, with a message
// that says at which position (counted in bytes from 1) what was expected.
func ParsePermissionQuery(s string) (*PermissionQuery, error) {
	if len(s) > MaxPermissionQueryBytes {
		return nil, Errorf(CodeInvalid, "permissions is %d bytes long; a query may be at most %d", len(s), MaxPermissionQueryBytes)
	}
	p := queryParser{src: s}
	p.next()
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errExpected(`"AND", "OR" or the end of the query`)
	}
	return &PermissionQuery{root: n}, nil
}

// Missing says what the credential whose scopes has reports lacks to
// satisfy q: nil when it satisfies q, else a set of scopes that would. For
// an AND that is every failing part's missing scopes; for an OR, those of
// the part that lacks the fewest (the first on a tie).
func (q *PermissionQuery) Missing(has func(scope string) bool) []string {
	return q.root.missing(has, nil)
}

// MissingFrom is Missing for a credential holding scopes.
func (q *PermissionQuery) MissingFrom(scopes []string) []string {
	if q.root.satisfied(scopes) {
		return nil
	}
	return q.Missing(func(s string) bool { return slices.Contains(scopes, s) })
}

// SatisfiedBy reports whether a credential holding scopes satisfies q. It
// allocates nothing: verify's hot path calls it, and MissingFrom only when
// it is false.
func (q *PermissionQuery) SatisfiedBy(scopes []string) bool { return q.root.satisfied(scopes) }

// Scopes returns every scope q names, each once, in order of appearance.
func (q *PermissionQuery) Scopes() []string {
	var out []string
	var walk func(n *queryNode)
	walk = func(n *queryNode) {
		if n.op == opScope {
			if !slices.Contains(out, n.scope) {
				out = append(out, n.scope)
			}
			return
		}
		for i := range n.kids {
			walk(&n.kids[i])
		}
	}
	walk(&q.root)
	return out
}

// String returns q in its shortest form: keywords in capitals, one space
// between words and none beside parentheses, only the parentheses the
// grammar needs. It parses back to the same query, and is never longer
// than any text q was parsed from.
func (q *PermissionQuery) String() string {
	var b strings.Builder
	q.root.write(&b)
	return b.String()
}

// satisfied reports whether scopes satisfy n. Leaves are tested in place
// rather than by a call: this runs on every verify that carries a query.
func (n *queryNode) satisfied(scopes []string) bool {
	if n.op == opScope {
		return holds(scopes, n.scope)
	}
	want := n.op == opOr // an OR is decided by a kid that holds, an AND by one that does not
	for i := range n.kids {
		k := &n.kids[i]
		var ok bool
		if k.op == opScope {
			ok = holds(scopes, k.scope)
		} else {
			ok = k.satisfied(scopes)
		}
		if ok == want {
			return want
		}
	}
	return !want
}

// holds reports whether scopes contain s. Names of one length mostly
// differ at the end (orders:read, orders:list), so the last bytes are
// compared before the whole: most misses cost no call. s is never empty.
func holds(scopes []string, s string) bool {
	last := len(s) - 1
	for _, x := range scopes {
		if len(x) == len(s) && x[last] == s[last] && x == s {
			return true
		}
	}
	return false
}

// missing appends to out what n lacks (see Missing), without duplicates.
func (n *queryNode) missing(has func(string) bool, out []string) []string {
	switch n.op {
	case opScope:
		if has(n.scope) {
			return out
		}
		return appendNew(out, n.scope)
	case opAnd:
		for i := range n.kids {
			out = n.kids[i].missing(has, out)
		}
		return out
	default:
		var best []string
		for i := range n.kids {
			m := n.kids[i].missing(has, nil)
			if len(m) == 0 {
				return out
			}
			if best == nil || len(m) < len(best) {
				best = m
			}
		}
		for _, s := range best {
			out = appendNew(out, s)
		}
		return out
	}
}

func appendNew(out []string, s string) []string {
	if slices.Contains(out, s) {
		return out
	}
	return append(out, s)
}

func (n *queryNode) write(b *strings.Builder) {
	if n.op == opScope {
		b.WriteString(n.scope)
		return
	}
	sep := " AND "
	if n.op == opOr {
		sep = " OR "
	}
	for i := range n.kids {
		k := &n.kids[i]
		paren := k.needsParen(n.op)
		if i > 0 {
			b.WriteString(joinSep(sep, n.kids[i-1].needsParen(n.op), paren))
		}
		if paren {
			b.WriteByte('(')
			k.write(b)
			b.WriteByte(')')
		} else {
			k.write(b)
		}
	}
}

// needsParen reports whether n, a kid of a node of op parent, is written
// in parentheses: an AND inside an OR needs none (AND binds tighter);
// anything else compound inside a compound was parsed from them.
func (n *queryNode) needsParen(parent queryOp) bool {
	return n.op != opScope && !(parent == opOr && n.op == opAnd)
}

// joinSep is sep (" AND " or " OR ") without the space on a side that
// touches a parenthesis.
func joinSep(sep string, afterParen, beforeParen bool) string {
	if afterParen {
		sep = sep[1:]
	}
	if beforeParen {
		sep = sep[:len(sep)-1]
	}
	return sep
}

// queryParser is a recursive-descent parser over a one-token lookahead.
type queryParser struct {
	src   string
	pos   int // where the next token starts scanning
	tok   queryToken
	terms int
	depth int
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokLParen
	tokRParen
	tokAnd
	tokOr
	tokScope
)

type queryToken struct {
	kind tokKind
	text string
	pos  int // byte offset in src
}

func (p *queryParser) next() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
	start := p.pos
	if start == len(p.src) {
		p.tok = queryToken{kind: tokEOF, pos: start}
		return
	}
	switch p.src[start] {
	case '(':
		p.pos++
		p.tok = queryToken{kind: tokLParen, text: "(", pos: start}
		return
	case ')':
		p.pos++
		p.tok = queryToken{kind: tokRParen, text: ")", pos: start}
		return
	}
	for p.pos < len(p.src) && !strings.ContainsRune(" \t()", rune(p.src[p.pos])) {
		p.pos++
	}
	w := p.src[start:p.pos]
	k := tokScope
	switch {
	case strings.EqualFold(w, "AND"):
		k = tokAnd
	case strings.EqualFold(w, "OR"):
		k = tokOr
	}
	p.tok = queryToken{kind: k, text: w, pos: start}
}

func (p *queryParser) or() (queryNode, error) {
	return p.list(opOr, tokOr, p.and)
}

func (p *queryParser) and() (queryNode, error) {
	return p.list(opAnd, tokAnd, p.term)
}

// list parses part (sep part)*; one part alone is returned as it is.
func (p *queryParser) list(op queryOp, sep tokKind, part func() (queryNode, error)) (queryNode, error) {
	first, err := part()
	if err != nil || p.tok.kind != sep {
		return first, err
	}
	n := queryNode{op: op, kids: []queryNode{first}}
	for p.tok.kind == sep {
		p.next()
		k, err := part()
		if err != nil {
			return queryNode{}, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

func (p *queryParser) term() (queryNode, error) {
	switch t := p.tok; t.kind {
	case tokScope:
		if p.terms++; p.terms > MaxPermissionQueryTerms {
			return queryNode{}, Errorf(CodeInvalid, "permissions names more than %d scopes (at position %d); split the check",
				MaxPermissionQueryTerms, t.pos+1)
		}
		p.next()
		return queryNode{scope: t.text}, nil
	case tokLParen:
		if p.depth++; p.depth > MaxPermissionQueryDepth {
			return queryNode{}, Errorf(CodeInvalid, "permissions nests parentheses more than %d deep at position %d",
				MaxPermissionQueryDepth, t.pos+1)
		}
		p.next()
		n, err := p.or()
		if err != nil {
			return queryNode{}, err
		}
		if p.tok.kind != tokRParen {
			return queryNode{}, p.errExpected(fmt.Sprintf(`"AND", "OR" or ")" (to close the "(" at position %d)`, t.pos+1))
		}
		p.depth--
		p.next()
		return n, nil
	}
	return queryNode{}, p.errExpected(`a scope or "("`)
}

// errExpected says what was expected where the current token is.
func (p *queryParser) errExpected(what string) error {
	if p.tok.kind == tokEOF {
		return Errorf(CodeInvalid, "permissions: expected %s at the end of the query (position %d)", what, p.tok.pos+1)
	}
	return Errorf(CodeInvalid, "permissions: expected %s at position %d, found %q", what, p.tok.pos+1, p.tok.text)
}
