package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// signingKeys lists the signing keys through the API.
func signingKeys(t *testing.T, s *apptest.Server, token string) []map[string]any {
	t.Helper()
	r := s.Do("GET", "/v1/signing-keys", token, nil).Want(t, http.StatusOK)
	var out []map[string]any
	for _, it := range r.Body["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// TestSigningKeysAPI: a super admin lists and rotates the JWT signing keys
// over HTTP; the new key is published and signs, tokens of the old one still
// verify, the rotation is in the system log under the admin's name, and
// nobody else may do either.
func TestSigningKeysAPI(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		c := newClient(t, s, admin, map[string]any{})
		old := accessToken(t, s, c)
		_, oldHdr := verifyJWT(t, s, old)

		keys := signingKeys(t, s, admin)
		if len(keys) != 1 || keys[0]["kid"] != oldHdr.KeyID || keys[0]["status"] != "active" || keys[0]["retired_at"] != nil ||
			keys[0]["algorithm"] != "ES256" {
			t.Fatalf("keys before the rotation: %v", keys)
		}
		jwk := keys[0]["public_jwk"].(map[string]any)
		if jwk["kid"] != oldHdr.KeyID || jwk["kty"] != "EC" || jwk["d"] != nil {
			t.Errorf("public_jwk: %v", jwk)
		}

		s.Clock.Advance(time.Second) // newest first is by creation time
		r := s.Do("POST", "/v1/signing-keys/rotate", admin, map[string]any{"alg": "EdDSA"}).Want(t, http.StatusOK)
		kid := r.String("kid")
		if kid == "" || kid == oldHdr.KeyID || r.String("algorithm") != "EdDSA" || r.String("status") != "active" {
			t.Fatalf("rotate answered %s", r.Raw)
		}
		if strings.Contains(string(r.Raw), `"d"`) || strings.Contains(string(r.Raw), "private") {
			t.Errorf("rotate answered private material: %s", r.Raw)
		}
		jwks := s.Do("GET", "/.well-known/jwks.json", "", nil).Want(t, http.StatusOK)
		if !strings.Contains(string(jwks.Raw), kid) || !strings.Contains(string(jwks.Raw), oldHdr.KeyID) {
			t.Errorf("JWKS after the rotation lacks a key: %s", jwks.Raw)
		}
		if _, hdr := verifyJWT(t, s, accessToken(t, s, c)); hdr.KeyID != kid {
			t.Errorf("a new token is signed by %s, want the new key %s", hdr.KeyID, kid)
		}
		verifyJWT(t, s, old) // a token signed before still verifies
		if in := introspect(t, s, c, old); in.Body["active"] != true {
			t.Errorf("token of the retired key: %s", in.Raw)
		}
		keys = signingKeys(t, s, admin)
		if len(keys) != 2 || keys[0]["kid"] != kid || keys[1]["kid"] != oldHdr.KeyID || keys[1]["status"] != "retired" ||
			keys[1]["retired_at"] == nil {
			t.Errorf("keys after the rotation: %v", keys)
		}

		// Without a body: the algorithm of the key signing now.
		s.Clock.Advance(time.Second)
		if r := s.Do("POST", "/v1/signing-keys/rotate", admin, nil).Want(t, http.StatusOK); r.String("algorithm") != "EdDSA" {
			t.Errorf("rotate without alg: %s", r.Raw)
		}
		s.Do("POST", "/v1/signing-keys/rotate", admin, map[string]any{"alg": "HS256"}).Want(t, http.StatusBadRequest)
		s.Do("POST", "/v1/signing-keys/rotate", admin, map[string]any{"kid": "mine"}).Want(t, http.StatusBadRequest)
		if n := len(signingKeys(t, s, admin)); n != 3 {
			t.Errorf("%d keys after two rotations and two refusals, want 3", n)
		}
		logs := s.Do("GET", "/v1/logs?type=signing_key.rotated", admin, nil).Want(t, http.StatusOK)
		evs, _ := logs.Body["items"].([]any)
		if len(evs) != 2 {
			t.Fatalf("signing_key.rotated events: %s", logs.Raw)
		}
		if actor, _ := evs[0].(map[string]any)["actor"].(map[string]any); actor["id"] != s.AdminID {
			t.Errorf("rotation recorded with actor %v, want the admin %s", actor, s.AdminID)
		}

		// Only super admins.
		_, org := s.AddUser(keysmith.RoleOrgAdmin, "")
		s.Do("GET", "/v1/signing-keys", org, nil).Want(t, http.StatusForbidden)
		s.Do("POST", "/v1/signing-keys/rotate", org, nil).Want(t, http.StatusForbidden)

		// A super admin's browser session proves the password again first.
		const pw = "a super admin's password"
		s.Do("POST", "/v1/users", admin, map[string]any{"email": "root@example.com", "name": "Root", "role": "super_admin",
			"type": "person", "password": pw}).Want(t, http.StatusCreated)
		cookie := signIn(t, s, "root@example.com", pw)
		s.Clock.Advance(keysmith.DefaultReauthWindow + time.Minute)
		if r := withCookie(t, s, cookie, "POST", "/v1/signing-keys/rotate", nil, nil).Want(t, http.StatusUnauthorized); r.String("error") != keysmith.ReasonReauthenticationRequired {
			t.Errorf("stale session rotating: %s", r.Raw)
		}
		withCookie(t, s, cookie, "GET", "/v1/signing-keys", nil, nil).Want(t, http.StatusOK)

		if strings.HasPrefix(dsn, "postgres") {
			// Another replica publishes a key rotated on this one.
			b := apptest.StartReplica(t, s, app.Config{})
			kid := s.Do("POST", "/v1/signing-keys/rotate", admin, nil).Want(t, http.StatusOK).String("kid")
			waitFor(t, "the replica to publish the new key", func() bool {
				return strings.Contains(string(b.Do("GET", "/.well-known/jwks.json", "", nil).Want(t, http.StatusOK).Raw), kid)
			})
		}
	})
}
