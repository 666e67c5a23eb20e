package app

import (
	"context"
	"time"

	"github.com/keysmith/keysmith"
)

// Maintain does the periodic work once: it records api_token.expired for
// tokens that have expired since the last run, folds the token counts the
// summary reads, deletes the records of
// access tokens, authorization codes and refresh tokens expired for
// keysmith.AccessTokenRetention, and, with a
// LogRetention, prunes events older than that. Serve runs it every
// MaintenanceInterval; tests call it after moving the clock.
func (a *App) Maintain(ctx context.Context) error {
	now := a.Config.Now()
	n, err := a.Store.RecordTokenExpiries(ctx, now)
	if err != nil {
		return err
	}
	if n > 0 {
		a.Config.Log.Info("recorded token expiries", "tokens", n)
	}
	// The fold only keeps the summary's rows few: when it fails the
	// pruning below still runs, and the next run folds.
	if err := a.Store.FoldTokenCounts(ctx); err != nil && ctx.Err() == nil {
		a.Config.Log.Error("fold the token counts; pruning goes on, the next run folds", "err", err)
	}
	pruned, err := a.Store.PruneAccessTokens(ctx, now.Add(-keysmith.AccessTokenRetention))
	if err != nil {
		return err
	}
	if pruned > 0 {
		a.Config.Log.Info("deleted expired access tokens", "tokens", pruned)
	}
	// Kept as long as access tokens, so that a code or refresh token
	// presented again soon after it expired is still known as reused.
	pruned, err = a.Store.PruneAuthorizations(ctx, now.Add(-keysmith.AccessTokenRetention))
	if err != nil {
		return err
	}
	if pruned > 0 {
		a.Config.Log.Info("deleted expired authorization codes and refresh tokens", "records", pruned)
	}
	if a.Config.LogRetention <= 0 {
		return nil
	}
	deleted, err := a.Store.PruneEvents(ctx, now.Add(-a.Config.LogRetention))
	if err != nil {
		return err
	}
	if deleted > 0 {
		a.Config.Log.Info("pruned the system log", "events", deleted, "retention", a.Config.LogRetention.String())
	}
	return nil
}

// maintainEvery runs Maintain at start and then every interval until ctx ends.
func (a *App) maintainEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := a.Maintain(ctx); err != nil && ctx.Err() == nil {
			a.Config.Log.Error("system log maintenance failed; retrying at the next interval", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
