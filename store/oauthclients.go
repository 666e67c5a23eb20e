package store

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

const clientColumns = `id, name, app_id, owner_id, environment, scopes, grant_types, token_ttl, token_format,
	audience, created_at, created_by, revoked_at, revoked_by, redirect_uris, post_logout_redirect_uris,
	token_endpoint_auth_method, pkce_required, pkce_allow_plain, first_party, refresh_token_ttl, refresh_token_idle_ttl,
	key_manager_id, external_client_id, registration_uri, registration_token_sealed`

func scanClient(row interface{ Scan(...any) error }) (*keysmith.Client, error) {
	var c keysmith.Client
	var scopes, grants, redirects, logouts string
	var ttl, created, pkce, plain, first, rttl, ridle int64
	var revoked sql.NullInt64
	err := row.Scan(&c.ID, &c.Name, &c.AppID, &c.OwnerID, &c.Environment, &scopes, &grants, &ttl, &c.TokenFormat,
		&c.Audience, &created, &c.CreatedBy, &revoked, &c.RevokedBy, &redirects, &logouts,
		&c.TokenEndpointAuthMethod, &pkce, &plain, &first, &rttl, &ridle,
		&c.KeyManagerID, &c.ExternalClientID, &c.RegistrationURI, &c.RegistrationTokenSealed)
	if err != nil {
		return nil, err
	}
	c.RedirectURIs, c.PostLogoutRedirectURIs = fieldsOrEmpty(redirects), fieldsOrEmpty(logouts)
	c.PKCERequired, c.PKCEAllowPlain, c.FirstParty = pkce != 0, plain != 0, first != 0
	c.RefreshTokenTTL, c.RefreshTokenIdleTTL = time.Duration(rttl)*time.Second, time.Duration(ridle)*time.Second
	c.Scopes, c.GrantTypes = strings.Fields(scopes), strings.Fields(grants)
	if c.Scopes == nil {
		c.Scopes = []string{}
	}
	c.TokenTTL = time.Duration(ttl) * time.Second
	if ttl < 0 {
		c.TokenTTL = -1
	}
	c.CreatedAt, c.RevokedAt = fromMicros(created), timePtr(revoked)
	return &c, nil
}

const secretColumns = `id, client_id, description, last4, created_at, expires_at`

func scanSecret(row interface{ Scan(...any) error }) (*keysmith.ClientSecret, error) {
	var s keysmith.ClientSecret
	var created int64
	var expires sql.NullInt64
	if err := row.Scan(&s.ID, &s.ClientID, &s.Description, &s.Last4, &created, &expires); err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(created), timePtr(expires)
	return &s, nil
}

