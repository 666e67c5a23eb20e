package keysmith_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/internal/testclock"
	"github.com/keysmith/keysmith/password"
	"github.com/keysmith/keysmith/store"
)

// exploreWorld is the small fixed world the exploration starts every
// sequence from, on a fresh SQLite file. Labels name its objects in failure
// messages:
//
//	S, S2        super admins; S bootstrapped the world
//	O            org admin
//	GA, GM       group admin and group membership admin, members of G1
//	R            read-only admin
//	D1           developer in G1; registered agent AG_D1 while a read-only
//	             admin and was demoted since
//	D2           developer in G2
//	SA_org       service account with role org_admin
//	SA_super     service account with role super_admin
//	T_<user>     the API token of S, O, GA, GM, R, SA_org and SA_super; those
//	             of O, GA, GM and R were rotated once and their previous
//	             secret still works
//	AG_<user>    an inactive agent of S, O, GA, GM, R and D1; AG_S_live is
//	             S's active agent, holding token T_AG_S_live
//	P_<user>     an application of S, O, D1 and D2, with one client C_<user>
//	K_D1         an app key of P_D1 with the self-service scope
//	CC_D2        a client of P_D2 for the authorization code flow, with
//	             both scopes of API (given by S); S and D1 consented to
//	             it from their sessions
//	API          an API with the scopes scopeSelf (self-service) and
//	             scopeAdmin (only org and super admins grant it)
//	SE_<user>    the browser session of S, O and D1, signed in with their
//	             password twice the reauthentication window before the
//	             world's clock: stale, for actions that need the step-up
type exploreWorld struct {
	ctx   context.Context
	db    *store.DB
	svc   *keysmith.Service
	clock *testclock.Clock
	id    map[string]string // label → id
	label map[string]string // id → label
	// secret holds the secret of every token and session by label, and the
	// rotated-out secret of the callers' tokens under label + ".prev".
	secret map[string]keysmith.Secret
	// password holds the password of every person by label, as seeded.
	password map[string]string
}

// newExploreWorld seeds the world through the service, each object created
// by whoever would create it, so it is a state the service can reach.
func newExploreWorld(t testing.TB) *exploreWorld {
	t.Helper()
	ctx := context.Background()
	clock := testclock.New()
	// New events' text is not indexed in the background: the undo log
	// leaves the text index as it is (see install), and the exploration
	// wants every state where it left it.
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "keysmith.db"),
		store.Options{Now: clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), IndexEvery: -1})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := withoutSync(ctx, db); err != nil {
		t.Fatalf("open store: %v", err)
	}
	w := &exploreWorld{ctx: ctx, db: db, clock: clock,
		svc: &keysmith.Service{Store: db, Now: clock.Now, Passwords: password.New(password.Fast)},
		id:  map[string]string{}, label: map[string]string{}, secret: map[string]keysmith.Secret{}, password: map[string]string{}}
	w.seedUsers(t)
	w.seedSessions(t)
	w.seedTokens(t)
	w.seedAgentsAndApps(t)
	w.seedAPI(t)
	w.seedConsents(t)
	return w
}

// name records that label names id.
func (w *exploreWorld) name(label, id string) {
	w.id[label] = id
	w.label[id] = label
}

// as is the principal of the user labelled label, as loaded now.
func (w *exploreWorld) as(t testing.TB, label string) keysmith.Principal {
	t.Helper()
	u, err := w.db.FindUserByID(w.ctx, w.id[label])
	if err != nil {
		t.Fatalf("load %s: %v", label, err)
	}
	return keysmith.Principal{User: u}
}

