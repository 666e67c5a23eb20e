package keysmith_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// exploreState is what the permission rules look at, read from the store:
// users with their roles and statuses, memberships, and the owners and
// statuses of tokens, agents, applications and clients, the scopes tokens,
// keys and clients name, whether a client is public or first-party, the
// consents, the registered scopes, and the sessions' password proofs. States are never
// changed once read.
type exploreState struct {
	users     map[string]*keysmith.User   // by id
	groups    map[string][]string         // user id → sorted ids of their groups
	tokens    map[string]*keysmith.Token  // by id
	tokenHash map[string]string           // hash of a token's current secret → token id
	hash      map[string]string           // token id → hash of its current secret
	agents    map[string]*keysmith.Agent  // by id
	apps      map[string]*keysmith.App    // by id
	clients   map[string]*keysmith.Client // by id
	secrets   map[string]string           // hash of a client secret → client id
	// consents holds the scopes each person consented to a client, by
	// "user id client id".
	consents map[string][]string
	// registered holds every scope an API registers, by name: whether it is
	// self-service.
	registered map[string]bool
	// sessions holds when each browser session was last proved with a
	// password (authenticated_at), by id; an ended session is absent.
	sessions map[string]string
	// usersKey and groupsKey sum up users' roles, types and statuses and
	// the memberships, ownersKey the owners of applications and clients
	// (which a transfer changes): all that capabilities depend on.
	usersKey, groupsKey, ownersKey string
}

// revokedAt stands for any revocation or disabling time: states keep only
// whether there is one.
var revokedAt = time.Unix(0, 0)

// stateTables reads, per table of the store, the part of a state it holds.
var stateTables = map[string]struct {
	query string
	scan  func(st *exploreState, f []string)
	reset func(st *exploreState)
}{
	"users": {`SELECT id, role, type, status, email, name, '' FROM users`,
		func(st *exploreState, f []string) {
			st.users[f[0]] = &keysmith.User{ID: f[0], Role: keysmith.Role(f[1]), Type: keysmith.UserType(f[2]),
				Status: keysmith.UserStatus(f[3]), Email: f[4], Name: f[5]}
		},
		func(st *exploreState) { st.users = map[string]*keysmith.User{} }},
	"group_members": {`SELECT group_id, user_id, '', '', '', '', '' FROM group_members ORDER BY group_id`,
		func(st *exploreState, f []string) { st.groups[f[1]] = append(st.groups[f[1]], f[0]) },
		func(st *exploreState) { st.groups = map[string][]string{} }},
	// The fifth column is an agent token's agent, or an app key's application.
	"tokens": {`SELECT id, type, owner_id, hash, CASE WHEN type = 'app_key' THEN app_id ELSE agent_id END,
		revoked_at IS NOT NULL, disabled_at IS NOT NULL, scopes FROM tokens`,
		func(st *exploreState, f []string) {
			t := &keysmith.Token{ID: f[0], Type: keysmith.TokenType(f[1]), OwnerID: f[2], AgentID: f[4],
				Scopes: sortedFields(f[7])}
			if t.Type == keysmith.TokenAppKey {
				t.AgentID, t.AppID = "", f[4]
			}
			if f[5] == "1" {
				t.RevokedAt = &revokedAt
			}
			if f[6] == "1" {
				t.DisabledAt = &revokedAt
			}
			st.tokens[t.ID], st.tokenHash[f[3]], st.hash[t.ID] = t, t.ID, f[3]
		},
		func(st *exploreState) {
			st.tokens, st.tokenHash, st.hash = map[string]*keysmith.Token{}, map[string]string{}, map[string]string{}
		}},
	"agents": {`SELECT id, owner_id, status, token_id, '', '', '' FROM agents`,
		func(st *exploreState, f []string) {
			st.agents[f[0]] = &keysmith.Agent{ID: f[0], OwnerID: f[1], Status: keysmith.AgentStatus(f[2]), TokenID: f[3]}
		},
		func(st *exploreState) { st.agents = map[string]*keysmith.Agent{} }},
	"apps": {`SELECT id, owner_id, '', '', '', '', '' FROM apps`,
		func(st *exploreState, f []string) { st.apps[f[0]] = &keysmith.App{ID: f[0], OwnerID: f[1]} },
		func(st *exploreState) { st.apps = map[string]*keysmith.App{} }},
	"oauth_clients": {`SELECT id, owner_id, app_id, revoked_at IS NOT NULL, scopes, first_party <> 0, token_endpoint_auth_method
		FROM oauth_clients`,
		func(st *exploreState, f []string) {
			c := &keysmith.Client{ID: f[0], OwnerID: f[1], AppID: f[2], Scopes: sortedFields(f[4]), FirstParty: f[5] == "1",
				TokenEndpointAuthMethod: f[6]}
			if f[3] == "1" {
				c.RevokedAt = &revokedAt
			}
			st.clients[c.ID] = c
		},
		func(st *exploreState) { st.clients = map[string]*keysmith.Client{} }},
	"oauth_client_secrets": {`SELECT hash, client_id, '', '', '', '', '' FROM oauth_client_secrets`,
		func(st *exploreState, f []string) { st.secrets[f[0]] = f[1] },
		func(st *exploreState) { st.secrets = map[string]string{} }},
	"oauth_consents": {`SELECT user_id, client_id, scopes FROM oauth_consents`,
		func(st *exploreState, f []string) { st.consents[f[0]+" "+f[1]] = sortedFields(f[2]) },
		func(st *exploreState) { st.consents = map[string][]string{} }},
	"sessions": {`SELECT id, authenticated_at FROM sessions`,
		func(st *exploreState, f []string) { st.sessions[f[0]] = f[1] },
		func(st *exploreState) { st.sessions = map[string]string{} }},
	"api_scopes": {`SELECT name, self_service <> 0, '', '', '', '', '' FROM api_scopes`,
		func(st *exploreState, f []string) { st.registered[f[0]] = f[1] == "1" },
		func(st *exploreState) { st.registered = map[string]bool{} }},
}