// CreateClient stores a client and its first secret, and records both. A
// public client has no secret: s is nil.
func (db *DB) CreateClient(ctx context.Context, c *keysmith.Client, s *keysmith.ClientSecret, h keysmith.Hash) error {
	return db.write(ctx, func(tx *txn) error {
		// An external client's key manager's row first (DeleteKeyManager
		// takes it, then its clients'): a client registered while its
		// manager is deleted commits first (and is revoked with it) or
		// finds it gone.
		if c.KeyManagerID != "" {
			if err := tx.requireKeyManager(c.KeyManagerID); err != nil {
				return err
			}
		}
		// The application's row first, as DeleteApp and app keys take it:
		// a client created while its application is deleted commits first
		// (and is revoked with it) or finds it gone.
		if c.AppID != "" {
			if err := tx.lockAppOwnedBy(c.AppID, c.OwnerID); err != nil {
				return err
			}
		}
		ttl := int64(c.TokenTTL / time.Second)
		if c.TokenTTL < 0 {
			ttl = -1
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_clients (id, name, app_id, owner_id, environment, scopes,
			grant_types, token_ttl, token_format, audience, created_at, created_by, redirect_uris,
			post_logout_redirect_uris, token_endpoint_auth_method, pkce_required, pkce_allow_plain, first_party,
			refresh_token_ttl, refresh_token_idle_ttl, key_manager_id, external_client_id, registration_uri,
			registration_token_sealed)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
			$21, $22, $23, $24)`,
			c.ID, c.Name, c.AppID, c.OwnerID, string(c.Environment), strings.Join(c.Scopes, " "),
			strings.Join(c.GrantTypes, " "), ttl, string(c.TokenFormat), c.Audience, micros(c.CreatedAt), c.CreatedBy,
			strings.Join(c.RedirectURIs, " "), strings.Join(c.PostLogoutRedirectURIs, " "), authMethod(c),
			boolInt(c.PKCERequired), boolInt(c.PKCEAllowPlain), boolInt(c.FirstParty),
			int64(c.RefreshTokenTTL/time.Second), int64(c.RefreshTokenIdleTTL/time.Second),
			c.KeyManagerID, c.ExternalClientID, c.RegistrationURI, c.RegistrationTokenSealed)
		if db.dialect.isUniqueViolation(err) && c.KeyManagerID != "" {
			return keysmith.Errorf(keysmith.CodeConflict, "key manager %q has a client %q in Keysmith already", c.KeyManagerID, c.ExternalClientID)
		}
		if err != nil {
			return err
		}
		if err := tx.lockAudience(c.Audience); err != nil {
			return err
		}
		if err := tx.grantScopes(c.ID, sorted(c.Scopes)); err != nil {
			return err
		}
		tx.changed(keysmith.ChangeOAuthClient, c.ID)
		details := map[string]any{"app_id": c.AppID, "environment": c.Environment,
			"scopes": c.Scopes, "token_format": c.TokenFormat, "grant_types": c.GrantTypes,
			"token_endpoint_auth_method": c.TokenEndpointAuthMethod, "first_party": c.FirstParty}
		if c.KeyManagerID != "" {
			details["key_manager_id"], details["external_client_id"] = c.KeyManagerID, c.ExternalClientID
		}
		if err := tx.record(keysmith.EventClientCreated, details, keysmith.ClientRef(c)); err != nil {
			return err
		}
		if s == nil {
			return nil
		}
		return tx.insertSecret(s, h)
	})
}

func (tx *txn) insertSecret(s *keysmith.ClientSecret, h keysmith.Hash) error {
	_, err := tx.ExecContext(tx.ctx, `INSERT INTO oauth_client_secrets (id, client_id, hash, last4, description, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		s.ID, s.ClientID, h.String(), s.Last4, s.Description, micros(s.CreatedAt), nullMicros(s.ExpiresAt))
	if err != nil {
		return err
	}
	tx.changed(keysmith.ChangeOAuthClient, s.ClientID)
	return tx.record(keysmith.EventClientSecretCreated, map[string]any{"client_id": s.ClientID}, keysmith.SecretRef(s))
}

// FindClientByID returns a client. CodeNotFound if there is none.
func (db *DB) FindClientByID(ctx context.Context, id string) (*keysmith.Client, error) {
	c, err := scanClient(db.sql.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM oauth_clients WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "OAuth client %q not found", id)
	}
	return c, db.mapError(err)
}

// FindClients returns one page of clients, newest first.
func (db *DB) FindClients(ctx context.Context, f keysmith.ClientFilter) ([]*keysmith.Client, string, error) {
	var c conditions
	c.equal("app_id", f.AppID)
	c.equal("owner_id", f.OwnerID)
	return pageNewestFirst(ctx, db, `SELECT `+clientColumns+` FROM oauth_clients`, &c, f.Limit, f.Cursor, scanClient,
		func(cl *keysmith.Client) (time.Time, string) { return cl.CreatedAt, cl.ID })
}

// RevokeClient revokes a client and records the event; revoking a revoked
// client changes nothing.
func (db *DB) RevokeClient(ctx context.Context, id, revokedBy string) (*keysmith.Client, error) {
	var c *keysmith.Client
	err := db.write(ctx, func(tx *txn) error {
		var err error
		c, err = tx.lockClient(id)
		if err != nil || c.RevokedAt != nil {
			return err
		}
		return tx.revokeClient(c, revokedBy)
	})
	return c, err
}

func (tx *txn) lockClient(id string) (*keysmith.Client, error) {
	c, err := scanClient(tx.QueryRowContext(tx.ctx, `SELECT `+clientColumns+` FROM oauth_clients WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "OAuth client %q not found", id)
	}
	return c, err
}

func (tx *txn) revokeClient(c *keysmith.Client, revokedBy string) error {
	ok, err := tx.markClientRevoked(c, revokedBy)
	if err != nil || !ok {
		return err
	}
	return tx.recordClientRevoked(c)
}

// markClientRevoked revokes c's row, reporting whether it was live; the
// caller records the event with recordClientRevoked after its last row lock.
func (tx *txn) markClientRevoked(c *keysmith.Client, revokedBy string) (bool, error) {
	now := tx.db.now()
	res, err := tx.ExecContext(tx.ctx, `UPDATE oauth_clients SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL`,
		micros(now), revokedBy, c.ID)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	c.RevokedAt, c.RevokedBy = &now, revokedBy
	return true, tx.dropScopeGrants(c.ID)
}

// UpdateClient stores c, the client as a permitted change makes it, and
// records what changed. Scopes it adds must be registered; scopes the
// client named before and that are not registered (a client made before
// scopes were) may stay, and are still not issued.
func (db *DB) UpdateClient(ctx context.Context, c *keysmith.Client, scopesBefore []string) (*keysmith.Client, error) {
	var out *keysmith.Client
	err := db.write(ctx, func(tx *txn) error {
		// The row lock first, so that the client read is the one changed.
		if _, err := tx.ExecContext(ctx, `UPDATE oauth_clients SET revoked_by = revoked_by WHERE id = $1`, c.ID); err != nil {
			return err
		}
		old, err := tx.lockClient(c.ID)
		if err != nil {
			return err
		}
		if old.RevokedAt != nil {
			return keysmith.Errorf(keysmith.CodeConflict, "OAuth client %q is revoked; it cannot be changed", c.ID)
		}
		if !slices.Equal(old.Scopes, scopesBefore) {
			return keysmith.Errorf(keysmith.CodeConflict, "OAuth client %q had its scopes changed meanwhile; read it again and retry", c.ID)
		}
		if c.Audience != old.Audience {
			if err := tx.lockAudience(c.Audience); err != nil {
				return err
			}
		}
		granted, err := queryAll(ctx, tx, `SELECT scope FROM scope_grants WHERE holder_id = $1`, []any{c.ID}, scanString)
		if err != nil {
			return err
		}
		// A scope the client named before keeps its grant, or its lack of
		// one (a client's from before scopes were registered: naming it
		// gave no right to it); a new one is granted (an unregistered one
		// fails in grantScopes).
		var grant []string
		for _, n := range c.Scopes {
			if slices.Contains(granted, n) || !slices.Contains(old.Scopes, n) {
				grant = append(grant, n)
			}
		}
		if err := tx.grantScopes(c.ID, sorted(grant)); err != nil {
			return err
		}
		ttl := int64(c.TokenTTL / time.Second)
		if c.TokenTTL < 0 {
			ttl = -1
		}
		if _, err := tx.ExecContext(ctx, `UPDATE oauth_clients SET name = $1, scopes = $2, audience = $3, token_ttl = $4,
			grant_types = $5, redirect_uris = $6, post_logout_redirect_uris = $7, token_endpoint_auth_method = $8,
			pkce_required = $9, pkce_allow_plain = $10, first_party = $11, refresh_token_ttl = $12,
			refresh_token_idle_ttl = $13, registration_uri = $14, registration_token_sealed = $15 WHERE id = $16`, c.Name, strings.Join(c.Scopes, " "), c.Audience, ttl,
			strings.Join(c.GrantTypes, " "), strings.Join(c.RedirectURIs, " "), strings.Join(c.PostLogoutRedirectURIs, " "),
			authMethod(c), boolInt(c.PKCERequired), boolInt(c.PKCEAllowPlain), boolInt(c.FirstParty),
			int64(c.RefreshTokenTTL/time.Second), int64(c.RefreshTokenIdleTTL/time.Second),
			c.RegistrationURI, c.RegistrationTokenSealed, c.ID); err != nil {
			return err
		}
		// What the caller may change (keysmith.ClientUpdate); the rest
		// stays as it was read under the lock.
		updated := *old
		updated.Name, updated.Scopes, updated.Audience, updated.TokenTTL = c.Name, slices.Clone(c.Scopes), c.Audience, c.TokenTTL
		updated.GrantTypes, updated.RedirectURIs = slices.Clone(c.GrantTypes), slices.Clone(c.RedirectURIs)
		updated.PostLogoutRedirectURIs, updated.TokenEndpointAuthMethod = slices.Clone(c.PostLogoutRedirectURIs), authMethod(c)
		updated.PKCERequired, updated.PKCEAllowPlain, updated.FirstParty = c.PKCERequired, c.PKCEAllowPlain, c.FirstParty
		updated.RefreshTokenTTL, updated.RefreshTokenIdleTTL = c.RefreshTokenTTL, c.RefreshTokenIdleTTL
		updated.RegistrationURI, updated.RegistrationTokenSealed = c.RegistrationURI, c.RegistrationTokenSealed
		out = &updated
		tx.changed(keysmith.ChangeOAuthClient, c.ID)
		return tx.record(keysmith.EventClientUpdated, keysmith.ClientUpdated(old, out), keysmith.ClientRef(out))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

func (tx *txn) recordClientRevoked(c *keysmith.Client) error {
	tx.changed(keysmith.ChangeOAuthClient, c.ID)
	return tx.record(keysmith.EventClientRevoked, map[string]any{"app_id": c.AppID}, keysmith.ClientRef(c))
}

// CreateClientSecret adds a secret to a client of ownerID, refusing
// (CodeConflict) beyond max secrets unexpired at now, or beyond
// keysmith.StoredSecretsPerMax times max secrets kept, expired ones included.
func (db *DB) CreateClientSecret(ctx context.Context, ownerID string, s *keysmith.ClientSecret, h keysmith.Hash, max int,
	now time.Time) error {
	return db.write(ctx, func(tx *txn) error {
		// The client's row lock first (it serialises concurrent additions
		// on PostgreSQL, so the count below is exact, and waits for a
		// transfer of its application), then the client as it now is.
		c, err := tx.lockClientOf(s.ClientID, ownerID)
		if err != nil {
			return err
		}
		var n, all int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN expires_at IS NULL OR expires_at > $2 THEN 1 ELSE 0 END), 0)
			FROM oauth_client_secrets WHERE client_id = $1`, c.ID, micros(now)).Scan(&all, &n); err != nil {
			return err
		}
		if n >= max {
			return keysmith.Errorf(keysmith.CodeConflict,
				"OAuth client %q holds %d unexpired secrets, the most allowed; delete one (or reset them) first", c.ID, n)
		}
		// Expired secrets do not count towards max, but they are kept
		// (and listed, and read by every token request) until deleted:
		// bound them too.
		if all >= keysmith.StoredSecretsPerMax*max {
			return keysmith.Errorf(keysmith.CodeConflict,
				"OAuth client %q keeps %d secrets, expired ones included, the most allowed; delete expired secrets first", c.ID, all)
		}
		return tx.insertSecret(s, h)
	})
}