// seedUsers creates the users and groups.
func (w *exploreWorld) seedUsers(t testing.TB) {
	t.Helper()
	s, tok, secret, err := w.svc.Bootstrap(w.ctx, "s@example.com")
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	w.name("S", s.ID)
	w.name("T_S", tok.ID)
	w.secret["T_S"] = secret
	pw := "seed-password-S"
	if _, err := w.svc.UpdateUser(w.ctx, w.as(t, "S"), s.ID, keysmith.UserUpdate{Password: &pw}); err != nil {
		t.Fatalf("set the password of S: %v", err)
	}
	w.password["S"] = pw
	users := []struct {
		label string
		role  keysmith.Role
		typ   keysmith.UserType
	}{
		{"S2", keysmith.RoleSuperAdmin, keysmith.UserPerson},
		{"O", keysmith.RoleOrgAdmin, keysmith.UserPerson},
		{"GA", keysmith.RoleGroupAdmin, keysmith.UserPerson},
		{"GM", keysmith.RoleGroupMembershipAdmin, keysmith.UserPerson},
		{"R", keysmith.RoleReadOnlyAdmin, keysmith.UserPerson},
		{"D1", keysmith.RoleReadOnlyAdmin, keysmith.UserPerson}, // a developer once AG_D1 is registered
		{"D2", keysmith.RoleDeveloper, keysmith.UserPerson},
		{"SA_org", keysmith.RoleOrgAdmin, keysmith.UserService},
		{"SA_super", keysmith.RoleSuperAdmin, keysmith.UserService},
	}
	for _, u := range users {
		pw := "seed-password-" + u.label
		in := keysmith.CreateUserInput{Email: u.label + "@example.com", Name: u.label, Role: u.role, Type: u.typ}
		if u.typ == keysmith.UserPerson {
			in.Password = &pw
			w.password[u.label] = pw
		}
		created, err := w.svc.CreateUser(w.ctx, w.as(t, "S"), in)
		if err != nil {
			t.Fatalf("create %s: %v", u.label, err)
		}
		w.name(u.label, created.ID)
	}
	for _, g := range []struct {
		label   string
		members []string
	}{{"G1", []string{"GA", "GM", "D1"}}, {"G2", []string{"D2"}}} {
		name := g.label
		created, err := w.svc.CreateGroup(w.ctx, w.as(t, "S"), keysmith.GroupInput{Name: &name})
		if err != nil {
			t.Fatalf("create %s: %v", g.label, err)
		}
		w.name(g.label, created.ID)
		for _, m := range g.members {
			if err := w.svc.SetGroupMember(w.ctx, w.as(t, "S"), created.ID, w.id[m], true); err != nil {
				t.Fatalf("add %s to %s: %v", m, g.label, err)
			}
		}
	}
}

// seedSessions signs S, O and D1 in with their passwords, then moves the
// clock on by twice the reauthentication window: their sessions still work,
// but an action that needs the step-up needs a new password proof first.
func (w *exploreWorld) seedSessions(t testing.TB) {
	t.Helper()
	for _, label := range []string{"S", "O", "D1"} {
		_, sess, secret, err := w.svc.SignIn(w.ctx, keysmith.SignInInput{Email: label + "@example.com", Password: w.password[label]})
		if err != nil {
			t.Fatalf("sign %s in: %v", label, err)
		}
		w.name("SE_"+label, sess.ID)
		w.secret["SE_"+label] = secret
	}
	w.clock.Advance(2 * keysmith.DefaultReauthWindow)
}

// seedTokens gives the admins their tokens (rotating the callers' once) and
// the service accounts theirs.
func (w *exploreWorld) seedTokens(t testing.TB) {
	t.Helper()
	for _, owner := range []string{"O", "GA", "GM", "R", "SA_org", "SA_super"} {
		creator, in := owner, keysmith.CreateTokenInput{Name: "token of " + owner}
		if owner == "SA_org" || owner == "SA_super" {
			creator, in.OwnerID = "S", w.id[owner]
		}
		tok, secret, err := w.svc.CreateToken(w.ctx, w.as(t, creator), in)
		if err != nil {
			t.Fatalf("create token of %s: %v", owner, err)
		}
		label := "T_" + owner
		w.name(label, tok.ID)
		w.secret[label] = secret
		if creator != owner {
			continue
		}
		_, next, err := w.svc.RotateToken(w.ctx, w.as(t, owner), tok.ID, time.Hour)
		if err != nil {
			t.Fatalf("rotate token of %s: %v", owner, err)
		}
		w.secret[label+".prev"], w.secret[label] = secret, next
	}
}

