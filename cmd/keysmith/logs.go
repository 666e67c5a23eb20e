package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/store"
)

// logsCmd prints the system log, or with "verify" checks its chain. It reads
// the database directly, so it works while the server is down.
func logsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return logsVerify(ctx, args[1:], stdout, stderr)
	}
	fs := flagSet("logs", stderr)
	dsn := fs.String("db", app.DefaultDB, "SQLite file path or postgres:// URL")
	since := fs.String("since", "", "only events at or after this time (RFC 3339, 2030-01-02, or a duration like 24h)")
	until := fs.String("until", "", "only events before this time")
	typ := fs.String("type", "", "only events of this type, like api_token.revoked")
	actor := fs.String("actor", "", "only events caused by this user id")
	target := fs.String("target", "", "only events about this id")
	asJSON := fs.Bool("json", false, "print one JSON event per line (NDJSON)")
	if err := parse(fs, args); err != nil {
		return err
	}
	now := keysmith.SystemClock()
	f := keysmith.EventFilter{Type: keysmith.EventType(*typ), ActorID: *actor, TargetID: *target}
	var err error
	if f.Since, err = parseWhen(*since, now); err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	if f.Until, err = parseWhen(*until, now); err != nil {
		return fmt.Errorf("--until: %w", err)
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%s", keysmith.ErrorMessage(err))
	}
	db, err := openQuiet(ctx, *dsn, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		// The same lines as GET /v1/logs/export.
		return db.ExportEvents(ctx, f, func(ev *keysmith.Event) error {
			return enc.Encode(struct {
				*keysmith.Event
				PrevHash string `json:"prev_hash"`
				Hash     string `json:"hash"`
			}{ev, ev.PrevHash, ev.Hash})
		})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tTYPE\tOUTCOME\tACTOR\tTARGETS\tCLIENT IP")
	err = db.ExportEvents(ctx, f, func(ev *keysmith.Event) error {
		targets := make([]string, len(ev.Targets))
		for i, t := range ev.Targets {
			targets[i] = refName(t)
		}
		_, err := fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Seq, ev.Time.Format(time.RFC3339), ev.Type,
			ev.Outcome, refName(ev.Actor), dash(strings.Join(targets, ", ")), dash(ev.ClientIP))
		return err
	})
	if err != nil {
		return err
	}
	return tw.Flush()
}

// logsVerify walks the chain: exit 0 when it is intact, 1 naming the first
// event that is not.
func logsVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("logs verify", stderr)
	dsn := fs.String("db", app.DefaultDB, "SQLite file path or postgres:// URL")
	if err := parse(fs, args); err != nil {
		return err
	}
	db, err := openQuiet(ctx, *dsn, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	c, err := db.VerifyEvents(ctx)
	if err != nil {
		return err
	}
	if c.Problem != nil {
		return fmt.Errorf("chain broken: %s", c.Problem)
	}
	fmt.Fprintf(stdout, "chain intact: %d events", c.Events)
	if c.Events > 0 {
		fmt.Fprintf(stdout, " (seq %d to %d)", c.FirstSeq, c.LastSeq)
	}
	if c.AnchorSeq > 0 {
		fmt.Fprintf(stdout, ", verified from the anchor left by pruning at seq %d", c.AnchorSeq)
	}
	fmt.Fprintf(stdout, "\nhead hash: %s\n", dash(c.HeadHash))
	return nil
}

// openQuiet opens the store with a logger that only reports problems, to
// read it: it indexes no events' text (the server does).
func openQuiet(ctx context.Context, dsn string, stderr io.Writer) (*store.DB, error) {
	log, _ := newLogger(stderr, "text", "warn")
	return store.Open(ctx, dsn, store.Options{Logger: log, IndexEvery: -1})
}

// parseWhen reads a time given as RFC 3339, a date, or a duration before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2030-01-02T15:04:05Z), a date (2030-01-02) or a duration back from now (24h)", s)
}

func refName(r keysmith.Ref) string {
	if r.DisplayName != "" {
		return r.DisplayName
	}
	return dash(r.ID)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