// lockClientOf takes client id's row lock and returns it as it is under the
// lock: CodeNotFound if there is none; CodeConflict if it is revoked, or
// if its owner is no longer ownerID (its application was transferred since
// the caller's permission was checked).
func (tx *txn) lockClientOf(id, ownerID string) (*keysmith.Client, error) {
	if _, err := tx.ExecContext(tx.ctx, `UPDATE oauth_clients SET revoked_by = revoked_by WHERE id = $1`, id); err != nil {
		return nil, err
	}
	c, err := tx.lockClient(id)
	if err != nil {
		return nil, err
	}
	if c.RevokedAt != nil {
		return nil, keysmith.Errorf(keysmith.CodeConflict, "OAuth client %q is revoked; it takes no new secrets", c.ID)
	}
	if c.OwnerID != ownerID {
		return nil, keysmith.Errorf(keysmith.CodeConflict,
			"OAuth client %q changed owner meanwhile (its application was transferred); read it again", c.ID)
	}
	return c, nil
}

// FindClientSecrets lists a client's secrets, oldest first.
func (db *DB) FindClientSecrets(ctx context.Context, clientID string) ([]*keysmith.ClientSecret, error) {
	out, err := queryAll(ctx, db.sql, `SELECT `+secretColumns+` FROM oauth_client_secrets WHERE client_id = $1
		ORDER BY created_at, id`, []any{clientID}, scanSecret)
	if err != nil {
		return nil, db.mapError(err)
	}
	return nonNil(out), nil
}

