package app_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// TestOwnConsents: GET /v1/consents lists the caller's own consents with
// the client's name; DELETE /v1/consents/{client_id} withdraws one (204),
// and answers 404 for a consent that is not the caller's or not there.
func TestOwnConsents(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		ctx := context.Background()
		s.AddAPI(keysmith.Scope{Name: "orders:read", Description: "Read orders", SelfService: true})
		admin, err := s.App.Store.FindUserByID(ctx, s.AdminID)
		if err != nil {
			t.Fatal(err)
		}
		cl, _, _, err := s.App.Service.CreateClient(ctx, keysmith.Principal{User: admin}, keysmith.CreateClientInput{
			Name: "Shop web", Environment: "sandbox", Scopes: []string{"orders:read"},
			GrantTypes: []string{keysmith.GrantAuthorizationCode}, RedirectURIs: []string{"https://shop.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		paulaID, paula := s.AddUser(keysmith.RoleDeveloper, "")
		_, carl := s.AddUser(keysmith.RoleOrgAdmin, "")
		now := s.Clock.Now()
		if err := s.App.Store.SaveConsent(ctx, &keysmith.Consent{UserID: paulaID, ClientID: cl.ID,
			Scopes: []string{"orders:read"}, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}

		items := s.Do("GET", "/v1/consents", paula, nil).Want(t, http.StatusOK).Body["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("paula's consents: %v", items)
		}
		got := items[0].(map[string]any)
		if got["client_id"] != cl.ID || got["client_name"] != "Shop web" || len(got["scopes"].([]any)) != 1 {
			t.Errorf("paula's consent: %v", got)
		}
		if items := s.Do("GET", "/v1/consents", carl, nil).Want(t, http.StatusOK).Body["items"].([]any); len(items) != 0 {
			t.Errorf("carl lists paula's consents: %v", items)
		}
		s.Do("DELETE", "/v1/consents/"+cl.ID, carl, nil).Want(t, http.StatusNotFound)
		s.Do("DELETE", "/v1/consents/cli_nothere", paula, nil).Want(t, http.StatusNotFound)
		s.Do("DELETE", "/v1/consents/"+cl.ID, paula, nil).Want(t, http.StatusNoContent)
		if items := s.Do("GET", "/v1/consents", paula, nil).Want(t, http.StatusOK).Body["items"].([]any); len(items) != 0 {
			t.Errorf("after DELETE paula still lists %v", items)
		}
		s.Do("DELETE", "/v1/consents/"+cl.ID, paula, nil).Want(t, http.StatusNotFound)
	})
}
