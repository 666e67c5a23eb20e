package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

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

// sortKey is the ordering expression of each sort: never NULL, so that
// both engines order and compare it the same way. The last two are
// list_last_used, COALESCE(last_used_at, -1) (a never-used token sorts as
// used at -1, before every real use), and list_expiry, effectiveExpiryExpr:
// generated columns on SQLite, indexed expressions on PostgreSQL (see the
// dialect's listExpr and migration 017).
func (db *DB) sortKey(s keysmith.TokenSort) string {
	switch s {
	case keysmith.SortName:
		return `tokens.name_lower`
	case keysmith.SortLastUsedAt:
		return db.dialect.listExpr("list_last_used")
	case keysmith.SortExpiresAt:
		return db.dialect.listExpr("list_expiry")
	}
	return `tokens.created_at`
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
// A query of fewer than minSearchLen characters matches the names that
// begin with it; a longer one, the names that contain it.
//
// Every page is read in the order asked from an index, from its cursor on
// (see migration 017), except where few tokens can match: one owner's or
// one application's, or a name searched through the text index that
// matches at most Options.SearchNarrowMax tokens. Those are found first and sorted.
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
	q, args, err := db.tokenListQuery(ctx, f, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, err := queryAll(ctx, db.sql, q, args, scanTokenWithOwner)
	if err != nil {
		return nil, "", db.mapError(err)
	}
	if err := loadTokenZones(ctx, db.sql, out); err != nil {
		return nil, "", db.mapError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = nextTokenCursor(f, out[limit-1])
	}
	return out, next, nil
}

// tokenListQuery is the query of the first n tokens of f (sort and order
// set) and its arguments; see FindTokens.
func (db *DB) tokenListQuery(ctx context.Context, f keysmith.TokenFilter, n int) (string, []any, error) {
	var c conditions
	c.equal("tokens.owner_id", f.OwnerID)
	c.equal("tokens.type", string(f.Type))
	if f.AppID != "" { // one application's keys
		c.equal("tokens.app_id", f.AppID)
		c.and(`tokens.type = 'app_key'`)
	} else { // API tokens: app keys are listed under their application only
		c.and(`tokens.type <> 'app_key'`)
	}
	narrow := f.OwnerID != "" || f.AppID != ""
	if f.Query != "" {
		few, err := db.nameCond(ctx, &c, strings.ToLower(f.Query), !narrow)
		if err != nil {
			return "", nil, db.mapError(err)
		}
		narrow = narrow || few
	}
	nowArg := func() string { return "" }
	if f.Status != "" {
		now := f.Now
		if now.IsZero() {
			now = db.now()
		}
		nowArg = onceArg(&c, micros(now))
	}
	key := db.sortKey(f.Sort)
	dir, cmp := "DESC", "<"
	if f.Order == keysmith.OrderAsc {
		dir, cmp = "ASC", ">"
	}
	var after func(key, id string) string // the cursor's condition on key and id; nil on the first page
	if f.Cursor != "" {
		cur, err := decodeTokenCursor(f.Cursor, f)
		if err != nil {
			return "", nil, err
		}
		var k string
		if f.Sort == keysmith.SortName {
			k = c.arg(cur.Str)
		} else {
			k = c.arg(cur.Num)
		}
		id := c.arg(cur.ID)
		// A row value, which both planners turn into a seek in the index.
		after = func(key, idCol string) string {
			return "(" + key + ", " + idCol + ") " + cmp + " (" + k + ", " + id + ")"
		}
	}
	var parts []listPart
	if narrow {
		parts = []listPart{{}}
		if f.Status != "" {
			parts[0].cond = statusCond(f.Status, nowArg)
		}
	} else {
		parts = statusParts(db.dialect.listExpr("list_state"), db.dialect.listExpr("list_due"), f.Status, nowArg)
	}
	return pageQuery(&c, parts, after, key, dir, n), c.args, nil
}

// listPart is one part of a page (see pageQuery): the tokens matching cond
// (none if ""), read in the page's order from an index from the cursor on,
// or with whole, all of them at once (a few found through another index).
type listPart struct {
	cond  string
	whole bool
}

// pageQuery reads the first n tokens in the order of key and dir among
// those matching c and one of parts after the cursor (after, nil for the
// first page). Each part reads its first n ids, and only the tokens of the
// page are joined with their owners and agents.
func pageQuery(c *conditions, parts []listPart, after func(key, id string) string, key, dir string, n int) string {
	lim := c.arg(n)
	sel := make([]string, len(parts))
	for i, p := range parts {
		where := slices.Clip(c.where)
		if p.cond != "" {
			where = append(where, "("+p.cond+")")
		}
		order := ""
		if !p.whole {
			// No order, cursor nor limit on a whole part: the planner might
			// prefer walking a sort index that serves them to the index
			// that finds its few tokens.
			if after != nil {
				where = append(where, after(key, "tokens.id"))
			}
			order = ` ORDER BY ` + key + ` ` + dir + `, tokens.id ` + dir + ` LIMIT ` + lim
		}
		sel[i] = `SELECT * FROM (SELECT tokens.id AS id, ` + key + ` AS k FROM tokens WHERE ` + strings.Join(where, " AND ") +
			order + `) AS part` + strconv.Itoa(i)
	}
	q := tokenWithOwnerColumns + ` FROM (` + strings.Join(sel, ` UNION ALL `) + `) AS page
		JOIN tokens ON tokens.id = page.id` + tokenWithOwnerJoins
	if after != nil {
		q += ` WHERE ` + after("page.k", "page.id")
	}
	return q + ` ORDER BY page.k ` + dir + `, page.id ` + dir + ` LIMIT ` + lim
}

// tokenStateExpr is list_state (see listExpr): what is stable in a token's
// status, which the list indexes of migration 017 begin with.
const tokenStateExpr = `(CASE WHEN tokens.type = 'app_key' THEN 5 WHEN tokens.revoked_at IS NOT NULL THEN 0
	WHEN tokens.expiry_recorded_at IS NOT NULL THEN 1 WHEN tokens.disabled_at IS NOT NULL THEN 2
	WHEN tokens.type = 'agent' THEN 3 ELSE 4 END)`

// statesOf are the list_state values (migration 017, tokenStateExpr) that a token of each
// status may have: revoked 0, expiry recorded 1, disabled 2, a live
// agent's token 3, other live 4 (app keys are 5). A live state holds a token that is expired
// by the clock only until the sweep records its expiry (within a minute).
var statesOf = map[keysmith.TokenStatus][]int{
	"":                       {0, 1, 2, 3, 4},
	keysmith.TokenRevoked:    {0},
	keysmith.TokenExpired:    {1},
	keysmith.TokenDisabled:   {2},
	keysmith.TokenSuspicious: {3},
	keysmith.TokenActive:     {3, 4},
}

// statusParts are the parts (see pageQuery) of a list of st, each one range
// of a list index, state being list_state (see listExpr). The expired
// tokens whose expiry is not yet recorded are one more part, read whole by
// a range of list_due (due): few, as the sweep records them within a minute.
func statusParts(state, due string, st keysmith.TokenStatus, nowArg func() string) []listPart {
	var parts []listPart
	for _, s := range statesOf[st] {
		p := state + ` = ` + strconv.Itoa(s)
		if st != "" && s >= 2 { // a live state: the clock and the agent decide
			p += ` AND ` + statusCond(st, nowArg)
		}
		parts = append(parts, listPart{cond: p})
	}
	if st == keysmith.TokenExpired {
		parts = append(parts, listPart{cond: due + ` <= ` + nowArg(), whole: true})
	}
	return parts
}

// onceArg returns a function that adds v as an argument of c the first time
// it is called, and returns its placeholder every time.
func onceArg(c *conditions, v any) func() string {
	ph := ""
	return func() string {
		if ph == "" {
			ph = c.arg(v)
		}
		return ph
	}
}

// minSearchLen is the shortest query the text index serves (trigrams): a
// shorter one matches the names that begin with it.
const minSearchLen = 3

// defaultSearchNarrowMax is the most tokens a name search finds through the
// index and sorts (Options.SearchNarrowMax). A query matching more walks the
// sort index instead, checking names: matches are then common enough to
// fill a page soon.
const defaultSearchNarrowMax = 1000

// nameCond adds to c the condition of the name query q (lower case). With
// count, it reports whether few tokens (Options.SearchNarrowMax at most) may match,
// and then adds the condition that finds them through an index.
func (db *DB) nameCond(ctx context.Context, c *conditions, q string, count bool) (few bool, err error) {
	var m conditions
	if utf8.RuneCountInString(q) < minSearchLen {
		// The prefix through an index (dialect.namePrefix) when few tokens
		// match; LIKE alone when many do: the index would draw the planner
		// away from the sort index.
		if count {
			if few, err = db.fewMatches(ctx, db.dialect.namePrefix(m.arg, q), m.args); err != nil {
				return false, err
			}
		}
		if few || !count {
			c.and(`tokens.id IN (` + db.dialect.namePrefix(c.arg, q) + `)`)
		}
		c.and(`tokens.name_lower LIKE ` + c.arg(escapeLike(q)+"%") + ` ESCAPE '\'`)
		return few, nil
	}
	c.and(`tokens.name_lower LIKE ` + c.arg("%"+escapeLike(q)+"%") + ` ESCAPE '\'`)
	if !count {
		return false, nil
	}
	few, err = db.fewMatches(ctx, db.dialect.nameSearch(m.arg, q), m.args)
	if few {
		c.and(`tokens.id IN (` + db.dialect.nameSearch(c.arg, q) + `)`)
	}
	return few, err
}

// fewMatches reports whether the query ids returns Options.SearchNarrowMax
// rows at most.
func (db *DB) fewMatches(ctx context.Context, ids string, args []any) (bool, error) {
	var n int
	err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+ids+` LIMIT `+strconv.Itoa(db.searchNarrowMax+1)+`) AS m`,
		args...).Scan(&n)
	return n <= db.searchNarrowMax, err
}

// prefixEnd is the least string above every string that begins with p, in
// code point order (UTF-8's byte order), or "" if there is none.
func prefixEnd(p string) string {
	r := []rune(p)
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] < unicode.MaxRune {
			r[i]++
			if r[i] == 0xD800 { // surrogates are not characters
				r[i] = 0xE000
			}
			return string(r[:i+1])
		}
	}
	return ""
}

// nextTokenCursor is the cursor of the page after the one ending with last.
func nextTokenCursor(f keysmith.TokenFilter, last *keysmith.Token) string {
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
	return c.encode()
}
