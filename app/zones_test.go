package app_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// newZone creates a zone and returns its id.
func newZone(t *testing.T, s *apptest.Server, name string, gateways, proxies []string) string {
	t.Helper()
	body := map[string]any{"name": name, "gateways": gateways}
	if proxies != nil {
		body["proxies"] = proxies
	}
	return s.Do("POST", "/v1/zones", s.AdminToken, body).Want(t, http.StatusCreated).String("id")
}

// newPolicyToken creates a token with a network policy; zones may be nil.
func newPolicyToken(t *testing.T, s *apptest.Server, mode string, zones ...string) (id, secret string) {
	t.Helper()
	if zones == nil {
		zones = []string{}
	}
	r := s.Do("POST", "/v1/tokens", s.AdminToken, map[string]any{"name": mode,
		"network": map[string]any{"mode": mode, "zones": zones}}).Want(t, http.StatusCreated)
	return r.String("id"), r.String("token")
}

// verifyFrom verifies a token as a gateway that saw the client at ip.
func verifyFrom(t *testing.T, s *apptest.Server, token, ip string) apptest.Response {
	t.Helper()
	return s.Do("POST", "/v1/verify", "", map[string]any{"token": token, "ip": ip}).Want(t, http.StatusOK)
}

func TestZonesAPI(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken

		t.Run("CreateReadUpdateDelete", func(t *testing.T) {
			r := s.Do("POST", "/v1/zones", admin, map[string]any{"name": "office",
				"gateways": []string{"203.0.113.0/24", "2001:db8::/48", "198.51.100.7"}, "proxies": []string{"192.0.2.10"}}).Want(t, http.StatusCreated)
			id := r.String("id")
			if !strings.HasPrefix(id, "zone_") || r.Header.Get("Location") != "/v1/zones/"+id {
				t.Errorf("create: %s, Location %q", r.Raw, r.Header.Get("Location"))
			}
			if got := fmt.Sprint(r.Body["gateways"]); got != "[203.0.113.0/24 2001:db8::/48 198.51.100.7]" {
				t.Errorf("gateways = %s", got)
			}
			s.Do("GET", "/v1/zones/"+id, admin, nil).Want(t, http.StatusOK)
			items := s.Do("GET", "/v1/zones", admin, nil).Want(t, http.StatusOK).Body["items"].([]any)
			if len(items) == 0 {
				t.Error("list is empty")
			}
			u := s.Do("PATCH", "/v1/zones/"+id, admin, map[string]any{"gateways": []string{"10.0.0.0/8"}}).Want(t, http.StatusOK)
			if fmt.Sprint(u.Body["gateways"]) != "[10.0.0.0/8]" || u.String("name") != "office" || fmt.Sprint(u.Body["proxies"]) != "[192.0.2.10]" {
				t.Errorf("patch changed more or less than gateways: %s", u.Raw)
			}
			s.Do("DELETE", "/v1/zones/"+id, admin, nil).Want(t, http.StatusNoContent)
			s.Do("GET", "/v1/zones/"+id, admin, nil).Want(t, http.StatusNotFound)
			s.Do("DELETE", "/v1/zones/"+id, admin, nil).Want(t, http.StatusNotFound)
		})

		t.Run("BadInputNamesTheEntryAndChangesNothing", func(t *testing.T) {
			id := newZone(t, s, "stable", []string{"192.0.2.0/24"}, nil)
			other := newZone(t, s, "other", nil, nil)
			before := s.Do("GET", "/v1/zones", admin, nil).Raw
			for _, c := range []struct {
				body, mention string
				patchToo      bool
			}{
				{`{"name":"x","gateways":["203.0.113.0/24","300.1.1.1"]}`, `"300.1.1.1"`, true},
				{`{"name":"x","gateways":["10.0.0.1/8"]}`, "10.0.0.0/8", true},
				{`{"name":"x","proxies":["not-an-ip"]}`, `"not-an-ip"`, true},
				{`{"gateways":[]}`, "name", false},
				{`{"name":"stable","gateways":[]}`, "exists", false},
				{`{"name":"other"}`, "exists", true},
				{`{"name":""}`, "name", true},
				{`{"name":"x","gateways":"10.0.0.0/8"}`, "gateways", true},
				{`{"name":"x","extra":1}`, "extra", true},
			} {
				r := s.Do("POST", "/v1/zones", admin, c.body)
				if r.Status != 400 && r.Status != 409 || !strings.Contains(r.String("error_description"), c.mention) {
					t.Errorf("POST %s: %d %s, want 4xx mentioning %s", c.body, r.Status, r.Raw, c.mention)
				}
				if !c.patchToo {
					continue
				}
				r = s.Do("PATCH", "/v1/zones/"+id, admin, c.body)
				if r.Status != 400 && r.Status != 409 {
					t.Errorf("PATCH %s: %d %s, want 4xx", c.body, r.Status, r.Raw)
				}
			}
			if after := s.Do("GET", "/v1/zones", admin, nil).Raw; string(after) != string(before) {
				t.Errorf("refused requests changed zones:\n%s\n%s", before, after)
			}
			r := s.Do("POST", "/v1/zones", admin, map[string]any{"name": "private proxies", "proxies": []string{"10.0.0.0/8", "fd00::/8"}}).Want(t, http.StatusCreated)
			s.Do("DELETE", "/v1/zones/"+r.String("id"), admin, nil).Want(t, http.StatusNoContent)
			s.Do("DELETE", "/v1/zones/"+other, admin, nil).Want(t, http.StatusNoContent)
		})

		t.Run("ProxyRangesWiderThanASlash8AreRefusedWithTheReason", func(t *testing.T) {
			id := newZone(t, s, "edge proxies", []string{"192.0.2.0/24"}, []string{"10.0.0.5"})
			before := s.Do("GET", "/v1/zones", admin, nil).Raw
			for _, all := range []string{"0.0.0.0/0", "::/0", "0.0.0.0/1", "128.0.0.0/1", "8000::/1", "10.0.0.0/7"} {
				for _, c := range []struct{ method, path, name string }{
					{"POST", "/v1/zones", "everyone"}, {"PATCH", "/v1/zones/" + id, "edge proxies"},
				} {
					body := map[string]any{"name": c.name, "proxies": []string{"10.0.0.5", all}}
					r := s.Do(c.method, c.path, admin, body).Want(t, http.StatusBadRequest)
					if msg := r.String("error_description"); !strings.Contains(msg, all) || !strings.Contains(msg, "X-Forwarded-For") {
						t.Errorf("%s %s proxies %s: %q, want the entry named and why it is refused", c.method, c.path, all, msg)
					}
				}
				// A gateway may cover everything: that widens where a token works, not who picks its address.
				r := s.Do("POST", "/v1/zones", admin, map[string]any{"name": "anywhere " + all, "gateways": []string{all}}).Want(t, http.StatusCreated)
				s.Do("DELETE", "/v1/zones/"+r.String("id"), admin, nil).Want(t, http.StatusNoContent)
			}
			if after := s.Do("GET", "/v1/zones", admin, nil).Raw; string(after) != string(before) {
				t.Errorf("refused requests changed zones:\n%s\n%s", before, after)
			}
			r := s.Do("POST", "/v1/zones", admin, map[string]any{"name": "private proxies", "proxies": []string{"10.0.0.0/8", "fd00::/8"}}).Want(t, http.StatusCreated)
			s.Do("DELETE", "/v1/zones/"+r.String("id"), admin, nil).Want(t, http.StatusNoContent)
		})

		t.Run("ZoneInUseCannotBeDeleted", func(t *testing.T) {
			zid := newZone(t, s, "in use", []string{"192.0.2.0/24"}, nil)
			tid, _ := newPolicyToken(t, s, "in_zones", zid)
			r := s.Do("DELETE", "/v1/zones/"+zid, admin, nil).Want(t, http.StatusConflict)
			if !strings.Contains(r.String("error_description"), tid) {
				t.Errorf("409 does not list the token: %s", r.Raw)
			}
			s.Do("GET", "/v1/zones/"+zid, admin, nil).Want(t, http.StatusOK)
			// A revoked token never works again, so it does not hold the zone.
			s.Do("DELETE", "/v1/tokens/"+tid, admin, nil).Want(t, http.StatusNoContent)
			s.Do("DELETE", "/v1/zones/"+zid, admin, nil).Want(t, http.StatusNoContent)
		})

		t.Run("OnlyOrgAndSuperAdminsEditZones", func(t *testing.T) {
			zid := newZone(t, s, "perm", []string{"192.0.2.0/24"}, nil)
			_, org := s.AddUser(keysmith.RoleOrgAdmin, "")
			oz := s.Do("POST", "/v1/zones", org, map[string]any{"name": "by org", "gateways": []string{"10.1.0.0/16"}}).Want(t, http.StatusCreated)
			s.Do("DELETE", "/v1/zones/"+oz.String("id"), org, nil).Want(t, http.StatusNoContent)
			for _, role := range []keysmith.Role{keysmith.RoleReadOnlyAdmin, keysmith.RoleGroupAdmin} {
				_, tok := s.AddUser(role, "")
				s.Do("GET", "/v1/zones/"+zid, tok, nil).Want(t, http.StatusOK)
				s.Do("POST", "/v1/zones", tok, map[string]any{"name": "nope", "gateways": []string{}}).Want(t, http.StatusForbidden)
				s.Do("PATCH", "/v1/zones/"+zid, tok, map[string]any{"name": "nope"}).Want(t, http.StatusForbidden)
				s.Do("DELETE", "/v1/zones/"+zid, tok, nil).Want(t, http.StatusForbidden)
			}
			_, dev := s.AddUser(keysmith.RoleDeveloper, "")
			s.Do("GET", "/v1/zones", dev, nil).Want(t, http.StatusForbidden)
			s.Do("GET", "/v1/zones/"+zid, admin, nil).Want(t, http.StatusOK)
		})
	})
}

