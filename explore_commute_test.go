package keysmith_test

import (
	"errors"
	"strings"

	"github.com/keysmith/keysmith"
)

// The search tries only one order of two calls that commute: the one with
// the earlier call in exploreCalls first. Two calls commute when neither
// writes what the other reads or writes, by their footprints; every call
// reads the caller's user and memberships. Each of the two orders then
// reaches the same state with the same answers on the way, so every state
// and every answer is still seen (the sleep sets of partial-order
// reduction). A caller calling from a session reads it too, so the call
// that re-authenticates commutes with none of theirs. The footprints are
// held to account: a call tried right after one it commutes with must
// answer as it did in the world as seeded.

// orderCommuting works out which calls commute, from their footprints.
func (e *explorer) orderCommuting() {
	resolve := func(fp string) map[string]bool {
		out := map[string]bool{}
		for _, r := range strings.Fields(fp) {
			kind, label, _ := strings.Cut(r, ":")
			if label == "self" {
				label = map[string]string{"t": "T_", "s": "T_", "a": "AG_"}[kind] + e.self
			}
			out[kind+":"+label] = true
		}
		return out
	}
	every := resolve("u:self g:self")
	if e.session != "" {
		every["se:"+e.self] = true
	}
	reads, writes := make([]map[string]bool, len(e.calls)), make([]map[string]bool, len(e.calls))
	for i, c := range e.calls {
		reads[i], writes[i] = resolve(c.reads), resolve(c.writes)
		for r := range every {
			reads[i][r] = true
		}
	}
	overlap := func(a, b map[string]bool) bool {
		for r := range a {
			if b[r] {
				return true
			}
		}
		return false
	}
	e.commute = make([][]bool, len(e.calls))
	e.asleepAfter = make([]uint64, len(e.calls))
	for i := range e.calls {
		e.commute[i] = make([]bool, len(e.calls))
		for j := range e.calls {
			e.commute[i][j] = i != j && !overlap(writes[i], reads[j]) && !overlap(writes[i], writes[j]) && !overlap(writes[j], reads[i])
			if e.commute[i][j] && j < i {
				e.asleepAfter[i] |= 1 << j
			}
		}
	}
}

// checkCommutes holds the footprints to account: a call that commutes with
// the one before it must have, after it, the outcome it had in the world as
// seeded. Outcomes after one call are compared once the root is done.
func (e *explorer) checkCommutes(n *exploreNode, i int, err error) {
	got := outcome(err)
	switch {
	case len(n.path) == 0:
		e.atRoot[i] = got
	case len(n.path) == 1 && e.commute[n.path[0]][i]:
		e.afterOne = append(e.afterOne, commuted{first: n.path[0], then: i, outcome: got})
	}
}

// commuted is the outcome of call then right after call first, two calls
// that commute.
type commuted struct {
	first, then int
	outcome     string
}

// checkFootprints compares the outcomes of commuting calls after one
// another with those in the world as seeded.
func (e *explorer) checkFootprints() {
	for _, c := range e.afterOne {
		if c.outcome != e.atRoot[c.then] {
			e.t.Errorf("the footprints of %q and %q say they commute, but after the first the second is %s, and %s without it; "+
				"name in their footprints what they share", e.calls[c.first].name, e.calls[c.then].name, c.outcome, e.atRoot[c.then])
		}
	}
}

// outcome sums up a call's answer: allowed, or the code it was refused with.
func outcome(err error) string {
	switch {
	case err == nil:
		return "allowed"
	case errors.Is(err, errNoTarget):
		return "without target"
	}
	return "refused (" + string(keysmith.ErrorCode(err)) + ")"
}
