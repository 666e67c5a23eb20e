package store

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// The records of the authorization code flow: codes, consents, refresh
// tokens, and the revocation of grants (a code's exchange and every refresh
// and access token descending from it).

const codeColumns = `id, client_id, user_id, redirect_uri, scope, challenge, challenge_method, nonce, auth_time,
	created_at, expires_at, used_at`

func scanCode(row scanner) (*keysmith.AuthorizationCode, error) {
	var c keysmith.AuthorizationCode
	var authTime, created, expires int64
	var used sql.NullInt64
	err := row.Scan(&c.ID, &c.ClientID, &c.UserID, &c.RedirectURI, &c.Scope, &c.Challenge, &c.ChallengeMethod, &c.Nonce,
		&authTime, &created, &expires, &used)
	if err != nil {
		return nil, err
	}
	c.AuthTime, c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMicros(authTime), fromMicros(created), fromMicros(expires), timePtr(used)
	return &c, nil
}

// CreateAuthorizationCode stores a code under its hash. Nothing is recorded:
// issuing credentials to a signed-in person is not a change to the system.
func (db *DB) CreateAuthorizationCode(ctx context.Context, c *keysmith.AuthorizationCode, h keysmith.Hash) error {
	_, err := db.exec(ctx, `INSERT INTO oauth_codes (`+codeColumns+`, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		c.ID, c.ClientID, c.UserID, c.RedirectURI, c.Scope, c.Challenge, c.ChallengeMethod, c.Nonce,
		micros(c.AuthTime), micros(c.CreatedAt), micros(c.ExpiresAt), nullMicros(c.UsedAt), h.String())
	return db.mapError(err)
}

// FindAuthorizationCodeByHash returns a code, used or not. CodeNotFound if
// there is none.
func (db *DB) FindAuthorizationCodeByHash(ctx context.Context, h keysmith.Hash) (*keysmith.AuthorizationCode, error) {
	c, err := scanCode(db.sql.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM oauth_codes WHERE hash = $1`, h.String()))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "authorization code not found")
	}
	return c, db.mapError(err)
}

