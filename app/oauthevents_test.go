package app_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

func TestOAuthChangesAreInTheSystemLog(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		appID := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "logged"}).Want(t, http.StatusCreated).String("app_id")
		s.Do("PATCH", "/v1/apps/"+appID, admin, map[string]any{"name": "logged 2"}).Want(t, http.StatusOK)
		c := newClient(t, s, admin, map[string]any{"app_id": appID})
		sec := s.Do("POST", "/v1/oauth/clients/"+c.ID+"/secrets", admin, nil).Want(t, http.StatusCreated).String("secret_id")
		s.Do("DELETE", "/v1/oauth/clients/"+c.ID+"/secrets/"+sec, admin, nil).Want(t, http.StatusNoContent)
		s.Do("POST", "/v1/oauth/clients/"+c.ID+"/secrets/reset", admin, nil).Want(t, http.StatusCreated)
		c2 := newClient(t, s, admin, map[string]any{})
		tok := accessToken(t, s, c2)
		postForm(t, s, "/v1/oauth/revoke", c2.ID, c2.Secret, "", url.Values{"token": {tok}}).Want(t, http.StatusOK)
		s.Do("DELETE", "/v1/oauth/clients/"+c2.ID, admin, nil).Want(t, http.StatusNoContent)
		s.Do("DELETE", "/v1/apps/"+appID, admin, nil).Want(t, http.StatusNoContent)

		got := map[string]int{}
		rows, err := s.App.Store.SQL().Query(`SELECT type, actor_id FROM events`)
		if err != nil {
			t.Fatal(err)
		}
		actors := map[string]string{}
		for rows.Next() {
			var typ, actor string
			rows.Scan(&typ, &actor)
			got[typ]++
			actors[typ] = actor
		}
		rows.Close()
		for typ, n := range map[string]int{"app.created": 1, "app.updated": 1, "app.deleted": 1,
			"oauth_client.created": 2, "oauth_client.revoked": 2, "oauth_client_secret.created": 4,
			"oauth_client_secret.deleted": 1, "oauth_client_secret.reset": 1, "access_token.revoked": 1, "signing_key.created": 1} {
			if got[typ] != n {
				t.Errorf("%d %s events, want %d (all: %v)", got[typ], typ, n, got)
			}
		}
		if actors["app.created"] != s.AdminID || actors["access_token.revoked"] != c2.ID {
			t.Errorf("actors: %v", actors)
		}
	})
}
