package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/ratelimit"
)

// groupOf is the rate-limit group of a management path: its first segment
// after /v1/. Paths not listed here are not rate limited per token; add new
// resources to this table.
func groupOf(path string) keysmith.APIGroup {
	seg, _, _ := strings.Cut(strings.TrimPrefix(path, "/v1/"), "/")
	switch seg {
	case "tokens":
		return keysmith.GroupTokens
	case "users", "groups", "sessions", "me":
		return keysmith.GroupUsers
	case "apps", "clients":
		return keysmith.GroupApps
	case "oauth":
		return keysmith.GroupOAuth
	case "logs", "events":
		return keysmith.GroupLogs
	case "zones":
		return keysmith.GroupZones
	case "settings":
		return keysmith.GroupSettings
	}
	return ""
}

// setRateLimitHeaders writes the RateLimit-* headers (draft-ietf-httpapi-
// ratelimit-headers) and, when refused, Retry-After (RFC 9110).
func setRateLimitHeaders(w http.ResponseWriter, r ratelimit.Result) {
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(r.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(r.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ratelimit.Seconds(r.Reset)))
	if !r.Allowed {
		h.Set("Retry-After", strconv.Itoa(max(1, ratelimit.Seconds(r.RetryAfter))))
	}
}

// rateLimited is the error of a refused request; set the headers first.
func rateLimited(r ratelimit.Result) error {
	return keysmith.Errorf(keysmith.CodeRateLimited,
		"too many requests: the limit is %d per minute; retry after %d s", r.Limit, max(1, ratelimit.Seconds(r.RetryAfter)))
}

// countIssuance counts one access token issued to a client against its
// keysmith.GroupTokenIssuance limit, refusing (429, with headers) when the
// client has used it up.
func (s *Server) countIssuance(w http.ResponseWriter, r *http.Request, clientID string) error {
	limits, err := s.Verifier.Limits(r.Context())
	if err != nil {
		return err
	}
	key := "cli:" + string(keysmith.GroupTokenIssuance) + ":" + clientID
	res, err := s.Verifier.Limiter().Allow(r.Context(), key, limits[keysmith.GroupTokenIssuance], keysmith.RateLimitWindow)
	if err != nil {
		return err
	}
	setRateLimitHeaders(w, res)
	if !res.Allowed {
		return rateLimited(res)
	}
	return nil
}

// checkFailures refuses (429, with headers) a request whose source address
// has used up its failures of group (keysmith.GroupFailedSignIns,
// keysmith.GroupFailedClientAuth). Call it before checking credentials, and
// countFailure when they turn out wrong.
func (s *Server) checkFailures(w http.ResponseWriter, r *http.Request, group keysmith.APIGroup) error {
	pa, limit, err := s.perAddress(r, group)
	if err != nil {
		return err
	}
	res, err := pa.Check(r.Context(), clientAddr(r.Context()), limit)
	if err != nil {
		return err
	}
	if !res.Allowed {
		setRateLimitHeaders(w, res)
		return rateLimited(res)
	}
	return nil
}

// countFailure counts one failure of group from the request's address.
func (s *Server) countFailure(r *http.Request, group keysmith.APIGroup) error {
	pa, limit, err := s.perAddress(r, group)
	if err != nil {
		return err
	}
	_, err = pa.Fail(r.Context(), clientAddr(r.Context()), limit)
	return err
}

func (s *Server) perAddress(r *http.Request, group keysmith.APIGroup) (*ratelimit.PerAddress, int, error) {
	limits, err := s.Verifier.Limits(r.Context())
	if err != nil {
		return nil, 0, err
	}
	return &ratelimit.PerAddress{Limiter: s.Verifier.Limiter(), Group: string(group), Window: keysmith.RateLimitWindow},
		limits[group], nil
}
