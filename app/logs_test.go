package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
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

// addToken stores an API token for the user, as the system.
func addToken(t *testing.T, s *apptest.Server, ownerID string) (id, token string) {
	t.Helper()
	secret, h := keysmith.NewAPITokenSecret()
	tok := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "token of " + ownerID, Type: keysmith.TokenUser, OwnerID: ownerID,
		CreatedAt: s.Clock.Now(), CreatedBy: ownerID}
	if err := s.App.Store.CreateToken(t.Context(), tok, h); err != nil {
		t.Fatal(err)
	}
	return tok.ID, secret.Reveal()
}

// export answers GET /v1/logs/export with the query, unparsed.
func export(t *testing.T, s *apptest.Server, caller, query string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/v1/logs/export?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+caller)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	return resp, b
}

// logs answers GET /v1/logs with the query, as the caller, and its items.
func logs(t *testing.T, s *apptest.Server, caller string, query url.Values) (items []map[string]any, next string) {
	t.Helper()
	r := s.Do("GET", "/v1/logs?"+query.Encode(), caller, nil).Want(t, http.StatusOK)
	for _, it := range r.Body["items"].([]any) {
		items = append(items, it.(map[string]any))
	}
	return items, r.String("next_cursor")
}

// one returns the only event the query selects.
func one(t *testing.T, s *apptest.Server, query url.Values) map[string]any {
	t.Helper()
	items, _ := logs(t, s, s.AdminToken, query)
	if len(items) != 1 {
		t.Fatalf("%d events for %s, want 1: %v", len(items), query.Encode(), items)
	}
	return items[0]
}

// ref reads an actor or target as "type:id:display_name".
func ref(v any) string {
	m, _ := v.(map[string]any)
	return m["type"].(string) + ":" + m["id"].(string) + ":" + m["display_name"].(string)
}

func targets(ev map[string]any) []string {
	var out []string
	for _, t := range ev["targets"].([]any) {
		out = append(out, ref(t))
	}
	return out
}

