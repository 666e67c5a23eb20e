// Package load is the core of Keysmith's load tools (bench/load,
// bench/scale): closed-loop HTTP load over keep-alive connections with a
// log-linear latency histogram, the child processes it measures (keysmith
// serve, the hello-world baseline), and the rule that every address is on
// 127.0.0.1. bench/load's doc comment says what is measured and why.
package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of one request. A Keysmith answer is a few hundred bytes; the limit
// only stops a broken server from filling memory.
const (
	RequestTimeout = 10 * time.Second
	maxBody        = 1 << 20
)

// maxErrorKinds bounds how many distinct error messages a run remembers.
const maxErrorKinds = 8

// Load is one target's run: where to send what, how hard, for how long.
type Load struct {
	URL    string
	Method string
	Header http.Header // shared read-only by every request; nil for none
	Body   []byte
	// Bodies, if not empty, replaces Body: each request sends one of them,
	// picked uniformly at random by its worker (for example one verify
	// request per token of a sample), so the target cannot answer every
	// request from one warm entry.
	Bodies [][]byte
	// Once sends each of Bodies exactly once, in order, shared among the
	// workers, and ends when every one was sent; Warmup and Duration are
	// ignored. It measures a first pass over a sample, every request a
	// miss of a cold cache.
	Once     bool
	Check    func(status int, body []byte) error
	Conc     int
	Warmup   time.Duration
	Duration time.Duration
}

// Result is what one run measured. Only requests started after the warm-up
// count.
type Result struct {
	Requests  int            // answered or failed
	Errors    int            // failed: transport error, wrong status, or failed check
	Elapsed   time.Duration  // from the end of the warm-up until the last worker stopped
	Conns     int64          // connections dialled, warm-up included
	Latency   Histogram      // of the successful requests
	ErrorKind map[string]int // error message → count, at most maxErrorKinds (+ "other")
}

// ReqPerSec is the rate of successful responses.
func (r *Result) ReqPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.Errors) / r.Elapsed.Seconds()
}

// worker is one closed loop over one keep-alive connection. It records into
// its own fields, so the loop takes no locks and does not allocate for its
// records; Run merges them at the end.
type worker struct {
	requests  int
	errors    int
	latency   Histogram
	errorKind map[string]int
	buf       bytes.Buffer
	rand      *rand.Rand    // picks from Load.Bodies
	next      *atomic.Int64 // with Load.Once: the index of the next body to send, shared
}

// Run drives lo.Conc workers against lo.URL for lo.Warmup+lo.Duration and
// returns what was measured after the warm-up. It returns an error only when
// the run was cut short (ctx done); failed requests are counted, not returned.
func Run(ctx context.Context, lo Load) (*Result, error) {
	var dials atomic.Int64
	tr := NewTransport(lo.Conc, &dials)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: RequestTimeout}

	start := time.Now()
	measureFrom := start.Add(lo.Warmup)
	end := measureFrom.Add(lo.Duration)
	var next *atomic.Int64
	if lo.Once {
		next = new(atomic.Int64)
		measureFrom, end = start, start.Add(24*time.Hour)
	}
	workers := make([]*worker, lo.Conc)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{errorKind: map[string]int{}, rand: rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i))), next: next}
		workers[i] = w
		wg.Go(func() { w.run(ctx, client, &lo, measureFrom, end) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run against %s cut short: %w", lo.URL, context.Cause(ctx))
	}

	res := &Result{Elapsed: time.Since(measureFrom), Conns: dials.Load(), ErrorKind: map[string]int{}}
	for _, w := range workers {
		res.Requests += w.requests
		res.Errors += w.errors
		res.Latency.merge(&w.latency)
		for msg, k := range w.errorKind {
			res.ErrorKind[msg] += k
		}
	}
	return res, nil
}

// run sends requests one after another until end. Requests started before
// measureFrom warm up the connection and the server and are not recorded.
func (w *worker) run(ctx context.Context, client *http.Client, lo *Load, measureFrom, end time.Time) {
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		body := lo.Body
		switch {
		case w.next != nil:
			i := w.next.Add(1) - 1
			if i >= int64(len(lo.Bodies)) {
				return
			}
			body = lo.Bodies[i]
		case len(lo.Bodies) > 0:
			body = lo.Bodies[w.rand.IntN(len(lo.Bodies))]
		}
		err := w.do(ctx, client, lo, body)
		lat := time.Since(t0)
		if t0.Before(measureFrom) {
			continue
		}
		w.requests++
		if err != nil {
			w.errors++
			w.noteError(err)
			continue
		}
		w.latency.record(lat)
	}
}

// do sends one request with body and reads the whole answer, so that the connection
// goes back to the pool for the next one.
func (w *worker) do(ctx context.Context, client *http.Client, lo *Load, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, lo.Method, lo.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if lo.Header != nil {
		req.Header = lo.Header // shared read-only by every request
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	return lo.Check(resp.StatusCode, w.buf.Bytes())
}

// noteError counts err by its message, keeping a few distinct ones.
func (w *worker) noteError(err error) {
	msg := err.Error()
	if _, ok := w.errorKind[msg]; !ok && len(w.errorKind) >= maxErrorKinds {
		msg = "other errors"
	}
	w.errorKind[msg]++
}

// NewTransport returns a transport for conc workers: one keep-alive
// connection each, no compression (neither target compresses, and the client
// must not ask), no proxy, and dialling only loopback addresses. dials counts
// the connections made.
func NewTransport(conc int, dials *atomic.Int64) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if err := CheckLoopback(addr); err != nil {
				return nil, err
			}
			if dials != nil {
				dials.Add(1)
			}
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        conc,
		MaxIdleConnsPerHost: conc,
		MaxConnsPerHost:     conc,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
}

// errNotLoopback is returned for any attempt to reach beyond this machine.
var errNotLoopback = errors.New("refusing to send traffic to an address that is not loopback")

// CheckLoopback accepts host:port only if host is a loopback IP address.
// Names are refused too: they could resolve anywhere.
func CheckLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("address %q: %w", hostport, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %s", errNotLoopback, hostport)
	}
	return nil
}
