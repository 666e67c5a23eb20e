package keysmith_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
)

// TestExplorePermissions is the regression net for the principle the
// permission rules follow (permission.go): no call hands its caller a secret
// that acts as anyone other than the caller, or with more rights than the
// caller has, and no sequence of allowed calls widens what a role controls.
//
// For every role but super_admin it applies, as a user of that role, every
// sequence of up to three calls of exploreCalls to the world of
// newExploreWorld, through the domain service on SQLite (an undo log takes
// the database back between sequences), and asserts after each call that
//   - a refused call changed nothing;
//   - every secret handed over acts as the caller, or as a service account
//     the caller may create tokens for, or as an application the caller may
//     issue credentials for, and every password the caller chose is their
//     own, or one of a user they managed, or one of a user they created with
//     a role they may grant: judged by the rules both in the world as seeded
//     and at the moment of the call (explore_judge_test.go);
//   - the users, applications and agents created are ones the caller may
//     create;
//   - an application that changed owner has no working credential left
//     (its previous owner holds nothing that works), unless the caller may
//     keep them; the caller then no longer holds what they had of it;
//   - every scope a client, API token or app key was given is registered,
//     and one that is not self-service was given by a caller who may grant
//     it (keysmith.CanGrantScope), judged as for secrets;
//   - the caller controls nothing they did not control in the world as
//     seeded: capabilities closed over the users they can take over
//     (explore_rights_test.go);
//   - a caller calling from a browser session whose password proof is
//     older than the reauthentication window receives no secret and sets
//     no password, unless a call of the sequence re-authenticated them
//     before (the step-up, keysmith.Service.RequireRecentAuth; explorer.stale).
//
// A caller authenticated by a token's rotated-out secret may keep calling
// until the grace ends, but must get no credential that outlives it; those
// callers are tried with sequences of up to two calls, and so are an org
// admin and a developer calling from a stale session (the world's SE_O and
// SE_D1).
//
// The search extends no state twice, and tries one order of two calls that
// commute (explore_commute_test.go). A failure names the sequence of calls
// and what the caller gained or received: it is a reproduction. A new call
// that changes rights or returns a secret belongs in exploreCalls.
func TestExplorePermissions(t *testing.T) {
	t.Run("every_call_works_for_a_super_admin", testEveryCallWorksForASuperAdmin)
	callers := []struct {
		name, label string
		auth        callerAuth
		depth       int
		parts       int // the org admin's many sequences are split in parts that run in parallel
	}{
		{"org_admin", "O", byToken, 3, 2},
		{"group_admin", "GA", byToken, 3, 1},
		{"group_membership_admin", "GM", byToken, 3, 1},
		{"read_only_admin", "R", byToken, 3, 1},
		{"developer", "D1", byToken, 3, 1},
		{"org_admin_with_a_rotated-out_secret", "O", byPreviousSecret, 2, 1},
		{"group_admin_with_a_rotated-out_secret", "GA", byPreviousSecret, 2, 1},
		{"group_membership_admin_with_a_rotated-out_secret", "GM", byPreviousSecret, 2, 1},
		{"read_only_admin_with_a_rotated-out_secret", "R", byPreviousSecret, 2, 1},
		{"org_admin_with_a_stale_session", "O", byStaleSession, 2, 1},
		{"developer_with_a_stale_session", "D1", byStaleSession, 2, 1},
	}
	for _, c := range callers {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.parts == 1 {
				explore(t, c.label, c.auth, c.depth, 0, 1)
				return
			}
			for part := range c.parts {
				t.Run(fmt.Sprintf("part_%d_of_%d", part+1, c.parts), func(t *testing.T) {
					t.Parallel()
					explore(t, c.label, c.auth, c.depth, part, c.parts)
				})
			}
		})
	}
}

// callerAuth is how the caller of an exploration authenticates.
type callerAuth int

const (
	byToken          callerAuth = iota // their token's current secret
	byPreviousSecret                   // their token's rotated-out secret, in its grace
	byStaleSession                     // their browser session, signed in longer ago than the reauthentication window
)

