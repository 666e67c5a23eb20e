package keymanager

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/ratelimit"
	"github.com/keysmith/keysmith/verify"
)

// How long introspection answers are remembered: an active token at most
// until it expires and never longer than activeTTL (a revocation at the
// manager shows within that), an inactive one inactiveTTL.
const (
	activeTTL   = 30 * time.Second
	inactiveTTL = 5 * time.Second
)

// introEntry is a remembered introspection answer; info nil: no manager
// knew the token.
type introEntry struct {
	info  *tokenInfo
	until time.Time
}

// introCall is an introspection in progress; identical questions wait for
// its outcome instead of asking again.
type introCall struct {
	done chan struct{}
	info *tokenInfo
	rl   *ratelimit.Result
	err  error
}

// introspect asks about an opaque token the one enabled manager with
// introspection whose opaque_token_prefix it starts with (the longest):
// never any other, so that no manager sees another's tokens. A token
// without such a prefix costs nothing; one asked recently is answered from
// memory. The call out takes a unit of the caller's budget of
// unknown-token lookups first, given back when the token turns out active,
// so that anonymous callers cannot drive traffic to the managers.
func (v *Verifier) introspect(ctx context.Context, set *managerSet, raw string, caller netip.Addr, now time.Time) (Result, error) {
	if !printable(raw) {
		return Result{Code: verify.NotFound}, nil
	}
	m := set.introspector(raw)
	if m == nil {
		return Result{Code: verify.NotFound}, nil
	}
	h := keysmith.HashOf(raw)
	v.mu.Lock()
	if e := v.intros[h]; e != nil && now.Before(e.until) {
		v.mu.Unlock()
		return v.answer(ctx, set, e.info, now)
	}
	c, busy := v.calls[h]
	if !busy {
		c = &introCall{done: make(chan struct{})}
		v.calls[h] = c
	}
	gen := v.gen
	v.mu.Unlock()
	switch {
	case busy:
		select {
		case <-c.done:
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	default:
		// Others may be waiting for this answer: it does not end with this
		// request (each call is bounded in time by HTTP).
		c.info, c.rl, c.err = v.askOne(context.WithoutCancel(ctx), m, raw, caller, now)
		v.mu.Lock()
		delete(v.calls, h)
		if v.gen == gen && c.err == nil && c.rl == nil {
			if len(v.intros) >= v.size {
				clear(v.intros)
			}
			v.intros[h] = &introEntry{info: c.info, until: v.cacheUntil(c.info, now)}
		}
		v.mu.Unlock()
		close(c.done)
	}
	if c.err != nil {
		return Result{}, c.err
	}
	if c.rl != nil {
		return Result{Code: verify.RateLimited, RateLimit: c.rl}, nil
	}
	return v.answer(ctx, set, c.info, now)
}

func (v *Verifier) answer(ctx context.Context, set *managerSet, info *tokenInfo, now time.Time) (Result, error) {
	if info == nil {
		return Result{Code: verify.NotFound}, nil
	}
	return v.finish(ctx, set, info, now)
}

func (v *Verifier) cacheUntil(info *tokenInfo, now time.Time) time.Time {
	if info == nil {
		return now.Add(inactiveTTL)
	}
	until := now.Add(activeTTL)
	if !info.exp.IsZero() && info.exp.Before(until) {
		until = info.exp
	}
	return until
}

// printable reports whether raw could be sent as a form value that means
// a token: visible ASCII only.
func printable(raw string) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] > '~' {
			return false
		}
	}
	return true
}