func countEvents(t *testing.T, s *apptest.Server) int {
	t.Helper()
	var n int
	if err := s.App.Store.SQL().QueryRow(`SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSystemLog(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken
		adminRef := "user:" + s.AdminID + ":admin@localhost"
		devID, devToken := s.AddUser(keysmith.RoleDeveloper, "dev@example.com")
		devRef := "user:" + devID + ":dev@example.com"
		roID, roToken := s.AddUser(keysmith.RoleReadOnlyAdmin, "auditor@example.com")
		secrets := []string{admin, devToken, roToken}

		t.Run("BootstrapIsRecorded", func(t *testing.T) {
			ev := one(t, s, url.Values{"type": {"user.created"}, "target": {s.AdminID}})
			if ref(ev["actor"]) != "system:keysmith:Keysmith" || ev["message"] != "User created" {
				t.Errorf("user.created: %v", ev)
			}
		})

		var created string
		t.Run("ChangesRecordWhoWhatAndFromWhere", func(t *testing.T) {
			req, _ := http.NewRequest("POST", s.URL+"/v1/tokens", strings.NewReader(`{"name":"deploy bot"}`))
			req.Header.Set("Authorization", "Bearer "+admin)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "logs-test/1.0")
			req.Header.Set("X-Request-Id", "req-create-1")
			r := s.Send(req).Want(t, http.StatusCreated)
			created, secrets = r.String("id"), append(secrets, r.String("token"))
			ev := one(t, s, url.Values{"type": {"api_token.created"}, "target": {created}})
			want := map[string]any{"message": "API token created", "client_ip": "127.0.0.1", "user_agent": "logs-test/1.0",
				"request_id": "req-create-1", "outcome": "success"}
			for k, v := range want {
				if ev[k] != v {
					t.Errorf("%s = %v, want %v", k, ev[k], v)
				}
			}
			if ref(ev["actor"]) != adminRef {
				t.Errorf("actor %s, want %s", ref(ev["actor"]), adminRef)
			}
			if got := targets(ev); len(got) != 2 || got[0] != "api_token:"+created+":deploy bot" || got[1] != adminRef {
				t.Errorf("targets %v", got)
			}
			for _, f := range []string{"id", "time", "seq", "details", "hash", "prev_hash"} {
				if ev[f] == nil || ev[f] == "" {
					t.Errorf("event lacks %s: %v", f, ev)
				}
			}
		})

		t.Run("RevokingYourOwnTokenNamesYouAsActorAndOwner", func(t *testing.T) {
			id, secret := addToken(t, s, devID)
			secrets = append(secrets, secret)
			s.Do("DELETE", "/v1/tokens/"+id, devToken, nil).Want(t, http.StatusNoContent)
			ev := one(t, s, url.Values{"type": {"api_token.revoked"}, "target": {id}})
			if got := targets(ev); ref(ev["actor"]) != devRef || len(got) != 2 || got[1] != devRef {
				t.Errorf("self revocation: actor %s, targets %v; want %s for both", ref(ev["actor"]), got, devRef)
			}
		})

		t.Run("AnAdminRevokingAnothersTokenIsNotTheOwner", func(t *testing.T) {
			otherID, _ := s.AddUser(keysmith.RoleOrgAdmin, "other@example.com")
			id, other := addToken(t, s, otherID)
			secrets = append(secrets, other)
			s.Do("DELETE", "/v1/tokens/"+id, admin, nil).Want(t, http.StatusNoContent)
			ev := one(t, s, url.Values{"type": {"api_token.revoked"}, "target": {id}})
			got := targets(ev)
			if ref(ev["actor"]) != adminRef || len(got) != 2 || !strings.HasSuffix(got[1], ":other@example.com") {
				t.Errorf("admin revocation: actor %s, targets %v", ref(ev["actor"]), got)
			}
			s.Do("DELETE", "/v1/tokens/"+id, admin, nil).Want(t, http.StatusNoContent)
			one(t, s, url.Values{"type": {"api_token.revoked"}, "target": {id}}) // a repeat records nothing
		})

		t.Run("ExpiryIsRecordedOnceBySystem", func(t *testing.T) {
			exp := s.Clock.Now().Add(time.Hour).Format(time.RFC3339)
			r := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "short-lived", "expires_at": exp}).Want(t, http.StatusCreated)
			secrets = append(secrets, r.String("token"))
			q := url.Values{"type": {"api_token.expired"}, "target": {r.String("id")}}
			if err := s.App.Maintain(t.Context()); err != nil {
				t.Fatal(err)
			}
			if items, _ := logs(t, s, admin, q); len(items) != 0 {
				t.Fatalf("expiry recorded before the token expired: %v", items)
			}
			s.Clock.Advance(time.Hour)
			for range 2 {
				if err := s.App.Maintain(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			ev := one(t, s, q)
			if ref(ev["actor"]) != "system:keysmith:Keysmith" || ev["details"].(map[string]any)["expired_at"] == nil {
				t.Errorf("expiry event: %v", ev)
			}
		})

		t.Run("EveryRefusalIsRecorded", func(t *testing.T) {
			before := countEvents(t, s)
			s.Do("GET", "/v1/logs", devToken, nil).Want(t, http.StatusForbidden)
			s.Do("GET", "/v1/logs/export", devToken, nil).Want(t, http.StatusForbidden)
			s.Do("POST", "/v1/tokens", devToken, map[string]any{"name": "not allowed"}).Want(t, http.StatusForbidden)
			items, _ := logs(t, s, admin, url.Values{"type": {"access.denied"}, "actor": {devID}})
			if len(items) != 3 || countEvents(t, s) != before+3 {
				t.Fatalf("%d access.denied events, %d new events; want 3 and 3", len(items), countEvents(t, s)-before)
			}
			paths := map[string]bool{}
			for _, ev := range items {
				d := ev["details"].(map[string]any)
				paths[d["method"].(string)+" "+d["path"].(string)] = true
				if ev["outcome"] != "denied" || ref(ev["actor"]) != devRef || d["reason"] == "" || ev["message"] != "Access denied" {
					t.Errorf("denied event: %v", ev)
				}
			}
			for _, p := range []string{"GET /v1/logs", "GET /v1/logs/export", "POST /v1/tokens"} {
				if !paths[p] {
					t.Errorf("no access.denied for %s: %v", p, paths)
				}
			}
			s.Do("GET", "/v1/logs", "", nil).Want(t, http.StatusUnauthorized)
			if countEvents(t, s) != before+3 {
				t.Error("an unauthenticated request was recorded as a refusal")
			}
		})

		t.Run("ReadOnlyAdminsReadTheLog", func(t *testing.T) {
			items, _ := logs(t, s, roToken, url.Values{"actor": {roID}})
			if len(items) != 0 {
				t.Errorf("read-only admin caused events by reading: %v", items)
			}
			if resp, _ := export(t, s, roToken, ""); resp.StatusCode != http.StatusOK {
				t.Errorf("read-only admin export: status %d", resp.StatusCode)
			}
		})

		t.Run("FiltersSelectEvents", func(t *testing.T) {
			evs, _ := logs(t, s, admin, url.Values{"limit": {"200"}})
			newest, _ := time.Parse(time.RFC3339Nano, evs[0]["time"].(string))
			for _, c := range []struct {
				query url.Values
				want  func(map[string]any) bool
			}{
				{url.Values{"type": {"api_token.revoked"}}, func(ev map[string]any) bool { return ev["type"] == "api_token.revoked" }},
				{url.Values{"actor": {devID}}, func(ev map[string]any) bool { return ref(ev["actor"]) == devRef }},
				{url.Values{"target": {created}}, func(ev map[string]any) bool { return strings.Contains(strings.Join(targets(ev), " "), created) }},
				{url.Values{"q": {"DEPLOY BOT"}}, func(ev map[string]any) bool { return strings.Contains(strings.Join(targets(ev), " "), "deploy bot") }},
				{url.Values{"outcome": {"denied"}}, func(ev map[string]any) bool { return ev["outcome"] == "denied" }},
				{url.Values{"since": {newest.Format(time.RFC3339Nano)}}, func(ev map[string]any) bool { return ev["time"] == evs[0]["time"] }},
				{url.Values{"until": {newest.Format(time.RFC3339Nano)}}, func(ev map[string]any) bool { return ev["time"] != evs[0]["time"] }},
			} {
				got, _ := logs(t, s, admin, c.query)
				n := 0
				for _, ev := range evs {
					if c.want(ev) {
						n++
					}
				}
				if len(got) != n || n == 0 {
					t.Errorf("%s: %d events, want %d (of %d)", c.query.Encode(), len(got), n, len(evs))
				}
				for _, ev := range got {
					if !c.want(ev) {
						t.Errorf("%s selected %v", c.query.Encode(), ev)
					}
				}
			}
		})

		t.Run("PagesAreNewestFirstAndStable", func(t *testing.T) {
			var seqs []float64
			cursor := ""
			for {
				items, next := logs(t, s, admin, url.Values{"limit": {"3"}, "cursor": {cursor}})
				for _, ev := range items {
					seqs = append(seqs, ev["seq"].(float64))
				}
				newToken(t, s, admin, "while paging") // never shows up in later pages
				if cursor = next; cursor == "" {
					break
				}
			}
			for i := 1; i < len(seqs); i++ {
				if seqs[i] != seqs[i-1]-1 {
					t.Fatalf("seqs %v: not consecutive newest first", seqs)
				}
			}
			if seqs[len(seqs)-1] != 1 {
				t.Errorf("paging ended at seq %v, want 1", seqs[len(seqs)-1])
			}
		})

		t.Run("BadQueriesAreRefusedAndChangeNothing", func(t *testing.T) {
			before := countEvents(t, s)
			for _, q := range []string{"limit=0", "limit=201", "limit=x", "cursor=garbage!", "since=yesterday",
				"until=2030-13-01T00:00:00Z", "since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z",
				"outcome=maybe", "q=" + strings.Repeat("x", 201)} {
				r := s.Do("GET", "/v1/logs?"+q, admin, nil).Want(t, http.StatusBadRequest)
				if r.String("error") != "invalid_request" || r.String("error_description") == "" {
					t.Errorf("%s: %s", q, r.Raw)
				}
			}
			for _, q := range []string{"since=soon", "limit=5", "cursor=c2VxOjU"} {
				s.Do("GET", "/v1/logs/export?"+q, admin, nil).Want(t, http.StatusBadRequest)
			}
			if n := countEvents(t, s); n != before {
				t.Errorf("%d events after refused queries, %d before", n, before)
			}
		})

		t.Run("ExportStreamsNDJSONOldestFirst", func(t *testing.T) {
			evs, _ := logs(t, s, admin, url.Values{"limit": {"200"}})
			since := evs[len(evs)-3]["time"].(string)
			resp, raw := export(t, s, admin, "since="+url.QueryEscape(since))
			if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/x-ndjson" {
				t.Errorf("status %d, Content-Type %q", resp.StatusCode, ct)
			}
			var seqs []float64
			sc := bufio.NewScanner(bytes.NewReader(raw))
			for sc.Scan() {
				var ev map[string]any
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("line %q: %v", sc.Text(), err)
				}
				seqs = append(seqs, ev["seq"].(float64))
			}
			want, _ := logs(t, s, admin, url.Values{"since": {since}, "limit": {"200"}})
			if len(seqs) != len(want) || len(seqs) < 3 || seqs[0] != want[len(want)-1]["seq"] {
				t.Fatalf("export seqs %v; the list has %d events from %s", seqs, len(want), since)
			}
			for i := 1; i < len(seqs); i++ {
				if seqs[i] <= seqs[i-1] {
					t.Fatalf("export not oldest first: %v", seqs)
				}
			}
		})

		t.Run("TheLogHoldsNoSecretNorItsHash", func(t *testing.T) {
			storetest.AssertNoPlaintext(t, s.App.Store.SQL(), engineOf(dsn), secrets...)
			// The hash belongs in tokens.hash and nowhere in the log.
			for _, sec := range secrets {
				var n int
				h := "%" + keysmith.HashOf(sec).String() + "%"
				err := s.App.Store.SQL().QueryRow(`SELECT COUNT(*) FROM events WHERE data LIKE $1 OR id LIKE $1
					OR actor_id LIKE $1 OR target_ids LIKE $1 OR outcome LIKE $1 OR type LIKE $1`, h).Scan(&n)
				if err != nil || n != 0 {
					t.Errorf("%d events hold a token hash (%v)", n, err)
				}
			}
		})

		t.Run("TheChainIsIntact", func(t *testing.T) {
			c, err := s.App.Store.VerifyEvents(t.Context())
			if err != nil || c.Problem != nil || c.Events != int64(countEvents(t, s)) {
				t.Fatalf("verify: %+v, %v", c, err)
			}
		})
	})
}

func TestSystemLogRetention(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{LogRetention: 24 * time.Hour})
		old, _ := newToken(t, s, s.AdminToken, "old")
		s.Clock.Advance(25 * time.Hour)
		recent, _ := newToken(t, s, s.AdminToken, "recent")
		if err := s.App.Maintain(t.Context()); err != nil {
			t.Fatal(err)
		}
		if items, _ := logs(t, s, s.AdminToken, url.Values{"target": {old}}); len(items) != 0 {
			t.Errorf("events older than the retention remain: %v", items)
		}
		one(t, s, url.Values{"target": {recent}})
		ev := one(t, s, url.Values{"type": {"system_log.pruned"}})
		d := ev["details"].(map[string]any)
		if d["deleted"] != d["through_seq"] || d["deleted"].(float64) < 3 || ref(ev["actor"]) != "system:keysmith:Keysmith" {
			t.Errorf("pruning event: %v", ev)
		}
		c, err := s.App.Store.VerifyEvents(t.Context())
		if err != nil || c.Problem != nil || float64(c.AnchorSeq) != d["through_seq"] || c.Events != 2 {
			t.Fatalf("verify after pruning: %+v, %v", c, err)
		}
	})
}

// TestMaintainPrunesWhenTheFoldFails: a failed FoldTokenCounts is logged
// and the pruning still runs.
func TestMaintainPrunesWhenTheFoldFails(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{LogRetention: 24 * time.Hour})
		old, _ := newToken(t, s, s.AdminToken, "old")
		s.Clock.Advance(25 * time.Hour)
		if _, err := s.App.Store.SQL().Exec(`ALTER TABLE token_counts RENAME TO token_counts_gone`); err != nil {
			t.Fatal(err)
		}
		if err := s.App.Store.FoldTokenCounts(t.Context()); err == nil {
			t.Fatal("the fold succeeded without its table")
		}
		if err := s.App.Maintain(t.Context()); err != nil {
			t.Errorf("maintain: %v", err)
		}
		if items, _ := logs(t, s, s.AdminToken, url.Values{"target": {old}}); len(items) != 0 {
			t.Errorf("events older than the retention remain: %v", items)
		}
	})
}