// explore searches, as the user labelled self, the sequences whose first
// call is number part modulo parts, and reports what breaks the principle.
func explore(t *testing.T, self string, auth callerAuth, depth, part, parts int) {
	e := newExplorer(t, self, auth, depth)
	e.part, e.parts = part, parts
	before, err := e.undo.digest()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e.visit(e.root)
	took := time.Since(start)
	e.checkFootprints()
	if after, err := e.undo.digest(); err != nil || after != before {
		t.Fatalf("the exploration did not leave the world as seeded (%v): the undo log is broken; tables before:\n%s\nafter:\n%s", err, before, after)
	}
	e.finish(took)
}

// testEveryCallWorksForASuperAdmin checks the calls themselves: a super
// admin may make each of them, so a refusal the exploration sees comes from
// a rule and not from a malformed call. S calls from a session they have
// just re-authenticated, which every call accepts.
func testEveryCallWorksForASuperAdmin(t *testing.T) {
	t.Parallel()
	e := newExplorer(t, "S", byStaleSession, 1)
	p, ok := e.principal(e.root)
	if !ok {
		t.Fatal("S cannot call")
	}
	if _, err := e.w.svc.Reauthenticate(e.w.ctx, p, e.w.password["S"]); err != nil {
		t.Fatalf("re-authenticate S: %v", err)
	}
	m := e.mark()
	for _, c := range e.calls {
		if _, err := c.do(&callContext{w: e.w, p: clonePrincipal(p), self: "S"}); err != nil {
			t.Errorf("%s as S: %v", c.name, err)
		}
		e.rollback(m, e.changedSince(m))
	}
}

// explorer searches the sequences of calls of one caller.
type explorer struct {
	t        *testing.T
	w        *exploreWorld
	undo     *undoLog
	reader   *stateReader
	calls    []exploreCall
	self     string // the caller's label
	caller   string // and id
	previous bool   // the caller authenticates with a rotated-out secret
	// session is the id of the browser session the caller authenticates
	// with ("" for a token), signed in at proved; reauth is the index of
	// the call that re-authenticates.
	session string
	proved  time.Time
	reauth  int
	depth   int
	// part and parts split the search: this explorer extends only the
	// sequences whose first call is number part modulo parts.
	part, parts int
	uni         *capUniverse
	root        *exploreNode
	// before is the world as seeded, beforeCaps what the caller controls in
	// it, controlled the users they control there.
	before     *exploreState
	beforeCaps capSet
	controlled map[string]bool
	// asleepAfter[i] is the set of calls not tried right after call i: those
	// that commute with it and come before it in the list, because the
	// other order is tried.
	asleepAfter []uint64
	commute     [][]bool
	atRoot      []string              // outcome of each call in the world as seeded
	afterOne    []commuted            // outcomes of calls right after one they commute with
	caps        map[string]capSet     // cache of capUniverse.of
	seen        map[string][]seenNode // by fingerprint
	found       map[string]*finding   // by call and problem

	tried, allowed, asleep, states, lockedOut int
}

// exploreNode is a state the search reached, with what the caller learned on
// the way there.
type exploreNode struct {
	st      *exploreState
	learned []string        // ids of the users and applications the caller holds credentials of
	secret  keysmith.Secret // what the caller authenticates with; zero for none
	path    []int           // the calls that led here
	asleep  uint64          // calls not to try here
	// reauthenticated is when a "re-authenticate the caller" call of the
	// path succeeded; zero for none.
	reauthenticated time.Time
}

// seenNode is how a state was first extended: at which depth, with which
// calls asleep. A later node of the same state is extended only if it has
// more depth to go or fewer calls asleep.
type seenNode struct {
	depth  int
	asleep uint64
}

// finding is a breach of the principle, with the shortest sequence that
// shows it.
type finding struct {
	path    []int
	problem string
	count   int
}

