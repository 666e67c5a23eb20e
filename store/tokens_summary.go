package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/keysmith/keysmith"
)

// The token summary: the sidebar's counts by type, status and colour. For
// every token it comes from the stored counts of each type in each stored
// state (migration 018's token_counts, kept by triggers), corrected by
// range counts over partial indexes for what the clock changes: tokens
// whose deadline passed but whose expiry is not recorded yet, tokens
// expiring within ExpiringSoon, tokens used within RecentUse, and the few
// agent tokens, whose suspicion depends on their agent. One owner's summary
// is counted from that owner's tokens (bounded by the owner index).

// openEnabled selects the open, enabled API tokens, word for word the
// predicate of migration 018's tokens_open_expiry and tokens_open_use.
const openEnabled = `tokens.revoked_at IS NULL AND tokens.expiry_recorded_at IS NULL AND tokens.disabled_at IS NULL
	AND tokens.type <> 'app_key'`

// openDisabled selects the disabled tokens not recorded expired: migration
// 018's tokens_open_disabled.
const openDisabled = `tokens.revoked_at IS NULL AND tokens.expiry_recorded_at IS NULL AND tokens.disabled_at IS NOT NULL
	AND tokens.type <> 'app_key'`

// openAgents selects the agent tokens that may be suspicious: migration
// 018's tokens_open_agents.
const openAgents = `tokens.type = 'agent' AND tokens.revoked_at IS NULL AND tokens.expiry_recorded_at IS NULL`

// summaryQuery reads, in one statement (so one snapshot: a token changing
// meanwhile is counted once, on both engines), rows of (what, type, state,
// n, m, k). $1 is now, $2 now+ExpiringSoon, $3 now-RecentUse. Each part
// reads one range of one index, index-only (see BENCHMARKS.md):
//
//	stored   type, state: the stored count (n)
//	passed   open enabled tokens whose deadline passed (n), of them used within RecentUse (m)
//	soon     open enabled tokens expiring after now, by $2 (n), of them used within RecentUse (m)
//	recent   open enabled tokens used within RecentUse (n)
//	disabled open disabled tokens whose deadline passed (n)
//	agents   suspicious tokens (n), of them expiring by $2 (m), of the others those used within RecentUse (k)
var summaryQuery = `SELECT 'stored', type, state, CAST(SUM(n) AS BIGINT), 0, 0 FROM token_counts GROUP BY type, state
	UNION ALL SELECT 'passed', '', '', COUNT(*), COALESCE(SUM(CASE WHEN tokens.last_used_at > $3 THEN 1 ELSE 0 END), 0), 0
		FROM tokens WHERE ` + openEnabled + ` AND ` + effectiveExpiryExpr + ` <= $1
	UNION ALL SELECT 'soon', '', '', COUNT(*), COALESCE(SUM(CASE WHEN tokens.last_used_at > $3 THEN 1 ELSE 0 END), 0), 0
		FROM tokens WHERE ` + openEnabled + ` AND ` + effectiveExpiryExpr + ` > $1 AND ` + effectiveExpiryExpr + ` <= $2
	UNION ALL SELECT 'recent', '', '', COUNT(*), 0, 0 FROM tokens WHERE ` + openEnabled + ` AND tokens.last_used_at > $3
	UNION ALL SELECT 'disabled', '', '', COUNT(*), 0, 0 FROM tokens WHERE ` + openDisabled + ` AND ` + effectiveExpiryExpr + ` <= $1
	UNION ALL SELECT 'agents', '', '', COUNT(*), COALESCE(SUM(CASE WHEN ` + effectiveExpiryExpr + ` <= $2 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN ` + effectiveExpiryExpr + ` > $2 AND tokens.last_used_at > $3 THEN 1 ELSE 0 END), 0)
		FROM tokens WHERE ` + openAgents + ` AND tokens.disabled_at IS NULL AND ` + effectiveExpiryExpr + ` > $1
		AND ` + agentActiveExpr + ` = 0`

// summaryRow is one row of summaryQuery.
type summaryRow struct {
	what, typ, state string
	n, m, k          int
}

// SummarizeTokens counts tokens by type, status and colour at now, as
// keysmith.Token.Status and Color would one by one. App keys are not
// counted. Every token's summary costs the same whatever their number (see
// summaryQuery); one owner's is counted from their tokens.
func (db *DB) SummarizeTokens(ctx context.Context, ownerID string, now time.Time) (*keysmith.TokenSummary, error) {
	if ownerID != "" {
		return db.summarizeOwnerTokens(ctx, ownerID, now)
	}
	args := []any{micros(now), micros(now.Add(keysmith.ExpiringSoon)), micros(now.Add(-keysmith.RecentUse))}
	rows, err := queryAll(ctx, db.sql, summaryQuery, args, func(row scanner) (summaryRow, error) {
		var r summaryRow
		err := row.Scan(&r.what, &r.typ, &r.state, &r.n, &r.m, &r.k)
		return r, err
	})
	if err != nil {
		return nil, db.mapError(err)
	}
	s := newTokenSummary()
	stored := map[string]int{}
	var passed, passedRecent, soon, soonRecent, recent, passedDisabled, suspicious, suspiciousSoon, suspiciousRecent int
	for _, r := range rows {
		switch r.what {
		case "stored":
			if keysmith.TokenType(r.typ) == keysmith.TokenAppKey || r.n == 0 {
				continue
			}
			s.Total += r.n
			s.ByType[keysmith.TokenType(r.typ)] += r.n
			stored[r.state] += r.n
		case "passed":
			passed, passedRecent = r.n, r.m
		case "soon":
			soon, soonRecent = r.n, r.m
		case "recent":
			recent = r.n
		case "disabled":
			passedDisabled = r.n
		case "agents":
			suspicious, suspiciousSoon, suspiciousRecent = r.n, r.m, r.k
		}
	}
	s.ByStatus[keysmith.TokenRevoked] = stored["revoked"]
	s.ByStatus[keysmith.TokenExpired] = stored["expired"] + passed + passedDisabled
	s.ByStatus[keysmith.TokenDisabled] = stored["disabled"] - passedDisabled
	s.ByStatus[keysmith.TokenSuspicious] = suspicious
	active := stored["open"] - passed - suspicious
	s.ByStatus[keysmith.TokenActive] = active
	s.ByColor[keysmith.ColorBlue] = s.ByStatus[keysmith.TokenDisabled]
	s.ByColor[keysmith.ColorYellow] = suspicious
	s.ByColor[keysmith.ColorRed] = soon - suspiciousSoon
	s.ByColor[keysmith.ColorGreen] = recent - passedRecent - soonRecent - suspiciousRecent
	s.ByColor[keysmith.ColorGray] = active - s.ByColor[keysmith.ColorRed] - s.ByColor[keysmith.ColorGreen]
	return s, nil
}

