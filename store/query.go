package store

import (
	"context"
	"database/sql"
)

// querier is what reads need: the pool (db.sql) or a transaction (tx).
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// scanner is a row to scan: *sql.Row or *sql.Rows.
type scanner = interface{ Scan(...any) error }

// queryAll runs q on on (the pool or a transaction) and returns every row,
// read by scan; nil if there are none. The rows are closed when it returns,
// so a transaction can run its next statement.
func queryAll[T any](ctx context.Context, on querier, q string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := on.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanString reads a row of one text column.
func scanString(row scanner) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}

// nonNil is s, or an empty slice if s is nil, for lists that answer [] rather
// than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
