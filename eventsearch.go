package keysmith

import (
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// The system log's free-text search (EventFilter.Query) matches a
// substring of what people read in an event and search for, not of its
// whole JSON: the JSON's field names ("type", "display_name") match every
// event, and its hashes, times and numbers are noise that would make the
// search index as large as the log. What is searched is EventSearchText.

// MinQueryLen is the fewest characters a log search takes: the engines'
// text indexes find substrings by their three-character pieces, and a
// shorter one could only be found by reading the whole log.
const MinQueryLen = 3

// EventSearchText is the text of ev that EventFilter.Query searches, lower
// case: its type and message; its actor's and targets' ids and display
// names; its client IP, user agent, request id and outcome; and the string
// values of its details (inside lists and objects too) that are neither
// times nor hex digests. Each value appears once, on a line of its own.
// It is a function of the event as recorded, so it can be computed again
// from the stored JSON at any time.
func EventSearchText(ev *Event) string {
	var b strings.Builder
	seen := map[string]bool{}
	add := func(s string) {
		if s == "" || seen[s] {
			return
		}
		seen[s] = true
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	add(string(ev.Type))
	add(ev.Message)
	add(ev.Actor.ID)
	add(ev.Actor.DisplayName)
	for _, t := range ev.Targets {
		add(t.ID)
		add(t.DisplayName)
	}
	add(ev.ClientIP)
	add(ev.UserAgent)
	add(ev.RequestID)
	add(ev.Outcome)
	addDetailStrings(ev.Details, add)
	return strings.ToLower(b.String())
}

// addDetailStrings calls add with the searchable string values in v, map
// keys in sorted order.
func addDetailStrings(v any, add func(string)) {
	switch v := v.(type) {
	case string:
		if !isTimeOrDigest(v) {
			add(v)
		}
	case []any:
		for _, x := range v {
			addDetailStrings(x, add)
		}
	case []string:
		for _, x := range v {
			addDetailStrings(x, add)
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			addDetailStrings(v[k], add)
		}
	}
}

// isTimeOrDigest reports whether s is an RFC 3339 time or a hex string of
// 32 characters or more (a hash): values nobody searches for by substring.
func isTimeOrDigest(s string) bool {
	if len(s) >= 20 && s[4] == '-' {
		if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return true
		}
	}
	if len(s) < 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// EventMatches reports whether ev's search text holds q, compared as
// EventFilter.Query is: case-insensitively (Unicode lower case).
func EventMatches(ev *Event, q string) bool {
	return strings.Contains(EventSearchText(ev), strings.ToLower(q))
}

// SearchTrigrams returns pieces of three characters of s whose presence a
// text holding s implies: every third one from the start, and the last, at
// most max (0: all of them). A text index narrows a search to the texts
// holding all of them; EventMatches decides.
func SearchTrigrams(s string, max int) []string {
	runes := []rune(s)
	if len(runes) < 3 {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(i int) {
		t := string(runes[i : i+3])
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for i := 0; i+3 <= len(runes) && (max == 0 || len(out) < max-1); i += 3 {
		add(i)
	}
	add(len(runes) - 3)
	return out
}

// queryLen is the length of a log search in characters.
func queryLen(q string) int { return utf8.RuneCountInString(q) }
