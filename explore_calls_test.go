package keysmith_test

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// exploreCall is one call of the exploration: a service method with fixed
// arguments that cross a boundary of some role. A call that hands over a
// credential says so, so that the exploration can ask whom it acts as.
// Every later call that changes rights or returns a secret belongs here.
//
// Its footprint names what it reads and writes besides what every call
// reads (the caller's user and memberships, and their session if they call
// from one): "u:X" user X (role, type, status), "pw:X" X's password, "se:X"
// X's sessions, "g:X" X's memberships, "t:T", "a:A", "c:C",
// "p:P" a token or app key, agent, client or application apart from the
// scopes it names, "s:X" the scopes client, token or key X names, "cs:X"
// the consents user X gave, and
// "self" in place of the caller's label ("t:self" and "s:self" are the
// caller's token). Two calls whose footprints do not overlap in a write
// commute, and the exploration tries only one of their two orders; so a
// footprint may name more than a call touches, never less.
type exploreCall struct {
	name          string
	reads, writes string // space-separated footprint
	do            func(x *callContext) ([]credential, error)
}

// callContext is what a call runs with: the world and the caller as loaded
// for this call.
type callContext struct {
	w    *exploreWorld
	p    keysmith.Principal
	self string // the caller's label
}

// credentialKind says what a credential handed to the caller is.
type credentialKind int

const (
	credToken        credentialKind = iota // an API token secret (created, rotated or issued to an agent)
	credClientSecret                       // an OAuth client secret
	credPassword                           // a password the caller chose for a user
	credAppKey                             // an app API key (created or rotated)
)

// credential is something a call handed to its caller that authenticates
// as someone. Whom a secret acts as is not taken from the call's answer but
// from the store, by the secret's hash: that is what verification and the
// token endpoint will do with it.
type credential struct {
	kind   credentialKind
	secret keysmith.Secret // token, client secret
	user   string          // password: whose
	fresh  bool            // token: newly issued rather than a rotation of one
}

// errNoTarget refuses a call about "the caller's" object the caller lacks.
var errNoTarget = errors.New("the caller has no such object")

// target resolves a label; "" is the caller, and "T_"/"AG_" followed by
// nothing the caller's token or agent.
func (x *callContext) target(label string) (string, error) {
	switch label {
	case "":
		label = x.self
	case "T_", "AG_":
		label += x.self
	}
	id, ok := x.w.id[label]
	if !ok {
		return "", errNoTarget
	}
	return id, nil
}

