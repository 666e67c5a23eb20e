package keysmith_test

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keysmith/keysmith"
)

// The judgements of the principle on what a call handed over or created.
// The rules are asked about the world as seeded (first: the caller then)
// and about the moment of the call (at: the state, caller: the caller as
// loaded for it): a credential needs both, so that neither a widening
// earlier in the sequence nor a demotion excuses it.

// judge decides whether the caller may receive credential c from a call
// made in state at that led to state after. It returns whom or what the
// credential acts as (a user or application id), and the problem if there
// is one. A caller whose session's password proof was stale at the call
// (explorer.stale) may receive nothing: every secret and password needs the
// step-up (keysmith.Service.RequireRecentAuth).
func (e *explorer) judge(c credential, at, after *exploreState, caller *keysmith.User, stale bool) (who, problem string) {
	var what string
	var ok bool
	switch c.kind {
	case credToken:
		who, what, ok = e.judgeToken(c, at, after, caller)
	case credClientSecret:
		who, what, ok = e.judgeClientSecret(c, at, after, caller)
	case credPassword:
		who, what, ok = e.judgePassword(c, at, after, caller)
	case credAppKey:
		who, what, ok = e.judgeAppKey(c, at, after, caller)
	}
	switch {
	case who == "":
		return "", "it now holds " + what
	case e.previous:
		return who, "authenticated by a rotated-out secret, it now holds " + what + ", which outlives the rotation's grace"
	case stale:
		return who, "from a session whose password proof is older than the reauthentication window, with no re-authentication before, it now holds " + what
	case !ok:
		return who, "it now holds " + what
	}
	return who, ""
}

// judgeToken: an API token secret acting as the caller, if new only while
// the caller may create tokens; or as a service account the caller may
// create tokens for.
func (e *explorer) judgeToken(c credential, at, after *exploreState, caller *keysmith.User) (who, what string, ok bool) {
	id, found := after.tokenHash[keysmith.HashOf(c.secret.Reveal()).String()]
	if !found {
		return "", "a token secret that authenticates no token", false
	}
	owner := after.users[after.tokens[id].OwnerID]
	token := "token " + e.w.labelOf(id)
	if e.before.tokens[id] == nil {
		token = "a new token"
	}
	what = fmt.Sprintf("the secret of %s, which acts as %s (%s)", token, e.w.labelOf(owner.ID), owner.Role)
	first, was := e.before.users[e.caller], e.before.users[owner.ID]
	switch {
	case owner.ID == e.caller && !c.fresh:
		return owner.ID, what, true
	case owner.ID == e.caller:
		ok = keysmith.CanCreateTokens(first) && keysmith.CanCreateTokens(caller)
		return owner.ID, what + fmt.Sprintf(", though role %s may not create tokens", caller.Role), ok
	case was != nil && was.Type == keysmith.UserService:
		ok = keysmith.CanCreateTokenFor(first, was) == nil && keysmith.CanCreateTokenFor(caller, at.users[owner.ID]) == nil
		return owner.ID, what, ok
	}
	return owner.ID, what, false
}

// judgeClientSecret: a client secret acts as the client's application; the
// caller must be one who may issue its credentials.
func (e *explorer) judgeClientSecret(c credential, at, after *exploreState, caller *keysmith.User) (who, what string, ok bool) {
	id, found := after.secrets[keysmith.HashOf(c.secret.Reveal()).String()]
	if !found {
		return "", "a client secret that authenticates no client", false
	}
	cl := after.clients[id]
	owner := cl.OwnerID
	if app := at.apps[cl.AppID]; app != nil {
		owner = app.OwnerID
	}
	client := "client " + e.w.labelOf(id)
	if e.before.clients[id] == nil {
		client = "a new client"
	}
	what = fmt.Sprintf("a secret of %s, which acts as application %s of %s", client, e.w.labelOf(cl.AppID), e.w.labelOf(owner))
	first := e.before.users[e.caller]
	return cl.AppID, what, keysmith.CanIssueAppCredentials(first, owner) && keysmith.CanIssueAppCredentials(caller, owner)
}

