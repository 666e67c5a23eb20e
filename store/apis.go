package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/keysmith/keysmith"
)

// FindScopes returns the registered scopes among names, by name: the
// built-in OpenID Connect scopes and the scopes of every API. A name
// missing from the map is not registered.
func (db *DB) FindScopes(ctx context.Context, names []string) (map[string]keysmith.Scope, error) {
	found, err := findScopes(ctx, db.sql, names)
	return found, db.mapError(err)
}

// findScopes is FindScopes on q (the database or a transaction).
func findScopes(ctx context.Context, q querier, names []string) (map[string]keysmith.Scope, error) {
	found := make(map[string]keysmith.Scope, len(names))
	var rest []string
	for _, n := range names {
		if s, ok := keysmith.BuiltinScope(n); ok {
			found[n] = s
		} else {
			rest = append(rest, n)
		}
	}
	for len(rest) > 0 {
		chunk := rest[:min(len(rest), 100)]
		rest = rest[len(chunk):]
		args := make([]any, len(chunk))
		marks := make([]string, len(chunk))
		for i, n := range chunk {
			args[i], marks[i] = n, "$"+strconv.Itoa(i+1)
		}
		ss, err := queryAll(ctx, q, `SELECT name, description, self_service, api_id FROM api_scopes
			WHERE name IN (`+strings.Join(marks, ", ")+`)`, args, scanScope)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			found[s.Name] = s
		}
	}
	return found, nil
}

func scanScope(row interface{ Scan(...any) error }) (keysmith.Scope, error) {
	var s keysmith.Scope
	var self int
	err := row.Scan(&s.Name, &s.Description, &self, &s.APIID)
	s.SelfService = self != 0
	return s, err
}

