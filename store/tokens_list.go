package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// The token lifecycle in SQL. Statuses and colours are derived from the
// clock, passed as a parameter, by the same expressions on both engines; they
// mirror keysmith.Token.Status and Color, and the tests hold the two together.

// idleDeadlineExpr is when a token expires unless used (keysmith.Token.IdleExpiresAt).
const idleDeadlineExpr = `(COALESCE(tokens.last_used_at, tokens.created_at) + tokens.idle_ttl)`

// effectiveExpiryExpr is the earlier of expires_at and the idle deadline; never NULL.
const effectiveExpiryExpr = `(CASE WHEN tokens.expires_at IS NOT NULL AND tokens.expires_at < ` + idleDeadlineExpr +
	` THEN tokens.expires_at ELSE ` + idleDeadlineExpr + ` END)`

// expiredExpr is true when the token is expired at now (a placeholder): its
// expiry was recorded (which is final), or a deadline has passed. It is
// never NULL, so that NOT works on it.
func expiredExpr(now string) string {
	return `(tokens.expiry_recorded_at IS NOT NULL OR (tokens.expires_at IS NOT NULL AND tokens.expires_at <= ` + now + `) OR ` +
		idleDeadlineExpr + ` <= ` + now + `)`
}

const suspiciousExpr = `(tokens.type = 'agent' AND ` + agentActiveExpr + ` = 0)`

// statusCond selects the tokens of one status at now (a placeholder, asked
// for only when needed: PostgreSQL refuses a parameter no expression uses).
func statusCond(st keysmith.TokenStatus, nowArg func() string) string {
	if st == keysmith.TokenRevoked {
		return `tokens.revoked_at IS NOT NULL`
	}
	now := nowArg()
	live := `tokens.revoked_at IS NULL AND NOT ` + expiredExpr(now)
	switch st {
	case keysmith.TokenExpired:
		return `tokens.revoked_at IS NULL AND ` + expiredExpr(now)
	case keysmith.TokenDisabled:
		return live + ` AND tokens.disabled_at IS NOT NULL`
	case keysmith.TokenSuspicious:
		return live + ` AND tokens.disabled_at IS NULL AND ` + suspiciousExpr
	}
	return live + ` AND tokens.disabled_at IS NULL AND NOT ` + suspiciousExpr
}

// sortKey is the ordering expression of each sort: never NULL, so that both
// engines order and compare it the same way (a never-used token sorts as
// used at -1, before every real use).
var sortKey = map[keysmith.TokenSort]string{
	keysmith.SortCreatedAt:  `tokens.created_at`,
	keysmith.SortName:       `tokens.name_lower`,
	keysmith.SortLastUsedAt: `COALESCE(tokens.last_used_at, -1)`,
	keysmith.SortExpiresAt:  effectiveExpiryExpr,
}

// tokenCursor is where a page ends: the sort and order it belongs to, the
// last row's sort key (a string for name, microseconds otherwise) and id.
type tokenCursor struct {
	Sort  keysmith.TokenSort `json:"s"`
	Order keysmith.SortOrder `json:"o"`
	Str   string             `json:"ks,omitempty"`
	Num   int64              `json:"kn,omitempty"`
	ID    string             `json:"id"`
}

func (c tokenCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeTokenCursor(s string, f keysmith.TokenFilter) (tokenCursor, error) {
	var c tokenCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID == "" {
		return c, keysmith.Errorf(keysmith.CodeInvalid, "cursor is not valid; pass the next_cursor of the previous page unchanged")
	}
	if c.Sort != f.Sort || c.Order != f.Order {
		return c, keysmith.Errorf(keysmith.CodeInvalid, "cursor belongs to sort=%s&order=%s; keep sort and order while paging", c.Sort, c.Order)
	}
	return c, nil
}

// FindTokens returns one page of tokens matching f, with their owners, in
// the order f asks (ties broken by id, so the order is total and the cursor
// stable under concurrent inserts), and the cursor of the next page.
// CodeInvalid for a bad cursor. f must have been validated. App keys are
// returned only when f.AppID names their application, and then only they.
func (db *DB) FindTokens(ctx context.Context, f keysmith.TokenFilter) ([]*keysmith.Token, string, error) {
	if f.Sort == "" {
		f.Sort = keysmith.SortCreatedAt
	}
	if f.Order == "" {
		f.Order = keysmith.OrderDesc
	}
	limit := f.Limit
	if limit <= 0 {
		limit = keysmith.DefaultPageSize
	}
	var c conditions
	c.equal("tokens.owner_id", f.OwnerID)
	c.equal("tokens.type", string(f.Type))
	if f.AppID != "" { // one application's keys
		c.equal("tokens.app_id", f.AppID)
		c.and(`tokens.type = 'app_key'`)
	} else { // API tokens: app keys are listed under their application only
		c.and(`tokens.type <> 'app_key'`)
	}
	if f.Query != "" {
		c.and(`tokens.name_lower LIKE ` + c.arg(likePattern(f.Query)) + ` ESCAPE '\'`)
	}
	if f.Status != "" {
		now := f.Now
		if now.IsZero() {
			now = db.now()
		}
		c.and("(" + statusCond(f.Status, func() string { return c.arg(micros(now)) }) + ")")
	}
	key := sortKey[f.Sort]
	dir, cmp := "DESC", "<"
	if f.Order == keysmith.OrderAsc {
		dir, cmp = "ASC", ">"
	}
	if f.Cursor != "" {
		cur, err := decodeTokenCursor(f.Cursor, f)
		if err != nil {
			return nil, "", err
		}
		var k string
		if f.Sort == keysmith.SortName {
			k = c.arg(cur.Str)
		} else {
			k = c.arg(cur.Num)
		}
		id := c.arg(cur.ID)
		c.and("(" + key + " " + cmp + " " + k + " OR (" + key + " = " + k + " AND tokens.id " + cmp + " " + id + "))")
	}
	q := tokenWithOwnerSelect + c.whereSQL() +
		` ORDER BY ` + key + ` ` + dir + `, tokens.id ` + dir + ` LIMIT ` + c.arg(limit+1)
	out, err := queryAll(ctx, db.sql, q, c.args, scanTokenWithOwner)
	if err != nil {
		return nil, "", db.mapError(err)
	}
	if err := loadTokenZones(ctx, db.sql, out); err != nil {
		return nil, "", db.mapError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		c := tokenCursor{Sort: f.Sort, Order: f.Order, ID: last.ID}
		switch f.Sort {
		case keysmith.SortName:
			c.Str = strings.ToLower(last.Name)
		case keysmith.SortCreatedAt:
			c.Num = micros(last.CreatedAt)
		case keysmith.SortLastUsedAt:
			c.Num = -1
			if last.LastUsedAt != nil {
				c.Num = micros(*last.LastUsedAt)
			}
		case keysmith.SortExpiresAt:
			c.Num = micros(last.EffectiveExpiresAt())
		}
		next = c.encode()
	}
	return out, next, nil
}

// SummarizeTokens counts tokens by type, status and colour at now, in one
// query with the same expressions the status filter uses. App keys are not
// counted.
func (db *DB) SummarizeTokens(ctx context.Context, ownerID string, now time.Time) (*keysmith.TokenSummary, error) {
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
		FROM tokens WHERE tokens.type <> 'app_key'` // app keys are not API tokens
	args := []any{micros(now), micros(now.Add(keysmith.ExpiringSoon)), micros(now.Add(-keysmith.RecentUse))}
	if ownerID != "" {
		q += ` AND tokens.owner_id = $4`
		args = append(args, ownerID)
	}
	q += ` GROUP BY 1, 2, 3`
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