// askOne asks manager m, on caller's budget; rl is set when the budget was
// used up before the call.
func (v *Verifier) askOne(ctx context.Context, m *keysmith.KeyManager, raw string, caller netip.Addr, now time.Time) (*tokenInfo, *ratelimit.Result, error) {
	var pa *ratelimit.PerAddress
	limit := 0
	if caller.IsValid() {
		limits, err := v.limits(ctx)
		if err != nil {
			return nil, nil, err
		}
		limit = limits.WithDefaults()[keysmith.GroupUnknownTokens]
		pa = &ratelimit.PerAddress{Limiter: v.limiter, Group: string(keysmith.GroupUnknownTokens), Window: keysmith.RateLimitWindow}
	}
	if pa != nil {
		res, err := pa.Reserve(ctx, caller, limit)
		if err != nil {
			return nil, nil, err
		}
		if !res.Allowed {
			return nil, &res, nil
		}
	}
	info := v.ask(ctx, m, raw, now)
	if info != nil && pa != nil {
		if err := pa.Release(context.WithoutCancel(ctx), caller, limit); err != nil {
			v.log.WarnContext(ctx, "giving back an introspection unit failed", "err", err)
		}
	}
	return info, nil, nil
}

// introspection is the part of an RFC 7662 answer Keysmith reads.
type introspection struct {
	Active    bool            `json:"active"`
	Scope     spaceOrList     `json:"scope"`
	ClientID  string          `json:"client_id"`
	Sub       string          `json:"sub"`
	Exp       json.Number     `json:"exp"`
	Iat       json.Number     `json:"iat"`
	Nbf       json.Number     `json:"nbf"`
	Aud       json.RawMessage `json:"aud"`
	Iss       string          `json:"iss"`
	Jti       string          `json:"jti"`
	TokenType string          `json:"token_type"`
}

// ask asks manager m's introspection endpoint about raw (RFC 7662 §2.1,
// authenticated by client_secret_basic, RFC 6749 §2.3.1); nil unless the
// manager says the token is active, for Keysmith's audience, and issued
// by it. A failed call is logged and counts as "not known here".
func (v *Verifier) ask(ctx context.Context, m *keysmith.KeyManager, raw string, now time.Time) *tokenInfo {
	secret, err := v.sealer.Open(m.IntrospectionSecretSealed, m.IntrospectionSecretAAD())
	if err != nil {
		v.log.ErrorContext(ctx, "opening a key manager's introspection secret failed", "key_manager", m.ID, "err", err)
		return nil
	}
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.IntrospectionEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(m.IntrospectionClientID), url.QueryEscape(secret))
	res, err := v.http.Do(req)
	if err != nil {
		v.log.WarnContext(ctx, "a key manager's introspection failed", "key_manager", m.ID, "err", err)
		return nil
	}
	if res.Status != http.StatusOK {
		v.log.WarnContext(ctx, "a key manager's introspection answered an error", "key_manager", m.ID, "status", res.Status)
		return nil
	}
	var in introspection
	if err := json.Unmarshal(res.Body, &in); err != nil {
		v.log.WarnContext(ctx, "a key manager's introspection answer is not RFC 7662 JSON", "key_manager", m.ID, "err", err)
		return nil
	}
	if !in.Active || in.Iss != "" && in.Iss != m.Issuer || !audienceHas(in.Aud, m.ExpectedAudience()) ||
		in.TokenType != "" && !strings.EqualFold(in.TokenType, "bearer") && !strings.EqualFold(in.TokenType, "access_token") {
		return nil
	}
	if nbf, ok := unix(in.Nbf); ok && nbf.After(now.Add(v.leeway)) {
		return nil
	}
	info := &tokenInfo{managerID: m.ID, clientID: in.ClientID, scopes: in.Scope, subject: in.Sub, jti: in.Jti}
	if info.scopes == nil {
		info.scopes = []string{}
	}
	info.exp, _ = unix(in.Exp)
	info.iat, _ = unix(in.Iat)
	return info
}

func unix(n json.Number) (time.Time, bool) {
	s, err := n.Int64()
	if n == "" || err != nil {
		return time.Time{}, false
	}
	return time.Unix(s, 0).UTC(), true
}

// audienceHas reports whether aud (absent, a string or a list) allows
// want: an answer that names no audience leaves it to the manager, which
// said the token is active for Keysmith's credentials.
func audienceHas(aud json.RawMessage, want string) bool {
	if len(aud) == 0 || string(aud) == "null" {
		return true
	}
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return one == want
	}
	var many []string
	return json.Unmarshal(aud, &many) == nil && slices.Contains(many, want)
}