// judgeAppKey: an app API key acts as its application (at the customer's
// API; never at Keysmith's); the caller must be one who may issue the
// application's credentials, and the key must belong to its owner.
func (e *explorer) judgeAppKey(c credential, at, after *exploreState, caller *keysmith.User) (who, what string, ok bool) {
	id, found := after.tokenHash[keysmith.HashOf(c.secret.Reveal()).String()]
	if !found || after.tokens[id].Type != keysmith.TokenAppKey {
		return "", "an app key secret that authenticates no app key", false
	}
	k := after.tokens[id]
	app := at.apps[k.AppID]
	if app == nil {
		return "", "an app key of an application that did not exist", false
	}
	what = fmt.Sprintf("an app key of application %s of %s, owned by %s", e.w.labelOf(k.AppID), e.w.labelOf(app.OwnerID),
		e.w.labelOf(k.OwnerID))
	first := e.before.users[e.caller]
	return k.AppID, what, k.OwnerID == app.OwnerID &&
		keysmith.CanIssueAppCredentials(first, app.OwnerID) && keysmith.CanIssueAppCredentials(caller, app.OwnerID)
}

// judgePassword: a password the caller chose acts as its user; the caller
// may choose their own, one of a user they managed, and one of a user they
// create with a role they may grant.
func (e *explorer) judgePassword(c credential, at, after *exploreState, caller *keysmith.User) (who, what string, ok bool) {
	u := after.users[c.user]
	what = fmt.Sprintf("a password it chose for %s (%s)", e.w.labelOf(u.ID), u.Role)
	first, was := e.before.users[e.caller], at.users[u.ID]
	switch {
	case u.ID == e.caller:
		return u.ID, what, true
	case e.before.users[u.ID] == nil:
		what = fmt.Sprintf("a password it chose for a new %s user", u.Role)
		return u.ID, what, keysmith.CanCreateUser(first, u.Role) == nil && keysmith.CanCreateUser(caller, u.Role) == nil
	}
	pw := "explore-password"
	up := keysmith.UserUpdate{Password: &pw}
	return u.ID, what, e.controlled[u.ID] && keysmith.CanUpdateUser(caller, was, at.sharesGroup(caller, was), &up) == nil
}

// created judges the users, applications and agents created during the
// sequence: each must be one the caller could create in the world as
// seeded. (Tokens and clients come with a secret, which judge looks at.)
func (e *explorer) created(st *exploreState) []string {
	first := e.before.users[e.caller]
	var problems []string
	for id, u := range st.users {
		if e.before.users[id] == nil && keysmith.CanCreateUser(first, u.Role) != nil {
			problems = append(problems, fmt.Sprintf("there is now a %s user, which the caller may not create", u.Role))
		}
	}
	for id, a := range st.apps {
		if e.before.apps[id] == nil && (a.OwnerID != e.caller || !keysmith.CanCreateApps(first)) {
			problems = append(problems, fmt.Sprintf("there is now an application of %s, which the caller may not register", e.w.labelOf(a.OwnerID)))
		}
	}
	for id, a := range st.agents {
		if e.before.agents[id] == nil && (a.OwnerID != e.caller || !keysmith.CanCreateTokens(first)) {
			problems = append(problems, fmt.Sprintf("there is now an agent of %s, which the caller may not register", e.w.labelOf(a.OwnerID)))
		}
	}
	return problems
}

// granted judges the scopes the call gave credentials: every scope a
// client, API token or app key (new or not) names after the call and did
// not name before it must be registered, and one that is not self-service
// must be one the caller may grant (keysmith.CanGrantScope), both as the
// caller and the scope were in the world as seeded and as they were at the
// call. Taking a scope away needs no grant.
func (e *explorer) granted(at, after *exploreState, caller *keysmith.User) []string {
	first := e.before.users[e.caller]
	var problems []string
	judge := func(what string, before, now []string) {
		for _, name := range keysmith.AddedScopes(before, now) {
			seeded, _ := scopeIn(e.before, name)
			then, registered := scopeIn(at, name)
			switch {
			case !registered:
				problems = append(problems, fmt.Sprintf("%s now names scope %q, which is not registered", what, name))
			case !keysmith.CanGrantScope(first, seeded) || !keysmith.CanGrantScope(caller, then):
				problems = append(problems, fmt.Sprintf("%s now names scope %q, which is not self-service: the caller (%s) may not grant it",
					what, name, caller.Role))
			}
		}
	}
	for id, t := range after.tokens {
		was := at.tokens[id]
		if was == t || len(t.Scopes) == 0 || was != nil && slices.Equal(was.Scopes, t.Scopes) {
			continue // the tokens were not read again, or its scopes are unchanged
		}
		var before []string
		if was != nil {
			before = was.Scopes
		}
		judge(e.credentialName(id, t), before, t.Scopes)
	}
	for id, c := range after.clients {
		was := at.clients[id]
		if was == c || len(c.Scopes) == 0 || was != nil && slices.Equal(was.Scopes, c.Scopes) {
			continue
		}
		var before []string
		what := "a new client of application " + e.w.labelOf(c.AppID)
		if was != nil {
			before, what = was.Scopes, "client "+e.w.labelOf(id)
		}
		judge(what, before, c.Scopes)
	}
	return problems
}

