// Command scale seeds a Keysmith database with many tokens and their
// system-log history, and optionally measures how Keysmith behaves at that
// size: verify over many tokens and over one, memory, write stalls while
// background jobs run, and the management reads.
//
// Usage, from the module root:
//
//	go run ./bench/scale -db /tmp/scale.db -tokens 1000000 -sample /tmp/sample.txt
//	go run ./bench/scale -db postgres://postgres@127.0.0.1:5432/scale?sslmode=disable -tokens 1000000 -sample /tmp/sample.txt
//	go run ./bench/scale -db /tmp/scale.db -tokens 100000 -sample /tmp/sample.txt -measure
//
// Seed once and measure a copy many times (measuring changes the database:
// the expiry sweep and the pruning run):
//
//	go run ./bench/scale -db /tmp/scale.db -tokens 1000000 -sample /tmp/sample.txt > /tmp/admin.txt
//	cp /tmp/scale.db /tmp/copy.db
//	go run ./bench/scale -db /tmp/copy.db -sample /tmp/sample.txt -seeded /tmp/admin.txt -measure
//
// (on PostgreSQL, CREATE DATABASE copy TEMPLATE scale makes the copy).
//
// Without -measure it seeds, writes up to -sample-max (100 000) live
// plaintext tokens to the -sample file, one a line, prints an API token of a
// super admin of the seeded database on stdout, and exits. The database
// must be empty (an SQLite file that does not exist, or an empty PostgreSQL
// database): seeding adds a history, it does not merge one.
//
// Flags: -db (required), -tokens N (1000), -sample FILE, -sample-max
// (100000), -seeded FILE (skip seeding, see above), -history (960h: tokens are created evenly over the last 40
// days, so a retention of 30 days leaves a quarter of the system log to
// prune), -batch changes per transaction (2000), -seed (1), -measure, and
// for -measure: -bin a prebuilt keysmith binary (default: go build
// ./cmd/keysmith), -c connections (32), -d duration of each verify run (5s),
// -warmup (1s), -probe duration of the write-stall probe (70s),
// -maintenance the serve's maintenance interval during the probe (10s),
// -retention-days (30), -parts which measurements (probe,verify,reads,create),
// -create-for (10s).
//
// # What seeding writes
//
// Everything goes through the store's own code (store.Batch: the same
// inserts, the same events in the same hash chain as the API's calls), with
// the store's clock moved along a history, so keysmith logs verify accepts
// the result and every row has exactly the API's form. The history: a super
// admin (made as keysmith init makes one), people of every role (one per
// 400 tokens) and service accounts (one per 2 000 tokens), created by that
// admin; then the tokens in creation order, each created by its owner (a
// token of a service account by an org or super admin) with realistic audit
// data, about a third with meta. Idle TTLs: 65 % the default 30 days, 15 %
// 90 days, 12 % 7 days, 8 % 1–24 hours. Absolute expiries: 35 % between a
// day and a year after creation, 10 % due within the next 6 hours, 5 %
// within the next week, the rest none. Three in four tokens are used (a
// chain of up to three uses, each within its idle TTL of the one before,
// the last leaning towards the present); 5 % are revoked and 3 % disabled
// at some point. Each expiry before the present is recorded (api_token.
// expired, by the system, within the minute the sweep would have), each
// change at its moment, in one chronological chain: about 1.3 events per
// token. One token in 50 000 has "orchid" in its name, for searches.
//
// # What -measure measures
//
// It starts keysmith serve on the seeded database (with a short
// maintenance interval and a log retention, so the expiry sweep and the
// pruning run during the probe) and prints a markdown table of:
//
//   - verify: hello (the net/http baseline of bench/load), verify of one hot
//     token (the admin's), a first pass over the sample (each token once, in
//     order: every request a miss of the cold cache), and verify uniform over
//     the sample (each request a token picked at random, the cache warm from
//     the first pass), each -warmup then -d with -c connections (the first
//     pass: until every token was sent) through bench/internal/load: req/s,
//     p50, p99.
//   - the server's RSS (VmRSS of /proc/PID/status) after the verify runs.
//   - the write-stall probe: PATCH of a token's name twice a second for
//     -probe while background jobs run: max and p99 latency and the non-2xx
//     answers.
//   - the management reads (issue 22), median of 5 calls each: tokens
//     sorted by last_used_at and by expires_at, the summary, q= a rare
//     name, q= two letters, status=expired, a token's history
//     (logs?target=), logs?q=; and the 20th page of each list (its cursor
//     found by paging once, then that page asked for 5 times).
//   - token creation: -c workers each creating API tokens through the
//     API as fast as answered, for -create-for: tokens/s, p50, p99, max.
//
// serve gets this process's KEYSMITH_MASTER_KEY (PostgreSQL requires one),
// or a random one it never shows: set one to serve the database again after
// measuring, since the signing keys serve makes are sealed with it. Every
// address is on 127.0.0.1, as for bench/load, and the children get no other
// KEYSMITH_* variable.
//
// # Limits
//
// Seeding is one writer laying down one chain, so it runs at the speed of
// one connection: on SQLite CPU-bound in the engine, on PostgreSQL bound by
// round trips (about three and a half statements per token). The load
// generator, the server and the database share the machine's CPUs, as in
// bench/load: compare figures measured the same way on the same machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/keysmith/keysmith/bench/internal/load"
)

