package app_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
	"golang.org/x/oauth2"
)

// TestEveryEventTypeIsRecorded drives every kind of change (and refusal)
// through the HTTP API, then requires each event type the domain declares to
// be in the system log with an actor and a message. A new event type fails
// this test until something here emits it.
func TestEveryEventTypeIsRecorded(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		// The admin token must outlive the 91 days skipped for pruning.
		s := apptest.Start(t, dsn, app.Config{LogRetention: 90 * 24 * time.Hour, TokenIdleTTL: 365 * 24 * time.Hour, AllowInsecureKeyManagers: true})
		admin := s.AdminToken
		const pw = "correct horse battery staple"

		// Users, sessions.
		u := s.Do("POST", "/v1/users", admin, map[string]any{"email": "ann@example.com", "name": "Ann",
			"role": "org_admin", "type": "person", "password": pw}).Want(t, http.StatusCreated)
		uid := u.String("id")
		s.Do("PATCH", "/v1/users/"+uid, admin, map[string]any{"name": "Ann B."}).Want(t, http.StatusOK)
		s.Do("PATCH", "/v1/users/"+uid, admin, map[string]any{"role": "read_only_admin"}).Want(t, http.StatusOK)
		s.Do("POST", "/v1/users/"+uid+"/deactivate", admin, nil).Want(t, http.StatusOK)
		s.Do("POST", "/v1/users/"+uid+"/activate", admin, nil).Want(t, http.StatusOK)
		s.Do("POST", "/v1/sessions", "", map[string]any{"email": "ann@example.com", "password": "wrong"}).Want(t, http.StatusUnauthorized)
		in := s.Do("POST", "/v1/sessions", "", map[string]any{"email": "ann@example.com", "password": pw}).Want(t, http.StatusCreated)
		var cookie string
		for _, c := range (&http.Response{Header: in.Header}).Cookies() {
			cookie = c.Name + "=" + c.Value
		}
		out, _ := http.NewRequest("DELETE", s.URL+"/v1/sessions/current", nil)
		out.Header.Set("Cookie", cookie)
		s.Send(out).Want(t, http.StatusNoContent)
		everywhere := signIn(t, s, "ann@example.com", pw)
		withCookie(t, s, everywhere, "POST", "/v1/sessions/reauthenticate", map[string]any{"password": pw}, nil).Want(t, http.StatusOK)
		withCookie(t, s, everywhere, "DELETE", "/v1/sessions", nil, nil).Want(t, http.StatusOK)
		_, code, err := s.App.Service.CreateSetupCode(t.Context(), s.AdminID)
		if err != nil {
			t.Fatal(err)
		}
		if r := postSetup(t, s, code.Reveal(), "the admin's new password"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("setup: status %d", r.StatusCode)
		}

		// Groups.
		g := s.Do("POST", "/v1/groups", admin, map[string]any{"name": "ops"}).Want(t, http.StatusCreated)
		gid := g.String("id")
		s.Do("PATCH", "/v1/groups/"+gid, admin, map[string]any{"name": "operations"}).Want(t, http.StatusOK)
		s.Do("PUT", "/v1/groups/"+gid+"/members/"+uid, admin, nil).Want(t, http.StatusNoContent)
		s.Do("DELETE", "/v1/groups/"+gid+"/members/"+uid, admin, nil).Want(t, http.StatusNoContent)
		s.Do("DELETE", "/v1/groups/"+gid, admin, nil).Want(t, http.StatusNoContent)

		// API tokens, zones, settings; a refusal.
		tid, _ := newToken(t, s, admin, "to change")
		s.Do("PATCH", "/v1/tokens/"+tid, admin, map[string]any{"rate_limit_percent": 20}).Want(t, http.StatusOK)
		s.Do("DELETE", "/v1/tokens/"+tid, admin, nil).Want(t, http.StatusNoContent)
		rid, _ := newToken(t, s, admin, "to rotate")
		s.Do("POST", "/v1/tokens/"+rid+"/rotate", admin, map[string]any{"grace_seconds": 60}).Want(t, http.StatusOK)
		ag := s.Do("POST", "/v1/agents", admin, map[string]any{"name": "ci runner", "kind": "ci"}).Want(t, http.StatusCreated)
		s.Do("POST", "/v1/agents/"+ag.String("id")+"/activate", admin, nil).Want(t, http.StatusOK)
		s.Do("POST", "/v1/agents/"+ag.String("id")+"/deactivate", admin, nil).Want(t, http.StatusOK)
		s.Do("DELETE", "/v1/agents/"+ag.String("id"), admin, nil).Want(t, http.StatusNoContent)
		s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "short-lived",
			"expires_at": s.Clock.Now().Add(time.Hour).Format(time.RFC3339)}).Want(t, http.StatusCreated)
		z := s.Do("POST", "/v1/zones", admin, map[string]any{"name": "office", "gateways": []string{"203.0.113.0/24"}}).Want(t, http.StatusCreated)
		s.Do("PATCH", "/v1/zones/"+z.String("id"), admin, map[string]any{"name": "head office"}).Want(t, http.StatusOK)
		s.Do("DELETE", "/v1/zones/"+z.String("id"), admin, nil).Want(t, http.StatusNoContent)
		o := s.Do("POST", "/v1/trusted-origins", admin, map[string]any{"origin": "https://app.example.com"}).Want(t, http.StatusCreated)
		s.Do("DELETE", "/v1/trusted-origins/"+o.String("id"), admin, nil).Want(t, http.StatusNoContent)
		kmp := apptest.NewDCRProvider(t)
		km := s.Do("POST", "/v1/key-managers", admin, map[string]any{"name": "partner", "type": "oidc", "issuer": kmp.Issuer}).Want(t, http.StatusCreated)
		s.Do("PATCH", "/v1/key-managers/"+km.String("id"), admin, map[string]any{"enabled": false}).Want(t, http.StatusOK)
		s.Do("DELETE", "/v1/key-managers/"+km.String("id"), admin, nil).Want(t, http.StatusNoContent)

		s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"tokens": 500}).Want(t, http.StatusOK)
		devID, dev := s.AddUser(keysmith.RoleDeveloper, "")
		s.Do("POST", "/v1/zones", dev, map[string]any{"name": "x", "gateways": []string{"10.0.0.0/8"}}).Want(t, http.StatusForbidden)

		// Applications, OAuth clients, secrets, access tokens, signing keys.
		a := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "Shop"}).Want(t, http.StatusCreated)
		appID := a.String("app_id")
		s.Do("PATCH", "/v1/apps/"+appID, admin, map[string]any{"description": "the shop"}).Want(t, http.StatusOK)
		// APIs and their scopes; changing a client.
		apiID, _ := registerScopes(t, s, "read")
		s.Do("PATCH", "/v1/apis/"+apiID, admin, map[string]any{"scopes": []map[string]any{{"name": "read"}, {"name": "gone"}}}).Want(t, http.StatusOK)
		s.Do("PATCH", "/v1/apis/"+apiID, admin, map[string]any{"name": "renamed"}).Want(t, http.StatusOK)
		other, _ := registerScopes(t, s, "other:scope")
		s.Do("DELETE", "/v1/apis/"+other, admin, nil).Want(t, http.StatusNoContent)
		c := newClient(t, s, admin, map[string]any{"app_id": appID, "scopes": []string{"read"}, "grant_types": []string{"client_credentials"}})
		s.Do("PATCH", "/v1/oauth/clients/"+c.ID, admin, map[string]any{"name": "renamed client"}).Want(t, http.StatusOK)
		// A client from before scopes were registered, noticed once at start.
		legacy := newClient(t, s, admin, map[string]any{"scopes": []string{"read"}})
		if _, err := s.App.Store.SQL().Exec(`UPDATE oauth_clients SET scopes = 'read unheard:of' WHERE id = $1`, legacy.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.App.Store.SQL().Exec(`DELETE FROM settings WHERE key = 'unregistered_scopes_recorded'`); err != nil {
			t.Fatal(err)
		}
		s = apptest.Restart(t, s, app.Config{LogRetention: 90 * 24 * time.Hour, TokenIdleTTL: 365 * 24 * time.Hour, AllowInsecureKeyManagers: true})
		sec := s.Do("POST", "/v1/oauth/clients/"+c.ID+"/secrets", admin, map[string]any{"description": "second"}).Want(t, http.StatusCreated)
		s.Do("DELETE", "/v1/oauth/clients/"+c.ID+"/secrets/"+sec.String("secret_id"), admin, nil).Want(t, http.StatusNoContent)
		reset := s.Do("POST", "/v1/oauth/clients/"+c.ID+"/secrets/reset", admin, nil).Want(t, http.StatusCreated)
		c.Secret = reset.String("client_secret")
		at := accessToken(t, s, c)
		postForm(t, s, "/v1/oauth/revoke", c.ID, c.Secret, "", url.Values{"token": {at}}).Want(t, http.StatusOK)

		// The code flow: a person consents, a code presented twice revokes
		// its grant, the person withdraws consent.
		spa := newCodeClient(t, s, keysmith.CreateClientInput{Scopes: []string{"openid"},
			RedirectURIs: []string{"http://127.0.0.1:9/cb"}, TokenEndpointAuthMethod: keysmith.AuthNone})
		verifier := oauth2.GenerateVerifier()
		spaCode := codeFor(t, s, uid, spa.config(s, "openid").AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		exchange(t, s, spa, spaCode, "http://127.0.0.1:9/cb", verifier).Want(t, http.StatusOK)
		exchange(t, s, spa, spaCode, "http://127.0.0.1:9/cb", verifier).Want(t, http.StatusBadRequest)
		if err := s.App.Store.RevokeConsent(t.Context(), uid, spa.ID); err != nil {
			t.Fatal(err)
		}
		s.Do("POST", "/v1/signing-keys/rotate", admin, nil).Want(t, http.StatusOK)
		s.Do("DELETE", "/v1/oauth/clients/"+c.ID, admin, nil).Want(t, http.StatusNoContent)

		// App API keys; the last is revoked with its application, one
		// expires.
		registerAPI(t, s, "every")
		kid, _ := newAppKey(t, s, admin, appID, map[string]any{"scopes": []string{"every:read"}})
		s.Do("PATCH", "/v1/apps/"+appID+"/keys/"+kid, admin, map[string]any{"scopes": []string{"every:admin"}}).Want(t, http.StatusOK)
		s.Do("POST", "/v1/apps/"+appID+"/keys/"+kid+"/rotate", admin, nil).Want(t, http.StatusOK)
		s.Do("DELETE", "/v1/apps/"+appID+"/keys/"+kid, admin, nil).Want(t, http.StatusNoContent)
		newAppKey(t, s, admin, appID, map[string]any{"expires_at": s.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
		s.Do("DELETE", "/v1/apps/"+appID, admin, nil).Want(t, http.StatusNoContent)
		newAppKey(t, s, admin, newApp(t, s, admin, "expiring"),
			map[string]any{"expires_at": s.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
		// An application handed to another owner, its credentials reset.
		moved := newApp(t, s, admin, "moved")
		newClient(t, s, admin, map[string]any{"app_id": moved})
		s.Do("POST", "/v1/apps/"+moved+"/transfer", admin, map[string]any{"owner_id": devID}).Want(t, http.StatusOK)
		// Dynamic client registration's initial access tokens.
		rt := s.Do("POST", "/v1/oauth/registration-tokens", admin, map[string]any{"app_id": moved, "environment": "sandbox"}).Want(t, http.StatusCreated)
		s.Do("DELETE", "/v1/oauth/registration-tokens/"+rt.String("id"), admin, nil).Want(t, http.StatusNoContent)

		// Expiry is noticed by the maintenance sweep.
		s.Clock.Advance(2 * time.Hour)
		if err := s.App.Maintain(t.Context()); err != nil {
			t.Fatal(err)
		}

		check := func(typ keysmith.EventType) {
			t.Helper()
			items, _ := logs(t, s, admin, url.Values{"type": {string(typ)}, "limit": {"1"}})
			if len(items) == 0 {
				t.Errorf("no %s event in the system log", typ)
				return
			}
			actor, _ := items[0]["actor"].(map[string]any)
			if items[0]["message"] == "" || actor == nil || actor["type"] == "" {
				t.Errorf("%s event lacks a message or an actor: %v", typ, items[0])
			}
		}
		for _, typ := range keysmith.EventTypes() {
			if typ != keysmith.EventSystemLogPruned {
				check(typ)
			}
		}
		// Last: pruning removes what was checked above.
		s.Clock.Advance(91 * 24 * time.Hour)
		if err := s.App.Maintain(t.Context()); err != nil {
			t.Fatal(err)
		}
		check(keysmith.EventSystemLogPruned)
	})
}

func TestNetworkRefusalIsRecordedAsDenied(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		zone := newZone(t, s, "elsewhere", []string{"203.0.113.0/24"}, nil)
		r := s.Do("POST", "/v1/tokens", s.AdminToken, map[string]any{"name": "office only",
			"network": map[string]any{"mode": "in_zones", "zones": []string{zone}}}).Want(t, http.StatusCreated)
		s.Do("GET", "/v1/tokens", r.String("token"), nil).Want(t, http.StatusForbidden) // from 127.0.0.1

		items, _ := logs(t, s, s.AdminToken, url.Values{"type": {string(keysmith.EventAccessDenied)}})
		if len(items) != 1 {
			t.Fatalf("%d access.denied events, want 1: %v", len(items), items)
		}
		actor, _ := items[0]["actor"].(map[string]any)
		if actor["id"] != s.AdminID || items[0]["client_ip"] != "127.0.0.1" {
			t.Errorf("access.denied = %v, want the token's owner as actor and the address", items[0])
		}
	})
}

func TestIdleExpiryIsRecordedOnceBySystem(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{TokenIdleTTL: 10 * 24 * time.Hour})
		idle, _ := newToken(t, s, s.AdminToken, "left unused")
		_, kept := newToken(t, s, s.AdminToken, "kept in use")
		for range 3 {
			s.Clock.Advance(6 * 24 * time.Hour)
			verifyCode(t, s, kept)
			s.Do("GET", "/v1/tokens", s.AdminToken, nil).Want(t, http.StatusOK)
		}
		if err := s.App.Verifier.Flush(t.Context()); err != nil { // the sweep reads stored uses
			t.Fatal(err)
		}
		for range 2 { // a second sweep records nothing more
			if err := s.App.Maintain(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		items, _ := logs(t, s, s.AdminToken, url.Values{"type": {string(keysmith.EventAPITokenExpired)}})
		if len(items) != 1 {
			t.Fatalf("%d api_token.expired events, want 1 (the unused token): %v", len(items), items)
		}
		targets, _ := items[0]["targets"].([]any)
		details, _ := items[0]["details"].(map[string]any)
		first, _ := targets[0].(map[string]any)
		if first["id"] != idle || details["reason"] != "idle" {
			t.Errorf("expiry event = %v, want the unused token, reason idle", items[0])
		}
	})
}