// DeleteClientSecret deletes one secret and records the event.
func (db *DB) DeleteClientSecret(ctx context.Context, clientID, secretID string) error {
	return db.write(ctx, func(tx *txn) error {
		s, err := scanSecret(tx.QueryRowContext(ctx, `SELECT `+secretColumns+` FROM oauth_client_secrets
			WHERE id = $1 AND client_id = $2`, secretID, clientID))
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeNotFound, "secret %q of OAuth client %q not found", secretID, clientID)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_client_secrets WHERE id = $1`, secretID); err != nil {
			return err
		}
		tx.changed(keysmith.ChangeOAuthClient, clientID)
		return tx.record(keysmith.EventClientSecretDeleted, map[string]any{"client_id": clientID}, keysmith.SecretRef(s))
	})
}

// ResetClientSecrets replaces every secret of the client of ownerID with s.
func (db *DB) ResetClientSecrets(ctx context.Context, ownerID string, s *keysmith.ClientSecret, h keysmith.Hash) error {
	return db.write(ctx, func(tx *txn) error {
		c, err := tx.lockClientOf(s.ClientID, ownerID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM oauth_client_secrets WHERE client_id = $1`, c.ID)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if err := tx.record(keysmith.EventClientSecretsReset, map[string]any{"deleted_secrets": n},
			keysmith.ClientRef(c)); err != nil {
			return err
		}
		return tx.insertSecret(s, h)
	})
}