// grantScopes records that the credential holderID (a client, token or app
// key) names scopes, replacing what it named before, in tx. Each
// registered scope's row is locked (on PostgreSQL) so that deleting a scope
// and granting it cannot both pass; a name that is neither built in nor
// registered is CodeInvalid ("invalid_scope"). Built-in scopes need no row.
//
// When the context names the user granting (keysmith.WithGranter), each
// scope the holder was not granted before is checked against the scope as
// locked (keysmith.CanGrantScope): the service checked it before, but an
// admin may have made the scope admin-only since (CodeForbidden then).
func (tx *txn) grantScopes(holderID string, scopes []string) error {
	granter := keysmith.GranterFrom(tx.ctx)
	var before []string
	if granter != nil {
		var err error
		if before, err = queryAll(tx.ctx, tx, `SELECT scope FROM scope_grants WHERE holder_id = $1`, []any{holderID}, scanString); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(tx.ctx, `DELETE FROM scope_grants WHERE holder_id = $1`, holderID); err != nil {
		return err
	}
	// Rows are locked in name order, as everywhere (lockAPI too), so that
	// two grants of the same scopes cannot deadlock on PostgreSQL.
	for _, name := range slices.Sorted(slices.Values(scopes)) {
		if _, ok := keysmith.BuiltinScope(name); ok {
			continue
		}
		var self int
		err := tx.QueryRowContext(tx.ctx, `UPDATE api_scopes SET name = name WHERE name = $1 RETURNING self_service`, name).Scan(&self)
		if errors.Is(err, sql.ErrNoRows) {
			return &keysmith.Error{Code: keysmith.CodeInvalid, Reason: "invalid_scope",
				Message: `scope "` + name + `" is not registered: register it under an API first (POST /v1/apis)`}
		}
		if err != nil {
			return err
		}
		if granter != nil && !slices.Contains(before, name) && !keysmith.CanGrantScope(granter, keysmith.Scope{Name: name, SelfService: self != 0}) {
			return keysmith.Errorf(keysmith.CodeForbidden, "scope %q is not self-service: only org and super admins grant it", name)
		}
		if _, err := tx.ExecContext(tx.ctx, `INSERT INTO scope_grants (scope, holder_id) VALUES ($1, $2)`, name, holderID); err != nil {
			return err
		}
	}
	return nil
}

// dropScopeGrants forgets what a credential that no longer works (revoked,
// deleted) names, so that its scopes may be deleted.
func (tx *txn) dropScopeGrants(holderID string) error {
	_, err := tx.ExecContext(tx.ctx, `DELETE FROM scope_grants WHERE holder_id = $1`, holderID)
	return err
}

// CreateAPI stores a new API with its scopes and records api.created.
// CodeConflict if its identifier or one of its scope names is taken (by
// another API, or a built-in scope).
func (db *DB) CreateAPI(ctx context.Context, a *keysmith.API) error {
	return db.write(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO apis (id, name, identifier, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5)`, a.ID, a.Name, a.Identifier, micros(a.CreatedAt), micros(a.UpdatedAt))
		if db.dialect.isUniqueViolation(err) {
			return keysmith.Errorf(keysmith.CodeConflict, "an API with identifier %q exists already", a.Identifier)
		}
		if err != nil {
			return err
		}
		if err := tx.insertScopes(a.ID, a.Scopes); err != nil {
			return err
		}
		return tx.record(keysmith.EventAPICreated, apiDetails(a), keysmith.APIRef(a))
	})
}

// insertScopes adds an API's scopes, in its order. CodeConflict when a
// name is a built-in scope or another API's.
func (tx *txn) insertScopes(apiID string, scopes []keysmith.Scope) error {
	for i, s := range scopes {
		if err := tx.insertScopeAt(apiID, s, i); err != nil {
			return err
		}
	}
	return nil
}

// insertScopeAt adds one scope of an API at position i.
func (tx *txn) insertScopeAt(apiID string, s keysmith.Scope, i int) error {
	if _, ok := keysmith.BuiltinScope(s.Name); ok {
		return keysmith.Errorf(keysmith.CodeConflict, "scope %q is built in (an OpenID Connect scope); choose another name", s.Name)
	}
	self := 0
	if s.SelfService {
		self = 1
	}
	_, err := tx.ExecContext(tx.ctx, `INSERT INTO api_scopes (name, api_id, description, self_service, position)
		VALUES ($1, $2, $3, $4, $5)`, s.Name, apiID, s.Description, self, i)
	if tx.db.dialect.isUniqueViolation(err) {
		return keysmith.Errorf(keysmith.CodeConflict, "scope %q is registered already (scope names are unique across all APIs)", s.Name)
	}
	return err
}

// apiDetails is what an API's events say about it.
func apiDetails(a *keysmith.API) map[string]any {
	names := make([]string, len(a.Scopes))
	for i, s := range a.Scopes {
		names[i] = s.Name
	}
	return map[string]any{"identifier": a.Identifier, "scopes": names}
}

const apiColumns = `id, name, identifier, created_at, updated_at`

func scanAPI(row interface{ Scan(...any) error }) (*keysmith.API, error) {
	var a keysmith.API
	var created, updated int64
	if err := row.Scan(&a.ID, &a.Name, &a.Identifier, &created, &updated); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	a.Scopes = []keysmith.Scope{}
	return &a, nil
}

// apiScopes reads the scopes of the APIs in byID, in each API's order.
func apiScopes(ctx context.Context, q querier, byID map[string]*keysmith.API) error {
	if len(byID) == 0 {
		return nil
	}
	where, args := "", []any{}
	if len(byID) == 1 {
		for id := range byID {
			where, args = ` WHERE api_id = $1`, []any{id}
		}
	}
	ss, err := queryAll(ctx, q, `SELECT name, description, self_service, api_id FROM api_scopes`+where+
		` ORDER BY api_id, position`, args, scanScope)
	if err != nil {
		return err
	}
	for _, s := range ss {
		if a := byID[s.APIID]; a != nil {
			a.Scopes = append(a.Scopes, s)
		}
	}
	return nil
}

// FindAPIs returns every API with its scopes, by name. APIs are few (one
// per resource server), so the list is not paged.
func (db *DB) FindAPIs(ctx context.Context) ([]*keysmith.API, error) {
	out, err := queryAll(ctx, db.sql, `SELECT `+apiColumns+` FROM apis ORDER BY name, id`, nil, scanAPI)
	if err != nil {
		return nil, db.mapError(err)
	}
	byID := make(map[string]*keysmith.API, len(out))
	for _, a := range out {
		byID[a.ID] = a
	}
	if err := apiScopes(ctx, db.sql, byID); err != nil {
		return nil, db.mapError(err)
	}
	return nonNil(out), nil
}

// FindAPIByID returns an API with its scopes in order. CodeNotFound if
// there is none.
func (db *DB) FindAPIByID(ctx context.Context, id string) (*keysmith.API, error) {
	a, err := findAPI(ctx, db.sql, id)
	return a, db.mapError(err)
}

type rowQuerier interface {
	querier
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func findAPI(ctx context.Context, q rowQuerier, id string) (*keysmith.API, error) {
	a, err := scanAPI(q.QueryRowContext(ctx, `SELECT `+apiColumns+` FROM apis WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "API %q not found", id)
	}
	if err != nil {
		return nil, err
	}
	return a, apiScopes(ctx, q, map[string]*keysmith.API{a.ID: a})
}

