package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/keysmith/keysmith"
)

// plan is the life of one seeded token: who made it when, how it is used,
// and what happens to it later.
type plan struct {
	r       *rand.Rand // the token's own, so its audit data is reproducible too
	created time.Time
	owner   *keysmith.User
	creator *keysmith.User
	name    string
	idle    time.Duration
	expires *time.Time
	meta    json.RawMessage
	uses    []time.Time // each within 0.9 idle TTLs of the one before, so the store accepts it
	ip      string
	revoke  time.Time // zero: never
	disable time.Time // zero: never
	expiry  time.Time // when it stops being valid by the clock: its absolute expiry or idle deadline
}

// rareName is in the names of one token in rareEvery, for the management
// reads to search for.
const (
	rareName  = "orchid"
	rareEvery = 50_000
)

// liveMargin is how long after the end of the history a token counted live
// stays valid by the clock, so that the sample outlives a measurement.
const liveMargin = 6 * time.Hour

// live reports whether the token is valid at end and for liveMargin after.
func (p *plan) live(end time.Time) bool {
	return p.revoke.IsZero() && p.disable.IsZero() && p.expiry.After(end.Add(liveMargin))
}

var (
	services = []string{"billing", "checkout", "search", "ingest", "reports", "ci-deploy", "payments", "mobile", "etl", "webhooks",
		"inventory", "auth-proxy", "analytics", "backup", "monitoring", "terraform"}
	envs  = []string{"prod", "staging", "dev", "test", "sandbox"}
	teams = []string{"platform", "growth", "data", "mobile", "infra", "security", "finance"}
)

// plan draws the life of token i. Tokens are spread evenly over the
// history, in order, so seeding can follow the timeline.
func (s *seeder) plan(i int) *plan {
	r := rand.New(rand.NewPCG(uint64(s.cfg.seed), uint64(i)+1_000))
	slot := s.cfg.history / time.Duration(s.cfg.tokens)
	p := &plan{r: r, created: micro(s.end.Add(-s.cfg.history + time.Duration(i)*slot + randIn(r, 0, slot)))}
	if r.IntN(4) == 0 {
		p.owner, p.creator = s.service[r.IntN(len(s.service))], s.orgWide[r.IntN(len(s.orgWide))]
	} else {
		p.owner = s.persons[r.IntN(len(s.persons))]
		p.creator = p.owner
	}
	p.name = fmt.Sprintf("%s-%s-%d", services[r.IntN(len(services))], envs[r.IntN(len(envs))], i)
	if i%rareEvery == 7 {
		p.name = fmt.Sprintf("%s-%s-%d", rareName, envs[r.IntN(len(envs))], i)
	}
	switch n := r.IntN(100); {
	case n < 65:
		p.idle = keysmith.DefaultIdleTTL
	case n < 80:
		p.idle = 90 * 24 * time.Hour
	case n < 92:
		p.idle = 7 * 24 * time.Hour
	default:
		p.idle = randIn(r, time.Hour, 24*time.Hour).Truncate(time.Second)
	}
	switch n := r.IntN(100); {
	case n < 35:
		p.expires = timeAt(p.created.Add(randIn(r, 24*time.Hour, 365*24*time.Hour)))
	case n < 45: // due over the next minutes and hours
		p.expires = timeAt(s.end.Add(randIn(r, time.Minute, 6*time.Hour)))
	case n < 50:
		p.expires = timeAt(s.end.Add(randIn(r, 6*time.Hour, 7*24*time.Hour)))
	}
	switch n := r.IntN(100); {
	case n < 50:
		p.meta = json.RawMessage(fmt.Sprintf(`{"cost_center":"cc-%d","team":%q}`, r.IntN(900)+100, teams[r.IntN(len(teams))]))
	case n < 65:
		p.meta = json.RawMessage(fmt.Sprintf(`{"env":%q,"owner_channel":"#%s-alerts","repo":"git.example.com/acme/%s","team":%q}`,
			envs[r.IntN(len(envs))], teams[r.IntN(len(teams))], services[r.IntN(len(services))], teams[r.IntN(len(teams))]))
	}
	switch n := r.IntN(100); {
	case n < 5:
		p.revoke = p.created.Add(randIn(r, time.Second, s.end.Sub(p.created)))
	case n < 8:
		p.disable = p.created.Add(randIn(r, time.Second, s.end.Sub(p.created)))
	}
	p.ip = fmt.Sprintf("192.0.2.%d", 1+r.IntN(254))
	s.planUses(p)
	return p
}

// planUses draws the token's uses (three in four tokens are used) and from
// them its expiry. Uses stop when the token is revoked, disabled or
// expires. The last use leans towards the present; reaching it takes a
// chain of uses, each within 0.9 idle TTLs of the one before, at most three.
func (s *seeder) planUses(p *plan) {
	stop := s.end
	for _, t := range []time.Time{p.revoke, p.disable} {
		if !t.IsZero() && t.Before(stop) {
			stop = t
		}
	}
	if p.expires != nil && p.expires.Before(stop) {
		stop = *p.expires
	}
	last := p.created
	if p.r.IntN(4) != 0 && stop.After(p.created.Add(time.Second)) {
		f := p.r.Float64()
		want := stop.Add(-time.Duration(f * f * f * float64(stop.Sub(p.created))))
		step := p.idle * 9 / 10
		steps := min(3, int(want.Sub(p.created)/step)+1)
		target := minTime(want, p.created.Add(time.Duration(steps)*step))
		for k := 1; k <= steps; k++ {
			at := micro(p.created.Add(target.Sub(p.created) * time.Duration(k) / time.Duration(steps)))
			if at.After(last) {
				p.uses = append(p.uses, at)
				last = at
			}
		}
	}
	p.expiry = last.Add(p.idle)
	if p.expires != nil && p.expires.Before(p.expiry) {
		p.expiry = *p.expires
	}
}

func timeAt(t time.Time) *time.Time { t = micro(t); return &t }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
