package app_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// TestDeletingAZoneWhileATokenIsPointedAtIt: one of the two requests wins
// and the other is told why (409 naming the token, or 400 naming the
// missing zone); never a 500, never a token naming a zone that is gone.
func TestDeletingAZoneWhileATokenIsPointedAtIt(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		t.Run("OneWinsAndTheOtherIsAConflictOrAnInvalidZone", func(t *testing.T) {
			for round := range 6 {
				zone := newZone(t, s, fmt.Sprint("contested ", round), []string{"192.0.2.0/24"}, nil)
				tok, _ := newPolicyToken(t, s, "any")
				var del, patch apptest.Response
				var wg sync.WaitGroup
				start := make(chan struct{})
				wg.Go(func() { <-start; del = s.Do("DELETE", "/v1/zones/"+zone, s.AdminToken, nil) })
				wg.Go(func() {
					<-start
					patch = s.Do("PATCH", "/v1/tokens/"+tok, s.AdminToken,
						map[string]any{"network": map[string]any{"mode": "in_zones", "zones": []string{zone}}})
				})
				close(start)
				wg.Wait()
				deleted := del.Status == http.StatusNoContent && patch.Status == http.StatusBadRequest
				kept := del.Status == http.StatusConflict && patch.Status == http.StatusOK
				if !deleted && !kept {
					t.Fatalf("round %d: DELETE zone %d %s; PATCH token %d %s; want (204, 400) or (409, 200)",
						round, del.Status, del.Raw, patch.Status, patch.Raw)
				}
				zones := s.Do("GET", "/v1/tokens/"+tok, s.AdminToken, nil).Want(t, http.StatusOK).Body["network"].(map[string]any)["zones"]
				if n := len(zones.([]any)); deleted && n != 0 || kept && n != 1 {
					t.Errorf("round %d: zone deleted %v, but the token names zones %v", round, deleted, zones)
				}
			}
		})
	})
}
