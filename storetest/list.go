package storetest

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// createTokens creates n tokens of owner, moving the clock on by a second
// after every perTick of them, so that groups of perTick share a created_at.
func (fx *fixture) createTokens(owner *keysmith.User, n, perTick int) []*keysmith.Token {
	fx.t.Helper()
	var out []*keysmith.Token
	for i := range n {
		if i > 0 && i%perTick == 0 {
			fx.clock.Advance(time.Second)
		}
		tok, _ := fx.createToken(owner)
		out = append(out, tok)
	}
	fx.clock.Advance(time.Second)
	return out
}

// ids returns the tokens' ids in order.
func ids(toks []*keysmith.Token) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.ID
	}
	return out
}

// newestFirst returns the ids of tokens with distinct created_at, newest first.
func newestFirst(toks []*keysmith.Token) []string {
	s := slices.Clone(toks)
	slices.SortFunc(s, func(a, b *keysmith.Token) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return ids(s)
}

// listAll reads every page of f, calling between after each page but the
// last, and fails the test if a page is longer than the limit or out of
// order.
func (fx *fixture) listAll(f keysmith.TokenFilter, between func(last *keysmith.Token)) []*keysmith.Token {
	fx.t.Helper()
	var out []*keysmith.Token
	var prev *keysmith.Token
	for page := 1; ; page++ {
		if page > 1000 {
			fx.t.Fatalf("FindTokens still returns a next cursor after %d pages", page)
		}
		toks, next, err := fx.db.FindTokens(fx.ctx, f)
		if err != nil {
			fx.t.Fatalf("FindTokens page %d: %v", page, err)
		}
		if f.Limit > 0 && len(toks) > f.Limit {
			fx.t.Fatalf("FindTokens page %d has %d tokens, limit %d", page, len(toks), f.Limit)
		}
		for _, tok := range toks {
			if prev != nil && tok.CreatedAt.After(prev.CreatedAt) {
				fx.t.Fatalf("page %d: %s listed after older %s", page, describe(tok), describe(prev))
			}
			prev = tok
		}
		out = append(out, toks...)
		if next == "" {
			return out
		}
		if len(toks) == 0 {
			fx.t.Fatalf("FindTokens page %d is empty but has a next cursor", page)
		}
		if between != nil {
			between(toks[len(toks)-1])
		}
		f.Cursor = next
	}
}

// wantEachOnce fails the test unless listed holds every id of want exactly
// once, and no id twice.
func wantEachOnce(t *testing.T, listed []*keysmith.Token, want []*keysmith.Token) {
	t.Helper()
	seen := map[string]int{}
	for _, tok := range listed {
		seen[tok.ID]++
		if seen[tok.ID] == 2 {
			t.Errorf("token %s listed more than once", tok.ID)
		}
	}
	for _, tok := range want {
		if seen[tok.ID] == 0 {
			t.Errorf("token %s never listed", describe(tok))
		}
	}
}

func testFindTokensListsNewestFirst(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	var toks []*keysmith.Token
	// Created out of order, so that insertion order cannot pass for age.
	for _, ago := range []int{3, 1, 4, 5, 9, 2, 6} {
		tok, _, h := fx.newToken(owner)
		tok.CreatedAt = fx.clock.Now().Add(-time.Duration(ago) * time.Minute)
		fx.mustCreate(fx.ctx, tok, h)
		toks = append(toks, tok)
	}
	got, next, err := fx.db.FindTokens(fx.ctx, keysmith.TokenFilter{})
	if err != nil {
		t.Fatalf("FindTokens: %v", err)
	}
	if diff := cmp.Diff(newestFirst(toks), ids(got)); diff != "" {
		t.Errorf("FindTokens order (-want +got):\n%s", diff)
	}
	if next != "" {
		t.Errorf("FindTokens of all tokens in one page: next cursor %q, want none", next)
	}
}

func testFindTokensFiltersByOwner(t *testing.T, fx *fixture) {
	alice, bob := fx.addUser("alice@example.com"), fx.addUser("bob@example.com")
	var aliceToks, bobToks []*keysmith.Token
	for i := range 7 {
		fx.clock.Advance(time.Second)
		if i%3 == 0 {
			tok, _ := fx.createToken(bob)
			bobToks = append(bobToks, tok)
		} else {
			tok, _ := fx.createToken(alice)
			aliceToks = append(aliceToks, tok)
		}
	}
	tests := []struct {
		name   string
		filter keysmith.TokenFilter
		want   []*keysmith.Token
	}{
		{"Alice", keysmith.TokenFilter{OwnerID: alice.ID}, aliceToks},
		{"Bob", keysmith.TokenFilter{OwnerID: bob.ID}, bobToks},
		{"AlicePagedByTwo", keysmith.TokenFilter{OwnerID: alice.ID, Page: keysmith.Page{Limit: 2}}, aliceToks},
		{"UnknownOwner", keysmith.TokenFilter{OwnerID: keysmith.NewID("usr")}, nil},
		{"Everyone", keysmith.TokenFilter{}, append(slices.Clone(aliceToks), bobToks...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := fx.in(t)
			got := fx.listAll(tt.filter, nil)
			if diff := cmp.Diff(newestFirst(tt.want), ids(got)); diff != "" {
				t.Errorf("FindTokens(%+v) (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
}

func testFindTokensWithoutLimitReturnsDefaultPageSize(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	toks := fx.createTokens(owner, keysmith.DefaultPageSize+1, 1)
	first, next, err := fx.db.FindTokens(fx.ctx, keysmith.TokenFilter{})
	if err != nil {
		t.Fatalf("FindTokens: %v", err)
	}
	if len(first) != keysmith.DefaultPageSize || next == "" {
		t.Fatalf("first page without a limit: %d tokens, next cursor %q; want %d and a cursor",
			len(first), next, keysmith.DefaultPageSize)
	}
	rest, next, err := fx.db.FindTokens(fx.ctx, keysmith.TokenFilter{Page: keysmith.Page{Cursor: next}})
	if err != nil {
		t.Fatalf("FindTokens second page: %v", err)
	}
	if diff := cmp.Diff(newestFirst(toks), ids(append(first, rest...))); diff != "" {
		t.Errorf("both pages (-want +got):\n%s", diff)
	}
	if next != "" {
		t.Errorf("last page has next cursor %q, want none", next)
	}
}

func testFindTokensOnEmptyStoreIsEmpty(t *testing.T, fx *fixture) {
	for _, limit := range []int{0, 1, keysmith.MaxPageSize} {
		got, next, err := fx.db.FindTokens(fx.ctx, keysmith.TokenFilter{Page: keysmith.Page{Limit: limit}})
		if err != nil || len(got) != 0 || next != "" {
			t.Errorf("FindTokens(Limit %d) on an empty store = %d tokens, cursor %q, err %v; want none, \"\", nil",
				limit, len(got), next, err)
		}
	}
}

func testFindTokensLastPageHasNoCursor(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	toks := fx.createTokens(owner, 4, 1)
	tests := []struct {
		limit     int
		wantPages []int // tokens on each page; only the last has no cursor
	}{
		{limit: 2, wantPages: []int{2, 2}},
		{limit: 4, wantPages: []int{4}},
		{limit: 5, wantPages: []int{4}},
		{limit: 3, wantPages: []int{3, 1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("Limit%d", tt.limit), func(t *testing.T) {
			fx := fx.in(t)
			var pages []int
			var listed []*keysmith.Token
			f := keysmith.TokenFilter{Page: keysmith.Page{Limit: tt.limit}}
			for {
				got, next, err := fx.db.FindTokens(fx.ctx, f)
				if err != nil {
					t.Fatalf("FindTokens: %v", err)
				}
				pages, listed = append(pages, len(got)), append(listed, got...)
				if next == "" || len(pages) > len(tt.wantPages) {
					break
				}
				f.Cursor = next
			}
			if diff := cmp.Diff(tt.wantPages, pages); diff != "" {
				t.Errorf("page sizes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(newestFirst(toks), ids(listed)); diff != "" {
				t.Errorf("tokens listed (-want +got):\n%s", diff)
			}
		})
	}
}

func testFindTokensPagesVisitEveryTokenOnce(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	// Three tokens per instant, so that page ends fall between equal times.
	toks := fx.createTokens(owner, 10, 3)
	for _, limit := range []int{1, 2, 3, 4, 9, 10, 11} {
		t.Run(fmt.Sprintf("Limit%d", limit), func(t *testing.T) {
			fx := fx.in(t)
			listed := fx.listAll(keysmith.TokenFilter{Page: keysmith.Page{Limit: limit}}, nil)
			wantEachOnce(t, listed, toks)
			if len(listed) != len(toks) {
				t.Errorf("listed %d tokens, want %d", len(listed), len(toks))
			}
		})
	}
}

func testFindTokensPagesWithNewerInserts(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	toks := fx.createTokens(owner, 10, 3)
	inserted := map[string]bool{}
	listed := fx.listAll(keysmith.TokenFilter{Page: keysmith.Page{Limit: 2}}, func(*keysmith.Token) {
		fx.clock.Advance(time.Second)
		tok, _ := fx.createToken(owner)
		inserted[tok.ID] = true
	})
	if len(inserted) == 0 {
		t.Fatal("listing had a single page; nothing was inserted between pages")
	}
	wantEachOnce(t, listed, toks)
	// Newer tokens belong before the pages already read: they show on the
	// next first page, not somewhere in the middle of this listing.
	for _, tok := range listed {
		if inserted[tok.ID] {
			t.Errorf("token %s, inserted newer than the cursor, was listed on a later page", describe(tok))
		}
	}
}

func testFindTokensPagesWithInsertsAtCursorTime(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	toks := fx.createTokens(owner, 10, 3)
	// Between pages, insert tokens created at the very instant of the page's
	// last token, with ids sorting below and above every random id.
	n := 0
	listed := fx.listAll(keysmith.TokenFilter{Page: keysmith.Page{Limit: 2}}, func(last *keysmith.Token) {
		for _, id := range []string{
			fmt.Sprintf("tok_%s%03d", strings.Repeat("0", 13), 999-n),
			fmt.Sprintf("tok_%s%03d", strings.Repeat("z", 13), n),
		} {
			tok, _, h := fx.newToken(owner)
			tok.ID, tok.CreatedAt = id, last.CreatedAt
			fx.mustCreate(fx.ctx, tok, h)
		}
		n++
	})
	if n == 0 {
		t.Fatal("listing had a single page; nothing was inserted between pages")
	}
	wantEachOnce(t, listed, toks)
}

func testFindTokensWithGarbageCursorIsInvalid(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	fx.createTokens(owner, 3, 1)
	b64 := base64.RawURLEncoding.EncodeToString
	for _, cursor := range []string{
		"!!!not base64!!!",
		"%%%",
		b64([]byte("no separator")),
		b64([]byte("1234.")),
		b64([]byte("x.tok_abc")),
		b64([]byte("99999999999999999999999.tok_abc")),
		b64([]byte{0xff, 0xfe, 0x00}),
		" ",
	} {
		for _, f := range []keysmith.TokenFilter{{Page: keysmith.Page{Cursor: cursor}}, {Page: keysmith.Page{Cursor: cursor, Limit: 1}, OwnerID: owner.ID}} {
			got, next, err := fx.db.FindTokens(fx.ctx, f)
			wantCode(t, fmt.Sprintf("FindTokens(%+v)", f), err, keysmith.CodeInvalid)
			if len(got) != 0 || next != "" {
				t.Errorf("FindTokens(%+v) with an error returned %d tokens and cursor %q", f, len(got), next)
			}
		}
	}
}
