package storetest

import (
	"maps"
	"testing"

	"github.com/keysmith/keysmith"
)

// testTextThatIsNotUTF8OrHoldsNULIsInvalid: a string argument with a NUL
// byte or invalid UTF-8, in a lookup, a filter or a record, is refused with
// CodeInvalid before the driver sees it, the same on every engine
// (PostgreSQL's driver would fail, SQLite's would store it), and changes
// nothing. The HTTP layer refuses such strings first; this is the store's
// own defence.
func testTextThatIsNotUTF8OrHoldsNULIsInvalid(t *testing.T, fx *fixture) {
	owner := fx.addUser("owner@example.com")
	tok, _ := fx.createToken(owner)
	before := fx.counts()
	for _, bad := range []struct{ name, s string }{{"NUL", "x\x00y"}, {"InvalidUTF8", "x\xffy"}} {
		s := bad.s
		for _, c := range []struct {
			name string
			call func() error
		}{
			{"FindTokenByID", func() error { _, err := fx.db.FindTokenByID(fx.ctx, "tok_"+s); return err }},
			{"FindUserByEmail", func() error { _, _, err := fx.db.FindUserByEmail(fx.ctx, s+"@example.com"); return err }},
			{"FindClientByID", func() error { _, err := fx.db.FindClientByID(fx.ctx, "cli_"+s); return err }},
			{"FindTokens", func() error { _, _, err := fx.db.FindTokens(fx.ctx, keysmith.TokenFilter{OwnerID: s}); return err }},
			{"FindEvents", func() error { _, _, err := fx.db.FindEvents(fx.ctx, keysmith.EventFilter{ActorID: s}); return err }},
			{"CreateToken", func() error {
				t, _, h := fx.newToken(owner)
				t.Name = s
				return fx.db.CreateToken(fx.ctx, t, h)
			}},
			{"UpdateToken", func() error {
				_, err := fx.db.UpdateToken(fx.ctx, tok.ID, keysmith.TokenUpdate{Name: &s})
				return err
			}},
			{"CreateApp", func() error {
				now := fx.clock.Now()
				return fx.db.CreateApp(fx.ctx, &keysmith.App{ID: keysmith.NewID("app"), Name: "app", Description: s,
					OwnerID: owner.ID, CreatedAt: now, UpdatedAt: now})
			}},
		} {
			t.Run(bad.name+"In"+c.name, func(t *testing.T) {
				wantCode(t, c.name, c.call(), keysmith.CodeInvalid)
			})
		}
	}
	if after := fx.counts(); !maps.Equal(before, after) || fx.count("apps") != 0 {
		t.Errorf("refused calls changed rows: %v, then %v (apps %d)", before, after, fx.count("apps"))
	}
	if got := fx.mustFindToken(tok.ID); got.Name != tok.Name {
		t.Errorf("token name = %q after refused updates, want %q", got.Name, tok.Name)
	}
}
