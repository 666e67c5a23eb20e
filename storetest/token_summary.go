package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysmith/keysmith"
)

// testTokenSummary: SummarizeTokens of every token comes from stored counts
// kept by triggers and from range counts for what the clock changes (see
// store/tokens_summary.go); it must agree with each token's own Status and
// Color, and with one owner's summary counted token by token, after every
// kind of change and at every clock time, before and after the counts are
// folded.
func testTokenSummary(t *testing.T, fx *fixture) {
	start := fx.clock.Now()
	owners := []*keysmith.User{fx.addUser("first@example.com"), fx.addUser("second@example.com")}
	w := make([]summaryTokens, len(owners))
	for i, o := range owners {
		w[i] = fx.summaryEdgeWorld(o)
	}
	app := fx.createApp(owners[0], "summary app") // app keys are not counted
	fx.createAppKey(app, keysmith.EnvProduction)
	fx.createAppKey(app, keysmith.EnvSandbox)
	fx.clock.Advance(time.Minute)

	t.Run("AgreesWithEachTokenAtEveryClockTime", func(t *testing.T) {
		fx.in(t).wantSummaries(owners, start)
	})

	t.Run("AgreesAfterTheSweepRecordsExpiries", func(t *testing.T) {
		fx := fx.in(t)
		fx.clock.Advance(2 * time.Hour)
		if _, err := fx.db.RecordTokenExpiries(fx.ctx, fx.clock.Now()); err != nil {
			t.Fatalf("RecordTokenExpiries: %v", err)
		}
		fx.wantSummaries(owners, start)
	})

	t.Run("AgreesAfterRevokingDisablingEnablingRotatingAndUses", func(t *testing.T) {
		fx := fx.in(t)
		for _, tw := range w {
			if _, err := fx.db.RevokeToken(fx.ctx, tw.green.ID, tw.green.OwnerID); err != nil {
				t.Fatalf("RevokeToken: %v", err)
			}
			if _, err := fx.db.UpdateToken(fx.ctx, tw.red.ID, keysmith.TokenUpdate{Enabled: ptr(false)}); err != nil {
				t.Fatalf("UpdateToken disabling: %v", err)
			}
			if _, err := fx.db.UpdateToken(fx.ctx, tw.disabled.ID, keysmith.TokenUpdate{Enabled: ptr(true)}); err != nil {
				t.Fatalf("UpdateToken enabling: %v", err)
			}
			_, h := keysmith.NewAPITokenSecret()
			if _, err := fx.db.RotateToken(fx.ctx, tw.gray.ID, h, fx.clock.Now().Add(time.Hour)); err != nil {
				t.Fatalf("RotateToken: %v", err)
			}
			fx.recordUse(tw.gray.ID, fx.clock.Now())
		}
		fx.wantSummaries(owners, start)
	})

	t.Run("AgreesAfterAgentsAreDeactivatedReactivatedAndDeleted", func(t *testing.T) {
		fx := fx.in(t)
		for i, tw := range w {
			if _, err := fx.db.DeactivateAgent(fx.ctx, tw.ci.ID, owners[i].ID); err != nil { // revokes its token
				t.Fatalf("DeactivateAgent: %v", err)
			}
			fx.activate(owners[i], tw.daemon)                                           // the suspicious token is revoked, a new one active
			if err := fx.db.DeleteAgent(fx.ctx, tw.kept.ID, owners[i].ID); err != nil { // its token lives on, suspicious
				t.Fatalf("DeleteAgent: %v", err)
			}
		}
		fx.wantSummaries(owners, start)
	})

	t.Run("AgreesAfterAFoldThatLeavesOneRowPerTypeAndState", func(t *testing.T) {
		fx := fx.in(t)
		if err := fx.db.FoldTokenCounts(fx.ctx); err != nil {
			t.Fatalf("FoldTokenCounts: %v", err)
		}
		var rows, keys int
		if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*), COUNT(DISTINCT type || '/' || state) FROM token_counts`).
			Scan(&rows, &keys); err != nil {
			t.Fatal(err)
		}
		if rows != keys {
			t.Errorf("token_counts after a fold holds %d rows for %d types and states; want one each", rows, keys)
		}
		var zero int
		if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*), COUNT(DISTINCT e * 10000000 + u),
			COALESCE(SUM(CASE WHEN n = 0 THEN 1 ELSE 0 END), 0) FROM token_hours`).Scan(&rows, &keys, &zero); err != nil {
			t.Fatal(err)
		}
		if rows != keys || zero != 0 {
			t.Errorf("token_hours after a fold holds %d rows for %d pairs of hours, %d of them 0; want one each, none 0",
				rows, keys, zero)
		}
		fx.wantSummaries(owners, start)
		fx.createToken(owners[0]) // the triggers add to folded counts
		fx.wantSummaries(owners, start)
	})

	t.Run("FoldsDuringConcurrentWritesLoseAndDoubleNothing", func(t *testing.T) {
		fx := fx.in(t)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 4 {
			wg.Go(func() {
				for range 5 {
					tok, _, h := fx.newToken(owners[i%2])
					if err := fx.db.CreateToken(fx.ctx, tok, h); err != nil {
						errs <- err
						return
					}
					if _, err := fx.db.RevokeToken(fx.ctx, tok.ID, tok.OwnerID); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				for range 5 {
					if err := fx.db.FoldTokenCounts(fx.ctx); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent writes and folds: %v", err)
		}
		fx.wantSummaries(owners, start)
	})
}

// summaryTokens are the tokens of summaryEdgeWorld that later cases change.
type summaryTokens struct {
	gray, green, red, disabled *keysmith.Token
	ci, daemon, kept           *keysmith.Agent
}

// summaryEdgeWorld gives owner summaryWorld's tokens and the edges of the
// summary's arithmetic: a disabled token whose deadline passes (expired,
// not blue), tokens both used lately and expiring soon (red, not green),
// one whose deadline passed while it was used lately, suspicious tokens
// expiring soon or used lately (yellow, not red or green), a service
// token expiring soon.
func (fx *fixture) summaryEdgeWorld(owner *keysmith.User) summaryTokens {
	fx.t.Helper()
	now := fx.clock.Now()
	var w summaryTokens
	fx.summaryWorld(owner)
	w.gray, _ = fx.createToken(owner)
	w.green, _ = fx.createToken(owner)
	fx.recordUse(w.green.ID, now)
	w.red, _, _ = fx.newToken(owner)
	w.red.ExpiresAt = ptr(now.Add(3 * 24 * time.Hour))
	_, h := keysmith.NewAPITokenSecret()
	fx.mustCreate(fx.ctx, w.red, h)
	w.disabled, _, h = fx.newToken(owner)
	w.disabled.IdleTTL = time.Hour
	fx.mustCreate(fx.ctx, w.disabled, h)
	if _, err := fx.db.UpdateToken(fx.ctx, w.disabled.ID, keysmith.TokenUpdate{Enabled: ptr(false)}); err != nil {
		fx.t.Fatal(err)
	}
	usedSoon, _, h := fx.newToken(owner) // used lately, idle within two days: red
	usedSoon.IdleTTL = 2 * 24 * time.Hour
	fx.mustCreate(fx.ctx, usedSoon, h)
	fx.recordUse(usedSoon.ID, now)
	usedGone, _, h := fx.newToken(owner) // used lately, past its absolute expiry within the hour: expired
	usedGone.ExpiresAt = ptr(now.Add(30 * time.Minute))
	fx.mustCreate(fx.ctx, usedGone, h)
	fx.recordUse(usedGone.ID, now)
	service, _, h := fx.newToken(owner)
	service.Type, service.ExpiresAt = keysmith.TokenService, ptr(now.Add(5*24*time.Hour))
	fx.mustCreate(fx.ctx, service, h)

	// Tokens used now whose deadlines fall in the part-hours at the ends of
	// the windows the summary counts by whole hours (summaryTimes checks at
	// now+3d-30m and now+3d-2m): expiring in the part-hour after a check
	// and in the one ending a week after it, and expiring within the week
	// while their use is in the part-hour at the start of the recent window.
	for _, d := range []time.Duration{3*24*time.Hour - 10*time.Minute, 10*24*time.Hour - 45*time.Minute} {
		edge, _, h := fx.newToken(owner)
		edge.ExpiresAt = ptr(now.Add(d))
		fx.mustCreate(fx.ctx, edge, h)
		fx.recordUse(edge.ID, now)
	}
	idleEdge, _, h := fx.newToken(owner)
	idleEdge.IdleTTL = 5 * 24 * time.Hour
	fx.mustCreate(fx.ctx, idleEdge, h)
	fx.recordUse(idleEdge.ID, now)

	// Suspicious tokens: one expiring soon (its agent deactivated), one used
	// lately (its agent deleted); and agents whose tokens change later.
	soonAgent := fx.createAgent(owner, keysmith.AgentDaemon)
	tok, h := fx.agentToken(owner, soonAgent)
	tok.ExpiresAt = ptr(now.Add(2 * 24 * time.Hour))
	if _, err := fx.db.ActivateAgent(fx.ctx, soonAgent.ID, tok, h, owner.ID); err != nil {
		fx.t.Fatal(err)
	}
	if _, err := fx.db.DeactivateAgent(fx.ctx, soonAgent.ID, owner.ID); err != nil {
		fx.t.Fatal(err)
	}
	usedAgent := fx.createAgent(owner, keysmith.AgentIntegration)
	fx.recordUse(fx.activate(owner, usedAgent).ID, now)
	if err := fx.db.DeleteAgent(fx.ctx, usedAgent.ID, owner.ID); err != nil {
		fx.t.Fatal(err)
	}
	w.ci = fx.createAgent(owner, keysmith.AgentCI)
	fx.activate(owner, w.ci)
	w.daemon = fx.createAgent(owner, keysmith.AgentDaemon)
	fx.activate(owner, w.daemon)
	if _, err := fx.db.DeactivateAgent(fx.ctx, w.daemon.ID, owner.ID); err != nil {
		fx.t.Fatal(err)
	}
	w.kept = fx.createAgent(owner, keysmith.AgentIntegration)
	fx.activate(owner, w.kept)
	return w
}

// summaryTimes are the clock times the summary is checked at, from start:
// before and after each deadline and threshold of summaryEdgeWorld.
func summaryTimes(start time.Time, now time.Time) []time.Time {
	out := []time.Time{now}
	for _, d := range []time.Duration{0, 20 * time.Minute, 45 * time.Minute, 2 * time.Hour, 36 * time.Hour,
		3*24*time.Hour - 30*time.Minute, 3*24*time.Hour - 2*time.Minute, 4 * 24 * time.Hour, 6 * 24 * time.Hour, 8 * 24 * time.Hour, 12 * 24 * time.Hour, 29 * 24 * time.Hour,
		31 * 24 * time.Hour, 100 * 24 * time.Hour} {
		out = append(out, start.Add(d))
	}
	return out
}

// wantSummaries checks every token's summary at each summaryTimes against
// each token's own Status and Color, and against the sum of the owners'
// summaries (counted token by token, by the query every summary used
// before counts were stored).
func (fx *fixture) wantSummaries(owners []*keysmith.User, start time.Time) {
	fx.t.Helper()
	for _, at := range summaryTimes(start, fx.clock.Now()) {
		got, err := fx.db.SummarizeTokens(fx.ctx, "", at)
		if err != nil {
			fx.t.Fatalf("SummarizeTokens at %v: %v", at, err)
		}
		if diff := cmp.Diff(fx.summaryOf("", at), got); diff != "" {
			fx.t.Errorf("SummarizeTokens at start+%v (-from each token +summary):\n%s", at.Sub(start), diff)
		}
		sum := keysmith.NewTokenSummary()
		for _, o := range owners {
			one, err := fx.db.SummarizeTokens(fx.ctx, o.ID, at)
			if err != nil {
				fx.t.Fatalf("SummarizeTokens(%s) at %v: %v", o.ID, at, err)
			}
			sum.Total += one.Total
			for k, n := range one.ByType {
				sum.ByType[k] += n
			}
			for k, n := range one.ByStatus {
				sum.ByStatus[k] += n
			}
			for k, n := range one.ByColor {
				sum.ByColor[k] += n
			}
		}
		if diff := cmp.Diff(sum, got); diff != "" {
			fx.t.Errorf("SummarizeTokens at start+%v (-the owners' summaries summed +summary):\n%s", at.Sub(start), diff)
		}
	}
}
