package store

import (
	"context"
	"time"

	"github.com/keysmith/keysmith"
)

// Placeholders until the store work of issue 17 lands.

var errTODO = keysmith.Errorf(keysmith.CodeInternal, "not implemented yet")

func (db *DB) CreateAuthorizationCode(ctx context.Context, c *keysmith.AuthorizationCode, h keysmith.Hash) error {
	return errTODO
}
func (db *DB) RedeemAuthorizationCode(ctx context.Context, h keysmith.Hash, now time.Time) (*keysmith.AuthorizationCode, error) {
	return nil, errTODO
}
func (db *DB) FindConsent(ctx context.Context, userID, clientID string) (*keysmith.Consent, error) {
	return nil, errTODO
}
func (db *DB) FindConsents(ctx context.Context, userID string) ([]*keysmith.Consent, error) {
	return nil, errTODO
}
func (db *DB) SaveConsent(ctx context.Context, c *keysmith.Consent) error       { return errTODO }
func (db *DB) RevokeConsent(ctx context.Context, userID, clientID string) error { return errTODO }
func (db *DB) CreateRefreshToken(ctx context.Context, t *keysmith.RefreshToken, h keysmith.Hash) error {
	return errTODO
}
func (db *DB) FindRefreshTokenByHash(ctx context.Context, h keysmith.Hash) (*keysmith.RefreshToken, error) {
	return nil, errTODO
}
func (db *DB) RotateRefreshToken(ctx context.Context, oldID string, next *keysmith.RefreshToken, h keysmith.Hash) error {
	return errTODO
}
func (db *DB) RevokeGrant(ctx context.Context, grantID, clientID, reason string) error {
	return errTODO
}
func (db *DB) RevokeUserGrants(ctx context.Context, userID string) error { return errTODO }
func (db *DB) PruneAuthorizations(ctx context.Context, before time.Time) (int64, error) {
	return 0, errTODO
}