// RedeemAuthorizationCode marks the code whose secret hashes to h used at
// now, stores what its exchange issued in the same transaction, and
// returns the code. One conditional UPDATE marks it, so of concurrent
// redeemers exactly one succeeds, and a redeemer that finds it used finds
// the tokens of the first exchange committed (so revoking the grant
// revokes them). CodeNotFound if there is no such code; a code used before
// is returned together with CodeConflict. An expired code is redeemed like
// any other: the caller checks ExpiresAt before.
func (db *DB) RedeemAuthorizationCode(ctx context.Context, h keysmith.Hash, now time.Time, issued keysmith.GrantTokens) (*keysmith.AuthorizationCode, error) {
	var c *keysmith.AuthorizationCode
	var used bool
	err := db.write(ctx, func(tx *txn) error {
		var err error
		c, err = scanCode(tx.QueryRowContext(ctx, `UPDATE oauth_codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL
			RETURNING `+codeColumns, micros(now), h.String()))
		if err == nil {
			return tx.insertGrantTokens(issued)
		}
		if err != sql.ErrNoRows {
			return err
		}
		c, err = scanCode(tx.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM oauth_codes WHERE hash = $1`, h.String()))
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeNotFound, "authorization code not found")
		}
		used = err == nil
		return err
	})
	if err != nil {
		return nil, err
	}
	if used {
		return c, keysmith.Errorf(keysmith.CodeConflict, "authorization code %q was used before", c.ID)
	}
	return c, nil
}

// insertGrantTokens stores the tokens an exchange or refresh issued.
func (tx *txn) insertGrantTokens(t keysmith.GrantTokens) error {
	if t.Refresh != nil {
		if err := tx.insertRefreshToken(t.Refresh, t.RefreshHash); err != nil {
			return err
		}
	}
	if t.Access != nil {
		return tx.insertAccessToken(t.Access, t.AccessHash)
	}
	return nil
}

const consentColumns = `user_id, client_id, scopes, created_at, updated_at`

func scanConsent(row scanner) (*keysmith.Consent, error) {
	var c keysmith.Consent
	var scopes string
	var created, updated int64
	if err := row.Scan(&c.UserID, &c.ClientID, &scopes, &created, &updated); err != nil {
		return nil, err
	}
	c.Scopes, c.CreatedAt, c.UpdatedAt = fieldsOrEmpty(scopes), fromMicros(created), fromMicros(updated)
	return &c, nil
}

// FindConsent returns a person's consent to a client. CodeNotFound if none.
func (db *DB) FindConsent(ctx context.Context, userID, clientID string) (*keysmith.Consent, error) {
	c, err := scanConsent(db.sql.QueryRowContext(ctx, `SELECT `+consentColumns+` FROM oauth_consents
		WHERE user_id = $1 AND client_id = $2`, userID, clientID))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "no consent of user %q to OAuth client %q", userID, clientID)
	}
	return c, db.mapError(err)
}

// FindConsents returns a person's consents, the most recently given first
// (one per client: the list is as long as the clients they allowed).
func (db *DB) FindConsents(ctx context.Context, userID string) ([]*keysmith.Consent, error) {
	out, err := queryAll(ctx, db.sql, `SELECT `+consentColumns+` FROM oauth_consents WHERE user_id = $1
		ORDER BY updated_at DESC, client_id`, []any{userID}, scanConsent)
	if err != nil {
		return nil, db.mapError(err)
	}
	return nonNil(out), nil
}

// SaveConsent stores c, adding its scopes to those the person gave the
// client before (in their order, new ones after), and records
// oauth_consent.granted with the scopes it added. A consent that adds no
// scope only moves UpdatedAt, and records nothing. c is left as stored: its
// Scopes the union, its CreatedAt the first consent's. CodeNotFound if the
// client does not exist.
func (db *DB) SaveConsent(ctx context.Context, c *keysmith.Consent) error {
	return db.write(ctx, func(tx *txn) error {
		client, err := tx.lockClient(c.ClientID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO oauth_consents (`+consentColumns+`) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (user_id, client_id) DO NOTHING`,
			c.UserID, c.ClientID, strings.Join(c.Scopes, " "), micros(c.CreatedAt), micros(c.UpdatedAt))
		if err != nil {
			return err
		}
		added := c.Scopes
		if n, _ := res.RowsAffected(); n == 0 {
			// There was a consent: lock its row first, then read it as it is.
			if _, err := tx.ExecContext(ctx, `UPDATE oauth_consents SET updated_at = $1 WHERE user_id = $2 AND client_id = $3`,
				micros(c.UpdatedAt), c.UserID, c.ClientID); err != nil {
				return err
			}
			old, err := scanConsent(tx.QueryRowContext(ctx, `SELECT `+consentColumns+` FROM oauth_consents
				WHERE user_id = $1 AND client_id = $2`, c.UserID, c.ClientID))
			if err != nil {
				return err
			}
			added = nil
			for _, s := range c.Scopes {
				if !slices.Contains(old.Scopes, s) && !slices.Contains(added, s) {
					added = append(added, s)
				}
			}
			c.Scopes, c.CreatedAt = append(old.Scopes, added...), old.CreatedAt
			if len(added) > 0 {
				if _, err := tx.ExecContext(ctx, `UPDATE oauth_consents SET scopes = $1 WHERE user_id = $2 AND client_id = $3`,
					strings.Join(c.Scopes, " "), c.UserID, c.ClientID); err != nil {
					return err
				}
			}
		}
		if len(added) == 0 {
			return nil
		}
		return tx.record(keysmith.EventConsentGranted, map[string]any{"scopes": added},
			keysmith.ConsentRef(c), keysmith.ClientRef(client))
	})
}

// RevokeConsent deletes a person's consent to a client and revokes every
// grant of that person with that client (their refresh and access tokens),
// recording oauth_consent.revoked, then oauth_grant.revoked for each grant
// that had live tokens. CodeNotFound if there was no consent.
func (db *DB) RevokeConsent(ctx context.Context, userID, clientID string) error {
	return db.write(ctx, func(tx *txn) error {
		c, err := scanConsent(tx.QueryRowContext(ctx, `DELETE FROM oauth_consents WHERE user_id = $1 AND client_id = $2
			RETURNING `+consentColumns, userID, clientID))
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeNotFound, "no consent of user %q to OAuth client %q", userID, clientID)
		}
		if err != nil {
			return err
		}
		grants, err := tx.revokeGrantTokens(`user_id = $1 AND client_id = $2`, userID, clientID)
		if err != nil {
			return err
		}
		targets := []keysmith.Ref{keysmith.ConsentRef(c)}
		if client, err := tx.lockClient(clientID); err == nil {
			targets = append(targets, keysmith.ClientRef(client))
		}
		if err := tx.record(keysmith.EventConsentRevoked, map[string]any{"scopes": c.Scopes}, targets...); err != nil {
			return err
		}
		return tx.recordGrantsRevoked(grants, keysmith.GrantRevokedConsent)
	})
}

const refreshColumns = `id, grant_id, client_id, user_id, scope, auth_time, created_at, expires_at, idle_expires_at,
	used_at, revoked_at`