// FindClientSecretChecks returns the hashes that authenticate a client.
func (db *DB) FindClientSecretChecks(ctx context.Context, clientID string) ([]keysmith.SecretCheck, error) {
	type stored struct {
		id, hash string
		expires  sql.NullInt64
	}
	rows, err := queryAll(ctx, db.sql, `SELECT id, hash, expires_at FROM oauth_client_secrets WHERE client_id = $1`, []any{clientID},
		func(row scanner) (stored, error) {
			var s stored
			err := row.Scan(&s.id, &s.hash, &s.expires)
			return s, err
		})
	if err != nil {
		return nil, db.mapError(err)
	}
	var out []keysmith.SecretCheck
	for _, s := range rows {
		h, ok := keysmith.ParseHash(s.hash)
		if !ok {
			continue // not a hash we wrote: authenticates nothing
		}
		out = append(out, keysmith.SecretCheck{SecretID: s.id, Hash: h, ExpiresAt: timePtr(s.expires)})
	}
	return out, nil
}

// unregisteredScopesKey is the settings row that says the clients' unregistered
// scopes were recorded.
const unregisteredScopesKey = "unregistered_scopes_recorded"

// RecordUnregisteredScopes records oauth_client.scopes_unregistered for
// every live client that names scopes no API registers, once per database:
// the marker row and the events are written in one transaction, and a
// replica that starts at the same moment waits on the marker's insert and
// then finds it there.
func (db *DB) RecordUnregisteredScopes(ctx context.Context) (int, error) {
	n := 0
	err := db.write(ctx, func(tx *txn) error {
		n = 0
		res, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, 'true', $2, '')
			ON CONFLICT (key) DO NOTHING`, unregisteredScopesKey, micros(db.now()))
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil || k == 0 {
			return err
		}
		clients, err := queryAll(ctx, tx, `SELECT `+clientColumns+` FROM oauth_clients WHERE revoked_at IS NULL
			ORDER BY id`, nil, scanClient)
		if err != nil {
			return err
		}
		for _, c := range clients {
			registered, err := findScopes(ctx, tx, c.Scopes)
			if err != nil {
				return err
			}
			var missing []string
			for _, s := range c.Scopes {
				if _, ok := registered[s]; !ok {
					missing = append(missing, s)
				}
			}
			if len(missing) == 0 {
				continue
			}
			if err := tx.record(keysmith.EventClientScopesUnregistered, map[string]any{"scopes": missing},
				keysmith.ClientRef(c)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, db.mapError(err)
}

func fieldsOrEmpty(s string) []string {
	if f := strings.Fields(s); f != nil {
		return f
	}
	return []string{}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// authMethod is the client's token endpoint authentication method,
// client_secret_basic when unset (clients from before it existed).
func authMethod(c *keysmith.Client) string {
	if c.TokenEndpointAuthMethod == "" {
		return keysmith.AuthSecretBasic
	}
	return c.TokenEndpointAuthMethod
}