// seedAgentsAndApps registers the agents, demotes D1, and registers the
// applications and their clients.
func (w *exploreWorld) seedAgentsAndApps(t testing.TB) {
	t.Helper()
	for _, owner := range []string{"S", "S_live", "O", "GA", "GM", "R", "D1"} {
		creator := owner
		if owner == "S_live" {
			creator = "S"
		}
		a, err := w.svc.CreateAgent(w.ctx, w.as(t, creator), keysmith.CreateAgentInput{Name: "agent of " + owner, Kind: keysmith.AgentDaemon})
		if err != nil {
			t.Fatalf("register agent of %s: %v", owner, err)
		}
		w.name("AG_"+owner, a.ID)
	}
	_, tok, secret, err := w.svc.ActivateAgent(w.ctx, w.as(t, "S"), w.id["AG_S_live"])
	if err != nil {
		t.Fatalf("activate AG_S_live: %v", err)
	}
	w.name("T_AG_S_live", tok.ID)
	w.secret["T_AG_S_live"] = secret
	developer := keysmith.RoleDeveloper
	if _, err := w.svc.UpdateUser(w.ctx, w.as(t, "S"), w.id["D1"], keysmith.UserUpdate{Role: &developer}); err != nil {
		t.Fatalf("demote D1: %v", err)
	}
	for _, owner := range []string{"S", "O", "D1", "D2"} {
		app, err := w.svc.CreateApp(w.ctx, w.as(t, owner), keysmith.CreateAppInput{Name: "app of " + owner})
		if err != nil {
			t.Fatalf("register app of %s: %v", owner, err)
		}
		w.name("P_"+owner, app.ID)
		c, _, _, err := w.svc.CreateClient(w.ctx, w.as(t, owner), keysmith.CreateClientInput{
			Name: "client of " + owner, AppID: app.ID, Environment: string(keysmith.EnvSandbox)})
		if err != nil {
			t.Fatalf("create client of %s: %v", owner, err)
		}
		w.name("C_"+owner, c.ID)
	}
}

// The scopes of the world's API: one any developer may give their own
// credentials, one only org and super admins grant.
const (
	scopeSelf  = "orders:read"
	scopeAdmin = "orders:admin"
)

// seedAPI registers the API with its two scopes, and gives P_D1 the key
// K_D1 with the self-service scope, created by D1.
func (w *exploreWorld) seedAPI(t testing.TB) {
	t.Helper()
	a, err := w.svc.CreateAPI(w.ctx, w.as(t, "S"), keysmith.CreateAPIInput{Name: "orders",
		Identifier: "https://orders.example.com", Scopes: []keysmith.ScopeInput{
			{Name: scopeSelf, Description: "Read orders", SelfService: true},
			{Name: scopeAdmin, Description: "Administer orders"}}})
	if err != nil {
		t.Fatalf("register API: %v", err)
	}
	w.name("API", a.ID)
	k, _, err := w.svc.CreateAppKey(w.ctx, w.as(t, "D1"), w.id["P_D1"], keysmith.CreateAppKeyInput{
		Name: "key of D1", Environment: string(keysmith.EnvProduction), Scopes: []string{scopeSelf}})
	if err != nil {
		t.Fatalf("create key of D1: %v", err)
	}
	w.name("K_D1", k.ID)
}

// seedConsents adds CC_D2, a code-flow client of P_D2 holding both scopes
// (the admin-only one given by S), and has S and D1 consent to it from
// their browser sessions, as at the authorization endpoint. (Not O: an org
// admin's many sequences would double with and without a consent that
// changes nothing else; O's stale session consents and revokes in the
// search.)
func (w *exploreWorld) seedConsents(t testing.TB) {
	t.Helper()
	c, _, _, err := w.svc.CreateClient(w.ctx, w.as(t, "S"), keysmith.CreateClientInput{Name: "sign-in client of D2",
		AppID: w.id["P_D2"], Environment: string(keysmith.EnvProduction), Scopes: []string{scopeSelf, scopeAdmin},
		GrantTypes:   []string{keysmith.GrantAuthorizationCode, keysmith.GrantRefreshToken},
		RedirectURIs: []string{"https://d2.example.com/callback"}})
	if err != nil {
		t.Fatalf("create CC_D2: %v", err)
	}
	w.name("CC_D2", c.ID)
	for _, label := range []string{"S", "D1"} {
		p := w.as(t, label)
		s, err := w.db.FindSessionByHash(w.ctx, keysmith.HashOf(w.secret["SE_"+label].Reveal()))
		if err != nil {
			t.Fatalf("the session of %s: %v", label, err)
		}
		p.Session = s
		if _, err := w.svc.GrantConsent(w.ctx, p, c.ID, c.Scopes); err != nil {
			t.Fatalf("consent of %s to CC_D2: %v", label, err)
		}
	}
}
