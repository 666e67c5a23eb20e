package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/store"
)

// Token lists in every sort, order and status, paged to the end, against
// the order computed here from the tokens themselves (keysmith.Token's
// Status and keys): each engine reads them from its own indexes (see
// migration 017), and must list the same tokens in the same order.

// listKey is a token's sort key as FindTokens orders it.
func listKey(t *keysmith.Token, s keysmith.TokenSort) (string, int64) {
	switch s {
	case keysmith.SortName:
		return strings.ToLower(t.Name), 0
	case keysmith.SortLastUsedAt:
		if t.LastUsedAt == nil {
			return "", -1
		}
		return "", t.LastUsedAt.UnixMicro()
	case keysmith.SortExpiresAt:
		return "", t.EffectiveExpiresAt().UnixMicro()
	}
	return "", t.CreatedAt.UnixMicro()
}

// reread reads the tokens again, with their uses and expiries.
func (fx *fixture) reread(toks []*keysmith.Token) []*keysmith.Token {
	fx.t.Helper()
	out := make([]*keysmith.Token, len(toks))
	for i, t := range toks {
		out[i] = fx.mustFindToken(t.ID)
	}
	return out
}

// wantList is the ids of the tokens f lists at now, in its order, computed
// from all (as stored: see reread).
func wantList(all []*keysmith.Token, f keysmith.TokenFilter, now time.Time) []string {
	var in []*keysmith.Token
	for _, t := range all {
		name, q := strings.ToLower(t.Name), strings.ToLower(f.Query)
		switch {
		case t.Type == keysmith.TokenAppKey && f.AppID == "", f.AppID != "" && t.AppID != f.AppID,
			f.OwnerID != "" && t.OwnerID != f.OwnerID, f.Status != "" && t.Status(now) != f.Status,
			f.Type != "" && t.Type != f.Type,
			q != "" && utf8.RuneCountInString(q) < 3 && !strings.HasPrefix(name, q),
			utf8.RuneCountInString(q) >= 3 && !strings.Contains(name, q):
			continue
		}
		in = append(in, t)
	}
	slices.SortFunc(in, func(a, b *keysmith.Token) int {
		as, an := listKey(a, f.Sort)
		bs, bn := listKey(b, f.Sort)
		c := cmp.Or(cmp.Compare(as, bs), cmp.Compare(an, bn), cmp.Compare(a.ID, b.ID))
		if f.Order != keysmith.OrderAsc {
			c = -c
		}
		return c
	})
	return ids(in)
}

// pageThrough lists every page of f and returns the ids in the order read.
func (fx *fixture) pageThrough(f keysmith.TokenFilter) []string {
	fx.t.Helper()
	out := []string{}
	for page := 1; ; page++ {
		if page > 2000 {
			fx.t.Fatalf("FindTokens(%+v) still returns a next cursor after %d pages", f, page)
		}
		toks, next, err := fx.db.FindTokens(fx.ctx, f)
		if err != nil {
			fx.t.Fatalf("FindTokens(%+v) page %d: %v", f, page, err)
		}
		if len(toks) > f.Limit {
			fx.t.Fatalf("FindTokens page %d has %d tokens, limit %d", page, len(toks), f.Limit)
		}
		out = append(out, ids(toks)...)
		if next == "" {
			return out
		}
		f.Cursor = next
	}
}

