package client

import (
	"context"
	"iter"
	"net/url"
	"strconv"
)

// Page is one page of a list: its items and the cursor of the next page,
// "" on the last.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// ListOptions are the paging parameters every list takes.
type ListOptions struct {
	// Limit is the page size, 1 to 200; 0 for the server's default (50).
	Limit int
	// Cursor is a Page's NextCursor, for the page after it; "" for the
	// first page.
	Cursor string
}

// values adds the paging parameters to q (which may be nil) and returns it.
func (o ListOptions) values(q url.Values) url.Values {
	if q == nil {
		q = url.Values{}
	}
	if o.Limit != 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return q
}

// All walks every item of a list from its first page, calling list with
// each page's cursor ("" for the first); it stops at the first error, which
// it yields. For example:
//
//	f := client.TokenFilter{Status: "active"}
//	for t, err := range client.All(ctx, func(ctx context.Context, cursor string) (*client.Page[client.Token], error) {
//		f.Cursor = cursor
//		return c.ListTokens(ctx, f)
//	}) { … }
func All[T any](ctx context.Context, list func(ctx context.Context, cursor string) (*Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		cursor := ""
		for {
			p, err := list(ctx, cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			// A cursor that does not move would loop forever.
			if p.NextCursor == "" || p.NextCursor == cursor {
				return
			}
			cursor = p.NextCursor
		}
	}
}

// setIf sets q's key to v unless v is empty.
func setIf(q url.Values, key, v string) {
	if v != "" {
		q.Set(key, v)
	}
}
