package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// The token lifecycle endpoints: listing with search, filters and sorting,
// the summary, edits and rotation.

func (s *Server) tokenLifecycleRoutes(mux *http.ServeMux) {
	mux.Handle("GET /v1/tokens/summary", s.authed(s.tokenSummary))
	mux.Handle("PATCH /v1/tokens/{id}", s.authed(s.patchToken))
	mux.Handle("POST /v1/tokens/{id}/rotate", s.authed(s.rotateToken))
}

// listParams are the query parameters of GET /v1/tokens.
var listParams = []string{"q", "type", "status", "owner", "sort", "order", "limit", "cursor"}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	q := r.URL.Query()
	if err := onlyParams(q, listParams); err != nil {
		return err
	}
	f := keysmith.TokenFilter{
		Cursor: q.Get("cursor"), Query: q.Get("q"), Type: keysmith.TokenType(q.Get("type")),
		Status: keysmith.TokenStatus(q.Get("status")), OwnerID: q.Get("owner"),
		Sort: keysmith.TokenSort(q.Get("sort")), Order: keysmith.SortOrder(q.Get("order")),
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return keysmith.Errorf(keysmith.CodeInvalid, "limit must be a whole number from 1 to %d", keysmith.MaxPageSize)
		}
		f.Limit = n
	}
	ts, next, err := s.Service.FindTokens(r.Context(), p, f)
	if err != nil {
		return err
	}
	items := make([]tokenJSON, len(ts))
	for i, t := range ts {
		items[i] = s.tokenJSON(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

// onlyParams refuses query parameters other than known, so that a typo
// (?stauts=expired) is an error rather than a silently unfiltered list.
func onlyParams(q url.Values, known []string) error {
	for k := range q {
		if !slices.Contains(known, k) {
			return keysmith.Errorf(keysmith.CodeInvalid, "unknown query parameter %q; use %s", k, strings.Join(known, ", "))
		}
	}
	return nil
}

func (s *Server) tokenSummary(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := onlyParams(r.URL.Query(), nil); err != nil {
		return err
	}
	sum, err := s.Service.SummarizeTokens(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"total": sum.Total, "by_type": sum.ByType, "by_status": sum.ByStatus, "by_color": sum.ByColor,
	})
	return nil
}

// rotateToken gives a token a new secret, shown once. The body is optional:
// without one the old secret stops working at once.
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		GraceSeconds int64 `json:"grace_seconds"`
	}
	if err := decodeOptional(w, r, &req); err != nil {
		return err
	}
	grace, err := seconds("grace_seconds", req.GraceSeconds)
	if err != nil {
		return err
	}
	t, secret, err := s.Service.RotateToken(r.Context(), p, r.PathValue("id"), grace)
	if err != nil {
		return err
	}
	out := s.tokenJSON(t)
	out.Token = secret.Reveal()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// decodeOptional is decode for endpoints whose body may be left out: an
// empty body leaves v as it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return decodeError(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decode(w, r, v)
}

// seconds turns a whole number of seconds from a request into a duration,
// refusing values too large to be one.
func seconds(field string, n int64) (time.Duration, error) {
	const limit = int64(1<<63-1) / int64(time.Second)
	if n < -limit || n > limit {
		return 0, keysmith.Errorf(keysmith.CodeInvalid, "%s is out of range", field)
	}
	return time.Duration(n) * time.Second, nil
}
