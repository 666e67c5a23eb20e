package app_test

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// scrape fetches the metrics listener's /metrics over HTTP and parses the
// text format.
func scrape(t *testing.T, s *apptest.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + s.App.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value is the value of the sample of family name whose labels include
// labels ("k=v" pairs), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// TestMetrics starts the real server with a metrics listener, makes
// requests of every kind the metrics count, and scrapes the listener.
func TestMetrics(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{MetricsAddr: "127.0.0.1:0"})
		admin := s.AdminToken

		// Two verifications of an API token (the second from the cache),
		// one of a credential of no known form.
		for range 2 {
			if code := verifyCode(t, s, admin); code != "VALID" {
				t.Fatalf("verify the admin token: %s", code)
			}
		}
		verifyCode(t, s, "not-a-credential")
		// Forward auth: one admitted, one without a credential.
		fa := func(token string) int {
			req, _ := http.NewRequest("GET", s.URL+"/v1/forward-auth", nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return s.Send(req).Status
		}
		if got := fa(admin); got != http.StatusOK {
			t.Fatalf("forward auth with the admin token: %d", got)
		}
		if got := fa(""); got != http.StatusUnauthorized {
			t.Fatalf("forward auth without a credential: %d", got)
		}
		// A token issued by the client_credentials grant, then verified.
		appID := s.Do("POST", "/v1/apps", admin, map[string]any{"name": "metered"}).Want(t, http.StatusCreated).String("app_id")
		c := newClient(t, s, admin, map[string]any{"app_id": appID, "grant_types": []string{"client_credentials"}, "token_format": "opaque"})
		if code := verifyCode(t, s, accessToken(t, s, c)); code != "VALID" {
			t.Fatalf("verify the access token: %s", code)
		}
		// A failed sign-in.
		s.Do("POST", "/v1/sessions", "", map[string]any{"email": "nobody@example.com", "password": "wrong horse"}).Want(t, http.StatusUnauthorized)
		// A route with a path value.
		tokID := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "limited"}).Want(t, http.StatusCreated)
		limited, limitedID := tokID.String("token"), tokID.String("id")
		s.Do("GET", "/v1/tokens/"+limitedID, admin, nil).Want(t, http.StatusOK)
		// Rate-limit refusals of verify: a limit of 1 a minute.
		s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"verified": 1}).Want(t, http.StatusOK)
		codes := []string{verifyCode(t, s, limited), verifyCode(t, s, limited)}
		s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{}).Want(t, http.StatusOK)
		if codes[1] != "RATE_LIMITED" {
			t.Fatalf("verify past a limit of 1: %v, want VALID then RATE_LIMITED", codes)
		}

		fams := scrape(t, s)
		want := []struct {
			name    string
			labels  []string
			value   float64
			atLeast bool
		}{
			{"keysmith_verify_total", []string{"code=VALID", "kind=api_token"}, 3, false},
			{"keysmith_verify_total", []string{"code=RATE_LIMITED", "kind=api_token"}, 1, false},
			{"keysmith_verify_total", []string{"code=MALFORMED", "kind=none"}, 1, false},
			{"keysmith_verify_total", []string{"code=VALID", "kind=access_token"}, 1, false},
			{"keysmith_forward_auth_total", []string{"code=VALID", "kind=api_token"}, 1, false},
			{"keysmith_forward_auth_total", []string{"code=NOT_FOUND", "kind=none"}, 1, false},
			{"keysmith_oauth_tokens_issued_total", []string{"grant_type=client_credentials"}, 1, false},
			{"keysmith_oauth_tokens_issued_total", []string{"grant_type=refresh_token"}, 0, false},
			{"keysmith_signin_failures_total", []string{"reason=unknown_user"}, 1, false},
			{"keysmith_ratelimit_refused_total", []string{"group=verified"}, 1, false},
			{"keysmith_ratelimit_fallback", nil, 0, false},
			{"keysmith_http_request_duration_seconds", []string{"route=POST /v1/verify"}, 6, false},
			{"keysmith_http_request_duration_seconds", []string{"route=/v1/forward-auth"}, 2, false},
			{"keysmith_http_request_duration_seconds", []string{"route=GET /v1/tokens/{id}"}, 1, false},
			{"keysmith_http_request_duration_seconds", []string{"route=POST /v1/oauth/token"}, 1, false},
			{"keysmith_verify_cache_hits_total", nil, 1, true},
			{"keysmith_verify_cache_misses_total", nil, 1, true},
			{"keysmith_verify_cache_entries", nil, 1, true},
			{"keysmith_verify_cache_capacity", nil, 1, true},
			{"keysmith_verify_cache_evictions_total", nil, 0, true},
			{"keysmith_verify_cache_invalidations_total", nil, 0, true},
			{"keysmith_change_feed_up", nil, 1, false},
			{"keysmith_change_feed_failures_total", nil, 0, false},
			{"go_sql_open_connections", []string{"db_name=" + s.App.Store.Engine()}, 1, true},
			{"keysmith_build_info", nil, 1, false},
			{"go_goroutines", nil, 1, true},
		}
		for _, w := range want {
			got, ok := value(fams, w.name, w.labels...)
			switch {
			case !ok:
				t.Errorf("no %s%v in the scrape", w.name, w.labels)
			case w.atLeast && got < w.value:
				t.Errorf("%s%v = %v, want at least %v", w.name, w.labels, got, w.value)
			case !w.atLeast && got != w.value:
				t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
			}
		}
		// Routes are patterns, never raw paths.
		var routes []string
		for _, m := range fams["keysmith_http_request_duration_seconds"].GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "route" {
					routes = append(routes, lp.GetValue())
					if strings.Contains(lp.GetValue(), limitedID) {
						t.Errorf("route label %q holds a raw path", lp.GetValue())
					}
				}
			}
		}
		sort.Strings(routes)
		t.Logf("routes: %v", routes)
		// No secret reaches a metric.
		for name, f := range fams {
			if s := fmt.Sprint(f); strings.Contains(s, admin) || strings.Contains(s, limited) {
				t.Errorf("%s holds a secret", name)
			}
		}
	})
}

// TestMetricsListenerServesOnlyMetrics: the metrics listener answers
// /metrics and nothing else, and the API listener does not serve metrics.
func TestMetricsListenerServesOnlyMetrics(t *testing.T) {
	s := apptest.Start(t, storetest.SQLite(t), app.Config{MetricsAddr: "127.0.0.1:0"})
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	m := "http://" + s.App.MetricsAddr().String()
	for _, path := range []string{"/", "/v1/tokens", "/healthz", "/metrics/x", "/debug/pprof/"} {
		if code, _ := get(m + path); code != http.StatusNotFound {
			t.Errorf("metrics listener GET %s: %d, want 404", path, code)
		}
	}
	if code, body := get(s.URL + "/metrics"); strings.Contains(body, "keysmith_verify_total") || code == http.StatusOK && strings.Contains(body, "# HELP") {
		t.Errorf("the API listener serves metrics at /metrics: %d", code)
	}
	if addr := apptest.Start(t, storetest.SQLite(t), app.Config{}).App.MetricsAddr(); addr != nil {
		t.Errorf("without MetricsAddr the app listens for metrics on %v", addr)
	}
}
