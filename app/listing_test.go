package app_test

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// item is a token as GET /v1/tokens lists it.
type item map[string]any

func (it item) str(f string) string { s, _ := it[f].(string); return s }

func (it item) time(t *testing.T, f string) *time.Time {
	t.Helper()
	s, ok := it[f].(string)
	if !ok {
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s = %q: %v", f, s, err)
	}
	return &v
}

// list returns every item of GET /v1/tokens?query, paging with limit.
func list(t *testing.T, s *apptest.Server, query string, limit int) []item {
	t.Helper()
	var out []item
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 200 {
			t.Fatal("pagination does not end")
		}
		r := s.Do("GET", fmt.Sprintf("/v1/tokens?%s&limit=%d&cursor=%s", query, limit, url.QueryEscape(cursor)), s.AdminToken, nil).
			Want(t, http.StatusOK)
		for _, it := range r.Body["items"].([]any) {
			out = append(out, item(it.(map[string]any)))
		}
		if cursor = r.String("next_cursor"); cursor == "" {
			return out
		}
	}
}

func ids(items []item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.str("id")
	}
	return out
}

// addServiceAccount inserts a service account (users are another issue's
// API) and gives it a token through the store.
func addServiceAccount(t *testing.T, s *apptest.Server, email string) (userID, tokenID, secret string) {
	t.Helper()
	userID = keysmith.NewID("usr")
	now := s.Clock.Now().UnixMicro()
	if _, err := s.App.Store.SQL().ExecContext(t.Context(), `INSERT INTO users (id, email, name, role, type, status, created_at, updated_at)
		VALUES ($1, $2, 'Service', 'developer', 'service', 'active', $3, $3)`, userID, email, now); err != nil {
		t.Fatal(err)
	}
	sec, h := keysmith.NewAPITokenSecret()
	tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "svc deploy", Type: keysmith.TokenService, OwnerID: userID,
		CreatedAt: s.Clock.Now(), CreatedBy: s.AdminID}
	if err := s.App.Store.CreateToken(t.Context(), tok, h); err != nil {
		t.Fatal(err)
	}
	return userID, tok.ID, sec.Reveal()
}

// addAgent registers and activates an agent; it returns the agent's and its
// token's ids.
func addAgent(t *testing.T, s *apptest.Server, name, kind string) (agentID, tokenID, secret string) {
	t.Helper()
	a := s.Do("POST", "/v1/agents", s.AdminToken, map[string]any{"name": name, "kind": kind}).Want(t, http.StatusCreated)
	r := s.Do("POST", "/v1/agents/"+a.String("id")+"/activate", s.AdminToken, nil).Want(t, http.StatusOK)
	tok := r.Body["token"].(map[string]any)
	return a.String("id"), tok["id"].(string), tok["token"].(string)
}