// config is what the flags ask for.
type config struct {
	db        string
	tokens    int
	sample    string
	sampleMax int
	history   time.Duration
	batch     int
	seed      int64

	measure     bool
	bin         string
	conc        int
	duration    time.Duration
	warmup      time.Duration
	probe       time.Duration
	maintenance time.Duration
	retention   int
	cpuProfile  string
	seeded      string
	parts       map[string]bool // what -measure measures: see measureParts
	createFor   time.Duration
}

// measureParts are the parts of -measure, in the order they run.
var measureParts = []string{"probe", "verify", "reads", "create"}

// Bounds on the flags, so that a typo cannot start a day-long run.
const (
	maxTokens   = 20_000_000
	maxDuration = 10 * time.Minute
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
		fmt.Fprintf(os.Stderr, "scale: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "scale: %v\n", err)
		os.Exit(1)
	}
}

// parseFlags reads and checks the command line.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.db, "db", "", "SQLite file path or postgres:// URL of an empty database (required)")
	fs.IntVar(&cfg.tokens, "tokens", 1000, "tokens to seed")
	fs.StringVar(&cfg.sample, "sample", "", "file to write live plaintext tokens to, one a line")
	fs.IntVar(&cfg.sampleMax, "sample-max", 100_000, "most tokens in the sample")
	fs.DurationVar(&cfg.history, "history", 960*time.Hour, "span of time over which the tokens are created, ending now")
	fs.IntVar(&cfg.batch, "batch", 2000, "tokens per seeding transaction")
	fs.Int64Var(&cfg.seed, "seed", 1, "seed of the random choices")
	fs.BoolVar(&cfg.measure, "measure", false, "after seeding, start keysmith serve on the database and measure")
	fs.StringVar(&cfg.bin, "bin", "", "prebuilt keysmith binary for -measure (default: go build ./cmd/keysmith into a temp dir)")
	fs.IntVar(&cfg.conc, "c", 32, "verify load: concurrent workers, each with its own keep-alive connection")
	fs.DurationVar(&cfg.duration, "d", 5*time.Second, "verify load: measured duration per run")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "verify load: uncounted load per run before measuring")
	fs.DurationVar(&cfg.probe, "probe", 70*time.Second, "duration of the write-stall probe")
	fs.DurationVar(&cfg.maintenance, "maintenance", 10*time.Second, "serve's maintenance interval (expiry sweep, pruning) during -measure")
	fs.IntVar(&cfg.retention, "retention-days", 30, "serve's --log-retention-days during -measure")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the seeding to this file")
	parts := fs.String("parts", strings.Join(measureParts, ","), "what -measure measures, comma-separated: "+strings.Join(measureParts, ", "))
	fs.DurationVar(&cfg.createFor, "create-for", 10*time.Second, "token creation load: measured duration (32 creators, -c)")
	fs.StringVar(&cfg.seeded, "seeded", "", "skip seeding: -db was seeded before, and this file holds the admin token that run printed")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./bench/scale -db PATH|DSN [-tokens N] [-sample FILE] [-measure] [flags]\n\n"+
			"Seeds a Keysmith database with N tokens and their history; with -measure, measures it.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.parts = map[string]bool{}
	for _, p := range strings.Split(*parts, ",") {
		if !slices.Contains(measureParts, p) {
			return cfg, fmt.Errorf("-parts: unknown part %q; use some of %s", p, strings.Join(measureParts, ","))
		}
		cfg.parts[p] = true
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q; all options are flags, see -h", fs.Arg(0))
	}
	switch {
	case cfg.db == "":
		return cfg, errors.New("-db is required: an SQLite file path or a postgres:// URL of an empty database")
	case cfg.tokens < 1 || cfg.tokens > maxTokens:
		return cfg, fmt.Errorf("-tokens %d is out of range: use 1 to %d", cfg.tokens, maxTokens)
	case cfg.sampleMax < 1:
		return cfg, fmt.Errorf("-sample-max %d: use at least 1", cfg.sampleMax)
	case cfg.history < time.Hour:
		return cfg, fmt.Errorf("-history %v: use at least 1h", cfg.history)
	case cfg.batch < 1 || cfg.batch > 100_000:
		return cfg, fmt.Errorf("-batch %d is out of range: use 1 to 100000", cfg.batch)
	case cfg.conc < 1 || cfg.conc > 4096:
		return cfg, fmt.Errorf("-c %d is out of range: use 1 to 4096", cfg.conc)
	case cfg.duration <= 0 || cfg.duration > maxDuration || cfg.probe <= 0 || cfg.probe > maxDuration ||
		cfg.createFor <= 0 || cfg.createFor > maxDuration:
		return cfg, fmt.Errorf("-d, -probe and -create-for must be more than 0 and at most %v", maxDuration)
	case cfg.warmup < 0 || cfg.warmup > time.Minute:
		return cfg, fmt.Errorf("-warmup %v is out of range: use 0 to 1m", cfg.warmup)
	case cfg.maintenance < time.Second:
		return cfg, fmt.Errorf("-maintenance %v: use at least 1s", cfg.maintenance)
	case cfg.retention < 1:
		return cfg, fmt.Errorf("-retention-days %d: use at least 1", cfg.retention)
	case cfg.measure && cfg.sample == "":
		return cfg, errors.New("-measure needs -sample FILE: uniform verify reads its tokens from it")
	case cfg.seeded != "" && !cfg.measure:
		return cfg, errors.New("-seeded skips seeding, so it needs -measure")
	}
	return cfg, nil
}

