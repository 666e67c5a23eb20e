package load

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary play the hello process, as the load binary
// does, so the tests start the real separate process.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == HelloCommand {
		os.Exit(RunHello(os.Args[2:], os.Stderr))
	}
	os.Exit(m.Run())
}

// startTestHello starts the hello process and stops it when the test ends.
func startTestHello(t *testing.T) *Proc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartHello(t.Context(), self, t.TempDir())
	if p != nil {
		t.Cleanup(func() {
			if err := p.Stop(); err != nil {
				t.Error(err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// verifyLoad is the verify scenario's load against url, short.
func verifyLoad(t *testing.T, url string, check func(int, []byte) error) Load {
	t.Helper()
	return Load{URL: url + "/v1/verify", Method: http.MethodPost, Body: []byte(`{"token":"ks_test"}`),
		Header: http.Header{"Content-Type": {"application/json"}}, Check: check,
		Conc: 4, Warmup: 100 * time.Millisecond, Duration: 300 * time.Millisecond}
}

func TestHello(t *testing.T) {
	t.Run("AnswersValidToAnyPostAndStopsOnSIGTERM", func(t *testing.T) {
		p := startTestHello(t)
		resp, err := http.Post(p.URL+"/v1/verify", "application/json", strings.NewReader(`{"token":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != `{"valid":true}` {
			t.Errorf("got %d %q, want 200 {\"valid\":true}", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type %q, want application/json", got)
		}
		if err := p.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := p.ExitedErr(); err == nil {
			t.Error("process still running after stop")
		}
	})
	t.Run("RefusesAnAddressThatIsNotLoopback", func(t *testing.T) {
		var stderr strings.Builder
		if code := RunHello([]string{"-addr", "0.0.0.0:0"}, &stderr); code != 2 {
			t.Errorf("exit status %d, want 2", code)
		}
		if !strings.Contains(stderr.String(), "not loopback") {
			t.Errorf("stderr %q does not say why", stderr.String())
		}
	})
}

func TestRunLoad(t *testing.T) {
	t.Run("HoldsOneKeepAliveConnectionPerWorker", func(t *testing.T) {
		p := startTestHello(t)
		lo := verifyLoad(t, p.URL, CheckOK)
		res, err := Run(t.Context(), lo)
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != 0 {
			t.Errorf("requests %d, errors %d (%v); want some, none", res.Requests, res.Errors, res.ErrorKind)
		}
		if res.Conns != int64(lo.Conc) {
			t.Errorf("dialled %d connections, want %d", res.Conns, lo.Conc)
		}
		if res.Latency.n != int64(res.Requests) {
			t.Errorf("recorded %d latencies for %d requests", res.Latency.n, res.Requests)
		}
	})
	t.Run("CountsWrongStatusAndFailedCheckAsErrors", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			status  int
			body    string
			wantMsg string
		}{
			{"Status", http.StatusUnauthorized, `{"error":"unauthorized"}`, "status 401"},
			{"Body", http.StatusOK, `{"valid":false}`, `without "valid":true`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(tc.status)
					io.WriteString(w, tc.body)
				}))
				defer srv.Close()
				res, err := Run(t.Context(), verifyLoad(t, srv.URL, CheckBodyContains(`"valid":true`)))
				if err != nil {
					t.Fatal(err)
				}
				if res.Requests == 0 || res.Errors != res.Requests {
					t.Errorf("requests %d, errors %d; want every request failed", res.Requests, res.Errors)
				}
				if len(res.ErrorKind) != 1 {
					t.Fatalf("error kinds %v, want one", res.ErrorKind)
				}
				for msg := range res.ErrorKind {
					if !strings.Contains(msg, tc.wantMsg) {
						t.Errorf("error %q does not contain %q", msg, tc.wantMsg)
					}
				}
			})
		}
	})
	t.Run("PicksEveryBodyOfTheListUniformly", func(t *testing.T) {
		var mu sync.Mutex
		seen := map[string]int{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			seen[string(b)]++
			mu.Unlock()
		}))
		defer srv.Close()
		lo := verifyLoad(t, srv.URL, CheckOK)
		lo.Bodies = [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d")}
		res, err := Run(t.Context(), lo)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, b := range lo.Bodies {
			if n := seen[string(b)]; n < res.Requests/8 {
				t.Errorf("body %q sent %d times of %d requests, want about a quarter (all: %v)", b, n, res.Requests, seen)
			}
		}
		if len(seen) != len(lo.Bodies) {
			t.Errorf("sent bodies %v, want only those of the list", seen)
		}
	})
	t.Run("StopsWhenCancelled", func(t *testing.T) {
		p := startTestHello(t)
		lo := verifyLoad(t, p.URL, CheckOK)
		lo.Duration = time.Hour
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		if _, err := Run(ctx, lo); err == nil {
			t.Error("no error from a cancelled run")
		}
	})
}

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", true},
		{"127.1.2.3:80", true},
		{"[::1]:80", true},
		{"localhost:80", false}, // a name could resolve anywhere
		{"10.0.0.1:80", false},
		{"0.0.0.0:80", false},
		{"example.com:443", false},
		{"127.0.0.1", false},
	} {
		if err := CheckLoopback(tc.addr); (err == nil) != tc.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}

func TestHistogram(t *testing.T) {
	t.Run("SmallValuesAreExact", func(t *testing.T) {
		var h Histogram
		for v := 1; v <= 100; v++ {
			h.record(time.Duration(v))
		}
		for _, tc := range []struct {
			p    float64
			want time.Duration
		}{{50, 50}, {99, 99}, {100, 100}, {0.1, 1}} {
			if got := h.Percentile(tc.p); got != tc.want {
				t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
			}
		}
	})
	t.Run("LargeValuesAreWithinOnePercent", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for range 100000 {
			v := time.Duration(r.Int64N(int64(time.Hour)))
			mid := histMid(histIndex(v))
			if diff := float64(mid-v) / float64(v); diff > 0.01 || diff < -0.01 {
				t.Fatalf("%v lands in a bucket whose middle is %v", v, mid)
			}
		}
		if i := histIndex(time.Duration(1<<63 - 1)); i != histBuckets-1 {
			t.Errorf("largest duration in bucket %d, want the last, %d", i, histBuckets-1)
		}
	})
	t.Run("MergeAddsCounts", func(t *testing.T) {
		var a, b Histogram
		a.record(time.Millisecond)
		b.record(3 * time.Millisecond)
		b.record(3 * time.Millisecond)
		a.merge(&b)
		if a.n != 3 || a.Percentile(50) < 2*time.Millisecond {
			t.Errorf("n %d, p50 %v; want 3, about 3ms", a.n, a.Percentile(50))
		}
	})
	t.Run("EmptyIsZero", func(t *testing.T) {
		var h Histogram
		if got := h.Percentile(99); got != 0 {
			t.Errorf("p99 of nothing = %v, want 0", got)
		}
	})
}