// UpdateAPI applies u and records api.updated. Scopes u leaves out are
// deleted: CodeConflict, naming the credentials, while one names them.
// CodeNotFound if there is no such API, CodeConflict if the identifier or a
// new scope name is taken, or the identifier changes while live clients
// have it as their audience.
func (db *DB) UpdateAPI(ctx context.Context, id string, u keysmith.APIUpdate) (*keysmith.API, error) {
	var a *keysmith.API
	err := db.write(ctx, func(tx *txn) error {
		if err := tx.lockAPI(id); err != nil {
			return err
		}
		var err error
		if a, err = findAPI(ctx, tx, id); err != nil {
			return err
		}
		if u.Identifier != nil && *u.Identifier != a.Identifier {
			if err := tx.audienceUnused(a); err != nil {
				return err
			}
			a.Identifier = *u.Identifier
		}
		if u.Name != nil {
			a.Name = *u.Name
		}
		if next := u.ScopeList(); u.Scopes != nil {
			if err := tx.replaceScopes(a, next); err != nil {
				return err
			}
			a.Scopes = next
			for i := range a.Scopes {
				a.Scopes[i].APIID = a.ID
			}
		}
		a.UpdatedAt = db.now()
		_, err = tx.ExecContext(ctx, `UPDATE apis SET name = $1, identifier = $2, updated_at = $3 WHERE id = $4`,
			a.Name, a.Identifier, micros(a.UpdatedAt), id)
		if db.dialect.isUniqueViolation(err) {
			return keysmith.Errorf(keysmith.CodeConflict, "an API with identifier %q exists already", a.Identifier)
		}
		if err != nil {
			return err
		}
		d := apiDetails(a)
		d["name"] = a.Name
		return tx.record(keysmith.EventAPIUpdated, d, keysmith.APIRef(a))
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// replaceScopes makes next the scopes of a: the scopes it drops are
// deleted (refused while a credential names one), the others updated in
// place, so the grants of the ones kept stay.
func (tx *txn) replaceScopes(a *keysmith.API, next []keysmith.Scope) error {
	var dropped []string
	for _, s := range a.Scopes {
		if !slices.ContainsFunc(next, func(n keysmith.Scope) bool { return n.Name == s.Name }) {
			dropped = append(dropped, s.Name)
		}
	}
	if err := tx.scopesUnused(dropped); err != nil {
		return err
	}
	for _, name := range dropped {
		if _, err := tx.ExecContext(tx.ctx, `DELETE FROM api_scopes WHERE name = $1`, name); err != nil {
			return err
		}
	}
	var added []keysmith.Scope
	for i, s := range next {
		if !slices.ContainsFunc(a.Scopes, func(o keysmith.Scope) bool { return o.Name == s.Name }) {
			added = append(added, s)
			continue
		}
		self := 0
		if s.SelfService {
			self = 1
		}
		if _, err := tx.ExecContext(tx.ctx, `UPDATE api_scopes SET description = $1, self_service = $2, position = $3
			WHERE name = $4`, s.Description, self, i, s.Name); err != nil {
			return err
		}
	}
	for _, s := range added {
		i := slices.IndexFunc(next, func(n keysmith.Scope) bool { return n.Name == s.Name })
		if err := tx.insertScopeAt(a.ID, s, i); err != nil {
			return err
		}
	}
	return nil
}

// DeleteAPI deletes an API and its scopes, and records api.deleted.
// CodeNotFound if there is none; CodeConflict, naming them, while a live
// credential names one of its scopes or a live client has its identifier
// as audience.
func (db *DB) DeleteAPI(ctx context.Context, id string) error {
	return db.write(ctx, func(tx *txn) error {
		if err := tx.lockAPI(id); err != nil {
			return err
		}
		a, err := findAPI(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := tx.audienceUnused(a); err != nil {
			return err
		}
		names := make([]string, len(a.Scopes))
		for i, s := range a.Scopes {
			names[i] = s.Name
		}
		if err := tx.scopesUnused(names); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_scopes WHERE api_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM apis WHERE id = $1`, id); err != nil {
			return err
		}
		return tx.record(keysmith.EventAPIDeleted, apiDetails(a), keysmith.APIRef(a))
	})
}

// lockAPI takes the row locks of an API and of its scopes (on PostgreSQL;
// SQLite serialises writers anyway), so that no credential can be given
// one of its scopes or its audience between the check that none is and the
// change. CodeNotFound if there is no such API.
func (tx *txn) lockAPI(id string) error {
	res, err := tx.ExecContext(tx.ctx, `UPDATE apis SET id = id WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return err
		}
		return keysmith.Errorf(keysmith.CodeNotFound, "API %q not found", id)
	}
	names, err := queryAll(tx.ctx, tx, `SELECT name FROM api_scopes WHERE api_id = $1 ORDER BY name`, []any{id}, scanString)
	if err != nil {
		return err
	}
	for _, n := range names { // one row per statement, in name order (see write)
		if _, err := tx.ExecContext(tx.ctx, `UPDATE api_scopes SET name = name WHERE name = $1`, n); err != nil {
			return err
		}
	}
	return nil
}

// scopesUnused returns CodeConflict, naming the credentials, if a live
// one names one of the scopes. Grants of revoked clients and tokens (which
// never work again) are dropped first.
func (tx *txn) scopesUnused(names []string) error {
	if len(names) == 0 {
		return nil
	}
	args := make([]any, len(names))
	marks := make([]string, len(names))
	for i, n := range names {
		args[i], marks[i] = n, "$"+strconv.Itoa(i+1)
	}
	in := `scope IN (` + strings.Join(marks, ", ") + `)`
	if _, err := tx.ExecContext(tx.ctx, `DELETE FROM scope_grants WHERE `+in+` AND (
		holder_id IN (SELECT id FROM oauth_clients WHERE revoked_at IS NOT NULL) OR
		holder_id IN (SELECT id FROM tokens WHERE revoked_at IS NOT NULL))`, args...); err != nil {
		return err
	}
	type use struct{ scope, holder string }
	uses, err := queryAll(tx.ctx, tx, `SELECT scope, holder_id FROM scope_grants WHERE `+in+`
		ORDER BY scope, holder_id LIMIT 101`, args, func(row scanner) (use, error) {
		var u use
		err := row.Scan(&u.scope, &u.holder)
		return u, err
	})
	if err != nil || len(uses) == 0 {
		return err
	}
	more := ""
	if len(uses) > 100 {
		uses, more = uses[:100], " and more"
	}
	var list []string
	for _, u := range uses {
		list = append(list, u.holder+" ("+u.scope+")")
	}
	return keysmith.Errorf(keysmith.CodeConflict, "scopes in use: credentials %s%s name them; take the scopes off them (or revoke them) first",
		strings.Join(list, ", "), more)
}

// audienceUnused returns CodeConflict, naming them, if live clients have
// a's identifier as their audience.
func (tx *txn) audienceUnused(a *keysmith.API) error {
	ids, err := queryAll(tx.ctx, tx, `SELECT id FROM oauth_clients WHERE audience = $1 AND revoked_at IS NULL
		ORDER BY id LIMIT 101`, []any{a.Identifier}, scanString)
	if err != nil || len(ids) == 0 {
		return err
	}
	more := ""
	if len(ids) > 100 {
		ids, more = ids[:100], " and more"
	}
	return keysmith.Errorf(keysmith.CodeConflict, "API %q is the audience of OAuth clients %s%s; change their audience (or revoke them) first",
		a.Identifier, strings.Join(ids, ", "), more)
}

// lockAudience checks that aud is "" or the identifier of an API, and
// takes that API's row lock so it cannot be deleted or renamed before the
// client naming it commits. CodeInvalid ("invalid_request") otherwise.
func (tx *txn) lockAudience(aud string) error {
	if aud == "" {
		return nil
	}
	res, err := tx.ExecContext(tx.ctx, `UPDATE apis SET identifier = identifier WHERE identifier = $1`, aud)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return err
		}
		return keysmith.UnknownAudience(aud)
	}
	return nil
}

// FindScopeGrants returns the registered scopes each of holderIDs was
// granted (scope_grants), by holder id, in name order.
func (db *DB) FindScopeGrants(ctx context.Context, holderIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(holderIDs))
	for rest := holderIDs; len(rest) > 0; {
		chunk := rest[:min(len(rest), 100)]
		rest = rest[len(chunk):]
		args := make([]any, len(chunk))
		marks := make([]string, len(chunk))
		for i, id := range chunk {
			args[i], marks[i] = id, "$"+strconv.Itoa(i+1)
		}
		type grant struct{ holder, scope string }
		gs, err := queryAll(ctx, db.sql, `SELECT holder_id, scope FROM scope_grants WHERE holder_id IN (`+
			strings.Join(marks, ", ")+`) ORDER BY holder_id, scope`, args, func(row scanner) (grant, error) {
			var g grant
			return g, row.Scan(&g.holder, &g.scope)
		})
		if err != nil {
			return nil, db.mapError(err)
		}
		for _, g := range gs {
			out[g.holder] = append(out[g.holder], g.scope)
		}
	}
	return out, nil
}