// newExplorer seeds a world and prepares to explore it as the user labelled
// self.
func newExplorer(t *testing.T, self string, auth callerAuth, depth int) *explorer {
	t.Helper()
	w := newExploreWorld(t)
	e := &explorer{t: t, w: w, undo: newUndoLog(t, w.ctx, w.db), calls: exploreCalls(), self: self,
		caller: w.id[self], previous: auth == byPreviousSecret, depth: depth, parts: 1,
		caps: map[string]capSet{}, seen: map[string][]seenNode{}, found: map[string]*finding{}}
	if len(e.calls) > 64 {
		t.Fatalf("%d calls; the search keeps sets of calls in 64 bits", len(e.calls))
	}
	e.reauth = slices.IndexFunc(e.calls, func(c exploreCall) bool { return c.name == reauthenticateCall })
	if auth == byStaleSession {
		s, err := w.db.FindSessionByHash(w.ctx, keysmith.HashOf(w.secret["SE_"+self].Reveal()))
		if err != nil {
			t.Fatalf("the session of %s: %v", self, err)
		}
		e.session, e.proved = s.ID, s.AuthenticatedAt
		if !e.stale(&exploreNode{}) {
			t.Fatalf("the session of %s was proved at %v, within the reauthentication window of %v", self, s.AuthenticatedAt, w.clock.Now())
		}
	}
	var err error
	if e.reader, err = newStateReader(w.ctx, e.undo.conn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.reader.close)
	st, err := e.reader.read(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.uni, err = newCapUniverse(w, st); err != nil {
		t.Fatal(err)
	}
	e.before = st
	e.root = &exploreNode{st: st}
	switch auth {
	case byToken:
		e.root.secret = w.secret["T_"+self]
	case byPreviousSecret:
		e.root.secret = w.secret["T_"+self+".prev"]
	case byStaleSession:
		e.root.secret = w.secret["SE_"+self]
	}
	e.beforeCaps, e.controlled = e.closure(st, nil)
	e.seen[w.fingerprint(st, st, nil)] = []seenNode{{}}
	e.orderCommuting()
	e.atRoot = make([]string, len(e.calls))
	return e
}

// visit tries every call that is not asleep in the state of n, and goes on
// from each new state an allowed call reaches. The caller is loaded once
// per state: a refused call changes nothing, and an allowed one is rolled
// back before the next is tried.
func (e *explorer) visit(n *exploreNode) {
	p, ok := e.principal(n)
	if !ok {
		e.lockedOut++ // the caller can no longer call at all
		return
	}
	m := e.mark()
	for i, c := range e.calls {
		if n.asleep&(1<<i) != 0 {
			e.asleep++
			continue
		}
		creds, err := c.do(&callContext{w: e.w, p: clonePrincipal(p), self: e.self})
		e.tried++
		e.checkCommutes(n, i, err)
		changed := e.changedSince(m)
		if err != nil {
			e.refused(n, i, err, changed)
		} else {
			e.allowed++
			e.step(n, p, i, creds, changed)
		}
		e.rollback(m, changed)
	}
}

// refused checks a refused call: refused for a reason of the domain (the
// step-up only while the caller's session is stale), and with no change but
// perhaps a record in the system log.
func (e *explorer) refused(n *exploreNode, i int, err error, changed []string) {
	path := append(slices.Clip(n.path), i)
	switch keysmith.ErrorCode(err) {
	case keysmith.CodeForbidden, keysmith.CodeNotFound, keysmith.CodeConflict, keysmith.CodeInvalid:
	default:
		if !errors.Is(err, errNoTarget) && !(e.session != "" && keysmith.IsReauthRequired(err)) {
			e.t.Errorf("%s: failed unexpectedly: %v", e.sequence(path), err)
		}
	}
	if keysmith.IsReauthRequired(err) && !e.stale(n) {
		e.t.Errorf("%s: asked to re-authenticate, though the caller's password proof is recent: %v", e.sequence(path), err)
	}
	if changed = slices.DeleteFunc(slices.Clone(changed), func(t string) bool { return t == "events" }); len(changed) > 0 {
		e.report(path, fmt.Sprintf("it was refused (%v) but changed %s", err, strings.Join(changed, ", ")))
	}
}

// step checks the state an allowed call reached and goes on from it.
func (e *explorer) step(n *exploreNode, p keysmith.Principal, i int, creds []credential, changed []string) {
	st, err := e.reader.read(n.st, changed)
	if err != nil {
		e.t.Fatal(err)
	}
	child := &exploreNode{st: st, learned: n.learned, secret: n.secret, path: append(slices.Clip(n.path), i),
		asleep: e.asleepAfter[i], reauthenticated: n.reauthenticated}
	if i == e.reauth {
		child.reauthenticated = e.w.clock.Now()
	}
	stale := e.stale(n)
	var problems []string
	for _, cr := range creds {
		who, problem := e.judge(cr, n.st, st, p.User, stale)
		if problem != "" {
			problems = append(problems, problem)
		}
		if who != "" && who != e.caller && !slices.Contains(child.learned, who) {
			child.learned = append(slices.Clip(child.learned), who)
			slices.Sort(child.learned)
		}
		if cr.kind == credToken && !e.previous && e.session == "" && st.tokenHash[keysmith.HashOf(cr.secret.Reveal()).String()] == e.w.id["T_"+e.self] {
			child.secret = cr.secret // the caller rotated their own token and calls with the new secret
		}
	}
	var lost []string
	child.learned, lost = e.transferred(n.st, st, p.User, child.learned)
	problems = append(problems, lost...)
	problems = append(problems, e.created(st)...)
	problems = append(problems, e.granted(n.st, st, p.User)...)
	problems = append(problems, e.consented(n.st, st)...)
	problems = append(problems, e.firstParty(n.st, st, p.User)...)
	caps, _ := e.closure(st, child.learned)
	if gained := caps.minus(e.beforeCaps); !gained.empty() {
		problems = append(problems, "the caller now controls what they did not: "+e.uni.describe(gained))
	}
	if len(problems) > 0 {
		e.report(child.path, strings.Join(problems, "; and "))
		return
	}
	if len(child.path) < e.depth && child.path[0]%e.parts == e.part && e.firstVisit(child) {
		e.states++
		e.visit(child)
	}
}

// transferred judges the applications the call gave another owner: the
// previous owner must hold nothing that works any more, so every client
// secret and app key of such an application must be gone, unless the
// caller may keep them (keysmith.CanKeepCredentialsOnTransfer). Whatever
// credential of a reset application the caller held (as its previous
// owner, or as an admin) no longer works, so it is dropped from learned;
// one that kept a credential stays learned.
func (e *explorer) transferred(before, after *exploreState, caller *keysmith.User, learned []string) ([]string, []string) {
	var problems []string
	reset := map[string]bool{}
	for id, now := range after.apps {
		was := before.apps[id]
		if was == nil || was.OwnerID == now.OwnerID {
			continue
		}
		if !after.appHasCredentials(id) {
			reset[id] = true
		} else if !keysmith.CanKeepCredentialsOnTransfer(caller) {
			problems = append(problems, fmt.Sprintf("application %s went from %s to %s with credentials that still work, which its previous owner may hold",
				e.w.labelOf(id), e.w.labelOf(was.OwnerID), e.w.labelOf(now.OwnerID)))
		}
	}
	if len(reset) == 0 {
		return learned, problems
	}
	var out []string
	for _, id := range learned {
		if !reset[id] {
			out = append(out, id)
		}
	}
	return out, problems
}

// firstVisit reports whether n's state needs extending: whether no node of
// the same state was extended with as much depth to go and no more calls
// asleep.
func (e *explorer) firstVisit(n *exploreNode) bool {
	fp := e.w.fingerprint(e.before, n.st, e.telling(n.learned))
	if e.session != "" {
		fp += fmt.Sprintf(" | session: proved %v, stale %v", n.st.sessions[e.session], e.stale(n))
	}
	for _, s := range e.seen[fp] {
		if s.depth <= len(n.path) && s.asleep&^n.asleep == 0 {
			return false
		}
	}
	e.seen[fp] = append(e.seen[fp], seenNode{depth: len(n.path), asleep: n.asleep})
	return true
}

// telling returns the learned ids that may change a judgement: all but the
// applications whose credentials the caller could obtain in the world as
// seeded. Holding such an application's credential adds to what the caller
// controls only that capability (closure), which beforeCaps holds, so two
// states that differ in it alone are judged alike.
func (e *explorer) telling(learned []string) []string {
	var out []string
	for _, id := range learned {
		if i, ok := e.uni.appAt[id]; ok && e.beforeCaps.has(e.uni.appBase+2*i+1) {
			continue
		}
		out = append(out, id)
	}
	return out
}

// principal loads the caller as a request would: the user as stored, and
// the token or session their secret authenticates, if it still does.
func (e *explorer) principal(n *exploreNode) (keysmith.Principal, bool) {
	u := *n.st.users[e.caller]
	if u.Status != keysmith.UserActive {
		return keysmith.Principal{}, false
	}
	p := keysmith.Principal{User: &u}
	if n.secret.Reveal() == "" {
		return p, true
	}
	if e.session != "" {
		s, err := e.w.db.FindSessionByHash(e.w.ctx, keysmith.HashOf(n.secret.Reveal()))
		if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
			return p, false // a password change ended it
		}
		if err != nil {
			e.t.Fatal(err)
		}
		if s.UserID != u.ID || !e.w.clock.Now().Before(s.ExpiresAt) {
			return p, false
		}
		p.Session = s
		return p, true
	}
	t, err := e.w.db.FindTokenByHash(e.w.ctx, keysmith.HashOf(n.secret.Reveal()))
	if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
		return p, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.w.clock.Now()
	if t.OwnerID != u.ID || t.Status(now) != keysmith.TokenActive ||
		t.ViaPreviousSecret && (t.PrevSecretExpiresAt == nil || !now.Before(*t.PrevSecretExpiresAt)) {
		return p, false
	}
	p.Token = t
	return p, true
}