// newTokenSummary is a summary with every type, status and colour at 0.
func newTokenSummary() *keysmith.TokenSummary {
	s := &keysmith.TokenSummary{ByType: map[keysmith.TokenType]int{}, ByStatus: map[keysmith.TokenStatus]int{},
		ByColor: map[keysmith.TokenColor]int{}}
	for _, t := range []keysmith.TokenType{keysmith.TokenUser, keysmith.TokenService, keysmith.TokenAgent} {
		s.ByType[t] = 0
	}
	for _, st := range []keysmith.TokenStatus{keysmith.TokenActive, keysmith.TokenDisabled, keysmith.TokenSuspicious,
		keysmith.TokenExpired, keysmith.TokenRevoked} {
		s.ByStatus[st] = 0
	}
	for _, c := range []keysmith.TokenColor{keysmith.ColorGreen, keysmith.ColorGray, keysmith.ColorRed, keysmith.ColorYellow, keysmith.ColorBlue} {
		s.ByColor[c] = 0
	}
	return s
}

// summarizeOwnerTokens counts one owner's tokens, one by one in one query
// with the same expressions the status filter uses, over the owner index.
func (db *DB) summarizeOwnerTokens(ctx context.Context, ownerID string, now time.Time) (*keysmith.TokenSummary, error) {
	n := `$1`
	q := `SELECT tokens.type,
		CASE WHEN tokens.revoked_at IS NOT NULL THEN 'revoked'
			WHEN ` + expiredExpr(n) + ` THEN 'expired'
			WHEN tokens.disabled_at IS NOT NULL THEN 'disabled'
			WHEN ` + suspiciousExpr + ` THEN 'suspicious'
			ELSE 'active' END,
		CASE WHEN tokens.revoked_at IS NOT NULL OR ` + expiredExpr(n) + ` THEN ''
			WHEN tokens.disabled_at IS NOT NULL THEN 'blue'
			WHEN ` + suspiciousExpr + ` THEN 'yellow'
			WHEN ` + effectiveExpiryExpr + ` <= $2 THEN 'red'
			WHEN tokens.last_used_at IS NOT NULL AND tokens.last_used_at > $3 THEN 'green'
			ELSE 'gray' END,
		COUNT(*)
		FROM tokens WHERE tokens.type <> 'app_key' AND tokens.owner_id = $4
		GROUP BY 1, 2, 3` // app keys are not API tokens
	args := []any{micros(now), micros(now.Add(keysmith.ExpiringSoon)), micros(now.Add(-keysmith.RecentUse)), ownerID}
	type group struct {
		typ, status, color string
		count              int
	}
	groups, err := queryAll(ctx, db.sql, q, args, func(row scanner) (group, error) {
		var g group
		err := row.Scan(&g.typ, &g.status, &g.color, &g.count)
		return g, err
	})
	if err != nil {
		return nil, db.mapError(err)
	}
	s := newTokenSummary()
	for _, g := range groups {
		s.Total += g.count
		s.ByType[keysmith.TokenType(g.typ)] += g.count
		s.ByStatus[keysmith.TokenStatus(g.status)] += g.count
		if g.color != "" {
			s.ByColor[keysmith.TokenColor(g.color)] += g.count
		}
	}
	return s, nil
}

// FoldTokenCounts folds the rows the triggers added to token_counts into
// one row per type and state, so that the summary sums a few rows. It is
// short and takes no lock a writer waits for: the rows it deletes are
// committed ones no writer touches again (writers only insert), and a row
// added meanwhile is left for the next fold. Folds on several replicas at
// once each fold the rows they deleted, so nothing is counted twice.
func (db *DB) FoldTokenCounts(ctx context.Context) error {
	return db.write(ctx, func(tx *txn) error {
		if db.dialect.name() == "postgres" {
			// One statement: the insert does not see the rows it adds, and
			// a row another fold deleted first is skipped, not summed.
			_, err := tx.ExecContext(ctx, `WITH d AS (DELETE FROM token_counts RETURNING type, state, n)
				INSERT INTO token_counts (type, state, n) SELECT type, state, SUM(n) FROM d
				GROUP BY type, state HAVING SUM(n) <> 0`)
			return err
		}
		// SQLite: one writer, so the rows up to the largest rowid are all
		// there are; the sums get larger rowids and stay.
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(rowid) FROM token_counts`).Scan(&last); err != nil || !last.Valid {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO token_counts (type, state, n) SELECT type, state, SUM(n)
			FROM token_counts WHERE rowid <= $1 GROUP BY type, state HAVING SUM(n) <> 0`, last.Int64); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM token_counts WHERE rowid <= $1`, last.Int64)
		return err
	})
}
