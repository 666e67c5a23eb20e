package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/bench/internal/load"
)

// results is everything -measure measured.
type results struct {
	Tokens int
	Engine string
	Seeded *seeded
	Sample int
	Verify []verifyRun
	RSSKiB int64
	Probe  *probeResult
	Reads  []readResult
	Create *load.Result
	Ready  time.Duration // from starting serve to its first 200 on /healthz: migrations included
}

// verifyRun is one row of the verify table.
type verifyRun struct {
	Name string
	Res  *load.Result
}

// measure starts keysmith serve on the seeded database, measures, and
// prints the table.
func measure(ctx context.Context, cfg config, s *seeded, stdout, stderr io.Writer) error {
	res, err := measureAll(ctx, cfg, s, stderr)
	if err != nil {
		return err
	}
	return res.writeTable(stdout, cfg)
}

// measureAll does the measurements in this order: the write-stall probe
// first, from the moment the server is ready (its first maintenance run,
// with the whole pruning backlog, starts then), then verify (hello, the hot
// token, the sample) and the RSS after it, then the management reads.
func measureAll(ctx context.Context, cfg config, s *seeded, stderr io.Writer) (*results, error) {
	bodies, err := readSample(cfg.sample)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "keysmith-scale-")
	if err != nil {
		return nil, fmt.Errorf("making a temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	bin := cfg.bin
	if bin == "" {
		if bin, err = load.BuildKeysmith(ctx, dir); err != nil {
			return nil, err
		}
	} else if bin, err = load.CheckBinary(bin); err != nil {
		return nil, err
	}
	t0 := time.Now()
	ks, err := startServe(ctx, cfg, bin, dir)
	if ks != nil {
		defer stopWarn(ks, stderr)
	}
	if err != nil {
		return nil, err
	}
	ready := time.Since(t0)
	api := &apiClient{base: ks.URL, token: s.AdminToken,
		c: &http.Client{Transport: load.NewTransport(4, nil), Timeout: time.Minute}}
	out := &results{Tokens: cfg.tokens, Engine: engineName(cfg.db), Seeded: s, Sample: len(bodies), Ready: ready}
	if s.Elapsed == 0 { // -seeded: count what is there
		var sum struct {
			Total int `json:"total"`
		}
		if err := api.call(ctx, http.MethodGet, "/v1/tokens/summary", nil, &sum); err != nil {
			return nil, err
		}
		out.Tokens = sum.Total
	}
	if cfg.parts["probe"] {
		fmt.Fprintf(stderr, "scale: write-stall probe for %v\n", cfg.probe)
		if out.Probe, err = runProbe(ctx, api, cfg.probe); err != nil {
			return nil, err
		}
	}
	if cfg.parts["verify"] {
		fmt.Fprintf(stderr, "scale: verify runs\n")
		if out.Verify, err = runVerify(ctx, cfg, ks, s.AdminToken, bodies, dir); err != nil {
			return nil, err
		}
		if out.RSSKiB, err = rssKiB(ks.Pid()); err != nil {
			fmt.Fprintf(stderr, "scale: warning: %v\n", err)
		}
	}
	if cfg.parts["reads"] {
		fmt.Fprintf(stderr, "scale: management reads\n")
		if out.Reads, err = runReads(ctx, api); err != nil {
			return nil, err
		}
	}
	if cfg.parts["create"] {
		fmt.Fprintf(stderr, "scale: token creation for %v\n", cfg.createFor)
		if out.Create, err = runCreate(ctx, cfg, ks, api, s.AdminToken); err != nil {
			return nil, err
		}
	}
	return out, ks.ExitedErr()
}

// startServe starts keysmith serve on the seeded database with the
// maintenance interval and retention of cfg and waits until it is ready.
func startServe(ctx context.Context, cfg config, bin, dir string) (*load.Proc, error) {
	addr, err := load.FreeAddr()
	if err != nil {
		return nil, err
	}
	p, err := load.StartProcEnv("keysmith serve", "http://"+addr, filepath.Join(dir, "keysmith.log"), bin, []string{"KEYSMITH_MASTER_KEY=" + masterKey()},
		"serve", "--addr", addr, "--db", cfg.db, "--log-format", "json",
		"--log-retention-days", strconv.Itoa(cfg.retention), "--maintenance-interval", cfg.maintenance.String())
	if err != nil {
		return nil, err
	}
	return p, load.WaitReadyWithin(ctx, p, serveReadyLimit)
}

// serveReadyLimit bounds the start of serve, which applies pending
// migrations first: on a million tokens an added index takes a while.
const serveReadyLimit = 15 * time.Minute

// masterKey is the KEYSMITH_MASTER_KEY serve gets (PostgreSQL requires
// one): this process's, so that a database measured once can be served
// again with the same key, or else a new random one, never shown.
func masterKey() string {
	if k := os.Getenv("KEYSMITH_MASTER_KEY"); k != "" {
		return k
	}
	var b [32]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// runVerify measures hello, the hot token and the sample with the same load.
func runVerify(ctx context.Context, cfg config, ks *load.Proc, hot string, bodies [][]byte, dir string) ([]verifyRun, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program's binary to start the hello process: %w", err)
	}
	hello, err := load.StartHello(ctx, self, dir)
	if hello != nil {
		defer hello.Stop()
	}
	if err != nil {
		return nil, err
	}
	hotBody, _ := json.Marshal(map[string]string{"token": hot})
	base := load.Load{Method: http.MethodPost, Header: http.Header{"Content-Type": {"application/json"}},
		Conc: cfg.conc, Warmup: cfg.warmup, Duration: cfg.duration, Check: load.CheckBodyContains(`"valid":true`)}
	runs := []struct {
		name   string
		p      *load.Proc
		body   []byte
		bodies [][]byte
	}{
		{"hello (net/http baseline)", hello, hotBody, nil},
		{"verify, one hot token", ks, hotBody, nil},
		{fmt.Sprintf("verify, first pass over the %d tokens (cold cache: each a miss)", len(bodies)), ks, nil, bodies},
		{fmt.Sprintf("verify, uniform over the %d tokens (after the first pass)", len(bodies)), ks, nil, bodies},
	}
	var out []verifyRun
	for i, r := range runs {
		lo := base
		lo.URL, lo.Body, lo.Bodies = r.p.URL+"/v1/verify", r.body, r.bodies
		lo.Once = i == 2
		if i == 0 {
			lo.Check = load.CheckOK
		}
		res, err := load.Run(ctx, lo)
		if err != nil {
			return nil, err
		}
		if err := r.p.ExitedErr(); err != nil {
			return nil, err
		}
		out = append(out, verifyRun{Name: r.name, Res: res})
		if i == 0 {
			hello.Stop() // an idle process still costs a little; Keysmith runs alone
		}
	}
	return out, nil
}

// runCreate measures token creation through the API: -c workers, each
// creating API tokens of the admin as fast as they are answered. The tokens
// group's rate limit (600 a minute, half of it for one token) would refuse
// all but the first few hundred; it is raised for the run and restored
// after, so that what is measured is the creation path.
func runCreate(ctx context.Context, cfg config, ks *load.Proc, api *apiClient, admin string) (*load.Result, error) {
	var limits map[string]int
	if err := api.call(ctx, http.MethodGet, "/v1/settings/rate-limits", nil, &limits); err != nil {
		return nil, err
	}
	raised := maps.Clone(limits)
	raised["tokens"] = keysmith.MaxRateLimit
	if err := api.call(ctx, http.MethodPut, "/v1/settings/rate-limits", raised, nil); err != nil {
		return nil, err
	}
	defer api.call(context.WithoutCancel(ctx), http.MethodPut, "/v1/settings/rate-limits", limits, nil)
	body, _ := json.Marshal(map[string]any{"name": "scale creation load", "idle_ttl": 86400})
	res, err := load.Run(ctx, load.Load{URL: ks.URL + "/v1/tokens", Method: http.MethodPost,
		Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + admin}},
		Body:   body, Conc: cfg.conc, Warmup: time.Second, Duration: cfg.createFor,
		Check: func(status int, body []byte) error {
			if status != http.StatusCreated {
				return load.StatusError(status, body)
			}
			return nil
		}})
	if err != nil {
		return nil, err
	}
	return res, ks.ExitedErr()
}

// readSample reads the sample file into verify request bodies.
func readSample(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the sample: %w", err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if tok := strings.TrimSpace(sc.Text()); tok != "" {
			b, _ := json.Marshal(map[string]string{"token": tok})
			out = append(out, b)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the sample: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the sample %s holds no tokens: no token was live at the end of the history", path)
	}
	return out, nil
}

// rssKiB reads the resident set size of process pid from /proc.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the server's RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// engineName says which engine a -db value selects, as the store does.
func engineName(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "PostgreSQL"
	}
	return "SQLite"
}

// stopWarn stops p and reports on stderr if it had to be killed.
func stopWarn(p *load.Proc, stderr io.Writer) {
	if err := p.Stop(); err != nil {
		fmt.Fprintf(stderr, "scale: warning: %v\n", err)
	}
}

// apiClient calls Keysmith's API as the seeded super admin.
type apiClient struct {
	base  string
	token string
	c     *http.Client
}

// do sends one request and returns the status and body. Only transport
// errors are errors.
func (a *apiClient) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, b, err
}

// call is do for a request that must succeed, decoding the answer into out
// (if not nil).
func (a *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	status, b, err := a.do(ctx, method, path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, load.StatusError(status, b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
