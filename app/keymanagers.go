package app

import (
	"github.com/keysmith/keysmith/httpapi"
	"github.com/keysmith/keysmith/keymanager"
	"github.com/keysmith/keysmith/ratelimit"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/verify"
)

// verifyExternal makes verify, forward auth and introspection accept the
// tokens of enabled external key managers: a keymanager.Verifier over the
// store's key managers and clients, opening their sealed secrets with the
// master key, calling out through h, and bounding introspection calls per
// address with the same limiter and limits as verify's lookups. Until the
// store implements keymanager.Source it is left out (External stays nil,
// and unknown tokens are answered as before).
func (c *Config) verifyExternal(db *store.DB, api *httpapi.Server, h *keymanager.HTTP, v *verify.Verifier, limiter ratelimit.Limiter) error {
	src, ok := any(db).(keymanager.Source)
	if !ok {
		return nil
	}
	key, err := c.masterKey(db)
	if err != nil {
		return err
	}
	api.External = keymanager.NewVerifier(src, key, h, keymanager.VerifierOptions{Now: c.Now, Log: c.Log,
		Limiter: limiter, Limits: v.Limits})
	return nil
}
