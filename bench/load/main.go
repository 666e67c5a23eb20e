// Command load measures Keysmith's verify endpoint against the fastest thing
// net/http can serve on the same machine: a hello-world handler that reads the
// request body and answers {"valid":true}. It prints requests/s, p50 and p99
// latency for each, and the ratio keysmith/hello.
//
// Usage, from the module root:
//
//	go run ./bench/load                          # build ./cmd/keysmith, 32 connections, 5 s each
//	go run ./bench/load -c 64 -d 10s             # more load, longer
//	go run ./bench/load -bin ./keysmith -json    # a prebuilt binary, one JSON object for scripts
//
// Flags: -c connections (32), -d measured duration per target (5s), -warmup
// uncounted time per target before measuring (1s), -bin a prebuilt Keysmith
// binary (default: go build ./cmd/keysmith into a temp dir), -scenario which
// request to send (verify; see scenario.go), -json.
//
// # What is measured
//
// The tool makes a fresh Keysmith in a temp dir (keysmith init: an admin user
// and its token in a new SQLite file), starts keysmith serve and the hello
// process on free 127.0.0.1 ports, then drives each target in turn, hello
// first, with the same load: c workers, each sending the scenario's request
// (for verify: POST /v1/verify {"token":"<the admin token>"}) and the next one
// as soon as the previous response is read. A request's latency is the time
// from sending it to having read the whole response body, kept in a
// log-linear histogram accurate to under 1 % for p50 and p99; req/s counts
// successful responses. A response fails unless it is 200 and, for Keysmith,
// passes the scenario's check (for verify: the body says "valid":true). More
// than 0.1 % failed requests make the run fail (exit status 1).
//
// The ratio says what share of what bare net/http can do on this machine
// Keysmith keeps while doing real work: 100 % would mean verifying costs
// nothing beyond HTTP itself. Absolute figures depend on the machine; the
// ratio travels better, which is why both targets run on the same machine in
// the same way.
//
// # Why a separate process for hello
//
// Keysmith runs in its own process, so the baseline must too: the hello
// handler is this same binary re-executed with a hidden subcommand (load hello
// -addr 127.0.0.1:PORT). An in-process httptest server would share its
// scheduler, heap and garbage collector with the load generator, and the
// comparison would measure that difference as well as Keysmith's.
//
// # Why keep-alive
//
// Keysmith is called by API servers on every request over pooled connections,
// so the cost that matters is the cost per request, not a TCP handshake. Each
// worker keeps one connection for the whole run; the table's conns column
// counts connections dialled and should equal -c. A server that closes
// connections shows up there.
//
// # Limits
//
// The load generator shares the CPUs with the target; it does the same work
// for both targets, so the ratio is fair, but absolute req/s are lower than a
// separate client machine would see. The loop is closed (a worker waits for
// its answer before the next request), so p99 is the tail at concurrency c, not
// under a fixed arrival rate: compare it between targets rather than read it
// as a service level. Keysmith is started before the hello run so that setup
// fails early; it sits idle while hello is measured.
//
// Every address is on 127.0.0.1: the tool refuses to dial anything but a
// loopback address, and strips KEYSMITH_* variables from the environment of
// the processes it starts so that none of them reaches a real database.
//
// The load loop, the histogram, the child processes and the hello baseline
// live in bench/internal/load, which bench/scale shares; this command holds
// the scenarios, the flags and the report.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/keysmith/keysmith/bench/internal/load"
)

// config is what the flags ask for.
type config struct {
	conc     int
	duration time.Duration
	warmup   time.Duration
	bin      string
	scenario string
	json     bool
}

// Bounds on the flags, so that a typo cannot start an hour-long run or open
// thousands of sockets.
const (
	maxConc     = 4096
	maxDuration = 10 * time.Minute
	maxWarmup   = time.Minute
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == load.HelloCommand {
		os.Exit(load.RunHello(os.Args[2:], os.Stderr))
	}
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		os.Exit(1)
	}
}

