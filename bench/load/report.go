package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/keysmith/keysmith/bench/internal/load"
)

// maxErrorRate is the share of failed requests above which a run fails: a
// few can be noise, more mean the figures describe error paths.
const maxErrorRate = 0.001

// targetResult names one target's result.
type targetResult struct {
	name string
	res  *load.Result
}

// report is what the tool prints, as a table or as JSON.
type report struct {
	Scenario     string        `json:"scenario"`
	Concurrency  int           `json:"concurrency"`
	Duration     string        `json:"duration"`
	Warmup       string        `json:"warmup"`
	CPUs         int           `json:"cpus"`
	GoVersion    string        `json:"go_version"`
	Targets      []targetStats `json:"targets"`
	RatioPercent float64       `json:"ratio_percent"` // Keysmith's req/s as a share of hello's
}

// targetStats is one row of the report.
type targetStats struct {
	Name      string  `json:"name"`
	Requests  int     `json:"requests"`
	ReqPerSec float64 `json:"req_per_s"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	Errors    int     `json:"errors"`
	Conns     int64   `json:"conns"`
}

// newReport summarises the runs; the first target is the baseline and the
// last the one being measured.
func newReport(cfg config, sc *Scenario, runs []targetResult) *report {
	rep := &report{
		Scenario:    sc.Name,
		Concurrency: cfg.conc,
		Duration:    cfg.duration.String(),
		Warmup:      cfg.warmup.String(),
		CPUs:        runtime.NumCPU(),
		GoVersion:   runtime.Version(),
	}
	for _, r := range runs {
		rep.Targets = append(rep.Targets, targetStats{
			Name:      r.name,
			Requests:  r.res.Requests,
			ReqPerSec: round(r.res.ReqPerSec(), 1),
			P50Ms:     round(ms(r.res.Latency.Percentile(50)), 3),
			P99Ms:     round(ms(r.res.Latency.Percentile(99)), 3),
			Errors:    r.res.Errors,
			Conns:     r.res.Conns,
		})
	}
	base, last := runs[0].res.ReqPerSec(), runs[len(runs)-1].res.ReqPerSec()
	if base > 0 {
		rep.RatioPercent = round(100*last/base, 1)
	}
	return rep
}

// writeTable prints the report for people: one header line, one row per
// target, the ratio.
func (rep *report) writeTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s: %d connections, %s measured after %s warm-up, %d CPUs, %s\n",
		rep.Scenario, rep.Concurrency, rep.Duration, rep.Warmup, rep.CPUs, rep.GoVersion)
	fmt.Fprintf(&b, "%-10s %10s %10s %9s %9s %8s %6s\n", "target", "requests", "req/s", "p50", "p99", "errors", "conns")
	for _, t := range rep.Targets {
		fmt.Fprintf(&b, "%-10s %10d %10.0f %7.2fms %7.2fms %8d %6d\n",
			t.Name, t.Requests, t.ReqPerSec, t.P50Ms, t.P99Ms, t.Errors, t.Conns)
	}
	first, last := rep.Targets[0], rep.Targets[len(rep.Targets)-1]
	fmt.Fprintf(&b, "ratio %s/%s: %.1f %%\n", last.Name, first.Name, rep.RatioPercent)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeJSON prints the report as one JSON object for scripts.
func (rep *report) writeJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(rep)
}

// failure returns an error naming every target with too many failed
// requests, or none at all; nil if the run is good.
func (rep *report) failure() error {
	var bad []string
	for _, t := range rep.Targets {
		switch {
		case t.Requests == 0:
			bad = append(bad, fmt.Sprintf("%s completed no requests", t.Name))
		case float64(t.Errors) > maxErrorRate*float64(t.Requests):
			bad = append(bad, fmt.Sprintf("%s failed %d of %d requests (%.2f %%)",
				t.Name, t.Errors, t.Requests, 100*float64(t.Errors)/float64(t.Requests)))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%s; more than %.1f %% failed requests make the figures meaningless (causes above)",
		strings.Join(bad, "; "), 100*maxErrorRate)
}

// writeErrorSamples prints, for each target that had failures, how many of
// each kind, most frequent first.
func writeErrorSamples(w io.Writer, runs []targetResult) {
	for _, r := range runs {
		kinds := r.res.ErrorKind
		msgs := slices.SortedFunc(maps.Keys(kinds), func(a, b string) int { return kinds[b] - kinds[a] })
		for _, msg := range msgs {
			fmt.Fprintf(w, "%s: %d× %s\n", r.name, kinds[msg], msg)
		}
	}
}

// ms converts d to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// round rounds x to n decimals, so the JSON carries no false precision.
func round(x float64, n int) float64 {
	p := math.Pow(10, float64(n))
	return math.Round(x*p) / p
}