func TestListing(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
		admin := s.AdminToken
		// The listing cases make more requests a minute than a token's share
		// of the tokens group allows by default; rate limits are tested in
		// zones_test.go.
		s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"tokens": keysmith.MaxRateLimit}).Want(t, http.StatusOK)
		// Several tokens share a creation instant, so ties are broken by id.
		for _, n := range []string{"Alpha", "beta", "ÉCLAIR", "éclair two", "50%_off", "500 off"} {
			create(t, s, admin, map[string]any{"name": n})
		}
		s.Clock.Advance(time.Minute)
		_, usedSecret := newToken(t, s, admin, "used")
		verifyCode(t, s, usedSecret)
		create(t, s, admin, map[string]any{"name": "expiring", "expires_at": s.Clock.Now().Add(5 * day).Format(time.RFC3339)})
		gone := create(t, s, admin, map[string]any{"name": "gone", "idle_ttl": 60})
		revoked, _ := newToken(t, s, admin, "revoked")
		s.Do("DELETE", "/v1/tokens/"+revoked, admin, nil).Want(t, http.StatusNoContent)
		off, _ := newToken(t, s, admin, "off")
		s.Do("PATCH", "/v1/tokens/"+off, admin, map[string]any{"enabled": false}).Want(t, http.StatusOK)
		svcUser, svcToken, _ := addServiceAccount(t, s, "svc@example.com")
		_, agentToken, _ := addAgent(t, s, "runner", "daemon")
		daemon, daemonToken, _ := addAgent(t, s, "collector", "daemon")
		s.Do("POST", "/v1/agents/"+daemon+"/deactivate", admin, nil).Want(t, http.StatusOK)
		s.Clock.Advance(2 * time.Minute) // "gone" is unused for longer than its 60 s
		verifyCode(t, s, admin)
		flush(t, s)

		all := list(t, s, "", 200)
		byID := map[string]item{}
		for _, it := range all {
			byID[it.str("id")] = it
		}

		t.Run("ItemsCarryTheListFields", func(t *testing.T) {
			for _, it := range all {
				for _, f := range []string{"id", "name", "type", "status", "color", "owner", "created_at", "last_used_at", "expires_at"} {
					if _, ok := it[f]; !ok {
						t.Errorf("item %s lacks %q", it.str("id"), f)
					}
				}
			}
			owner := byID[svcToken]["owner"].(map[string]any)
			if owner["id"] != svcUser || owner["email"] != "svc@example.com" || owner["role"] != "developer" {
				t.Errorf("service token's owner = %v", owner)
			}
			if o := byID[revoked]["owner"].(map[string]any); o["email"] != "admin@localhost" || o["role"] != "super_admin" {
				t.Errorf("admin token's owner = %v", o)
			}
		})

		t.Run("StatusesAndFilters", func(t *testing.T) {
			want := map[string]string{revoked: "revoked", gone.String("id"): "expired", off: "disabled",
				daemonToken: "suspicious", agentToken: "active", svcToken: "active"}
			for id, st := range want {
				if got := byID[id].str("status"); got != st {
					t.Errorf("%s (%s): status %q, want %q", id, byID[id].str("name"), got, st)
				}
			}
			for _, st := range []string{"active", "disabled", "suspicious", "expired", "revoked"} {
				var wantIDs []string
				for _, it := range all {
					if it.str("status") == st {
						wantIDs = append(wantIDs, it.str("id"))
					}
				}
				got := ids(list(t, s, "status="+st, 3))
				if !slices.Equal(got, wantIDs) {
					t.Errorf("status=%s: %v, want %v", st, got, wantIDs)
				}
			}
			for _, c := range []struct {
				query string
				want  []string // names
			}{
				{"q=" + url.QueryEscape("éclair"), []string{"éclair two", "ÉCLAIR"}},
				{"q=" + url.QueryEscape("ÉCL"), []string{"éclair two", "ÉCLAIR"}},
				{"q=" + url.QueryEscape("50%"), []string{"50%_off"}},
				{"q=" + url.QueryEscape("%_o"), []string{"50%_off"}},
				{"q=" + url.QueryEscape("_"), nil}, // under 3 characters: a prefix
				{"q=" + url.QueryEscape("50"), []string{"50%_off", "500 off"}},
				{"q=ALPHA", []string{"Alpha"}},
				{"type=service", []string{"svc deploy"}},
				{"type=agent&sort=name&order=asc", []string{"collector", "runner"}},
				{"owner=" + svcUser, []string{"svc deploy"}},
				{"type=user&status=disabled", []string{"off"}},
				{"q=co&type=agent", []string{"collector"}},
				{"q=o&type=agent", nil},
			} {
				var names []string
				for _, it := range list(t, s, c.query, 2) {
					names = append(names, it.str("name"))
				}
				slices.Sort(names)
				slices.Sort(c.want)
				if !slices.Equal(names, c.want) {
					t.Errorf("%s: %q, want %q", c.query, names, c.want)
				}
			}
		})

		t.Run("SortsPageInTheSameOrderOnBothEngines", func(t *testing.T) {
			type key struct {
				s string
				n int64
			}
			keyOf := map[string]func(it item) key{
				"name":       func(it item) key { return key{s: strings.ToLower(it.str("name"))} },
				"created_at": func(it item) key { return key{n: it.time(t, "created_at").UnixMicro()} },
				"last_used_at": func(it item) key {
					if u := it.time(t, "last_used_at"); u != nil {
						return key{n: u.UnixMicro()}
					}
					return key{n: -1}
				},
				"expires_at": func(it item) key {
					e := *it.time(t, "idle_expires_at")
					if x := it.time(t, "expires_at"); x != nil && x.Before(e) {
						e = *x
					}
					return key{n: e.UnixMicro()}
				},
			}
			for sortBy, kf := range keyOf {
				for _, order := range []string{"asc", "desc"} {
					want := slices.Clone(all)
					slices.SortFunc(want, func(a, b item) int {
						ka, kb := kf(a), kf(b)
						c := cmp.Or(strings.Compare(ka.s, kb.s), cmp.Compare(ka.n, kb.n), strings.Compare(a.str("id"), b.str("id")))
						if order == "desc" {
							c = -c
						}
						return c
					})
					got := ids(list(t, s, "sort="+sortBy+"&order="+order, 2))
					if !slices.Equal(got, ids(want)) {
						t.Errorf("sort=%s&order=%s:\n got %v\nwant %v", sortBy, order, got, ids(want))
					}
				}
			}
		})

		t.Run("CursorIsStableUnderConcurrentInserts", func(t *testing.T) {
			for _, query := range []string{"sort=created_at&order=desc", "sort=name&order=asc", "sort=expires_at&order=asc"} {
				before := map[string]bool{}
				for _, it := range list(t, s, query, 200) {
					before[it.str("id")] = true
				}
				seen := map[string]int{}
				cursor := ""
				for i := 0; ; i++ {
					r := s.Do("GET", "/v1/tokens?"+query+"&limit=3&cursor="+url.QueryEscape(cursor), admin, nil).Want(t, http.StatusOK)
					for _, it := range r.Body["items"].([]any) {
						seen[it.(map[string]any)["id"].(string)]++
					}
					// Insert tokens that sort before, among and after the rows
					// already paged.
					for _, n := range []string{"aaa", "mmm", "zzz"} {
						create(t, s, admin, map[string]any{"name": fmt.Sprintf("%s %s %d", n, query[:7], i)})
					}
					if cursor = r.String("next_cursor"); cursor == "" {
						break
					}
				}
				for id := range before {
					if seen[id] != 1 {
						t.Errorf("%s: token %s listed %d times, want once", query, id, seen[id])
					}
				}
				for id, n := range seen {
					if n > 1 {
						t.Errorf("%s: token %s listed %d times", query, id, n)
					}
				}
			}
		})

		t.Run("SummaryCountsByTypeStatusAndColour", func(t *testing.T) {
			all := list(t, s, "", 200)
			byType, byStatus, byColor := map[string]float64{}, map[string]float64{}, map[string]float64{}
			for _, it := range all {
				byType[it.str("type")]++
				byStatus[it.str("status")]++
				if c := it.str("color"); c != "" {
					byColor[c]++
				}
			}
			r := s.Do("GET", "/v1/tokens/summary", admin, nil).Want(t, http.StatusOK)
			if r.Body["total"] != float64(len(all)) {
				t.Errorf("total = %v, want %d", r.Body["total"], len(all))
			}
			for field, want := range map[string]map[string]float64{"by_type": byType, "by_status": byStatus, "by_color": byColor} {
				got := r.Body[field].(map[string]any)
				for k, v := range got {
					if v != want[k] {
						t.Errorf("%s[%s] = %v, want %v (from the list)", field, k, v, want[k])
					}
				}
				for k := range want {
					if _, ok := got[k]; !ok {
						t.Errorf("%s lacks %s", field, k)
					}
				}
			}
			if got := r.Body["by_status"].(map[string]any)["suspicious"]; got != float64(1) {
				t.Errorf("suspicious = %v, want 1", got)
			}
		})

		t.Run("DevelopersSeeAndCountOnlyTheirOwn", func(t *testing.T) {
			_, devToken, devSecret := addServiceAccount(t, s, "dev@example.com")
			r := s.Do("GET", "/v1/tokens?limit=200", devSecret, nil).Want(t, http.StatusOK)
			if items := r.Body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != devToken {
				t.Errorf("developer lists %s", r.Raw)
			}
			if sum := s.Do("GET", "/v1/tokens/summary", devSecret, nil).Want(t, http.StatusOK); sum.Body["total"] != float64(1) {
				t.Errorf("developer's summary: %s", sum.Raw)
			}
			s.Do("GET", "/v1/tokens?owner="+s.AdminID, devSecret, nil).Want(t, http.StatusForbidden)
			s.Do("PATCH", "/v1/tokens/"+off, devSecret, map[string]any{"enabled": true}).Want(t, http.StatusNotFound)
			s.Do("POST", "/v1/tokens/"+off+"/rotate", devSecret, nil).Want(t, http.StatusNotFound)
			s.Do("POST", "/v1/agents", devSecret, map[string]any{"name": "x", "kind": "ci"}).Want(t, http.StatusForbidden)
			if st := get(t, s, admin, off).String("status"); st != "disabled" {
				t.Errorf("after a developer's refused PATCH: %s", st)
			}
		})

		t.Run("BadParametersAreRefused", func(t *testing.T) {
			nameCursor := s.Do("GET", "/v1/tokens?sort=name&limit=1", admin, nil).Want(t, http.StatusOK).String("next_cursor")
			for _, q := range []string{"sort=id", "order=up", "status=green", "type=robot", "stauts=expired",
				"limit=0", "cursor=" + url.QueryEscape(nameCursor), "sort=name&order=asc&cursor=" + url.QueryEscape(nameCursor),
				"q=" + strings.Repeat("x", 201)} {
				r := s.Do("GET", "/v1/tokens?"+q, admin, nil).Want(t, http.StatusBadRequest)
				if r.String("error_description") == "" {
					t.Errorf("%s: %s", q, r.Raw)
				}
			}
			s.Do("GET", "/v1/tokens/summary?x=1", admin, nil).Want(t, http.StatusBadRequest)
		})
	})
}

