package main

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/store"
)

// clock is the seeding store's clock: the seeder moves it to the moment of
// each change it makes, so every row and event carries the time the API
// would have given it.
type clock struct{ us atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}

// Now is the clock's moment; it is the store's Options.Now.
func (c *clock) Now() time.Time { return time.UnixMicro(c.us.Load()).UTC() }

// set moves the clock to t.
func (c *clock) set(t time.Time) { c.us.Store(t.UnixMicro()) }

// micro is t as the store keeps it, to the microsecond.
func micro(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// randIn draws a duration in [lo, hi), or lo if the range is empty.
func randIn(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// seeded is what seeding made that the caller needs afterwards.
type seeded struct {
	AdminToken string // a super admin's API token, made at the end with the default idle TTL
	Live       int    // tokens valid at the end of seeding, and for hours after
	Sampled    int    // plaintexts written to the sample file
	Events     int64  // events recorded
	Elapsed    time.Duration
}

// seeder lays down the history of N tokens in chronological order: each
// token's creation, and the later changes (revocation, disabling, the
// expiry the sweep records) when the timeline reaches them.
type seeder struct {
	cfg     config
	db      *store.DB
	clk     *clock
	end     time.Time // the present: the last moment of the history
	admin   *keysmith.User
	persons []*keysmith.User // admins of several roles, who own and create tokens
	service []*keysmith.User // service accounts, whose tokens org and super admins create
	orgWide []*keysmith.User
	due     followUps
	sample  *reservoir
	events  int64
}

// seed fills the database at cfg.db and writes the sample file. It prints
// progress on progress.
func seed(ctx context.Context, cfg config, progress io.Writer) (*seeded, error) {
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	end := micro(start.UTC())
	clk := newClock(end.Add(-cfg.history - time.Hour))
	db, err := store.Open(ctx, cfg.db, store.Options{Now: clk.Now, Logger: quietLogger()})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var users int
	if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&users); err != nil {
		return nil, err
	}
	if users > 0 {
		return nil, fmt.Errorf("the database at -db already has %d users: seed an empty one (a new SQLite path, or a new PostgreSQL database)", users)
	}
	s := &seeder{cfg: cfg, db: db, clk: clk, end: end, sample: newReservoir(cfg.sampleMax, cfg.seed)}
	if err := s.createUsers(ctx); err != nil {
		return nil, fmt.Errorf("creating users: %w", err)
	}
	if err := s.createTokens(ctx, progress); err != nil {
		return nil, fmt.Errorf("creating tokens: %w", err)
	}
	admin, err := s.createAdminToken(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating the admin token: %w", err)
	}
	out := &seeded{AdminToken: admin, Live: s.sample.seen, Sampled: len(s.sample.items), Events: s.events}
	if cfg.sample != "" {
		if err := s.sample.write(cfg.sample); err != nil {
			return nil, err
		}
	}
	out.Elapsed = time.Since(start)
	return out, nil
}

// userAgents are those of the seeded requests.
var userAgents = []string{"keysmith-cli/1.4.2", "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
	"terraform-provider-keysmith/0.9.1", "curl/8.11.1"}

// audit is the audit context of a request made by u.
func audit(ctx context.Context, r *rand.Rand, u *keysmith.User) context.Context {
	var id [8]byte
	for i := range id {
		id[i] = byte(r.UintN(256))
	}
	return keysmith.WithAudit(ctx, keysmith.Audit{Actor: keysmith.UserRef(u),
		ClientIP:  fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), 1+r.IntN(254)),
		UserAgent: userAgents[r.IntN(len(userAgents))], RequestID: hex.EncodeToString(id[:])})
}

