package store

import (
	"context"
	"strconv"
	"strings"

	"github.com/keysmith/keysmith"
)

// FindScopes returns the registered scopes among names, by name: the
// built-in OpenID Connect scopes and the scopes of every API. A name
// missing from the map is not registered.
func (db *DB) FindScopes(ctx context.Context, names []string) (map[string]keysmith.Scope, error) {
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
		ss, err := queryAll(ctx, db.sql, `SELECT name, description, self_service, api_id FROM api_scopes
			WHERE name IN (`+strings.Join(marks, ", ")+`)`, args, scanScope)
		if err != nil {
			return nil, db.mapError(err)
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
func (tx *txn) grantScopes(holderID string, scopes []string) error {
	if _, err := tx.ExecContext(tx.ctx, `DELETE FROM scope_grants WHERE holder_id = $1`, holderID); err != nil {
		return err
	}
	for _, name := range scopes {
		if _, ok := keysmith.BuiltinScope(name); ok {
			continue
		}
		res, err := tx.ExecContext(tx.ctx, `UPDATE api_scopes SET name = name WHERE name = $1`, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return &keysmith.Error{Code: keysmith.CodeInvalid, Reason: "invalid_scope",
				Message: `scope "` + name + `" is not registered: register it under an API first (POST /v1/apis)`}
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
		if err != nil {
			return err
		}
	}
	return nil
}

// apiDetails is what an API's events say about it.
func apiDetails(a *keysmith.API) map[string]any {
	names := make([]string, len(a.Scopes))
	for i, s := range a.Scopes {
		names[i] = s.Name
	}
	return map[string]any{"identifier": a.Identifier, "scopes": names}
}
