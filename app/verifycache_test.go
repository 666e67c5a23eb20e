package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// The verifier's cache is bounded (--verify-cache) and evicts; what it
// answers never depends on what it happened to keep.
func TestVerifyCache(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		const size = 4
		s := apptest.Start(t, dsn, app.Config{VerifyCache: size})

		t.Run("EvictionAtATinyCacheKeepsEveryAnswerRight", func(t *testing.T) {
			type tok struct{ id, secret, want string }
			var toks []*tok
			for i := range 16 {
				id, secret := newToken(t, s, s.AdminToken, "evicted")
				toks = append(toks, &tok{id: id, secret: secret, want: "VALID"})
				if i%4 == 1 { // a rotated token: both secrets work, one token's uses
					r := s.Do("POST", "/v1/tokens/"+id+"/rotate", s.AdminToken, map[string]any{"grace_seconds": 600}).Want(t, http.StatusOK)
					toks = append(toks, &tok{id: id, secret: r.String("token"), want: "VALID"})
				}
			}
			check := func(round string) {
				t.Helper()
				for i, k := range toks {
					if code := verifyCode(t, s, k.secret); code != k.want {
						t.Fatalf("%s, secret %d of token %s: %s, want %s", round, i, k.id, code, k.want)
					}
				}
			}
			check("first round")
			check("second round")
			for i, k := range toks {
				if i%3 == 0 && k.want == "VALID" {
					s.Do("DELETE", "/v1/tokens/"+k.id, s.AdminToken, nil).Want(t, http.StatusNoContent)
					for _, o := range toks {
						if o.id == k.id {
							o.want = "REVOKED"
						}
					}
				}
			}
			check("after revocations")
			st := s.App.Verifier.Stats()
			if st.Size > size || st.Owners > size || st.Capacity != size {
				t.Errorf("Stats: %d entries and %d owners cached, capacity %d; want at most %d", st.Size, st.Owners, st.Capacity, size)
			}
			if st.Evictions == 0 {
				t.Errorf("Stats: no evictions after verifying %d secrets with room for %d", len(toks), size)
			}
			// No use was lost with the entries that held it.
			s.Clock.Advance(time.Second) // flushes
			for _, k := range toks {
				r := s.Do("GET", "/v1/tokens/"+k.id, s.AdminToken, nil).Want(t, http.StatusOK)
				if r.Body["last_used_at"] == nil {
					t.Errorf("token %s: no last use recorded after verifications with evictions", k.id)
				}
			}
		})

		t.Run("ATokenUsedOnceInTenMinutesAnswersFromMemory", func(t *testing.T) {
			_, secret := newToken(t, s, s.AdminToken, "rarely used")
			if code := verifyCode(t, s, secret); code != "VALID" {
				t.Fatalf("first verification: %s", code)
			}
			for range 3 {
				before := s.App.Verifier.Stats()
				s.Clock.Advance(10 * time.Minute)
				if code := verifyCode(t, s, secret); code != "VALID" {
					t.Fatalf("ten minutes later: %s", code)
				}
				after := s.App.Verifier.Stats()
				if after.Hits != before.Hits+1 || after.Misses != before.Misses {
					t.Fatalf("ten minutes later: %d hits and %d misses more, want one hit and no miss (a healthy feed keeps entries trusted)",
						after.Hits-before.Hits, after.Misses-before.Misses)
				}
			}
		})
	})
}
