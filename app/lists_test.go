package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// listEndpoint is one GET that lists: its path, the query it accepts (every
// filter it has, to show they are still taken), and whether it is paged.
type listEndpoint struct {
	path  string
	known string
	paged bool
}

// listFixtures makes a group and a client, for the lists under them.
func listFixtures(t *testing.T, s *apptest.Server) (group string, c client) {
	t.Helper()
	group = s.Do("POST", "/v1/groups", s.AdminToken, map[string]any{"name": "listed"}).Want(t, http.StatusCreated).String("id")
	return group, newClient(t, s, s.AdminToken, map[string]any{})
}

func listEndpoints(s *apptest.Server, group, clientID string) []listEndpoint {
	return []listEndpoint{
		{"/v1/tokens", "q=x&type=user&status=active&owner=" + s.AdminID + "&sort=name&order=asc", true},
		{"/v1/users", "q=x&role=developer&status=active", true},
		{"/v1/groups", "q=x", true},
		{"/v1/groups/" + group + "/members", "q=x&role=developer&status=active", true},
		{"/v1/apps", "", true},
		{"/v1/oauth/clients", "app_id=app_x", true},
		{"/v1/oauth/clients/" + clientID + "/secrets", "", false},
		{"/v1/agents", "", true},
		{"/v1/oauth/registration-tokens", "", true},
		{"/v1/zones", "", false},
		{"/v1/logs", "type=api_token.created&actor=x&target=x&outcome=success&q=xyz&since=2030-01-01T00:00:00Z&until=2031-01-01T00:00:00Z", true},
		{"/v1/logs/export", "type=api_token.created&actor=x&target=x&outcome=success&q=xyz&since=2030-01-01T00:00:00Z", false},
		{"/v1/tokens/summary", "", false},
	}
}

// TestEveryListRefusesUnknownParametersAndBadLimits: a filter a list does
// not have (?environment= on clients) or a typo is a 400 naming it rather
// than a silently unfiltered list, and every paged list takes a limit from 1
// to 200 and nothing else. The filters each list has are still taken.
func TestEveryListRefusesUnknownParametersAndBadLimits(t *testing.T) {
	s := apptest.Start(t, storetest.SQLite(t), app.Config{})
	group, c := listFixtures(t, s)
	for _, e := range listEndpoints(s, group, c.ID) {
		name := strings.NewReplacer("/v1/", "", group, "{id}", c.ID, "{id}").Replace(e.path)
		t.Run(name, func(t *testing.T) {
			sep := "?"
			if e.known != "" {
				s.Do("GET", e.path+"?"+e.known, s.AdminToken, nil).Want(t, http.StatusOK)
				sep = "?" + e.known + "&"
			}
			for _, unknown := range []string{"environment", "stauts", "Limit"} {
				r := s.Do("GET", e.path+sep+unknown+"=production", s.AdminToken, nil).Want(t, http.StatusBadRequest)
				if r.String("error") != "invalid_request" || !strings.Contains(r.String("error_description"), `"`+unknown+`"`) {
					t.Errorf("?%s=: %s", unknown, r.Raw)
				}
			}
			if !e.paged {
				return
			}
			s.Do("GET", e.path+"?limit=1&cursor=", s.AdminToken, nil).Want(t, http.StatusOK)
			for _, limit := range []string{"0", "201", "abc", "-1", "1.5"} {
				r := s.Do("GET", e.path+"?limit="+limit, s.AdminToken, nil).Want(t, http.StatusBadRequest)
				if r.String("error") != "invalid_request" || !strings.Contains(r.String("error_description"), "limit must be a whole number from 1 to 200") {
					t.Errorf("?limit=%s: %s", limit, r.Raw)
				}
			}
		})
	}
}