// exploreCalls is the set of calls the exploration combines.
func exploreCalls() []exploreCall {
	// The order matters only to the time the search takes: of two calls
	// that commute, only the order with the earlier first is tried, so calls
	// that commute with nearly all come first.
	return []exploreCall{
		{"mark C_D1 first-party", "", "c:C_D1", markFirstParty("C_D1")},
		{"consent to CC_D2 with its scopes", "c:CC_D2 s:CC_D2", "cs:self", consent("CC_D2")},
		{"revoke the caller's consent to CC_D2", "", "cs:self", revokeConsent("CC_D2")},
		{"register an app", "", "", registerApp},
		{"register an agent", "", "", registerAgent},
		{"create a token for the caller", "", "", createToken("", "")},
		{"create an org_admin with a password", "", "", createUser(keysmith.RoleOrgAdmin, true)},
		{"create a super_admin", "", "", createUser(keysmith.RoleSuperAdmin, false)},
		{"set the caller's password", "", "pw:self se:self", setPassword("")},
		{"add a client to P_S", "p:P_S", "", addClient("P_S", "")},
		{"add a key to P_S", "p:P_S", "", addAppKey("P_S", "")},
		{"add a key with the admin-only scope to P_D1", "p:P_D1", "", addAppKey("P_D1", scopeAdmin)},
		{"add a client with the admin-only scope to P_D1", "p:P_D1", "", addClient("P_D1", scopeAdmin)},
		{"add a public sign-in client to P_D1", "p:P_D1", "", addCodeClient("P_D1", true, false)},
		{"add a first-party sign-in client to P_D1", "p:P_D1", "", addCodeClient("P_D1", false, true)},
		{"create a token for the caller with the admin-only scope", "", "", createToken("", scopeAdmin)},
		{"give C_D1 the self-service scope", "c:C_D1 s:C_D1", "s:C_D1", giveClientScope("C_D1", scopeSelf)},
		{"give C_D1 the admin-only scope", "c:C_D1 s:C_D1", "s:C_D1", giveClientScope("C_D1", scopeAdmin)},
		{"give K_D1 the admin-only scope", "p:P_D1 t:K_D1 s:K_D1", "s:K_D1", giveKeyScope("P_D1", "K_D1", scopeAdmin)},
		{"give the caller's token the admin-only scope", "t:self s:self", "s:self", giveTokenScope("T_", scopeAdmin)},
		{"add a secret to C_S", "", "c:C_S", clientSecret("C_S", false)},
		{"reset the secrets of C_D1", "", "c:C_D1", clientSecret("C_D1", true)},
		{"transfer P_D1 to D2", "u:D2", "p:P_D1 c:C_D1 t:K_D1", transferApp("P_D1", "D2")},
		{"create a token for SA_org", "u:SA_org", "", createToken("SA_org", "")},
		{"create a token for SA_super", "u:SA_super", "", createToken("SA_super", "")},
		{"set S2's password", "u:S2", "pw:S2 se:S2", setPassword("S2")},
		{"deactivate S2", "u:S", "u:S2 se:S2", updateUser("S2", keysmith.UserUpdate{Status: ptr(keysmith.UserInactive)})},
		{"make the caller super_admin", "", "u:self", updateUser("", keysmith.UserUpdate{Role: ptr(keysmith.RoleSuperAdmin)})},
		{"rotate T_S", "u:S", "t:T_S", rotateToken("T_S")},
		{"activate AG_S", "u:S", "a:AG_S", activateAgent("AG_S")},
		{"revoke T_S", "", "t:T_S", revokeToken("T_S")},
		{"disable T_S", "", "t:T_S", disableToken("T_S")},
		{"deactivate AG_S_live", "", "a:AG_S_live t:T_AG_S_live", deactivateAgent("AG_S_live")},
		{"rotate T_SA_org", "u:SA_org", "t:T_SA_org", rotateToken("T_SA_org")},
		{"activate the caller's agent", "", "a:self", activateAgent("AG_")},
		{"rotate the caller's token", "", "t:self", rotateToken("T_")},
		{"add D2 to G1", "u:D2", "g:D2", member("G1", "D2", true)},
		{"set D2's password", "u:D2 g:D2", "pw:D2 se:D2", setPassword("D2")},
		{"remove D1 from G1", "u:D1", "g:D1", member("G1", "D1", false)},
		{"set D1's password", "u:D1 g:D1", "pw:D1 se:D1", setPassword("D1")},
		{"make D1 org_admin", "g:D1", "u:D1", updateUser("D1", keysmith.UserUpdate{Role: ptr(keysmith.RoleOrgAdmin)})},
		{"add GA to G2", "u:GA", "g:GA", member("G2", "GA", true)},
		{"make the caller developer", "u:S u:S2", "u:self", updateUser("", keysmith.UserUpdate{Role: ptr(keysmith.RoleDeveloper)})},
		{reauthenticateCall, "pw:self", "se:self", reauthenticate},
	}
}

// reauthenticateCall names the call that renews the step-up: the judge
// lets a caller whose session was stale receive secrets only after it
// (explorer.stale).
const reauthenticateCall = "re-authenticate the caller"

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// uniqueEmail returns an address no user has.
func uniqueEmail() string { return strings.ToLower(keysmith.NewID("new")) + "@example.com" }

// The calls, one constructor per service method. A label "" names the
// caller, and "T_" and "AG_" the caller's token and agent.

func member(group, user string, add bool) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		uid, err := x.target(user)
		if err != nil {
			return nil, err
		}
		return nil, x.w.svc.SetGroupMember(x.w.ctx, x.p, x.w.id[group], uid, add)
	}
}

func setPassword(user string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		uid, err := x.target(user)
		if err != nil {
			return nil, err
		}
		pw := "explore-" + keysmith.NewID("pw")
		if _, err := x.w.svc.UpdateUser(x.w.ctx, x.p, uid, keysmith.UserUpdate{Password: &pw}); err != nil {
			return nil, err
		}
		return []credential{{kind: credPassword, user: uid}}, nil
	}
}

func updateUser(user string, up keysmith.UserUpdate) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		uid, err := x.target(user)
		if err != nil {
			return nil, err
		}
		_, err = x.w.svc.UpdateUser(x.w.ctx, x.p, uid, up)
		return nil, err
	}
}

