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
// n, m, k). $1 is now, $2 now+ExpiringSoon, $3 now-RecentUse; the hours of
// migration 020's token_hours wholly inside each window are $4 to $5
// (expiry, from $7 up to $8 as times) and from $6 on (last use, from $9 as
// a time). Each part reads one range of one index, index-only (see
// BENCHMARKS.md), the token ranges at most an hour of tokens:
//
//	stored   type, state: the stored count (n)
//	passed   open enabled tokens whose deadline passed (n), of them used within RecentUse (m)
//	hsoon    open enabled tokens expiring in the whole hours of the soon window (n), of them used in the whole hours of the recent one (m)
//	hrecent  open enabled tokens used in the whole hours of the recent window (n)
//	soonlo   open enabled tokens expiring after now, before the soon window's first whole hour (n), of them used within RecentUse (m)
//	soonhi   open enabled tokens expiring after its last whole hour, by $2 (n), of them used within RecentUse (m)
//	recentlo open enabled tokens used within RecentUse, before its first whole hour (n), of them expiring in the soon window's whole hours (m)
//	disabled open disabled tokens whose deadline passed (n)
//	agents   suspicious tokens (n), of them expiring by $2 (m), of the others those used within RecentUse (k)
var summaryQuery = `SELECT 'stored', type, state, CAST(SUM(n) AS BIGINT), 0, 0 FROM token_counts GROUP BY type, state
	UNION ALL SELECT 'passed', '', '', COUNT(*), ` + usedRecently + `, 0
		FROM tokens WHERE ` + openEnabled + ` AND ` + effectiveExpiryExpr + ` <= $1
	UNION ALL SELECT 'hsoon', '', '', CAST(COALESCE(SUM(n), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN u >= $6 THEN n ELSE 0 END), 0) AS BIGINT), 0
		FROM token_hours WHERE e >= $4 AND e <= $5
	UNION ALL SELECT 'hrecent', '', '', CAST(COALESCE(SUM(n), 0) AS BIGINT), 0, 0 FROM token_hours WHERE u >= $6
	UNION ALL SELECT 'soonlo', '', '', COUNT(*), ` + usedRecently + `, 0
		FROM tokens WHERE ` + openEnabled + ` AND ` + effectiveExpiryExpr + ` > $1 AND ` + effectiveExpiryExpr + ` < $7
	UNION ALL SELECT 'soonhi', '', '', COUNT(*), ` + usedRecently + `, 0
		FROM tokens WHERE ` + openEnabled + ` AND ` + effectiveExpiryExpr + ` >= $8 AND ` + effectiveExpiryExpr + ` <= $2
	UNION ALL SELECT 'recentlo', '', '', COUNT(*), COALESCE(SUM(CASE WHEN ` + effectiveExpiryExpr + ` >= $7 AND ` + effectiveExpiryExpr + ` < $8 THEN 1 ELSE 0 END), 0), 0
		FROM tokens WHERE ` + openEnabled + ` AND tokens.last_used_at > $3 AND tokens.last_used_at < $9
	UNION ALL SELECT 'disabled', '', '', COUNT(*), 0, 0 FROM tokens WHERE ` + openDisabled + ` AND ` + effectiveExpiryExpr + ` <= $1
	UNION ALL SELECT 'agents', '', '', COUNT(*), COALESCE(SUM(CASE WHEN ` + effectiveExpiryExpr + ` <= $2 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN ` + effectiveExpiryExpr + ` > $2 AND tokens.last_used_at > $3 THEN 1 ELSE 0 END), 0)
		FROM tokens WHERE ` + openAgents + ` AND tokens.disabled_at IS NULL AND ` + effectiveExpiryExpr + ` > $1
		AND ` + agentActiveExpr + ` = 0`

// usedRecently counts the tokens of a part of summaryQuery used within RecentUse.
const usedRecently = `COALESCE(SUM(CASE WHEN tokens.last_used_at > $3 THEN 1 ELSE 0 END), 0)`

// hourMicros is token_hours' hour, in the microseconds times are stored in.
const hourMicros = int64(time.Hour / time.Microsecond)

// summaryArgs are summaryQuery's arguments at now.
func summaryArgs(now time.Time) []any {
	n, soon, recent := micros(now), micros(now.Add(keysmith.ExpiringSoon)), micros(now.Add(-keysmith.RecentUse))
	eLo := n/hourMicros + 1        // the first hour that starts after now
	eHi := (soon+1)/hourMicros - 1 // the last hour that ends by soon
	uLo := recent/hourMicros + 1   // the first hour that starts after recent
	return []any{n, soon, recent, eLo, eHi, uLo, eLo * hourMicros, (eHi + 1) * hourMicros, uLo * hourMicros}
}

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
	rows, err := queryAll(ctx, db.sql, summaryQuery, summaryArgs(now), func(row scanner) (summaryRow, error) {
		var r summaryRow
		err := row.Scan(&r.what, &r.typ, &r.state, &r.n, &r.m, &r.k)
		return r, err
	})
	if err != nil {
		return nil, db.mapError(err)
	}
	s := keysmith.NewTokenSummary()
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
		case "hsoon", "soonlo", "soonhi":
			soon, soonRecent = soon+r.n, soonRecent+r.m
		case "hrecent":
			recent += r.n
		case "recentlo":
			recent, soonRecent = recent+r.n, soonRecent+r.m
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
	s := keysmith.NewTokenSummary()
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

// FoldTokenCounts folds the rows the triggers added to token_counts and
// token_hours into one row per type and state and per pair of hours (a pair
// that sums to nothing, such as the hours of a token since expired, goes),
// so that the summary sums a few rows. It is short and takes no lock a
// writer waits for: the rows it deletes are committed ones no writer
// touches again (writers only insert), and a row added meanwhile is left
// for the next fold. Folds on several replicas at once each fold the rows
// they deleted, so nothing is counted twice.
func (db *DB) FoldTokenCounts(ctx context.Context) error {
	return db.write(ctx, func(tx *txn) error {
		for _, t := range []struct{ table, key string }{{"token_counts", "type, state"}, {"token_hours", "e, u"}} {
			if err := db.fold(ctx, tx, t.table, t.key); err != nil {
				return err
			}
		}
		return nil
	})
}

// fold folds table's rows into one per key (its columns), as
// FoldTokenCounts tells.
func (db *DB) fold(ctx context.Context, tx *txn, table, key string) error {
	if db.dialect.name() == "postgres" {
		// One statement: the insert does not see the rows it adds, and
		// a row another fold deleted first is skipped, not summed.
		_, err := tx.ExecContext(ctx, `WITH d AS (DELETE FROM `+table+` RETURNING `+key+`, n)
			INSERT INTO `+table+` (`+key+`, n) SELECT `+key+`, SUM(n) FROM d
			GROUP BY `+key+` HAVING SUM(n) <> 0`)
		return err
	}
	// SQLite: one writer, so the rows up to the largest rowid are all
	// there are; the sums get larger rowids and stay.
	var last sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(rowid) FROM `+table).Scan(&last); err != nil || !last.Valid {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (`+key+`, n) SELECT `+key+`, SUM(n)
		FROM `+table+` WHERE rowid <= $1 GROUP BY `+key+` HAVING SUM(n) <> 0`, last.Int64); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE rowid <= $1`, last.Int64)
	return err
}
