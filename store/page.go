package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// conditions collects the WHERE conditions of a query and their numbered
// ($1, $2 …) arguments: the one builder of every query whose conditions
// depend on its input (a query with a variable SET list uses its arg alone).
type conditions struct {
	where []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (c *conditions) arg(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

// and adds a condition.
func (c *conditions) and(cond string) { c.where = append(c.where, cond) }

// equal adds "col = value" when value is not empty.
func (c *conditions) equal(col, value string) {
	if value != "" {
		c.and(col + " = " + c.arg(value))
	}
}

// whereSQL is " WHERE " and the conditions joined by AND, or "" if there are
// none.
func (c *conditions) whereSQL() string {
	if len(c.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.where, " AND ")
}

// escapeLike makes s match itself in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// likePattern matches s anywhere, case-insensitively (the column is
// lower-cased in the query or stored lower-cased), with LIKE's wildcards
// escaped; use it with ESCAPE '\'.
func likePattern(s string) string {
	return "%" + escapeLike(strings.ToLower(s)) + "%"
}

// pageNewestFirst runs sel (SELECT … FROM table) under c, newest first by
// (created_at, id), which is a total order, so the cursor is stable under
// concurrent inserts. It returns one page of limit rows (0: the default) after
// cursor, and the cursor of the next page ("" on the last). CodeInvalid for a
// bad cursor.
func pageNewestFirst[T any](ctx context.Context, db *DB, sel string, c *conditions, limit int, cursor string,
	scan func(interface{ Scan(...any) error }) (*T, error), key func(*T) (time.Time, string)) ([]*T, string, error) {
	if limit <= 0 {
		limit = keysmith.DefaultPageSize
	}
	if cursor != "" {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		a, b := c.arg(at), c.arg(id)
		c.and("(created_at < " + a + " OR (created_at = " + a + " AND id < " + b + "))")
	}
	q := sel + c.whereSQL() + ` ORDER BY created_at DESC, id DESC LIMIT ` + c.arg(limit+1)
	out, err := queryAll(ctx, db.sql, q, c.args, scan)
	if err != nil {
		return nil, "", db.mapError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		at, id := key(out[limit-1])
		next = encodeCursor(micros(at), id)
	}
	return out, next, nil
}