// createMixedTokens makes tokens of every status for owners a and b, with
// ties in every sort key, never-used tokens, one whose deadline has passed
// but whose expiry is not recorded yet, agents' tokens and an app key.
func (fx *fixture) createMixedTokens(a, b *keysmith.User) []*keysmith.Token {
	fx.t.Helper()
	var all []*keysmith.Token
	start := fx.clock.Now()
	expires := start.Add(48 * time.Hour)
	for i := range 24 {
		owner := a
		if i%3 == 2 {
			owner = b
		}
		tok, _, h := fx.newToken(owner)
		tok.Name = fmt.Sprintf("Tok-%d", i%5) // equal names
		if i%4 == 0 {
			tok.ExpiresAt = &expires // equal expiries
		}
		if i%6 == 1 {
			tok.IdleTTL = time.Hour
		}
		fx.mustCreate(fx.ctx, tok, h)
		all = append(all, tok)
		if i%2 == 1 { // equal created_at in pairs
			fx.clock.Advance(time.Second)
		}
	}
	used := fx.clock.Now()
	for i, tok := range all {
		switch {
		case i%5 == 0: // never used
		case i%5 == 1:
			fx.recordUse(tok.ID, used) // equal last uses
		default:
			fx.recordUse(tok.ID, used.Add(time.Duration(i)*time.Millisecond))
		}
	}
	for i, tok := range all {
		switch i % 7 {
		case 3:
			if _, err := fx.db.RevokeToken(fx.ctx, tok.ID, tok.OwnerID); err != nil {
				fx.t.Fatalf("RevokeToken: %v", err)
			}
		case 5:
			off := false
			if _, err := fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Enabled: &off}); err != nil {
				fx.t.Fatalf("UpdateToken: %v", err)
			}
		}
	}
	// The hour-long idle tokens expire: the sweep records the first ones;
	// the others are expired by the clock alone.
	fx.clock.Advance(2 * time.Hour)
	if _, err := fx.db.RecordTokenExpiries(fx.ctx, fx.clock.Now()); err != nil {
		fx.t.Fatalf("RecordTokenExpiries: %v", err)
	}
	late := fx.createIdleToken()
	all = append(all, late)
	agent := fx.createAgent(a, keysmith.AgentCI)
	all = append(all, fx.activate(a, agent)) // active
	idle := fx.createAgent(a, keysmith.AgentCI)
	held, h := fx.agentToken(a, idle) // suspicious: its agent is not active
	fx.mustCreate(fx.ctx, held, h)
	all = append(all, held)
	app := fx.createApp(a, "lists")
	all = append(all, fx.createAppKey(app, keysmith.EnvProduction))
	fx.clock.Advance(time.Hour + time.Minute) // late's deadline passes, unrecorded
	return all
}

var (
	allSorts    = []keysmith.TokenSort{keysmith.SortCreatedAt, keysmith.SortName, keysmith.SortLastUsedAt, keysmith.SortExpiresAt}
	allOrders   = []keysmith.SortOrder{keysmith.OrderDesc, keysmith.OrderAsc}
	allStatuses = []keysmith.TokenStatus{"", keysmith.TokenActive, keysmith.TokenDisabled, keysmith.TokenSuspicious,
		keysmith.TokenExpired, keysmith.TokenRevoked}
)

func testFindTokensPagesEverySortAndStatusToTheEnd(t *testing.T, fx *fixture) {
	a, b := fx.addUser("a@example.com"), fx.addUser("b@example.com")
	all := fx.reread(fx.createMixedTokens(a, b))
	now := fx.clock.Now()
	seen := map[keysmith.TokenStatus]bool{}
	for _, tok := range all {
		seen[tok.Status(now)] = true
	}
	for _, st := range allStatuses[1:] {
		if !seen[st] {
			t.Fatalf("the fixture has no %s token", st)
		}
	}
	for _, owner := range []string{"", a.ID} {
		for _, s := range allSorts {
			for _, o := range allOrders {
				for _, st := range allStatuses {
					for _, limit := range []int{2, 5} {
						f := keysmith.TokenFilter{OwnerID: owner, Status: st, Sort: s, Order: o, Now: now,
							Page: keysmith.Page{Limit: limit}}
						if diff := gocmp.Diff(wantList(all, f, now), fx.pageThrough(f)); diff != "" {
							t.Errorf("owner %q sort=%s order=%s status=%q limit %d (-want +got):\n%s", owner, s, o, st, limit, diff)
						}
					}
				}
			}
		}
	}
}