// credentialName names a token or app key for a message.
func (e *explorer) credentialName(id string, t *keysmith.Token) string {
	switch {
	case e.before.tokens[id] == nil && t.Type == keysmith.TokenAppKey:
		return "a new app key of application " + e.w.labelOf(t.AppID)
	case e.before.tokens[id] == nil:
		return "a new token of " + e.w.labelOf(t.OwnerID)
	case t.Type == keysmith.TokenAppKey:
		return "app key " + e.w.labelOf(id)
	}
	return "token " + e.w.labelOf(id)
}

// scopeIn returns the scope of that name as st registers it (built-in
// scopes always), and whether it is registered; an unregistered one is
// returned as not self-service.
func scopeIn(st *exploreState, name string) (keysmith.Scope, bool) {
	if self, ok := st.registered[name]; ok {
		return keysmith.Scope{Name: name, SelfService: self}, true
	}
	if s, ok := keysmith.BuiltinScope(name); ok {
		return s, true
	}
	return keysmith.Scope{Name: name}, false
}

// consented judges the consents the call gave: a consent lets a client act
// for the person who gave it, within the scopes given. So every scope a
// consent names after the call and did not before must have been given by
// the caller, for themselves, from a browser session (as at the
// authorization endpoint), to an active client that holds that scope (or
// for a built-in OpenID scope).
func (e *explorer) consented(at, after *exploreState) []string {
	var problems []string
	for key, scopes := range after.consents {
		added := keysmith.AddedScopes(at.consents[key], scopes)
		if len(added) == 0 {
			continue
		}
		user, client, _ := strings.Cut(key, " ")
		what := fmt.Sprintf("there is now a consent of %s to client %s naming %v", e.w.labelOf(user), e.w.labelOf(client), added)
		cl := at.clients[client]
		switch {
		case user != e.caller:
			problems = append(problems, what+", which lets the client act as someone other than the caller")
		case e.session == "":
			problems = append(problems, what+", given without a browser session")
		case cl == nil || cl.RevokedAt != nil:
			problems = append(problems, what+", a client that was revoked or did not exist")
		default:
			for _, s := range added {
				if _, builtin := keysmith.BuiltinScope(s); !builtin && !slices.Contains(cl.Scopes, s) {
					problems = append(problems, fmt.Sprintf("%s, and %q is not one of the client's scopes", what, s))
				}
			}
		}
	}
	return problems
}

// firstParty judges the clients the call made or changed: a first-party
// client skips consent, so only a caller who may set first_party
// (keysmith.CanSetFirstParty), in the world as seeded and at the call,
// makes a client first-party or takes the mark away; and a public client
// holds no secret.
func (e *explorer) firstParty(at, after *exploreState, caller *keysmith.User) []string {
	first := e.before.users[e.caller]
	var problems []string
	for id, c := range after.clients {
		was := at.clients[id]
		if was == c {
			continue // the clients were not read again
		}
		changed := was == nil && c.FirstParty || was != nil && was.FirstParty != c.FirstParty
		if changed && (keysmith.CanSetFirstParty(first) != nil || keysmith.CanSetFirstParty(caller) != nil) {
			name := "client " + e.w.labelOf(id)
			if was == nil {
				name = "a new client of application " + e.w.labelOf(c.AppID)
			}
			problems = append(problems, fmt.Sprintf("%s is now first-party:%v, which the caller (%s) may not decide", name, c.FirstParty, caller.Role))
		}
	}
	for _, id := range after.secrets {
		if c := after.clients[id]; c != nil && c.Public() {
			problems = append(problems, "public client "+e.w.labelOf(id)+" has a secret")
		}
	}
	return problems
}