func TestNetworkPolicies(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		office := newZone(t, s, "office", []string{"203.0.113.0/24", "2001:db8::/48"}, nil)
		dc := newZone(t, s, "dc", []string{"198.51.100.7"}, nil)
		const inOffice, inOffice6, inDC, outside = "203.0.113.9", "2001:db8::9", "198.51.100.7", "192.0.2.1"

		t.Run("EveryModeThroughVerify", func(t *testing.T) {
			for _, c := range []struct {
				mode        string
				zones       []string
				allow, deny []string
			}{
				{"any", nil, []string{inOffice, inDC, outside}, nil},
				{"in_any_zone", nil, []string{inOffice, inOffice6, inDC}, []string{outside}},
				{"in_zones", []string{dc}, []string{inDC}, []string{inOffice, outside}},
				{"not_in_any_zone", nil, []string{outside}, []string{inOffice, inOffice6, inDC}},
				{"not_in_zones", []string{dc}, []string{inOffice, outside}, []string{inDC}},
			} {
				t.Run(c.mode, func(t *testing.T) {
					id, secret := newPolicyToken(t, s, c.mode, c.zones...)
					g := s.Do("GET", "/v1/tokens/"+id, s.AdminToken, nil).Want(t, http.StatusOK)
					if net := g.Body["network"].(map[string]any); net["mode"] != c.mode || len(net["zones"].([]any)) != len(c.zones) {
						t.Errorf("token reads as %s", g.Raw)
					}
					for _, ip := range c.allow {
						if r := verifyFrom(t, s, secret, ip); r.String("code") != "VALID" {
							t.Errorf("from %s: %s, want VALID", ip, r.Raw)
						}
					}
					for _, ip := range c.deny {
						r := verifyFrom(t, s, secret, ip)
						if r.String("code") != "IP_FORBIDDEN" || r.Body["valid"] != false || r.String("token_id") != id {
							t.Errorf("from %s: %s, want IP_FORBIDDEN", ip, r.Raw)
						}
					}
				})
			}
		})

		t.Run("WithoutIPTheCallersAddressIsChecked", func(t *testing.T) {
			_, secret := newPolicyToken(t, s, "in_zones", office)
			if c := verifyCode(t, s, secret); c != "IP_FORBIDDEN" {
				t.Errorf("from 127.0.0.1 outside the zone: %s", c)
			}
			_, local := newPolicyToken(t, s, "not_in_any_zone")
			if c := verifyCode(t, s, local); c != "VALID" {
				t.Errorf("from 127.0.0.1 in no zone: %s", c)
			}
			s.Do("POST", "/v1/verify", "", map[string]any{"token": secret, "ip": "not an ip"}).Want(t, http.StatusBadRequest)
		})

		t.Run("ManagementAPIRefusesOutsideThePolicy", func(t *testing.T) {
			_, secret := newPolicyToken(t, s, "in_zones", office)
			r := s.Do("GET", "/v1/tokens", secret, nil).Want(t, http.StatusForbidden)
			if r.String("error") != "forbidden" || !strings.Contains(r.String("error_description"), "network policy") {
				t.Errorf("403 body: %s", r.Raw)
			}
		})

		t.Run("PolicyAndZoneChangesApplyToTheNextRequest", func(t *testing.T) {
			zid := newZone(t, s, "moving", []string{"192.0.2.0/24"}, nil)
			id, secret := newPolicyToken(t, s, "in_zones", zid)
			if c := verifyFrom(t, s, secret, "192.0.2.5").String("code"); c != "VALID" {
				t.Fatalf("inside: %s", c)
			}
			s.Do("PATCH", "/v1/zones/"+zid, s.AdminToken, map[string]any{"gateways": []string{"198.18.0.0/15"}}).Want(t, http.StatusOK)
			if c := verifyFrom(t, s, secret, "192.0.2.5").String("code"); c != "IP_FORBIDDEN" {
				t.Errorf("after the zone moved: %s, want IP_FORBIDDEN", c)
			}
			if c := verifyFrom(t, s, secret, "198.19.1.1").String("code"); c != "VALID" {
				t.Errorf("inside the moved zone: %s", c)
			}
			s.Do("PATCH", "/v1/tokens/"+id, s.AdminToken, map[string]any{"network": map[string]any{"mode": "any"}}).Want(t, http.StatusOK)
			if c := verifyFrom(t, s, secret, "192.0.2.5").String("code"); c != "VALID" {
				t.Errorf("after the policy became any: %s, want VALID", c)
			}
			s.Do("PATCH", "/v1/tokens/"+id, s.AdminToken, map[string]any{"network": map[string]any{"mode": "not_in_any_zone"}}).Want(t, http.StatusOK)
			if c := verifyFrom(t, s, secret, "198.19.1.1").String("code"); c != "IP_FORBIDDEN" {
				t.Errorf("after the policy became not_in_any_zone: %s, want IP_FORBIDDEN", c)
			}
		})

		t.Run("BadPoliciesAreRefusedAndChangeNothing", func(t *testing.T) {
			id, _ := newPolicyToken(t, s, "in_zones", office)
			before := s.Do("GET", "/v1/tokens/"+id, s.AdminToken, nil).Raw
			for _, body := range []string{
				`{"network":{"mode":"everywhere"}}`,
				`{"network":{"mode":"in_zones","zones":[]}}`,
				`{"network":{"mode":"in_zones","zones":["zone_doesnotexist"]}}`,
				`{"network":{"mode":"any","zones":["` + office + `"]}}`,
				`{"network":{"mode":"not_in_zones","zones":["` + office + `","` + office + `"]}}`,
				`{"rate_limit_percent":0}`,
				`{"rate_limit_percent":101}`,
				`{"rate_limit_percent":"50"}`,
				`{"network":{"mode":"any"},"rate_limit_percent":0}`,
			} {
				r := s.Do("PATCH", "/v1/tokens/"+id, s.AdminToken, body).Want(t, http.StatusBadRequest)
				if r.String("error_description") == "" {
					t.Errorf("%s: %s", body, r.Raw)
				}
				s.Do("POST", "/v1/tokens", s.AdminToken, strings.Replace(body, "{", `{"name":"x",`, 1)).Want(t, http.StatusBadRequest)
			}
			if after := s.Do("GET", "/v1/tokens/"+id, s.AdminToken, nil).Raw; string(after) != string(before) {
				t.Errorf("refused patches changed the token:\n%s\n%s", before, after)
			}
			s.Do("PATCH", "/v1/tokens/tok_doesnotexist0000", s.AdminToken, `{"rate_limit_percent":10}`).Want(t, http.StatusNotFound)
			_, dev := s.AddUser(keysmith.RoleDeveloper, "")
			s.Do("PATCH", "/v1/tokens/"+id, dev, `{"rate_limit_percent":10}`).Want(t, http.StatusNotFound)
		})
	})
}

