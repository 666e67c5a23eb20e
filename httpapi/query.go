package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/keysmith/keysmith"
)

// listQuery reads the query of a paged list, the one way every list does:
// it refuses parameters other than the list's filters, limit and cursor,
// and parses the page (limit a whole number from 1 to MaxPageSize).
func listQuery(r *http.Request, filters ...string) (url.Values, keysmith.Page, error) {
	q := r.URL.Query()
	if err := onlyParams(q, slices.Concat(filters, []string{"limit", "cursor"})); err != nil {
		return nil, keysmith.Page{}, err
	}
	page := keysmith.Page{Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > keysmith.MaxPageSize {
			return nil, keysmith.Page{}, keysmith.Errorf(keysmith.CodeInvalid, "limit must be a whole number from 1 to %d", keysmith.MaxPageSize)
		}
		page.Limit = n
	}
	return q, page, nil
}

// onlyParams refuses query parameters other than known, so that a typo
// (?stauts=expired) or a filter the list does not have is an error rather
// than a silently unfiltered list.
func onlyParams(q url.Values, known []string) error {
	for k := range q {
		if slices.Contains(known, k) {
			continue
		}
		if len(known) == 0 {
			return keysmith.Errorf(keysmith.CodeInvalid, "unknown query parameter %q; this endpoint takes none", k)
		}
		return keysmith.Errorf(keysmith.CodeInvalid, "unknown query parameter %q; use %s", k, strings.Join(known, ", "))
	}
	return nil
}