// searchNames are names whose search is easy to get wrong: wildcards,
// quotes, FTS5 syntax and letters whose lower case is not ASCII.
var searchNames = []string{"Orchid-prod-7", "orchid dev", "color-or", "billing", "b%_\\x", "bxx_x", `quote"d`, "NEAR(a b)",
	"a*b", "ab", "Ünïcode-Straße", "İstanbul", "%off", "or", "x'y"}

func testFindTokensSearchesNames(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	var all []*keysmith.Token
	for _, name := range searchNames {
		tok, _, h := fx.newToken(owner)
		tok.Name = name
		fx.mustCreate(fx.ctx, tok, h)
		all = append(all, tok)
	}
	all = fx.reread(all)
	for _, q := range []string{"orchid", "ORCH", "or", "o", "olo", "%", "b%_", "b%", "_", `"d`, `e"d`, `"`, "near(a", "NEAR", "a*b",
		"a*", "ünï", "ÜNÏCODE", "straße", "İST", "ist", "x'y", "'", `\`, "zzz", "*", "(a b)"} {
		for _, s := range []keysmith.TokenSort{keysmith.SortName, keysmith.SortLastUsedAt} {
			f := keysmith.TokenFilter{Query: q, Sort: s, Order: keysmith.OrderAsc, Page: keysmith.Page{Limit: 2}}
			if diff := gocmp.Diff(wantList(all, f, fx.clock.Now()), fx.pageThrough(f)); diff != "" {
				t.Errorf("q=%q sort=%s (-want +got):\n%s", q, s, diff)
			}
		}
	}
}

func testFindTokensSearchFollowsRenames(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	tok, _ := fx.createToken(owner)
	name := "Renamed-Orchid"
	if _, err := fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Name: &name}); err != nil {
		t.Fatalf("UpdateToken: %v", err)
	}
	for q, want := range map[string][]string{"renamed": {tok.ID}, "re": {tok.ID}, tok.Name[:7]: {}, "token": {}} {
		got := fx.pageThrough(keysmith.TokenFilter{Query: q, Page: keysmith.Page{Limit: 10}})
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("after the rename, q=%q (-want +got):\n%s", q, diff)
		}
	}
}

// testFindTokensCommonSearchPagesToTheEnd searches a name more tokens hold
// than a search reads through the text index (a store that reads 100 at
// most, so that the case needs few tokens): the list then walks its sort
// index, checking names.
func testFindTokensCommonSearchPagesToTheEnd(t *testing.T, fx *fixture) {
	opt := storeOptions(fx.root, fx.clock)
	opt.SearchNarrowMax = 100
	db, err := store.Open(fx.ctx, fx.dsn, opt)
	if err != nil {
		t.Fatalf("open a store that reads 100 tokens through the text index: %v", err)
	}
	fx.db = db
	fx.closeDB()
	closeAtEnd(t, db)
	owner := fx.addUser("owner@example.com")
	var all []*keysmith.Token
	err = fx.db.Batch(fx.ctx, func(b *store.Batch) error {
		for i := range 220 {
			tok, _, h := fx.newToken(owner)
			tok.Name = fmt.Sprintf("svc-common-%d", i%140)
			if i%10 == 0 {
				tok.Name = fmt.Sprintf("other-%d", i)
			}
			if err := b.CreateToken(fx.ctx, tok, h); err != nil {
				return err
			}
			all = append(all, tok)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	all = fx.reread(all)
	for _, q := range []string{"common", "sv", "ommon-1"} {
		for _, s := range []keysmith.TokenSort{keysmith.SortName, keysmith.SortCreatedAt} {
			f := keysmith.TokenFilter{Query: q, Sort: s, Page: keysmith.Page{Limit: 100}}
			if diff := gocmp.Diff(wantList(all, f, fx.clock.Now()), fx.pageThrough(f)); diff != "" {
				t.Errorf("q=%q sort=%s (-want +got):\n%s", q, s, diff)
			}
		}
	}
}
