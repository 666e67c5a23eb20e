package keysmith_test

import (
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strings"

	"github.com/keysmith/keysmith"
)

// What a role controls is a set of capabilities over the objects of the
// world as it was seeded, each decided by the pure permission rules with the
// relations (memberships) read from the store. Control is transitive: a
// caller who may set user X's password, or obtain a secret acting as X, or
// holds such a credential, controls X, and so everything X controls, in any
// role the caller may give X. The principle asks that no sequence of allowed
// calls makes that set bigger.

// capSet is a set of capabilities, by their index in a capUniverse.
type capSet [4]uint64

func (s *capSet) add(i int)      { s[i/64] |= 1 << (i % 64) }
func (s *capSet) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }
func (s *capSet) union(o capSet) { s[0], s[1], s[2], s[3] = s[0]|o[0], s[1]|o[1], s[2]|o[2], s[3]|o[3] }
func (s capSet) minus(o capSet) capSet {
	return capSet{s[0] &^ o[0], s[1] &^ o[1], s[2] &^ o[2], s[3] &^ o[3]}
}
func (s capSet) empty() bool { return s == capSet{} }

// The capabilities a role may hold over one user.
const (
	capPassword = iota        // set their password
	capStatus                 // activate or deactivate them
	capEmail                  // change their e-mail address
	capActAs                  // obtain an API token secret acting as them
	capRole                   // make them role Roles[i]: capRole+i
	userCaps    = capRole + 6 // one per role
)

// capUniverse numbers the capabilities over the objects of the seeded world.
type capUniverse struct {
	w                                   *exploreWorld
	users, groups, tokens, agents, apps []string // ids, in label order
	clients                             []string
	userAt, appAt                       map[string]int
	memberBase, tokenBase, agentBase    int
	appBase, clientBase, globalBase     int
	size                                int
}

// newCapUniverse numbers the capabilities over the objects of st.
func newCapUniverse(w *exploreWorld, st *exploreState) (*capUniverse, error) {
	u := &capUniverse{w: w, userAt: map[string]int{}, appAt: map[string]int{}}
	u.users = sortedIDs(w, st.users)
	u.tokens = sortedIDs(w, st.tokens)
	u.agents = sortedIDs(w, st.agents)
	u.apps = sortedIDs(w, st.apps)
	u.clients = sortedIDs(w, st.clients)
	u.groups = []string{w.id["G1"], w.id["G2"]}
	for i, id := range u.users {
		u.userAt[id] = i
	}
	for i, id := range u.apps {
		u.appAt[id] = i
	}
	u.memberBase = len(u.users) * userCaps
	u.tokenBase = u.memberBase + 2*len(u.groups)*len(u.users)
	u.agentBase = u.tokenBase + len(u.tokens)
	u.appBase = u.agentBase + len(u.agents)
	u.clientBase = u.appBase + 2*len(u.apps)
	u.globalBase = u.clientBase + len(u.clients)
	u.size = u.globalBase + len(keysmith.Roles) + 2
	if len(keysmith.Roles) != userCaps-capRole {
		return nil, fmt.Errorf("there are %d roles; userCaps counts %d", len(keysmith.Roles), userCaps-capRole)
	}
	if u.size > 64*len(capSet{}) {
		return nil, fmt.Errorf("the world has %d capabilities; capSet holds %d", u.size, 64*len(capSet{}))
	}
	return u, nil
}

// sortedIDs returns the keys of m in the order of their labels.
func sortedIDs[T any](w *exploreWorld, m map[string]T) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return w.labelOf(ids[i]) < w.labelOf(ids[j]) })
	return ids
}

// of returns the capabilities c holds directly in st.
func (u *capUniverse) of(c *keysmith.User, st *exploreState) capSet {
	var s capSet
	pw, email, status := "explore-password", "x@example.com", keysmith.UserInactive
	for i, id := range u.users {
		x, shared := st.users[id], st.sharesGroup(c, st.users[id])
		can := func(up keysmith.UserUpdate) bool { return keysmith.CanUpdateUser(c, x, shared, &up) == nil }
		base := i * userCaps
		if x.Type == keysmith.UserPerson && can(keysmith.UserUpdate{Password: &pw}) {
			s.add(base + capPassword)
		}
		if can(keysmith.UserUpdate{Status: &status}) {
			s.add(base + capStatus)
		}
		if can(keysmith.UserUpdate{Email: &email}) {
			s.add(base + capEmail)
		}
		for r := range keysmith.Roles {
			if can(keysmith.UserUpdate{Role: &keysmith.Roles[r]}) {
				s.add(base + capRole + r)
			}
		}
		if (id == c.ID && keysmith.CanCreateTokens(c)) || keysmith.CanCreateTokenFor(c, x) == nil {
			s.add(base + capActAs)
		}
		for g, gid := range u.groups {
			administers := slices.Contains(st.groups[c.ID], gid)
			for k, add := range []bool{true, false} {
				if keysmith.CanManageMembership(c, administers, x, add) == nil {
					s.add(u.memberBase + 2*(g*len(u.users)+i) + k)
				}
			}
		}
	}
	u.addObjectCaps(&s, c, st)
	for r, role := range keysmith.Roles {
		if keysmith.CanCreateUser(c, role) == nil {
			s.add(u.globalBase + r)
		}
	}
	if keysmith.CanCreateApps(c) {
		s.add(u.globalBase + len(keysmith.Roles))
	}
	if keysmith.CanManageGroups(c) == nil {
		s.add(u.globalBase + len(keysmith.Roles) + 1)
	}
	return s
}

