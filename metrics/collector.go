package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
)

// collector reads the counters the parts keep when Prometheus scrapes, so
// that they cost nothing more than their atomic adds between scrapes.
type collector struct{ src Sources }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	cacheEntries       = desc("keysmith_verify_cache_entries", "Token entries (one per secret) in the verifier's cache.")
	cacheOwners        = desc("keysmith_verify_cache_owners", "Owners in the verifier's cache.")
	cacheCapacity      = desc("keysmith_verify_cache_capacity", "Most token entries (and, apart, owners) the verifier's cache keeps (--verify-cache).")
	cacheHits          = desc("keysmith_verify_cache_hits_total", "Verifications answered from a cached token entry.")
	cacheNegativeHits  = desc("keysmith_verify_cache_negative_hits_total", "Verifications of unknown secrets answered from the negative cache.")
	cacheMisses        = desc("keysmith_verify_cache_misses_total", "Verifications that read the token from the database.")
	cacheEvictions     = desc("keysmith_verify_cache_evictions_total", "Token entries dropped to make room.")
	cacheInvalidations = desc("keysmith_verify_cache_invalidations_total", "Token entries dropped because a change was published.")
	feedUp             = desc("keysmith_change_feed_up", "1 while every change (from every replica) reaches the caches, 0 while the PostgreSQL change listener is lost.")
	feedFailures       = desc("keysmith_change_feed_failures_total", "Times the PostgreSQL change listener was lost (and every cache dropped).")
	rateLimitFallback  = desc("keysmith_ratelimit_fallback", "1 while Redis is configured but unreachable and rate limits are counted in this process, else 0.")
	rateLimitRefused   = desc("keysmith_ratelimit_refused_total", "Requests refused by a rate limit, by group.", "group")
	tokensIssued       = desc("keysmith_oauth_tokens_issued_total", "OAuth access tokens issued, by grant type.", "grant_type")
	signInFailures     = desc("keysmith_signin_failures_total", "Failed sign-ins with a password, by reason.", "reason")
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheEntries, cacheOwners, cacheCapacity, cacheHits, cacheNegativeHits,
		cacheMisses, cacheEvictions, cacheInvalidations, feedUp, feedFailures, rateLimitFallback, rateLimitRefused,
		tokensIssued, signInFailures} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	s := c.src
	if s.Cache != nil {
		st := s.Cache()
		gauge(cacheEntries, float64(st.Size))
		gauge(cacheOwners, float64(st.Owners))
		gauge(cacheCapacity, float64(st.Capacity))
		counter(cacheHits, st.Hits)
		counter(cacheNegativeHits, st.NegativeHits)
		counter(cacheMisses, st.Misses)
		counter(cacheEvictions, st.Evictions)
		counter(cacheInvalidations, st.Invalidations)
		gauge(feedUp, boolValue(st.FeedHealthy))
	}
	if s.ChangeFeedFailures != nil {
		counter(feedFailures, s.ChangeFeedFailures())
	}
	if s.RateLimitStatus != nil {
		ok, _ := s.RateLimitStatus() // the detail may hold an address: never exported
		gauge(rateLimitFallback, boolValue(!ok))
	}
	if s.Refused != nil {
		s.Refused(func(group string, n uint64) { counter(rateLimitRefused, n, group) })
	}
	if s.Issued != nil {
		for i, n := range s.Issued() {
			counter(tokensIssued, n, oauth.IssuedGrants[i])
		}
	}
	if s.SignInFailures != nil {
		for i, n := range s.SignInFailures() {
			counter(signInFailures, n, keysmith.SignInFailureReasons[i])
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