func scanRefreshToken(row scanner) (*keysmith.RefreshToken, error) {
	var t keysmith.RefreshToken
	var authTime, created, expires, idle int64
	var used, revoked sql.NullInt64
	err := row.Scan(&t.ID, &t.GrantID, &t.ClientID, &t.UserID, &t.Scope, &authTime, &created, &expires, &idle, &used, &revoked)
	if err != nil {
		return nil, err
	}
	t.AuthTime, t.CreatedAt, t.ExpiresAt = fromMicros(authTime), fromMicros(created), fromMicros(expires)
	t.IdleExpiresAt, t.UsedAt, t.RevokedAt = fromMicros(idle), timePtr(used), timePtr(revoked)
	return &t, nil
}

func (tx *txn) insertRefreshToken(t *keysmith.RefreshToken, h keysmith.Hash) error {
	_, err := tx.ExecContext(tx.ctx, `INSERT INTO oauth_refresh_tokens (`+refreshColumns+`, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		t.ID, t.GrantID, t.ClientID, t.UserID, t.Scope, micros(t.AuthTime), micros(t.CreatedAt), micros(t.ExpiresAt),
		micros(t.IdleExpiresAt), nullMicros(t.UsedAt), nullMicros(t.RevokedAt), h.String())
	return err
}

// CreateRefreshToken stores the first refresh token of a grant. Not
// recorded, like every credential issued to a signed-in person.
func (db *DB) CreateRefreshToken(ctx context.Context, t *keysmith.RefreshToken, h keysmith.Hash) error {
	return db.write(ctx, func(tx *txn) error { return tx.insertRefreshToken(t, h) })
}

// FindRefreshTokenByHash returns a refresh token, whatever its state (used,
// revoked, expired: the caller decides). CodeNotFound if none.
func (db *DB) FindRefreshTokenByHash(ctx context.Context, h keysmith.Hash) (*keysmith.RefreshToken, error) {
	t, err := scanRefreshToken(db.sql.QueryRowContext(ctx, `SELECT `+refreshColumns+` FROM oauth_refresh_tokens
		WHERE hash = $1`, h.String()))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "refresh token not found")
	}
	return t, db.mapError(err)
}

// RotateRefreshToken marks the token oldID used at issued.Refresh.CreatedAt
// and stores what the refresh issued (issued.Refresh in its place, and the
// access token), in one transaction. The mark is one conditional UPDATE
// (unused and unrevoked), so of concurrent rotations of one token exactly
// one succeeds; the others, and any rotation of a token used or revoked
// before (or unknown), get CodeConflict: a reuse, for which the caller
// revokes the grant, and then finds the winner's tokens committed.
// issued.Refresh must belong to the same grant (CodeInvalid).
func (db *DB) RotateRefreshToken(ctx context.Context, oldID string, issued keysmith.GrantTokens) error {
	next := issued.Refresh
	if next == nil {
		return keysmith.Errorf(keysmith.CodeInvalid, "a rotation needs the next refresh token")
	}
	return db.write(ctx, func(tx *txn) error {
		var grantID string
		err := tx.QueryRowContext(ctx, `UPDATE oauth_refresh_tokens SET used_at = $1
			WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL RETURNING grant_id`,
			micros(next.CreatedAt), oldID).Scan(&grantID)
		if err == sql.ErrNoRows {
			return keysmith.Errorf(keysmith.CodeConflict, "refresh token %q was used or revoked before", oldID)
		}
		if err != nil {
			return err
		}
		if grantID != next.GrantID {
			return keysmith.Errorf(keysmith.CodeInvalid, "refresh token %q is of another grant than its successor", oldID)
		}
		return tx.insertGrantTokens(issued)
	})
}

// RevokeGrant revokes every live refresh token of the grant and every
// unexpired access token issued under it, publishing each access token's
// change, and records oauth_grant.revoked with the reason and clientID.
// Revoking twice (or a grant with no live token) changes nothing and
// records nothing.
func (db *DB) RevokeGrant(ctx context.Context, grantID, clientID, reason string) error {
	if grantID == "" {
		return keysmith.Errorf(keysmith.CodeInvalid, "no grant id")
	}
	return db.write(ctx, func(tx *txn) error {
		grants, err := tx.revokeGrantTokens(`grant_id = $1`, grantID)
		if err != nil || len(grants) == 0 {
			return err
		}
		return tx.recordGrantsRevoked([]revokedGrant{{id: grantID, clientID: clientID}}, reason)
	})
}

// RevokeUserGrants revokes every grant of a person, as RevokeGrant does,
// with the reason keysmith.GrantRevokedUser. Its work is one statement per
// live token of the person (refresh tokens live while their grant does, at
// most the client's refresh token lifetime; access tokens until they
// expire), and one event per grant.
func (db *DB) RevokeUserGrants(ctx context.Context, userID string) error {
	return db.write(ctx, func(tx *txn) error {
		grants, err := tx.revokeUserGrants(userID)
		if err != nil {
			return err
		}
		return tx.recordGrantsRevoked(grants, keysmith.GrantRevokedUser)
	})
}

// revokeUserGrants revokes the tokens of every grant of userID and returns
// the grants changed; the caller records them after its last row lock.
func (tx *txn) revokeUserGrants(userID string) ([]revokedGrant, error) {
	if userID == "" {
		return nil, nil
	}
	return tx.revokeGrantTokens(`user_id = $1`, userID)
}

// revokedGrant is a grant whose tokens a revocation changed.
type revokedGrant struct{ id, clientID string }

// maxRevokePasses bounds revokeGrantTokens's passes (see there).
const maxRevokePasses = 10

// revokeGrantTokens revokes the live refresh tokens (neither used nor
// revoked) and the unexpired, unrevoked access tokens of grants that match
// cond (an SQL condition on user_id, client_id or grant_id with
// placeholders from $1, over args), and returns the grants of the tokens it
// revoked, in order of first appearance. It publishes a change per access
// token. Rows are locked one statement each in ascending id order (see
// write). A rotation committed while it waited leaves a new live refresh
// token that the first pass did not see: it looks again until a pass finds
// nothing.
func (tx *txn) revokeGrantTokens(cond string, args ...any) ([]revokedGrant, error) {
	now := tx.db.now()
	var grants []revokedGrant
	note := func(grantID, clientID string) {
		if !slices.ContainsFunc(grants, func(g revokedGrant) bool { return g.id == grantID }) {
			grants = append(grants, revokedGrant{id: grantID, clientID: clientID})
		}
	}
	type row struct{ id, grantID, clientID string }
	scanRow := func(r scanner) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.grantID, &x.clientID)
		return x, err
	}
	for pass := 0; pass < maxRevokePasses; pass++ {
		rows, err := queryAll(tx.ctx, tx, `SELECT id, grant_id, client_id FROM oauth_refresh_tokens WHERE `+cond+`
			AND used_at IS NULL AND revoked_at IS NULL ORDER BY id`, args, scanRow)
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			break
		}
		for _, r := range rows {
			res, err := tx.ExecContext(tx.ctx, `UPDATE oauth_refresh_tokens SET revoked_at = $1
				WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL`, micros(now), r.id)
			if err != nil {
				return nil, err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				note(r.grantID, r.clientID)
			}
		}
	}
	nowArg := "$" + strconv.Itoa(len(args)+1)
	rows, err := queryAll(tx.ctx, tx, `SELECT id, grant_id, client_id FROM oauth_tokens WHERE `+cond+`
		AND grant_id <> '' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > `+nowArg+`) ORDER BY id`,
		append(slices.Clone(args), micros(now)), scanRow)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		res, err := tx.ExecContext(tx.ctx, `UPDATE oauth_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
			micros(now), r.id)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			note(r.grantID, r.clientID)
			tx.changed(keysmith.ChangeAccessToken, r.id)
		}
	}
	return grants, nil
}