// run seeds, prints the admin token and, with -measure, measures and prints
// the table.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	if cfg.seeded != "" {
		s, err := readSeeded(cfg)
		if err != nil {
			return err
		}
		return measure(ctx, cfg, s, stdout, stderr)
	}
	s, err := seed(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "scale: seeded %d tokens and %d events in %v (%.0f tokens/s); %d live, %d in the sample\n",
		cfg.tokens, s.Events, s.Elapsed.Round(time.Millisecond), float64(cfg.tokens)/s.Elapsed.Seconds(), s.Live, s.Sampled)
	fmt.Fprintln(stdout, s.AdminToken)
	if !cfg.measure {
		return nil
	}
	return measure(ctx, cfg, s, stdout, stderr)
}

// readSeeded is what -seeded says of a database seeded before: its admin
// token. Seeding figures are unknown (zero).
func readSeeded(cfg config) (*seeded, error) {
	b, err := os.ReadFile(cfg.seeded)
	if err != nil {
		return nil, fmt.Errorf("-seeded: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if !strings.HasPrefix(tok, "ks_") || strings.ContainsAny(tok, " \n") {
		return nil, fmt.Errorf("-seeded %s does not hold one API token (the line bench/scale printed on stdout)", cfg.seeded)
	}
	return &seeded{AdminToken: tok}, nil
}

// quietLogger drops the store's informational lines (applied migrations)
// and keeps warnings.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
