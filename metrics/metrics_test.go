package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/httpapi"
	"github.com/keysmith/keysmith/metrics"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/verify"
)

// scrape returns the text exposition of m, parsed, as name{labels} → value
// (a histogram by its count).
func scrape(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, s := range f.GetMetric() {
			var ls []string
			for _, l := range s.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			key := name + "{" + strings.Join(ls, ",") + "}"
			switch {
			case s.Counter != nil:
				out[key] = s.Counter.GetValue()
			case s.Gauge != nil:
				out[key] = s.Gauge.GetValue()
			case s.Histogram != nil:
				out[key] = float64(s.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func TestGatewayOutcomesAreCountedByCodeAndKind(t *testing.T) {
	m := metrics.New(metrics.Sources{})
	m.Gateway(httpapi.EndpointVerify, string(verify.Valid), keysmith.CredentialAPIToken)
	m.Gateway(httpapi.EndpointVerify, string(verify.Valid), keysmith.CredentialAPIToken)
	m.Gateway(httpapi.EndpointForwardAuth, string(verify.NotFound), httpapi.CredentialNone)
	m.Gateway(httpapi.EndpointVerify, "SOMETHING_NEW", keysmith.CredentialAPIToken)
	got := scrape(t, m)
	for key, want := range map[string]float64{
		"keysmith_verify_total{code=VALID,kind=api_token}":         2,
		"keysmith_forward_auth_total{code=NOT_FOUND,kind=none}":    1,
		"keysmith_verify_total{code=other,kind=other}":             1,
		"keysmith_verify_total{code=REVOKED,kind=app_key}":         0, // every combination is there from the start
		"keysmith_forward_auth_total{code=RATE_LIMITED,kind=none}": 0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
}

func TestRequestsAreTimedByPattern(t *testing.T) {
	m := metrics.New(metrics.Sources{})
	m.Request("GET /v1/tokens/{id}", time.Millisecond)
	m.Request("GET /v1/tokens/{id}", 2*time.Millisecond)
	m.Request("", time.Millisecond)
	got := scrape(t, m)
	if v := got["keysmith_http_request_duration_seconds{route=GET /v1/tokens/{id}}"]; v != 2 {
		t.Errorf("GET /v1/tokens/{id} observed %v times, want 2", v)
	}
	if v := got["keysmith_http_request_duration_seconds{route=none}"]; v != 1 {
		t.Errorf("no route observed %v times, want 1 under route=none", v)
	}
}

// The hot path's hooks allocate nothing once a route has been seen.
func TestHooksDoNotAllocate(t *testing.T) {
	m := metrics.New(metrics.Sources{})
	m.Request("POST /v1/verify", time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() {
		m.Gateway(httpapi.EndpointVerify, string(verify.Valid), keysmith.CredentialAPIToken)
		m.Request("POST /v1/verify", 50*time.Microsecond)
	}); n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}

func TestScrapeReadsTheSources(t *testing.T) {
	var issued [len(oauth.IssuedGrants)]uint64
	issued[0] = 3
	var failures [len(keysmith.SignInFailureReasons)]uint64
	failures[len(failures)-1] = 2
	m := metrics.New(metrics.Sources{
		Cache: func() verify.Stats {
			return verify.Stats{Hits: 5, NegativeHits: 1, Misses: 2, Evictions: 3, Invalidations: 4, Size: 7, Owners: 1, Capacity: 100, FeedHealthy: true}
		},
		ChangeFeedFailures: func() uint64 { return 1 },
		RateLimitStatus:    func() (bool, string) { return false, "dial tcp 10.0.0.9:6379: refused" },
		Refused:            func(f func(string, uint64)) { f("verified", 9); f("other", 0) },
		Issued:             func() [len(oauth.IssuedGrants)]uint64 { return issued },
		SignInFailures:     func() [len(keysmith.SignInFailureReasons)]uint64 { return failures },
	})
	got := scrape(t, m)
	for key, want := range map[string]float64{
		"keysmith_verify_cache_hits_total{}":                                5,
		"keysmith_verify_cache_negative_hits_total{}":                       1,
		"keysmith_verify_cache_misses_total{}":                              2,
		"keysmith_verify_cache_evictions_total{}":                           3,
		"keysmith_verify_cache_invalidations_total{}":                       4,
		"keysmith_verify_cache_entries{}":                                   7,
		"keysmith_verify_cache_capacity{}":                                  100,
		"keysmith_change_feed_up{}":                                         1,
		"keysmith_change_feed_failures_total{}":                             1,
		"keysmith_ratelimit_fallback{}":                                     1,
		"keysmith_ratelimit_refused_total{group=verified}":                  9,
		"keysmith_oauth_tokens_issued_total{grant_type=client_credentials}": 3,
		"keysmith_oauth_tokens_issued_total{grant_type=authorization_code}": 0,
		"keysmith_signin_failures_total{reason=wrong_password}":             2,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	for key := range got {
		if strings.Contains(key, "10.0.0.9") {
			t.Errorf("%s: the rate limiter's detail (an address) reached the metrics", key)
		}
	}
}