func createUser(role keysmith.Role, withPassword bool) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		in := keysmith.CreateUserInput{Email: uniqueEmail(), Name: "new " + string(role), Role: role}
		if withPassword {
			in.Password = ptr("explore-" + keysmith.NewID("pw"))
		}
		u, err := x.w.svc.CreateUser(x.w.ctx, x.p, in)
		if err != nil || !withPassword {
			return nil, err
		}
		return []credential{{kind: credPassword, user: u.ID}}, nil
	}
}

// createToken creates a token for owner ("" the caller), naming scope
// unless it is "".
func createToken(owner, scope string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		in := keysmith.CreateTokenInput{Name: "explored", Scopes: scopeList(scope)}
		if owner != "" {
			in.OwnerID = x.w.id[owner]
		}
		_, secret, err := x.w.svc.CreateToken(x.w.ctx, x.p, in)
		if err != nil {
			return nil, err
		}
		return []credential{{kind: credToken, fresh: true, secret: secret}}, nil
	}
}

func rotateToken(token string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		id, err := x.target(token)
		if err != nil {
			return nil, err
		}
		_, secret, err := x.w.svc.RotateToken(x.w.ctx, x.p, id, time.Hour)
		if err != nil {
			return nil, err
		}
		return []credential{{kind: credToken, secret: secret}}, nil
	}
}

func revokeToken(token string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		_, err := x.w.svc.RevokeToken(x.w.ctx, x.p, x.w.id[token])
		return nil, err
	}
}

func disableToken(token string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		_, err := x.w.svc.UpdateToken(x.w.ctx, x.p, x.w.id[token], keysmith.TokenUpdate{Enabled: ptr(false)})
		return nil, err
	}
}

func registerAgent(x *callContext) ([]credential, error) {
	_, err := x.w.svc.CreateAgent(x.w.ctx, x.p, keysmith.CreateAgentInput{Name: "explored", Kind: keysmith.AgentCI})
	return nil, err
}

func activateAgent(agent string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		id, err := x.target(agent)
		if err != nil {
			return nil, err
		}
		_, _, secret, err := x.w.svc.ActivateAgent(x.w.ctx, x.p, id)
		if err != nil {
			return nil, err
		}
		return []credential{{kind: credToken, fresh: true, secret: secret}}, nil
	}
}

func deactivateAgent(agent string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		_, err := x.w.svc.DeactivateAgent(x.w.ctx, x.p, x.w.id[agent])
		return nil, err
	}
}

// clientSecret adds a secret to a client, or resets its secrets.
func clientSecret(client string, reset bool) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		id := x.w.id[client]
		in := keysmith.CreateSecretInput{Description: "explored"}
		var secret keysmith.Secret
		var err error
		if reset {
			_, secret, err = x.w.svc.ResetClientSecrets(x.w.ctx, x.p, id, in)
		} else {
			_, secret, err = x.w.svc.CreateClientSecret(x.w.ctx, x.p, id, in)
		}
		if err != nil {
			return nil, err
		}
		return []credential{{kind: credClientSecret, secret: secret}}, nil
	}
}

// addClient adds a client to an application, naming scope unless it is "".
func addClient(app, scope string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		_, _, secret, err := x.w.svc.CreateClient(x.w.ctx, x.p, keysmith.CreateClientInput{
			Name: "explored", AppID: x.w.id[app], Environment: string(keysmith.EnvProduction), Scopes: scopeList(scope)})
		if err != nil {
			return nil, err
		}
		return []credential{{kind: credClientSecret, secret: secret}}, nil
	}
}

// transferApp gives an application to another owner, resetting its
// credentials: it hands over nothing, and the judge checks that nothing of
// the application works any more, and forgets what the caller held of it
// (explorer.transferred).
func transferApp(app, owner string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		_, err := x.w.svc.TransferApp(x.w.ctx, x.p, x.w.id[app], keysmith.TransferAppInput{OwnerID: x.w.id[owner]})
		return nil, err
	}
}

// reauthenticate proves the caller's password as seeded (a change of it
// ends the caller's sessions) to renew their session; callers without one
// are refused.
func reauthenticate(x *callContext) ([]credential, error) {
	_, err := x.w.svc.Reauthenticate(x.w.ctx, x.p, x.w.password[x.self])
	return nil, err
}

func registerApp(x *callContext) ([]credential, error) {
	_, err := x.w.svc.CreateApp(x.w.ctx, x.p, keysmith.CreateAppInput{Name: "explored"})
	return nil, err
}