// clonePrincipal copies p, so that no call can change the caller for the
// next one.
func clonePrincipal(p keysmith.Principal) keysmith.Principal {
	u := *p.User
	p.User = &u
	if p.Token != nil {
		t := *p.Token
		p.Token = &t
	}
	if p.Session != nil {
		s := *p.Session // re-authenticating renews it in place
		p.Session = &s
	}
	return p
}

// stale reports whether the caller's session's password proof is, at a call
// made in n, older than the reauthentication window: the session was signed
// in before it, and no call of n's path re-authenticated within it.
// (The world's clock does not move during the search, so a proof made in
// the sequence stays fresh; the rule is written for one that does.)
func (e *explorer) stale(n *exploreNode) bool {
	if e.session == "" {
		return false
	}
	proved := e.proved
	if !n.reauthenticated.IsZero() {
		proved = n.reauthenticated
	}
	window := e.w.svc.ReauthWindow
	if window <= 0 {
		window = keysmith.DefaultReauthWindow
	}
	return e.w.clock.Now().Sub(proved) > window
}

// mark and rollback wrap the undo log, failing the test on error.
func (e *explorer) mark() int64 {
	m, err := e.undo.mark()
	if err != nil {
		e.t.Fatalf("undo log: %v", err)
	}
	return m
}