// sortedFields splits a space-separated list of scopes, sorted: the order
// a credential names them in changes nothing it may do.
func sortedFields(s string) []string {
	f := strings.Fields(s)
	slices.Sort(f)
	return f
}

// stateReader reads states from the store with statements prepared once
// (under -race, parsing SQL is what costs).
type stateReader struct {
	ctx   context.Context
	stmts map[string]*sql.Stmt // by table
}

// newStateReader prepares the statements of stateTables on conn; close
// closes them.
func newStateReader(ctx context.Context, conn *sql.Conn) (*stateReader, error) {
	r := &stateReader{ctx: ctx, stmts: map[string]*sql.Stmt{}}
	for table, t := range stateTables {
		s, err := conn.PrepareContext(ctx, t.query)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("prepare %s: %w", t.query, err)
		}
		r.stmts[table] = s
	}
	return r, nil
}

func (r *stateReader) close() {
	for _, s := range r.stmts {
		s.Close()
	}
}

// read returns the state after changes to the tables changed, sharing the
// rest with prev; with prev nil it reads every table.
func (r *stateReader) read(prev *exploreState, changed []string) (*exploreState, error) {
	st := &exploreState{}
	if prev == nil {
		changed = nil
		for table := range stateTables {
			changed = append(changed, table)
		}
	} else {
		*st = *prev
	}
	for _, table := range changed {
		t, ok := stateTables[table]
		if !ok {
			continue
		}
		t.reset(st)
		if err := r.scan(table, st); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
	}
	st.usersKey, st.groupsKey = stateKeys(st)
	st.ownersKey = ownersKey(st)
	return st, nil
}