func TestColorsFollowTheClock(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		id, secret := newToken(t, s, s.AdminToken, "watched")
		color := func() any { return get(t, s, s.AdminToken, id).Body["color"] }
		if c := color(); c != "gray" {
			t.Errorf("never used: %v, want gray", c)
		}
		verifyCode(t, s, secret)
		if c := color(); c != "green" {
			t.Errorf("just used: %v, want green", c)
		}
		s.Clock.Advance(3 * day)
		if c := color(); c != "gray" {
			t.Errorf("unused for 3 days: %v, want gray", c)
		}
		s.Clock.Advance(20*day - time.Second) // 7 days and a second left
		if c := color(); c != "gray" {
			t.Errorf("7 days and a second before idle expiry: %v, want gray", c)
		}
		s.Clock.Advance(time.Second)
		if c := color(); c != "red" {
			t.Errorf("7 days before idle expiry: %v, want red", c)
		}
		flush(t, s)
		sum := s.Do("GET", "/v1/tokens/summary", s.AdminToken, nil).Want(t, http.StatusOK).Body["by_color"].(map[string]any)
		if sum["red"] != float64(1) {
			t.Errorf("summary by_color = %v, want red 1", sum)
		}
		s.Clock.Advance(7 * day)
		if g := get(t, s, s.AdminToken, id); g.String("status") != "expired" || g.Body["color"] != nil {
			t.Errorf("30 days unused: %s", g.Raw)
		}
	})
}
