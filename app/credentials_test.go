package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// Every credential the server hands out has its kind's own prefix and a
// checksum; the kss_ secrets issued before keep working.
func TestCredentialKinds(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		createUser(t, s, "kinds@example.com", "org_admin")
		registerScopes(t, s, "read")
		c := newClient(t, s, admin, map[string]any{"scopes": []string{"read"}})
		opaque := newClient(t, s, admin, map[string]any{"scopes": []string{"read"}, "token_format": "opaque"})

		t.Run("EachKindHasItsOwnPrefixAndAValidChecksum", func(t *testing.T) {
			_, apiToken := newToken(t, s, admin, "kinds")
			for _, got := range []struct {
				secret string
				want   keysmith.CredentialKind
			}{
				{apiToken, keysmith.CredentialAPIToken},
				{accessToken(t, s, opaque), keysmith.CredentialAccessToken},
				{signIn(t, s, "kinds@example.com", "pw kinds@example.com"), keysmith.CredentialSession},
				{c.Secret, keysmith.CredentialClientSecret},
			} {
				kind, ok := keysmith.Classify(got.secret)
				if !ok || kind != got.want {
					t.Errorf("a %s the server issued (%.5s…) is classified %q, %v", got.want, got.secret, kind, ok)
				}
				for _, f := range keysmith.CredentialForms {
					if f.Legacy && strings.HasPrefix(got.secret, f.Prefix) {
						t.Errorf("a %s was issued with the legacy prefix %s", got.want, f.Prefix)
					}
				}
			}
		})

		t.Run("AClientSecretWithAWrongChecksumIsRefused", func(t *testing.T) {
			typo := []byte(c.Secret)
			typo[10] ^= 'a' ^ 'b'
			form := url.Values{"grant_type": {"client_credentials"}}
			postForm(t, s, "/v1/oauth/token", c.ID, string(typo), "", form).Want(t, http.StatusUnauthorized)
			getToken(t, s, c, "").Want(t, http.StatusOK)
		})

		t.Run("KssSecretsIssuedBeforeStillAuthenticate", func(t *testing.T) {
			// A client not used yet, so not cached, given a secret of the old form.
			old := newClient(t, s, admin, map[string]any{"scopes": []string{"read"}})
			legacySecret := "kss_" + strings.Repeat("Legacy7", 6) + "x" // 43 base62
			now := s.Clock.Now()
			_, err := s.App.Store.SQL().Exec(`INSERT INTO oauth_client_secrets (id, client_id, hash, last4, description, created_at, expires_at)
				VALUES ($1, $2, $3, $4, '', $5, NULL)`, keysmith.NewID("sec"), old.ID, keysmith.HashOf(legacySecret).String(),
				legacySecret[len(legacySecret)-4:], now.UnixMicro())
			if err != nil {
				t.Fatal(err)
			}
			getToken(t, s, client{ID: old.ID, Secret: legacySecret}, "").Want(t, http.StatusOK)

			legacySession := "kss_" + strings.Repeat("Sessn", 6) + "ab" // 32 base62
			userID := s.Do("GET", "/v1/me", admin, nil).Want(t, http.StatusOK).Body["user"].(map[string]any)["id"].(string)
			err = s.App.Store.CreateSession(context.Background(), &keysmith.Session{ID: keysmith.NewID("ses"), UserID: userID,
				CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, keysmith.HashOf(legacySession))
			if err != nil {
				t.Fatal(err)
			}
			withCookie(t, s, legacySession, "GET", "/v1/me", nil, nil).Want(t, http.StatusOK)
		})
	})
}