// scan reads one table into st.
func (r *stateReader) scan(table string, st *exploreState) error {
	rows, err := r.stmts[table].QueryContext(r.ctx)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	f := make([]string, len(cols))
	ptrs := make([]any, len(f))
	for i := range f {
		ptrs[i] = &f[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		stateTables[table].scan(st, f)
	}
	return rows.Err()
}

// stateKeys sums up users' roles, types and statuses, and the memberships.
func stateKeys(st *exploreState) (users, groups string) {
	var u, g []string
	for id, x := range st.users {
		u = append(u, id+":"+string(x.Role)+":"+string(x.Type)+":"+string(x.Status))
	}
	for id, gs := range st.groups {
		g = append(g, id+":"+strings.Join(gs, "+"))
	}
	slices.Sort(u)
	slices.Sort(g)
	return strings.Join(u, ","), strings.Join(g, ",")
}

// ownersKey sums up the owners of applications and clients.
func ownersKey(st *exploreState) string {
	var o []string
	for id, a := range st.apps {
		o = append(o, id+":"+a.OwnerID)
	}
	for id, c := range st.clients {
		o = append(o, id+":"+c.OwnerID)
	}
	slices.Sort(o)
	return strings.Join(o, ",")
}

// appHasCredentials reports whether application appID has a credential
// that may still work: a secret of one of its clients, or an app key that
// is not revoked.
func (st *exploreState) appHasCredentials(appID string) bool {
	for _, clientID := range st.secrets {
		if c := st.clients[clientID]; c != nil && c.AppID == appID {
			return true
		}
	}
	for _, t := range st.tokens {
		if t.Type == keysmith.TokenAppKey && t.AppID == appID && t.RevokedAt == nil {
			return true
		}
	}
	return false
}

// sharesGroup reports whether target is in a group c belongs to: the
// relation CanUpdateUser takes, computed as the service does.
func (st *exploreState) sharesGroup(c, target *keysmith.User) bool {
	if c.Role != keysmith.RoleGroupAdmin || target.Role != keysmith.RoleDeveloper {
		return false
	}
	for _, g := range st.groups[target.ID] {
		if slices.Contains(st.groups[c.ID], g) {
			return true
		}
	}
	return false
}

// fingerprint sums up a state, with what the caller has learned, in the
// terms of the world's labels: two sequences that reach the same fingerprint
// reach the same rights, so only the first is extended. Users created during
// a sequence have random ids and are counted by role, type and status.
// Tokens, agents, applications and clients created during a sequence are
// left out: no later call can name them, and created and judge have looked
// at them already.
func (w *exploreWorld) fingerprint(before, st *exploreState, learned []string) string {
	var parts, created []string
	for id, u := range st.users {
		s := fmt.Sprintf("%s=%s/%s/%s%v", w.labelOf(id), u.Role, u.Type, u.Status, w.labels(st.groups[id]))
		if before.users[id] != nil {
			parts = append(parts, s)
		} else {
			created = append(created, s)
		}
	}
	for id := range before.tokens {
		t := st.tokens[id]
		parts = append(parts, fmt.Sprintf("%s=%s/revoked:%v/disabled:%v/rotated:%v%v", w.labelOf(id), w.labelOf(t.OwnerID),
			t.RevokedAt != nil, t.DisabledAt != nil, st.hash[id] != before.hash[id], t.Scopes))
	}
	for id := range before.apps {
		if a := st.apps[id]; a != nil {
			parts = append(parts, fmt.Sprintf("%s=%s", w.labelOf(id), w.labelOf(a.OwnerID)))
		}
	}
	for id := range before.agents {
		a := st.agents[id]
		parts = append(parts, fmt.Sprintf("%s=%s/%s", w.labelOf(id), a.Status, w.labelOf(a.TokenID)))
	}
	secrets := map[string]int{}
	for _, c := range st.secrets {
		secrets[c]++
	}
	for id := range before.clients {
		c := st.clients[id]
		parts = append(parts, fmt.Sprintf("%s=%s/%s/%d/first-party:%v%v", w.labelOf(id), w.labelOf(c.OwnerID), c.Status(), secrets[id],
			c.FirstParty, c.Scopes))
	}
	for key, scopes := range st.consents {
		user, client, _ := strings.Cut(key, " ")
		if before.users[user] != nil && before.clients[client] != nil {
			parts = append(parts, fmt.Sprintf("consent %s→%s%v", w.labelOf(user), w.labelOf(client), scopes))
		}
	}
	for name, self := range st.registered {
		parts = append(parts, fmt.Sprintf("scope %s=self-service:%v", name, self))
	}
	sort.Strings(parts)
	sort.Strings(created)
	return strings.Join(parts, " ") + " | " + strings.Join(created, " ") + " | " + strings.Join(w.labels(learned), " ")
}

// labelOf names an id of the world by its label, and anything created
// during a sequence "new".
func (w *exploreWorld) labelOf(id string) string {
	if id == "" {
		return "-"
	}
	if l, ok := w.label[id]; ok {
		return l
	}
	return "new"
}

// labels names ids, sorted.
func (w *exploreWorld) labels(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = w.labelOf(id)
	}
	sort.Strings(out)
	return out
}