// recordGrantsRevoked records oauth_grant.revoked for each grant.
func (tx *txn) recordGrantsRevoked(grants []revokedGrant, reason string) error {
	for _, g := range grants {
		if err := tx.record(keysmith.EventGrantRevoked, map[string]any{"reason": reason, "client_id": g.clientID},
			keysmith.GrantRef(g.id, g.clientID)); err != nil {
			return err
		}
	}
	return nil
}

// PruneAuthorizations deletes the authorization codes that expired before
// the time, and the refresh tokens whose grant ended or that died unused
// (idle) before it, at most Options.BatchSize (default 500) rows per
// statement, each its own transaction, until none is left. Nothing is
// recorded. Callers pass a time some while ago: a code or refresh token
// presented again while its row is kept is recognised as reused.
func (db *DB) PruneAuthorizations(ctx context.Context, before time.Time) (int64, error) {
	batch := db.batch(defaultPruneBatch)
	var total int64
	for _, q := range []string{
		`DELETE FROM oauth_codes WHERE id IN (SELECT id FROM oauth_codes WHERE expires_at < $1 LIMIT $2)`,
		`DELETE FROM oauth_refresh_tokens WHERE id IN (SELECT id FROM oauth_refresh_tokens
			WHERE expires_at < $1 OR idle_expires_at < $1 LIMIT $2)`,
	} {
		for {
			res, err := db.exec(ctx, q, micros(before), batch)
			if err != nil {
				return total, db.mapError(err)
			}
			n, _ := res.RowsAffected()
			total += n
			if n < int64(batch) {
				break
			}
		}
	}
	return total, nil
}