// addObjectCaps adds c's capabilities over tokens, agents, applications
// and clients. Rotating a token or activating an agent hands over a secret
// acting as its owner, so it counts as acting as the owner; rotating an
// app key hands over one acting as its application.
func (u *capUniverse) addObjectCaps(s *capSet, c *keysmith.User, st *exploreState) {
	for i, id := range u.tokens {
		t := st.tokens[id]
		if t.Type == keysmith.TokenAppKey {
			if keysmith.CanManageAppKeys(c, st.apps[t.AppID]) {
				s.add(u.tokenBase + i)
				s.add(u.appBase + 2*u.appAt[t.AppID] + 1)
			}
			continue
		}
		if keysmith.CanRevokeToken(c, t) {
			s.add(u.tokenBase + i)
		}
		if keysmith.CanRotateToken(c, t, st.users[t.OwnerID]) == nil {
			s.add(u.userAt[t.OwnerID]*userCaps + capActAs)
		}
	}
	for i, id := range u.agents {
		a := st.agents[id]
		if keysmith.CanManageAgent(c, a) {
			s.add(u.agentBase + i)
		}
		if keysmith.CanActivateAgent(c, a) == nil {
			s.add(u.userAt[a.OwnerID]*userCaps + capActAs)
		}
	}
	for i, id := range u.apps {
		owner := st.apps[id].OwnerID
		if keysmith.CanManageOwned(c, owner) {
			s.add(u.appBase + 2*i)
		}
		if keysmith.CanIssueAppCredentials(c, owner) {
			s.add(u.appBase + 2*i + 1)
		}
	}
	for i, id := range u.clients {
		cl := st.clients[id]
		if keysmith.CanManageOwned(c, cl.OwnerID) {
			s.add(u.clientBase + i)
		}
		if keysmith.CanIssueAppCredentials(c, cl.OwnerID) {
			s.add(u.appBase + 2*u.appAt[cl.AppID] + 1)
		}
	}
}

// name says what capability i allows, in the world's labels.
func (u *capUniverse) name(i int) string {
	l := u.w.labelOf
	switch {
	case i < u.memberBase:
		x := l(u.users[i/userCaps])
		switch k := i % userCaps; k {
		case capPassword:
			return "set " + x + "'s password"
		case capStatus:
			return "activate or deactivate " + x
		case capEmail:
			return "change " + x + "'s e-mail address"
		case capActAs:
			return "obtain a token secret acting as " + x
		default:
			return "make " + x + " " + string(keysmith.Roles[k-capRole])
		}
	case i < u.tokenBase:
		j := (i - u.memberBase) / 2
		verb := [2]string{"add %s to %s", "remove %s from %s"}[(i-u.memberBase)%2]
		return fmt.Sprintf(verb, l(u.users[j%len(u.users)]), l(u.groups[j/len(u.users)]))
	case i < u.agentBase:
		return "revoke or disable " + l(u.tokens[i-u.tokenBase])
	case i < u.appBase:
		return "deactivate or delete " + l(u.agents[i-u.agentBase])
	case i < u.clientBase:
		return [2]string{"change or delete ", "obtain client secrets acting as "}[(i-u.appBase)%2] + l(u.apps[(i-u.appBase)/2])
	case i < u.globalBase:
		return "change or revoke " + l(u.clients[i-u.clientBase])
	case i < u.globalBase+len(keysmith.Roles):
		return "create " + string(keysmith.Roles[i-u.globalBase]) + " users"
	case i == u.globalBase+len(keysmith.Roles):
		return "register applications"
	}
	return "create, change and delete groups"
}

// describe names the capabilities of s.
func (u *capUniverse) describe(s capSet) string {
	var out []string
	for w, word := range s {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			out = append(out, u.name(64*w+b))
			word &^= 1 << b
		}
	}
	return strings.Join(out, "; ")
}

// closure returns what the caller controls in st while holding the
// credentials learned (ids of users and applications): their own
// capabilities, and those of every user they control, in every role they may
// give that user, until nothing more is added; and the users they control.
func (e *explorer) closure(st *exploreState, learned []string) (capSet, map[string]bool) {
	var s capSet
	controlled := map[string]bool{e.caller: true}
	for _, id := range learned {
		if st.users[id] != nil {
			controlled[id] = true
		} else if i, ok := e.uni.appAt[id]; ok {
			s.add(e.uni.appBase + 2*i + 1)
		}
	}
	expanded := map[string]bool{}
	for grew := true; grew; {
		grew = false
		for i, id := range e.uni.users {
			if s.has(i*userCaps+capPassword) || s.has(i*userCaps+capActAs) {
				controlled[id] = true
			}
		}
		for id := range controlled {
			u := st.users[id]
			i, known := e.uni.userAt[id]
			for r, role := range keysmith.Roles {
				if role != u.Role && !(known && s.has(i*userCaps+capRole+r)) || expanded[id+"/"+string(role)] {
					continue
				}
				expanded[id+"/"+string(role)] = true
				s.union(e.capsOf(u, role, st))
				grew = true
			}
		}
	}
	return s, controlled
}

// capsOf returns the capabilities u would hold directly in st with role,
// from a cache: they depend only on the users' roles, types and statuses, on
// memberships and on the owners of applications and clients, which a
// transfer changes (the owners of tokens and agents never change, but for
// the app keys a transfer revokes or moves with their application).
func (e *explorer) capsOf(u *keysmith.User, role keysmith.Role, st *exploreState) capSet {
	key := u.ID + "/" + string(role) + "/" + st.usersKey + "/" + st.groupsKey + "/" + st.ownersKey
	s, ok := e.caps[key]
	if !ok {
		c := *u
		c.Role = role
		s = e.uni.of(&c, st)
		e.caps[key] = s
	}
	return s
}