// createUsers makes the first super admin (as keysmith init does), then as
// that admin the people of every role and the service accounts.
func (s *seeder) createUsers(ctx context.Context) error {
	r := rand.New(rand.NewPCG(uint64(s.cfg.seed), 0))
	persons, services := max(4, s.cfg.tokens/400), max(2, s.cfg.tokens/2000)
	roles := []keysmith.Role{keysmith.RoleOrgAdmin, keysmith.RoleOrgAdmin, keysmith.RoleGroupAdmin, keysmith.RoleGroupAdmin,
		keysmith.RoleGroupMembershipAdmin, keysmith.RoleReadOnlyAdmin, keysmith.RoleReadOnlyAdmin, keysmith.RoleSuperAdmin,
		keysmith.RoleDeveloper, keysmith.RoleDeveloper}
	return s.db.Batch(ctx, func(b *store.Batch) error {
		now := s.clk.Now()
		s.admin = &keysmith.User{ID: keysmith.NewID("usr"), Email: "admin@scale.example", Name: "Administrator",
			Role: keysmith.RoleSuperAdmin, Type: keysmith.UserPerson, Status: keysmith.UserActive, CreatedAt: now, UpdatedAt: now}
		if err := b.CreateUser(keysmith.WithAudit(ctx, keysmith.Audit{Actor: keysmith.SystemActor}), s.admin, ""); err != nil {
			return err
		}
		s.events++
		s.orgWide = append(s.orgWide, s.admin)
		for i := range persons + services {
			s.clk.set(now.Add(time.Duration(i+1) * time.Second))
			u := &keysmith.User{ID: keysmith.NewID("usr"), Role: roles[i%len(roles)], Type: keysmith.UserPerson,
				Status: keysmith.UserActive, CreatedAt: s.clk.Now(), UpdatedAt: s.clk.Now()}
			u.Email, u.Name = fmt.Sprintf("person%d@scale.example", i), fmt.Sprintf("Person %d", i)
			if i >= persons {
				u.Type, u.Role = keysmith.UserService, keysmith.RoleReadOnlyAdmin
				u.Email, u.Name = fmt.Sprintf("svc%d@service.scale.example", i), fmt.Sprintf("service %d", i)
			}
			if err := b.CreateUser(audit(ctx, r, s.admin), u, ""); err != nil {
				return err
			}
			s.events++
			switch {
			case u.Type == keysmith.UserService:
				s.service = append(s.service, u)
			case keysmith.CanCreateTokens(u):
				s.persons = append(s.persons, u)
				if u.Role == keysmith.RoleOrgAdmin || u.Role == keysmith.RoleSuperAdmin {
					s.orgWide = append(s.orgWide, u)
				}
			}
		}
		return nil
	})
}

