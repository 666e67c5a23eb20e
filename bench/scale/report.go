package main

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"
)

// writeTable prints the results as markdown, for BENCHMARKS.md.
func (r *results) writeTable(w io.Writer, cfg config) error {
	var b strings.Builder
	s := r.Seeded
	fmt.Fprintf(&b, "\n## bench/scale: %d tokens on %s (%d CPUs, %s, %s)\n\n", r.Tokens, r.Engine, runtime.NumCPU(),
		runtime.Version(), time.Now().UTC().Format("2006-01-02"))
	if s.Elapsed > 0 {
		fmt.Fprintf(&b, "Seeded in %v (%.0f tokens/s): %d events, %d tokens live, %d in the sample.\n\n",
			s.Elapsed.Round(100*time.Millisecond), float64(r.Tokens)/s.Elapsed.Seconds(), s.Events, s.Live, r.Sample)
	} else {
		fmt.Fprintf(&b, "Seeded before (-seeded); %d tokens in the sample.\n\n", r.Sample)
	}
	if len(r.Verify) > 0 {
		fmt.Fprintf(&b, "| verify (%d connections, %v after %v warm-up) | req/s | p50 | p99 | errors |\n|---|---|---|---|---|\n",
			cfg.conc, cfg.duration, cfg.warmup)
		for _, v := range r.Verify {
			fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %d |\n", v.Name, v.Res.ReqPerSec(),
				msString(v.Res.Latency.Percentile(50)), msString(v.Res.Latency.Percentile(99)), v.Res.Errors)
		}
	}
	fmt.Fprintf(&b, "\n| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| serve ready (migrations included) | %s |\n", msString(r.Ready))
	if len(r.Verify) > 0 {
		fmt.Fprintf(&b, "| RSS after the verify load | %.0f MB |\n", float64(r.RSSKiB)/1024)
	}
	if p := r.Probe; p != nil {
		fmt.Fprintf(&b, "| write-stall probe: PATCH every %v for %v (maintenance every %v, retention %d days) | %d writes |\n",
			probeInterval, p.Duration, cfg.maintenance, cfg.retention, p.Writes)
		fmt.Fprintf(&b, "| probe max / p99 / p50 | %s / %s / %s |\n", msString(p.Max), msString(p.P99), msString(p.P50))
		fmt.Fprintf(&b, "| probe non-2xx or failed | %d |\n", p.Failed)
		if len(p.Slow) > 0 {
			fmt.Fprintf(&b, "| probe writes over %v | %s |\n", slowWrite, strings.Join(p.Slow, ", "))
		}
	}
	if c := r.Create; c != nil {
		fmt.Fprintf(&b, "| token creation, %d creators for %v: tokens/s | %.0f (%d failed) |\n", cfg.conc, cfg.createFor,
			c.ReqPerSec(), c.Errors)
		fmt.Fprintf(&b, "| token creation p50 / p99 / max | %s / %s / %s |\n", msString(c.Latency.Percentile(50)),
			msString(c.Latency.Percentile(99)), msString(c.Latency.Percentile(100)))
	}
	if len(r.Reads) > 0 {
		fmt.Fprintf(&b, "\n| management read (median of %d) | ms | items |\n|---|---|---|\n", readCalls)
		for _, rd := range r.Reads {
			items := "–"
			if rd.Items >= 0 {
				items = fmt.Sprint(rd.Items)
			}
			fmt.Fprintf(&b, "| %s `%s` | %s | %s |\n", rd.Name, rd.Path, msString(rd.Median), items)
		}
	}
	if p := r.Probe; p != nil {
		for _, msg := range slices.Sorted(maps.Keys(p.Errors)) {
			fmt.Fprintf(&b, "\nprobe failure, %d×: %s\n", p.Errors[msg], msg)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// msString prints d in milliseconds with a precision that suits its size.
func msString(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms >= 100 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.2f ms", ms)
}
