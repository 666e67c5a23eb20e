package app

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
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

func (c *Config) openOAuth(ctx context.Context, db *store.DB) (*oauth.Authority, oauth.MasterKey, error) {
	key, err := c.masterKey(db)
	if err != nil {
		return nil, key, err
	}
	issuer, err := c.issuer(ctx, db)
	if err != nil {
		return nil, key, err
	}
	a, err := oauth.New(ctx, db, oauth.Options{Issuer: issuer, MasterKey: key, Algorithm: c.SigningAlg,
		RotationInterval: c.KeyRotation, Now: c.Now, Log: c.Log})
	return a, key, err
}

// checkIssuer refuses an issuer that is not an absolute http(s) URL: it is
// compared byte for byte with the iss of every token, and published as the
// base of the OAuth metadata.
func checkIssuer(iss string) error {
	if iss == "" {
		return nil
	}
	u, err := url.Parse(iss)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Errorf("--issuer %q: give the public URL Keysmith is reached at, like https://keysmith.example.com", iss)
	}
	return nil
}

// issuer decides the iss of access tokens once for every replica, so that a
// token from any replica is accepted by all: the first start stores it
// (from Issuer, or http:// and Addr), later starts read it, and Issuer
// replaces it. Replicas already running keep the one they started with.
func (c *Config) issuer(ctx context.Context, db *store.DB) (string, error) {
	iss := strings.TrimRight(c.Issuer, "/")
	switch {
	case c.ReadIssuerOnly:
		stored, err := db.Issuer(ctx)
		if stored != "" || err != nil || iss != "" {
			return cmp.Or(iss, stored), err
		}
		return "http://" + c.Addr, nil
	case iss == "":
		return db.InitIssuer(ctx, "http://"+c.Addr)
	}
	previous, err := db.SetIssuer(ctx, iss)
	if err != nil {
		return "", fmt.Errorf("store the issuer: %w", err)
	}
	if previous != "" && previous != iss {
		c.Log.Warn("--issuer replaces the stored issuer: tokens issued under the old one are no longer accepted; "+
			"replicas started from now on without --issuer use the new one, replicas already running keep the old one until they restart",
			"old", previous, "new", iss)
	}
	return iss, nil
}
