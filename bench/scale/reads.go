package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// readCalls is how many times each management read is made; the median
// is reported.
const readCalls = 5

// readResult is one management read's median latency.
type readResult struct {
	Name   string
	Path   string
	Median time.Duration
	Items  int // on the first page; -1 for an answer that is not a list
}

// runReads makes the management reads of issue 22, each readCalls times.
// A token's history is that of a token with the rare name, or else of the
// newest expired token.
func runReads(ctx context.Context, api *apiClient) ([]readResult, error) {
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	target := ""
	for _, q := range []string{"/v1/tokens?q=" + rareName, "/v1/tokens?status=expired", "/v1/tokens"} {
		if err := api.call(ctx, http.MethodGet, q, nil, &page); err != nil {
			return nil, err
		}
		if len(page.Items) > 0 {
			target = page.Items[0].ID
			break
		}
	}
	reads := []readResult{
		{Name: "tokens sorted by last use", Path: "/v1/tokens?sort=last_used_at"},
		{Name: "tokens sorted by expiry", Path: "/v1/tokens?sort=expires_at"},
		{Name: "token summary", Path: "/v1/tokens/summary"},
		{Name: "tokens, q= a rare name", Path: "/v1/tokens?q=" + rareName},
		{Name: "tokens, q= two letters", Path: "/v1/tokens?q=" + rareName[:2]},
		{Name: "tokens, status=expired", Path: "/v1/tokens?status=expired"},
		{Name: "a token's history (logs?target=)", Path: "/v1/logs?target=" + url.QueryEscape(target)},
		{Name: "logs, q= a rare name", Path: "/v1/logs?q=" + rareName},
	}
	// The 20th page of each list, its cursor found by paging once.
	for _, path := range []string{"/v1/tokens?sort=last_used_at", "/v1/tokens?sort=expires_at", "/v1/tokens?sort=name",
		"/v1/tokens?status=expired", "/v1/tokens?q=" + rareName[:2], "/v1/logs", "/v1/logs?q=token"} {
		deep, err := pageCursor(ctx, api, path, deepPage)
		if err != nil {
			return nil, err
		}
		if deep != "" {
			reads = append(reads, readResult{Name: fmt.Sprintf("page %d of", deepPage), Path: deep})
		}
	}
	for i := range reads {
		r := &reads[i]
		var lats []time.Duration
		for range readCalls {
			t0 := time.Now()
			var body struct {
				Items *[]json.RawMessage `json:"items"`
			}
			if err := api.call(ctx, http.MethodGet, r.Path, nil, &body); err != nil {
				return nil, fmt.Errorf("management read %s: %w", r.Name, err)
			}
			lats = append(lats, time.Since(t0))
			r.Items = -1
			if body.Items != nil {
				r.Items = len(*body.Items)
			}
		}
		slices.Sort(lats)
		r.Median = lats[len(lats)/2]
	}
	return reads, nil
}

// deepPage is the page of each list measured beside its first.
const deepPage = 20

// pageCursor pages through path until page n and returns that page's path
// with its cursor, or "" when the list ends before it.
func pageCursor(ctx context.Context, api *apiClient, path string, n int) (string, error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	cursor := ""
	for range n - 1 {
		p := path
		if cursor != "" {
			p += sep + "cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Next string `json:"next_cursor"`
		}
		if err := api.call(ctx, http.MethodGet, p, nil, &page); err != nil {
			return "", fmt.Errorf("paging %s: %w", path, err)
		}
		if page.Next == "" {
			return "", nil
		}
		cursor = page.Next
	}
	return path + sep + "cursor=" + url.QueryEscape(cursor), nil
}