func TestClientAddress(t *testing.T) {
	s := apptest.Start(t, storetest.SQLite(t), app.Config{})
	// 127.0.0.1 is the proxy of zone "edge", whose clients come from 203.0.113.0/24.
	newZone(t, s, "edge", []string{"203.0.113.0/24"}, []string{"127.0.0.1", "10.0.0.0/8"})
	_, secret := newPolicyToken(t, s, "in_any_zone")
	withXFF := func(xff ...string) string {
		t.Helper()
		req, _ := http.NewRequest("POST", s.URL+"/v1/verify", strings.NewReader(`{"token":"`+secret+`"}`))
		req.Header.Set("Content-Type", "application/json")
		for _, v := range xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		return s.Send(req).Want(t, http.StatusOK).String("code")
	}
	for _, c := range []struct {
		name string
		xff  []string
		want string
	}{
		{"NoHeaderMeansTheConnection", nil, "IP_FORBIDDEN"},
		{"TrustedProxyReportsItsClient", []string{"203.0.113.7"}, "VALID"},
		{"SpoofedLeftmostEntryIsIgnored", []string{"203.0.113.7, 192.0.2.66"}, "IP_FORBIDDEN"},
		{"WalksThroughTrustedProxies", []string{"203.0.113.7, 10.1.2.3"}, "VALID"},
		{"StopsAtTheFirstUntrustedHop", []string{"203.0.113.7, 192.0.2.66, 10.1.2.3"}, "IP_FORBIDDEN"},
		{"SeveralHeadersAreOneList", []string{"203.0.113.7", "10.1.2.3"}, "VALID"},
		{"GarbageHopStopsAtTheProxy", []string{"203.0.113.7, garbage"}, "IP_FORBIDDEN"},
		{"HopWithPort", []string{"203.0.113.7:4711"}, "VALID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := withXFF(c.xff...); got != c.want {
				t.Errorf("X-Forwarded-For %q: %s, want %s", c.xff, got, c.want)
			}
		})
	}

	t.Run("UntrustedConnectionCannotSpoof", func(t *testing.T) {
		s := apptest.Start(t, storetest.SQLite(t), app.Config{})
		newZone(t, s, "edge", []string{"203.0.113.0/24"}, []string{"10.0.0.1"})
		_, secret := newPolicyToken(t, s, "in_any_zone")
		req, _ := http.NewRequest("GET", s.URL+"/v1/tokens", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		s.Send(req).Want(t, http.StatusForbidden)
	})

	t.Run("TrustedProxiesFlag", func(t *testing.T) {
		s := apptest.Start(t, storetest.SQLite(t), app.Config{TrustedProxies: mustPrefixes(t, "127.0.0.0/8")})
		newZone(t, s, "edge", []string{"203.0.113.0/24"}, nil)
		_, secret := newPolicyToken(t, s, "in_any_zone")
		req, _ := http.NewRequest("GET", s.URL+"/v1/tokens", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		s.Send(req).Want(t, http.StatusOK)
		// The system log records the resolved address.
		var ip string
		r := s.Do("POST", "/v1/zones", s.AdminToken, map[string]any{"name": "logged", "gateways": []string{}})
		r.Want(t, http.StatusCreated)
		req, _ = http.NewRequest("PATCH", s.URL+"/v1/zones/"+r.String("id"), strings.NewReader(`{"name":"logged2"}`))
		req.Header.Set("Authorization", "Bearer "+s.AdminToken)
		req.Header.Set("X-Forwarded-For", "198.51.100.99")
		s.Send(req).Want(t, http.StatusOK)
		err := s.App.Store.SQL().QueryRow(`SELECT data FROM events WHERE type = 'zone.updated' ORDER BY seq DESC LIMIT 1`).Scan(&ip)
		if err != nil || !strings.Contains(ip, `"client_ip":"198.51.100.99"`) {
			t.Errorf("event %s (%v), want client_ip 198.51.100.99", ip, err)
		}
	})
}

func TestRateLimits(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		admin := s.AdminToken

		t.Run("DefaultsAreDocumentedAndOnlySuperAdminsChangeThem", func(t *testing.T) {
			r := s.Do("GET", "/v1/settings/rate-limits", admin, nil).Want(t, http.StatusOK)
			for g, n := range keysmith.DefaultRateLimits() {
				if r.Body[string(g)] != float64(n) {
					t.Errorf("default of %s = %v, want %d", g, r.Body[string(g)], n)
				}
			}
			_, org := s.AddUser(keysmith.RoleOrgAdmin, "")
			s.Do("GET", "/v1/settings/rate-limits", org, nil).Want(t, http.StatusForbidden)
			s.Do("PUT", "/v1/settings/rate-limits", org, map[string]any{"tokens": 1}).Want(t, http.StatusForbidden)
			for _, body := range []string{`{"tokens":0}`, `{"tokens":-1}`, `{"nope":5}`, `{"tokens":"5"}`, `[]`, `null`, `{"tokens":1000000001}`} {
				s.Do("PUT", "/v1/settings/rate-limits", admin, body).Want(t, http.StatusBadRequest)
			}
			if again := s.Do("GET", "/v1/settings/rate-limits", admin, nil); string(again.Raw) != string(r.Raw) {
				t.Errorf("refused PUTs changed the limits: %s", again.Raw)
			}
		})

		t.Run("ManagementAPIAnswers429WithHeaders", func(t *testing.T) {
			s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"zones": 4}).Want(t, http.StatusOK)
			r := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "limited", "rate_limit_percent": 50}).Want(t, http.StatusCreated)
			if r.Body["rate_limit_percent"] != float64(50) {
				t.Errorf("created token: %s", r.Raw)
			}
			tok := r.String("token")
			for i := range 2 {
				ok := s.Do("GET", "/v1/zones", tok, nil).Want(t, http.StatusOK)
				if ok.Header.Get("RateLimit-Limit") != "2" || ok.Header.Get("RateLimit-Remaining") != fmt.Sprint(1-i) {
					t.Errorf("request %d headers: %v", i+1, ok.Header)
				}
			}
			lim := s.Do("GET", "/v1/zones", tok, nil).Want(t, http.StatusTooManyRequests)
			h := lim.Header
			if lim.String("error") != "rate_limited" || lim.String("error_description") == "" ||
				h.Get("Retry-After") != "30" || h.Get("RateLimit-Limit") != "2" || h.Get("RateLimit-Remaining") != "0" || h.Get("RateLimit-Reset") != "60" {
				t.Errorf("429: %s, headers %v", lim.Raw, h)
			}
			// Other groups have their own counters.
			s.Do("GET", "/v1/tokens", tok, nil).Want(t, http.StatusOK)
			s.Clock.Advance(30 * time.Second)
			s.Do("GET", "/v1/zones", tok, nil).Want(t, http.StatusOK)
			s.Do("GET", "/v1/zones", tok, nil).Want(t, http.StatusTooManyRequests)
			// The limit changes live: a bigger maximum lets the token on.
			s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"zones": 100}).Want(t, http.StatusOK)
			s.Do("GET", "/v1/zones", tok, nil).Want(t, http.StatusOK)
		})

		t.Run("VerifyAnswersRateLimitedAndReportsTheShare", func(t *testing.T) {
			s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"verified": 10}).Want(t, http.StatusOK)
			id, secret := newToken(t, s, admin, "verified share")
			for i := range 5 {
				r := s.Do("POST", "/v1/verify", "", map[string]any{"token": secret}).Want(t, http.StatusOK)
				rl, _ := r.Body["ratelimit"].(map[string]any)
				if r.String("code") != "VALID" || rl["limit"] != float64(5) || rl["remaining"] != float64(4-i) || rl["reset"] == nil {
					t.Fatalf("verify %d: %s", i+1, r.Raw)
				}
			}
			r := s.Do("POST", "/v1/verify", "", map[string]any{"token": secret}).Want(t, http.StatusOK)
			if r.String("code") != "RATE_LIMITED" || r.Body["valid"] != false || r.String("token_id") != id {
				t.Errorf("over the share: %s", r.Raw)
			}
			if rl, _ := r.Body["ratelimit"].(map[string]any); rl["remaining"] != float64(0) || rl["reset"] != float64(60) {
				t.Errorf("over the share, ratelimit: %s", r.Raw)
			}
			// PATCH raises the share at once.
			s.Do("PATCH", "/v1/tokens/"+id, admin, map[string]any{"rate_limit_percent": 100}).Want(t, http.StatusOK)
			if c := verifyCode(t, s, secret); c != "VALID" {
				t.Errorf("after raising the share: %s", c)
			}
			// Known tokens that fail still show their share, without using it.
			s.Do("DELETE", "/v1/tokens/"+id, admin, nil).Want(t, http.StatusNoContent)
			r = s.Do("POST", "/v1/verify", "", map[string]any{"token": secret}).Want(t, http.StatusOK)
			if _, ok := r.Body["ratelimit"].(map[string]any); r.String("code") != "REVOKED" || !ok {
				t.Errorf("revoked token: %s", r.Raw)
			}
			if r := s.Do("POST", "/v1/verify", "", map[string]any{"token": unissued()}); r.Body["ratelimit"] != nil {
				t.Errorf("unknown token shows a ratelimit: %s", r.Raw)
			}
		})

		t.Run("RefusedNetworkDoesNotUseTheShare", func(t *testing.T) {
			s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"verified": 2}).Want(t, http.StatusOK)
			zid := newZone(t, s, "share zone", []string{"192.0.2.0/24"}, nil)
			_, secret := newPolicyToken(t, s, "in_zones", zid)
			for range 5 {
				if c := verifyFrom(t, s, secret, "198.51.100.1").String("code"); c != "IP_FORBIDDEN" {
					t.Fatalf("outside: %s", c)
				}
			}
			if c := verifyFrom(t, s, secret, "192.0.2.1").String("code"); c != "VALID" {
				t.Errorf("inside after refusals from outside: %s, want VALID", c)
			}
			s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{}).Want(t, http.StatusOK)
		})

		t.Run("LoweredLimitReportsZeroRemainingAndARetryAfterWithinTheReset", func(t *testing.T) {
			s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"verified": 40, "zones": 40}).Want(t, http.StatusOK)
			id, secret := newToken(t, s, admin, "lowered") // shares of 20
			for range 20 {
				verifyCode(t, s, secret)
				s.Do("GET", "/v1/zones", secret, nil).Want(t, http.StatusOK)
			}
			// Shares of 2: the 20 used count against them (10 windows' worth).
			s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"verified": 4, "zones": 4}).Want(t, http.StatusOK)
			s.Do("PATCH", "/v1/tokens/"+id, admin, map[string]any{"enabled": false}).Want(t, http.StatusOK)
			r := s.Do("POST", "/v1/verify", "", map[string]any{"token": secret}).Want(t, http.StatusOK)
			if rl, _ := r.Body["ratelimit"].(map[string]any); r.String("code") != "DISABLED" || rl["remaining"] != float64(0) || rl["reset"] != float64(600) {
				t.Errorf("disabled token over a lowered limit: %s, want remaining 0 and reset 600", r.Raw)
			}
			s.Do("PATCH", "/v1/tokens/"+id, admin, map[string]any{"enabled": true}).Want(t, http.StatusOK)
			r = s.Do("POST", "/v1/verify", "", map[string]any{"token": secret}).Want(t, http.StatusOK)
			if rl, _ := r.Body["ratelimit"].(map[string]any); r.String("code") != "RATE_LIMITED" || rl["remaining"] != float64(0) {
				t.Errorf("over a lowered limit: %s", r.Raw)
			}
			h := s.Do("GET", "/v1/zones", secret, nil).Want(t, http.StatusTooManyRequests).Header
			retry, _ := strconv.Atoi(h.Get("Retry-After"))
			reset, _ := strconv.Atoi(h.Get("RateLimit-Reset"))
			// One more request fits when the 20 used, at 30 s each, are
			// back to 2 in the window: 600 s - 60 s + 30 s.
			if h.Get("RateLimit-Remaining") != "0" || retry != 570 || reset != 600 {
				t.Errorf("429 over a lowered limit: Remaining %q, Retry-After %q, Reset %q; want 0, 570, 600",
					h.Get("RateLimit-Remaining"), h.Get("Retry-After"), h.Get("RateLimit-Reset"))
			}
			s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{}).Want(t, http.StatusOK)
		})
	})
}

func mustPrefixes(t *testing.T, s ...string) []netip.Prefix {
	t.Helper()
	ps, err := keysmith.ParsePrefixes("test", s)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}