// addAppKey adds a key to an application, naming scope unless it is "".
func addAppKey(app, scope string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		_, secret, err := x.w.svc.CreateAppKey(x.w.ctx, x.p, x.w.id[app], keysmith.CreateAppKeyInput{
			Name: "explored", Environment: string(keysmith.EnvProduction), Scopes: scopeList(scope)})
		if err != nil {
			return nil, err
		}
		return []credential{{kind: credAppKey, fresh: true, secret: secret}}, nil
	}
}

// scopeList is the scopes a call names: scope, or none for "".
func scopeList(scope string) []string {
	if scope == "" {
		return nil
	}
	return []string{scope}
}

// withScope returns scopes with scope added at the end, as a client or
// key's page would send them.
func withScope(scopes []string, scope string) []string {
	if slices.Contains(scopes, scope) {
		return slices.Clone(scopes)
	}
	return append(slices.Clone(scopes), scope)
}

// giveClientScope adds a scope to a client's scopes (UpdateClient).
func giveClientScope(client, scope string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		c, err := x.w.db.FindClientByID(x.w.ctx, x.w.id[client])
		if err != nil {
			return nil, err
		}
		_, err = x.w.svc.UpdateClient(x.w.ctx, x.p, c.ID, keysmith.ClientUpdate{Scopes: ptr(withScope(c.Scopes, scope))})
		return nil, err
	}
}

// giveKeyScope adds a scope to an app key's scopes (UpdateAppKey).
func giveKeyScope(app, key, scope string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		k, err := x.w.db.FindTokenByID(x.w.ctx, x.w.id[key])
		if err != nil {
			return nil, err
		}
		_, err = x.w.svc.UpdateAppKey(x.w.ctx, x.p, x.w.id[app], k.ID, keysmith.AppKeyUpdate{Scopes: ptr(withScope(k.Scopes, scope))})
		return nil, err
	}
}

// giveTokenScope adds a scope to an API token's scopes (UpdateToken).
func giveTokenScope(token, scope string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		id, err := x.target(token)
		if err != nil {
			return nil, err
		}
		t, err := x.w.db.FindTokenByID(x.w.ctx, id)
		if err != nil {
			return nil, err
		}
		_, err = x.w.svc.UpdateToken(x.w.ctx, x.p, id, keysmith.TokenUpdate{Scopes: ptr(withScope(t.Scopes, scope))})
		return nil, err
	}
}

// addCodeClient adds a client of the authorization code flow to an
// application, with a redirect URI: public (no secret) or confidential,
// first-party (it skips consent) or not. Only a confidential one hands
// over a secret.
func addCodeClient(app string, public, firstParty bool) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		in := keysmith.CreateClientInput{Name: "explored sign-in", AppID: x.w.id[app], Environment: string(keysmith.EnvProduction),
			Scopes: []string{scopeSelf}, GrantTypes: []string{keysmith.GrantAuthorizationCode, keysmith.GrantRefreshToken},
			RedirectURIs: []string{"https://app.example.com/callback"}, FirstParty: firstParty}
		if public {
			in.TokenEndpointAuthMethod = keysmith.AuthNone
		}
		_, sec, secret, err := x.w.svc.CreateClient(x.w.ctx, x.p, in)
		if err != nil || sec == nil {
			return nil, err
		}
		return []credential{{kind: credClientSecret, secret: secret}}, nil
	}
}

// markFirstParty makes a client first-party (UpdateClient): it then skips
// the consent page.
func markFirstParty(client string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		_, err := x.w.svc.UpdateClient(x.w.ctx, x.p, x.w.id[client], keysmith.ClientUpdate{FirstParty: ptr(true)})
		return nil, err
	}
}

// consent gives the caller's consent to every scope of a client
// (GrantConsent): the client may then act for the caller within them. Only
// a caller in a browser session consents.
func consent(client string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		c, err := x.w.db.FindClientByID(x.w.ctx, x.w.id[client])
		if err != nil {
			return nil, err
		}
		_, err = x.w.svc.GrantConsent(x.w.ctx, x.p, c.ID, c.Scopes)
		return nil, err
	}
}

// revokeConsent withdraws the caller's consent to a client.
func revokeConsent(client string) func(x *callContext) ([]credential, error) {
	return func(x *callContext) ([]credential, error) {
		return nil, x.w.svc.RevokeConsent(x.w.ctx, x.p, x.w.id[client])
	}
}
