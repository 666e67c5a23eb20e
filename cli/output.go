package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// now is the clock of relative times (a variable for tests).
var now = time.Now

// text renders one JSON value for people.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil && strings.Contains(x, "T") {
			return when(t)
		}
		return safeText(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				parts = append(parts, firstOf(text(m["display_name"]), text(m["name"]), text(m["id"])))
				continue
			}
			parts = append(parts, text(e))
		}
		return strings.Join(parts, ",")
	case map[string]any:
		if id, ok := x["id"]; ok {
			return firstOf(text(x["display_name"]), text(x["email"]), text(id))
		}
		b, _ := json.Marshal(x)
		return safeText(string(b))
	}
	return safeText(fmt.Sprint(v))
}

// safeText is s with every control character (C0, DEL and C1: what a
// terminal takes as a command, like ESC) written as \uXXXX: server strings
// (a description, a log message) must not rewrite the screen or the
// clipboard of whoever reads them.
func safeText(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// when is a time relative and absolute: "in 3 days (2030-01-05 10:00 UTC)".
func when(t time.Time) string {
	d := t.Sub(now())
	abs := t.UTC().Format("2006-01-02 15:04 UTC")
	rel := ""
	ad := d
	if ad < 0 {
		ad = -ad
	}
	switch {
	case ad < time.Minute:
		return "just now (" + abs + ")"
	case ad < time.Hour:
		rel = plural(int(ad/time.Minute), "minute")
	case ad < 48*time.Hour:
		rel = plural(int(ad/time.Hour), "hour")
	default:
		rel = plural(int(ad/(24*time.Hour)), "day")
	}
	if d > 0 {
		return "in " + rel + " (" + abs + ")"
	}
	return rel + " ago (" + abs + ")"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func printTable(w io.Writer, cols []string, objs []map[string]any) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t")))
	for _, o := range objs {
		row := make([]string, len(cols))
		for k, c := range cols {
			row[k] = strings.ReplaceAll(text(o[c]), "\t", " ")
			if row[k] == "" {
				row[k] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
}

// printDetail prints one object as aligned "key  value" lines, without secrets
// (printObject prints the secret apart, once).
func printDetail(w io.Writer, o map[string]any) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range sortedKeys(o) {
		if isSecretField(k) {
			continue
		}
		v := o[k]
		if m, ok := v.(map[string]any); ok {
			// A nested object such as an agent's token: its fields, prefixed.
			for _, kk := range sortedKeys(m) {
				if !isSecretField(kk) {
					fmt.Fprintf(tw, "%s.%s:\t%s\n", k, kk, text(m[kk]))
				}
			}
			continue
		}
		fmt.Fprintf(tw, "%s:\t%s\n", k, text(v))
	}
	tw.Flush()
}

func isSecretField(k string) bool {
	switch k {
	case "token", "key", "client_secret", "access_token", "refresh_token":
		return true
	}
	return false
}