// createTokens makes cfg.tokens tokens in batches of cfg.batch, applying
// the later changes due before each token's creation on the way, then those
// due before the end.
func (s *seeder) createTokens(ctx context.Context, progress io.Writer) error {
	last := time.Now()
	for from := 0; from < s.cfg.tokens; from += s.cfg.batch {
		to := min(from+s.cfg.batch, s.cfg.tokens)
		err := s.db.Batch(ctx, func(b *store.Batch) error {
			for i := from; i < to; i++ {
				p := s.plan(i)
				if err := s.applyDue(ctx, b, p.created); err != nil {
					return err
				}
				if err := s.createToken(ctx, b, p); err != nil {
					return fmt.Errorf("token %d: %w", i, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			fmt.Fprintf(progress, "scale: %d of %d tokens, %d events\n", to, s.cfg.tokens, s.events)
		}
	}
	for len(s.due) > 0 {
		err := s.db.Batch(ctx, func(b *store.Batch) error {
			for n := 0; n < s.cfg.batch && len(s.due) > 0; n++ {
				if err := s.applyNext(ctx, b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// createToken creates p's token with its uses, and schedules its later
// changes.
func (s *seeder) createToken(ctx context.Context, b *store.Batch, p *plan) error {
	s.clk.set(p.created)
	secret, hash := keysmith.NewAPITokenSecret()
	t := &keysmith.Token{ID: keysmith.NewID("tok"), Name: p.name, Type: keysmith.TokenUser, OwnerID: p.owner.ID,
		CreatedAt: p.created, CreatedBy: p.creator.ID, ExpiresAt: p.expires, IdleTTL: p.idle, Meta: p.meta}
	if p.owner.Type == keysmith.UserService {
		t.Type = keysmith.TokenService
	}
	t = keysmith.NewToken(*t)
	if err := b.CreateToken(audit(ctx, p.r, p.creator), t, hash); err != nil {
		return err
	}
	s.events++
	if n := len(p.uses); n > 0 {
		// One flush of a replica's batched uses: the first and the last.
		if err := b.RecordTokenUse(ctx, keysmith.TokenUse{TokenID: t.ID, First: p.uses[0], At: p.uses[n-1], IP: p.ip}); err != nil {
			return err
		}
	}
	switch {
	case !p.revoke.IsZero():
		s.schedule(followUp{at: p.revoke, kind: doRevoke, id: t.ID, by: p.creator, r: p.r})
	case !p.disable.IsZero():
		s.schedule(followUp{at: p.disable, kind: doDisable, id: t.ID, by: p.creator, r: p.r})
	}
	// The sweep runs once a minute: it records the expiry within one,
	// unless the token was revoked first.
	if at := p.expiry.Add(randIn(p.r, 0, time.Minute)); at.Before(s.end) && (p.revoke.IsZero() || at.Before(p.revoke)) {
		s.schedule(followUp{at: at, kind: doExpire, id: t.ID})
	}
	if p.live(s.end) {
		s.sample.offer(secret.Reveal())
	}
	return nil
}

// createAdminToken gives the first super admin a token created at the end
// of the history, and returns its plaintext.
func (s *seeder) createAdminToken(ctx context.Context) (string, error) {
	s.clk.set(s.end)
	secret, hash := keysmith.NewAPITokenSecret()
	t := keysmith.NewToken(keysmith.Token{ID: keysmith.NewID("tok"), Name: "bench-scale admin", Type: keysmith.TokenUser,
		OwnerID: s.admin.ID, CreatedAt: s.end, CreatedBy: s.admin.ID, IdleTTL: keysmith.DefaultIdleTTL})
	err := s.db.Batch(ctx, func(b *store.Batch) error {
		return b.CreateToken(audit(ctx, rand.New(rand.NewPCG(1, 1)), s.admin), t, hash)
	})
	s.events++
	return secret.Reveal(), err
}

// The kinds of later change.
const (
	doRevoke = iota
	doDisable
	doExpire
)

// followUp is a change to a token that comes after its creation.
type followUp struct {
	at   time.Time
	kind int
	id   string
	by   *keysmith.User
	r    *rand.Rand
}

// followUps is a min-heap by time.
type followUps []followUp

func (h followUps) Len() int           { return len(h) }
func (h followUps) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h followUps) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *followUps) Push(x any)        { *h = append(*h, x.(followUp)) }
func (h *followUps) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (s *seeder) schedule(f followUp) { heap.Push(&s.due, f) }

// applyDue applies, in time order, the changes due before t.
func (s *seeder) applyDue(ctx context.Context, b *store.Batch, t time.Time) error {
	for len(s.due) > 0 && s.due[0].at.Before(t) {
		if err := s.applyNext(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// applyNext applies the earliest change due.
func (s *seeder) applyNext(ctx context.Context, b *store.Batch) error {
	f := heap.Pop(&s.due).(followUp)
	s.clk.set(f.at)
	switch f.kind {
	case doRevoke:
		s.events++
		return b.RevokeToken(audit(ctx, f.r, f.by), f.id, f.by.ID)
	case doDisable:
		s.events++
		off := false
		return b.UpdateToken(audit(ctx, f.r, f.by), f.id, keysmith.TokenUpdate{Enabled: &off})
	default:
		ok, err := b.RecordTokenExpiry(ctx, f.id, f.at)
		if ok {
			s.events++
		}
		return err
	}
}

// reservoir keeps a uniform sample of up to size of the strings offered
// (Algorithm R), so that the sample file is a fair draw from every live
// token without holding them all.
type reservoir struct {
	size  int
	seen  int
	items []string
	r     *rand.Rand
}

func newReservoir(size int, seed int64) *reservoir {
	return &reservoir{size: size, r: rand.New(rand.NewPCG(uint64(seed), 99))}
}

func (rs *reservoir) offer(s string) {
	rs.seen++
	if len(rs.items) < rs.size {
		rs.items = append(rs.items, s)
		return
	}
	if j := rs.r.IntN(rs.seen); j < rs.size {
		rs.items[j] = s
	}
}

// write saves the sample, one token a line, readable only by its owner:
// these are live credentials of the seeded database.
func (rs *reservoir) write(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing the sample: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, s := range rs.items {
		w.WriteString(s)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing the sample: %w", err)
	}
	return f.Close()
}