func (e *explorer) changedSince(m int64) []string {
	tables, err := e.undo.changedSince(m)
	if err != nil {
		e.t.Fatalf("undo log: %v", err)
	}
	return tables
}

func (e *explorer) rollback(m int64, tables []string) {
	if err := e.undo.rollback(m, tables); err != nil {
		e.t.Fatalf("undo log: %v", err)
	}
}

// report records a breach, keeping the shortest sequence that shows it.
func (e *explorer) report(path []int, problem string) {
	key := e.calls[path[len(path)-1]].name + "\x00" + problem
	f := e.found[key]
	if f == nil {
		f = &finding{problem: problem}
		e.found[key] = f
	}
	if f.count++; f.path == nil || len(path) < len(f.path) {
		f.path = slices.Clone(path)
	}
}

// who names the caller for messages.
func (e *explorer) who() string {
	if e.previous {
		return "as " + e.self + " (with the rotated-out secret of T_" + e.self + ")"
	}
	if e.session != "" {
		return "as " + e.self + " (with the stale session SE_" + e.self + ")"
	}
	return "as " + e.self
}

// sequence writes a path of calls for a failure message.
func (e *explorer) sequence(path []int) string {
	names := make([]string, len(path))
	for i, c := range path {
		names[i] = e.calls[c].name
	}
	return e.who() + ": " + strings.Join(names, " → ")
}

// finish reports the breaches found and logs how much was explored.
func (e *explorer) finish(took time.Duration) {
	keys := make([]string, 0, len(e.found))
	for k := range e.found {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := e.found[keys[i]], e.found[keys[j]]
		return len(a.path) < len(b.path) || len(a.path) == len(b.path) && keys[i] < keys[j]
	})
	for _, k := range keys {
		f := e.found[k]
		e.t.Errorf("%s\n\t%s\n\t(%d sequences end so)", e.sequence(f.path), f.problem, f.count)
	}
	part := ""
	if e.parts > 1 {
		part = fmt.Sprintf(", first calls %d modulo %d", e.part, e.parts)
	}
	e.t.Logf("%s: sequences of up to %d calls%s: %d calls made (%d allowed, %d skipped as commuting), %d states extended (%d distinct), %d where the caller was locked out, in %v",
		e.who(), e.depth, part, e.tried, e.allowed, e.asleep, e.states, len(e.seen), e.lockedOut, took.Round(time.Millisecond))
}
