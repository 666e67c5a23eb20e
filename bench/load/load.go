package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	requestTimeout = 10 * time.Second
	maxBody        = 1 << 20
)

// maxErrorKinds bounds how many distinct error messages a run remembers.
const maxErrorKinds = 8

// load is one target's run: where to send what, how hard, for how long.
type load struct {
	url      string
	method   string
	header   http.Header
	body     []byte
	check    func(status int, body []byte) error
	conc     int
	warmup   time.Duration
	duration time.Duration
}

// result is what one run measured. Only requests started after the warm-up
// count.
type result struct {
	Requests  int            // answered or failed
	Errors    int            // failed: transport error, wrong status, or failed check
	Elapsed   time.Duration  // from the end of the warm-up until the last worker stopped
	Conns     int64          // connections dialled, warm-up included
	Latency   histogram      // of the successful requests
	ErrorKind map[string]int // error message → count, at most maxErrorKinds (+ "other")
}

// ReqPerSec is the rate of successful responses.
func (r *result) ReqPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.Errors) / r.Elapsed.Seconds()
}

// worker is one closed loop over one keep-alive connection. It records into
// its own fields, so the loop takes no locks and does not allocate for its
// records; runLoad merges them at the end.
type worker struct {
	requests  int
	errors    int
	latency   histogram
	errorKind map[string]int
	buf       bytes.Buffer
}

// runLoad drives lo.conc workers against lo.url for lo.warmup+lo.duration and
// returns what was measured after the warm-up. It returns an error only when
// the run was cut short (ctx done); failed requests are counted, not returned.
func runLoad(ctx context.Context, lo load) (*result, error) {
	var dials atomic.Int64
	tr := newTransport(lo.conc, &dials)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: requestTimeout}

	start := time.Now()
	measureFrom := start.Add(lo.warmup)
	end := measureFrom.Add(lo.duration)
	workers := make([]*worker, lo.conc)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{errorKind: map[string]int{}}
		workers[i] = w
		wg.Go(func() { w.run(ctx, client, &lo, measureFrom, end) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run against %s cut short: %w", lo.url, context.Cause(ctx))
	}

	res := &result{Elapsed: time.Since(measureFrom), Conns: dials.Load(), ErrorKind: map[string]int{}}
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
func (w *worker) run(ctx context.Context, client *http.Client, lo *load, measureFrom, end time.Time) {
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		err := w.do(ctx, client, lo)
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

// do sends one request and reads the whole answer, so that the connection
// goes back to the pool for the next one.
func (w *worker) do(ctx context.Context, client *http.Client, lo *load) error {
	req, err := http.NewRequestWithContext(ctx, lo.method, lo.url, bytes.NewReader(lo.body))
	if err != nil {
		return err
	}
	if lo.header != nil {
		req.Header = lo.header // shared read-only by every request
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
	return lo.check(resp.StatusCode, w.buf.Bytes())
}

// noteError counts err by its message, keeping a few distinct ones.
func (w *worker) noteError(err error) {
	msg := err.Error()
	if _, ok := w.errorKind[msg]; !ok && len(w.errorKind) >= maxErrorKinds {
		msg = "other errors"
	}
	w.errorKind[msg]++
}

// newTransport returns a transport for conc workers: one keep-alive
// connection each, no compression (neither target compresses, and the client
// must not ask), no proxy, and dialling only loopback addresses. dials counts
// the connections made.
func newTransport(conc int, dials *atomic.Int64) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if err := checkLoopback(addr); err != nil {
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

// checkLoopback accepts host:port only if host is a loopback IP address.
// Names are refused too: they could resolve anywhere.
func checkLoopback(hostport string) error {
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
