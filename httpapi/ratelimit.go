package httpapi

import (
	"context"
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
	case "oauth", "consents":
		return keysmith.GroupOAuth
	case "logs", "events":
		return keysmith.GroupLogs
	case "zones", "trusted-origins":
		return keysmith.GroupZones
	case "settings":
		return keysmith.GroupSettings
	case "agents":
		return keysmith.GroupAgents
	}
	return ""
}

// setRateLimitHeaders writes the RateLimit-* headers (draft-ietf-httpapi-
// ratelimit-headers) and, when refused, Retry-After (RFC 9110).
func setRateLimitHeaders(w http.ResponseWriter, r ratelimit.Result) {
	// The keys in canonical form ("RateLimit-Limit" is sent as
	// "Ratelimit-Limit" either way; header names are case-insensitive), set
	// without Set's canonicalisation: verify and forward auth answer these
	// on every request.
	h := w.Header()
	h["Ratelimit-Limit"] = []string{strconv.Itoa(r.Limit)}
	h["Ratelimit-Remaining"] = []string{strconv.Itoa(r.Remaining)}
	h["Ratelimit-Reset"] = []string{strconv.Itoa(ratelimit.Seconds(r.Reset))}
	if !r.Allowed {
		h["Retry-After"] = []string{strconv.Itoa(max(1, ratelimit.Seconds(r.RetryAfter)))}
	}
}

// rateLimited is the error of a refused request; set the headers first.
func rateLimited(r ratelimit.Result) error {
	return keysmith.Errorf(keysmith.CodeRateLimited,
		"too many requests: the limit is %d per minute; retry after %d s", r.Limit, max(1, ratelimit.Seconds(r.RetryAfter)))
}

// countSession counts a request authenticated by a session cookie against
// the user's share (keysmith.DefaultRateLimitPercent) of the path's group,
// as a token's requests count against the token's: 429 with headers past it.
func (s *Server) countSession(w http.ResponseWriter, r *http.Request, u *keysmith.User) error {
	return s.countSessionIn(w, r, u, groupOf(r.URL.Path))
}

// countSessionIn counts a session's request against its user's share of
// group ("": not limited).
func (s *Server) countSessionIn(w http.ResponseWriter, r *http.Request, u *keysmith.User, group keysmith.APIGroup) error {
	if group == "" {
		return nil
	}
	limits, err := s.Verifier.Limits(r.Context())
	if err != nil {
		return err
	}
	limit := keysmith.Share(limits[group], keysmith.DefaultRateLimitPercent)
	res, err := s.Verifier.Limiter().Allow(r.Context(), "usr:"+string(group)+":"+u.ID, limit, keysmith.RateLimitWindow)
	if err != nil {
		return err
	}
	setRateLimitHeaders(w, res)
	if !res.Allowed {
		return rateLimited(res)
	}
	return nil
}

// denied answers a request refused with 403. Refusals count in their own
// budget (keysmith.GroupDenied): per token when the caller presented one
// (its shares of the other groups stay untouched, so whoever holds a token
// outside its networks cannot spend them), per user for a session, and per
// source address otherwise. Within the budget the refusal is recorded in
// the system log and answered as it is; past it, it is answered 429 and not
// recorded, so refusals cannot grow the log without bound.
func (s *Server) denied(w http.ResponseWriter, r *http.Request, p keysmith.Principal, refusal error) error {
	ctx := r.Context()
	limits, err := s.Verifier.Limits(ctx)
	if err != nil {
		return err
	}
	limit := limits[keysmith.GroupDenied]
	var res ratelimit.Result
	switch {
	case p.Token != nil:
		res, err = s.Verifier.Limiter().Allow(ctx, "tok:"+string(keysmith.GroupDenied)+":"+p.Token.ID, limit, keysmith.RateLimitWindow)
	case p.User != nil:
		res, err = s.Verifier.Limiter().Allow(ctx, "usr:"+string(keysmith.GroupDenied)+":"+p.User.ID, limit, keysmith.RateLimitWindow)
	default:
		pa := &ratelimit.PerAddress{Limiter: s.Verifier.Limiter(), Group: string(keysmith.GroupDenied), Window: keysmith.RateLimitWindow}
		res, err = pa.Reserve(ctx, clientAddr(ctx), limit)
	}
	if err != nil {
		return err
	}
	if !res.Allowed {
		setRateLimitHeaders(w, res)
		return keysmith.Errorf(keysmith.CodeRateLimited,
			"too many refused requests: %d a minute are answered 403 and recorded; retry after %d s, and check the credential's permissions and network policy",
			res.Limit, max(1, ratelimit.Seconds(res.RetryAfter)))
	}
	s.recordDenied(r, refusal)
	return refusal
}

// attempt is one unit of a per-address failure budget (failed sign-ins,
// failed client authentication), taken before the credentials are checked.
type attempt struct {
	s     *Server
	r     *http.Request
	pa    *ratelimit.PerAddress
	limit int
}

// reserveAttempt takes one unit of group's failure budget for the request's
// source address, or refuses (429, with headers) when it is used up. Call it
// before checking credentials, and settle the attempt after: reserving first
// means that attempts sent at once are limited like attempts sent one after
// another, where a look before and a count after would let a burst all pass
// the look.
func (s *Server) reserveAttempt(w http.ResponseWriter, r *http.Request, group keysmith.APIGroup) (*attempt, error) {
	pa, limit, err := s.perAddress(r, group)
	if err != nil {
		return nil, err
	}
	res, err := pa.Reserve(r.Context(), clientAddr(r.Context()), limit)
	if err != nil {
		return nil, err
	}
	if !res.Allowed {
		setRateLimitHeaders(w, res)
		return nil, rateLimited(res)
	}
	return &attempt{s: s, r: r, pa: pa, limit: limit}, nil
}

// settle keeps the reserved unit when the credentials were wrong, and gives
// it back otherwise (a success, or an attempt refused before they were
// checked), so that only failures count.
func (a *attempt) settle(failed bool) {
	if failed {
		return
	}
	// A caller that hung up still gets its unit back.
	ctx := context.WithoutCancel(a.r.Context())
	if err := a.pa.Release(ctx, clientAddr(ctx), a.limit); err != nil {
		a.s.Log.WarnContext(ctx, "giving back a reserved attempt failed", "group", a.pa.Group, "err", err)
	}
}

func (s *Server) perAddress(r *http.Request, group keysmith.APIGroup) (*ratelimit.PerAddress, int, error) {
	limits, err := s.Verifier.Limits(r.Context())
	if err != nil {
		return nil, 0, err
	}
	return &ratelimit.PerAddress{Limiter: s.Verifier.Limiter(), Group: string(group), Window: keysmith.RateLimitWindow},
		limits[group], nil
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
