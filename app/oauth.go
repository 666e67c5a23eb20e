package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/store"
)

// DefaultKeyRotation is how often the signing key is replaced by default.
const DefaultKeyRotation = 90 * 24 * time.Hour

// MasterKeyFile is where the master key is kept for an SQLite database
// without KEYSMITH_MASTER_KEY: beside the database, with ".key" appended.
func MasterKeyFile(db string) string {
	return strings.TrimPrefix(strings.TrimPrefix(db, "sqlite://"), "sqlite:") + ".key"
}

// masterKey finds the key that seals the private signing keys: the
// configured one, else (SQLite only) the key file beside the database,
// created with a new key on first start. PostgreSQL serves several replicas,
// which must share one key, so there it must be configured: a key made up
// per replica would lock the others out of the signing keys.
func (c *Config) masterKey(db *store.DB) (oauth.MasterKey, error) {
	if c.MasterKey != "" {
		k, err := oauth.ParseMasterKey(c.MasterKey)
		if err != nil {
			return k, fmt.Errorf("KEYSMITH_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	if db.Engine() != "sqlite" {
		return oauth.MasterKey{}, fmt.Errorf("KEYSMITH_MASTER_KEY is required with PostgreSQL: every replica must use the same key " +
			"to read the signing keys. Make one with `openssl rand -base64 32`, keep it in your secret store, and set it on every replica")
	}
	path := MasterKeyFile(c.DB)
	k, created, err := oauth.LoadOrCreateKeyFile(path)
	if err != nil {
		return k, err
	}
	if created {
		c.Log.Warn("created a master key file for the signing keys; back it up with the database, which is useless for JWTs without it", "path", path)
	}
	return k, nil
}

func (c *Config) openOAuth(ctx context.Context, db *store.DB) (*oauth.Authority, error) {
	key, err := c.masterKey(db)
	if err != nil {
		return nil, err
	}
	issuer := c.Issuer
	if issuer == "" {
		issuer = "http://" + c.Addr
	}
	return oauth.New(ctx, db, oauth.Options{Issuer: issuer, MasterKey: key, Algorithm: c.SigningAlg,
		RotationInterval: c.KeyRotation, Now: c.Now, Log: c.Log})
}