// parseFlags reads and checks the command line.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.conc, "c", 32, "concurrent workers, each with its own keep-alive connection")
	fs.DurationVar(&cfg.duration, "d", 5*time.Second, "measured duration per target")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "uncounted load per target before measuring")
	fs.StringVar(&cfg.bin, "bin", "", "prebuilt keysmith binary (default: go build ./cmd/keysmith into a temp dir)")
	fs.StringVar(&cfg.scenario, "scenario", "verify", "request to measure: "+strings.Join(scenarioNames(), ", "))
	fs.BoolVar(&cfg.json, "json", false, "print one JSON object instead of a table")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./bench/load [flags]\n\n"+
			"Measures a Keysmith endpoint against a hello-world net/http handler on 127.0.0.1.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q; all options are flags, see -h", fs.Arg(0))
	}
	switch {
	case cfg.conc < 1 || cfg.conc > maxConc:
		return cfg, fmt.Errorf("-c %d is out of range: use 1 to %d", cfg.conc, maxConc)
	case cfg.duration <= 0 || cfg.duration > maxDuration:
		return cfg, fmt.Errorf("-d %v is out of range: use more than 0 and at most %v", cfg.duration, maxDuration)
	case cfg.warmup < 0 || cfg.warmup > maxWarmup:
		return cfg, fmt.Errorf("-warmup %v is out of range: use 0 to %v", cfg.warmup, maxWarmup)
	}
	if _, err := findScenario(cfg.scenario); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// budget bounds the whole run: building, starting, both targets and cleanup.
func (cfg config) budget() time.Duration {
	perTarget := cfg.warmup + cfg.duration + load.RequestTimeout + load.ReadyTimeout
	return load.BuildTimeout + 2*perTarget + time.Minute
}

// run does the whole measurement and prints the report. Whatever happens, the
// child processes are stopped and the temp dir is removed before it returns.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	sc, err := findScenario(cfg.scenario)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.budget())
	defer cancel()

	dir, err := os.MkdirTemp("", "keysmith-load-")
	if err != nil {
		return fmt.Errorf("making a temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	bin := cfg.bin
	if bin == "" {
		if bin, err = load.BuildKeysmith(ctx, dir); err != nil {
			return err
		}
	} else if bin, err = load.CheckBinary(bin); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program's binary to start the hello process: %w", err)
	}

	// Keysmith first: if it cannot be set up, say so before spending time on hello.
	ks, fx, err := startKeysmith(ctx, bin, dir, sc)
	if ks != nil {
		defer stopWarn(ks, stderr)
	}
	if err != nil {
		return err
	}

	hello, err := load.StartHello(ctx, self, dir)
	if hello != nil {
		defer stopWarn(hello, stderr) // no-op if already stopped below
	}
	if err != nil {
		return err
	}
	// hello answers anything; only its status is checked.
	helloRes, err := measure(ctx, cfg, sc, fx, hello, load.CheckOK, ks)
	if err != nil {
		return err
	}
	stopWarn(hello, stderr) // an idle process still costs a little; Keysmith runs alone
	ksRes, err := measure(ctx, cfg, sc, fx, ks, sc.Check)
	if err != nil {
		return err
	}

	runs := []targetResult{{"hello", helloRes}, {sc.Name, ksRes}}
	rep := newReport(cfg, sc, runs)
	if cfg.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeTable(stdout)
	}
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	writeErrorSamples(stderr, runs)
	if ksRes.Errors > 0 {
		if tail := ks.LogTail(); tail != "" {
			fmt.Fprintf(stderr, "keysmith serve output (last lines):\n%s\n", tail)
		}
	}
	return rep.failure()
}

// measure runs the scenario's load against p, checking each response with
// check, and fails if p or any of alsoAlive exited meanwhile.
func measure(ctx context.Context, cfg config, sc *Scenario, fx *Fixture, p *load.Proc,
	check func(int, []byte) error, alsoAlive ...*load.Proc) (*load.Result, error) {
	lo := loadFor(cfg, sc, fx)
	lo.URL = p.URL + sc.Path
	lo.Check = check
	res, err := load.Run(ctx, lo)
	if err != nil {
		return nil, err
	}
	for _, q := range append([]*load.Proc{p}, alsoAlive...) {
		if err := q.ExitedErr(); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// loadFor is the load both targets get: the same request, workers and times.
func loadFor(cfg config, sc *Scenario, fx *Fixture) load.Load {
	lo := load.Load{
		Method:   sc.Method,
		Conc:     cfg.conc,
		Warmup:   cfg.warmup,
		Duration: cfg.duration,
	}
	if sc.Header != nil {
		lo.Header = sc.Header(fx)
	}
	if sc.Body != nil {
		lo.Body = sc.Body(fx)
	}
	return lo
}

// stopWarn stops p and reports on stderr if it had to be killed.
func stopWarn(p *load.Proc, stderr io.Writer) {
	if err := p.Stop(); err != nil {
		fmt.Fprintf(stderr, "load: warning: %v\n", err)
	}
}
