package app_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// The gateway endpoints in process: Keysmith's whole handler (middleware,
// routing, the verifier's cached path, the answer) against a bare handler
// doing what hello does in bench/load, both called directly with one
// reused request, so that what is measured is the handler's own work and
// allocations, not the network's:
//
//	go test -run '^$' -bench Gateway -benchmem ./app/
//
// Over HTTP, bench/load and wrk measure the same against the hello process
// (BENCHMARKS.md).

// BenchmarkGatewayHello is the bare handler: read the body, answer
// {"valid":true}.
func BenchmarkGatewayHello(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"valid":true}`))
	})
	runGateway(b, h, func() *http.Request { return httptest.NewRequest("GET", "/v1/forward-auth", nil) }, http.StatusOK)
}

// BenchmarkGatewayForwardAuth is GET /v1/forward-auth with a cached valid
// API token.
func BenchmarkGatewayForwardAuth(b *testing.B) { benchForwardAuth(b, app.Config{}) }

// BenchmarkGatewayForwardAuthMetrics is BenchmarkGatewayForwardAuth with
// Prometheus metrics on (--metrics-addr): it must allocate no more.
func BenchmarkGatewayForwardAuthMetrics(b *testing.B) {
	benchForwardAuth(b, app.Config{MetricsAddr: "127.0.0.1:0"})
}

func benchForwardAuth(b *testing.B, cfg app.Config) {
	s, tok := gatewayWorld(b, cfg)
	runGateway(b, s.App.HTTP.Handler(), func() *http.Request {
		r := httptest.NewRequest("GET", "/v1/forward-auth", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}, http.StatusOK)
}

// BenchmarkGatewayVerify is POST /v1/verify {"token": …} with a cached
// valid API token.
func BenchmarkGatewayVerify(b *testing.B) { benchVerify(b, app.Config{}) }

// BenchmarkGatewayVerifyMetrics is BenchmarkGatewayVerify with Prometheus
// metrics on (--metrics-addr): it must allocate no more.
func BenchmarkGatewayVerifyMetrics(b *testing.B) {
	benchVerify(b, app.Config{MetricsAddr: "127.0.0.1:0"})
}

func benchVerify(b *testing.B, cfg app.Config) {
	s, tok := gatewayWorld(b, cfg)
	body := `{"token":"` + tok + `"}`
	runGateway(b, s.App.HTTP.Handler(), func() *http.Request {
		r := httptest.NewRequest("POST", "/v1/verify", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}, http.StatusOK)
}

func gatewayWorld(b *testing.B, cfg app.Config) (*apptest.Server, string) {
	s := apptest.Start(b, storetest.SQLite(b), cfg)
	// The test clock stands still, so no rate-limit window ever ends.
	s.Do("PUT", "/v1/settings/rate-limits", s.AdminToken, map[string]any{"verified": keysmith.MaxRateLimit}).Want(b, http.StatusOK)
	return s, s.AdminToken
}

// runGateway serves a fresh request from newReq per iteration (made outside
// the timing) with h, into a recorder that keeps nothing but the status.
func runGateway(b *testing.B, h http.Handler, newReq func() *http.Request, want int) {
	b.Helper()
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, newReq()) // warm the caches
	if w.status != want {
		b.Fatalf("status %d, want %d", w.status, want)
	}
	reqs := make([]*http.Request, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(reqs) == 0 {
			b.StopTimer()
			for j := range reqs {
				reqs[j] = newReq()
			}
			b.StartTimer()
		}
		w.reset()
		h.ServeHTTP(w, reqs[i%len(reqs)])
	}
	b.StopTimer()
	if w.status != want {
		b.Fatalf("status %d, want %d", w.status, want)
	}
}

// discardWriter is the least a ResponseWriter can be: a fresh header map per
// response, as net/http makes, and the body thrown away.
type discardWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *discardWriter) reset() {
	w.h, w.status = http.Header{}, 0
}
func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}
