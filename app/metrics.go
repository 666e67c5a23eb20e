package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/metrics"
	"github.com/keysmith/keysmith/ratelimit"
)

// countRefusals wraps the limiter so that its refusals are counted per
// rate-limit group, for keysmith_ratelimit_refused_total.
func countRefusals(l ratelimit.Limiter) *ratelimit.Counted {
	var groups []string
	for _, g := range (keysmith.RateLimits{}).Groups() {
		groups = append(groups, string(g))
	}
	return ratelimit.NewCounted(l, groups)
}

// openMetrics makes the Prometheus metrics, hands the HTTP server its
// hooks, and listens on Config.MetricsAddr, so that a taken address fails
// the start rather than the first scrape.
func (a *App) openMetrics(refused *ratelimit.Counted) error {
	m := metrics.New(metrics.Sources{
		Cache:              a.Verifier.Stats,
		DB:                 a.Store.SQL(),
		DBName:             a.Store.Engine(),
		ChangeFeedFailures: a.Store.ChangeListenerFailures,
		RateLimitStatus:    a.HTTP.RateLimitStatus,
		Refused:            refused.Refused,
		Issued:             a.OAuth.Issued,
		SignInFailures:     a.Service.SignInFailures,
	})
	a.HTTP.Metrics = m
	// Only /metrics: the listener is for the monitoring network, and
	// nothing else Keysmith answers belongs there.
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	a.metrics = mux
	ln, err := net.Listen("tcp", a.Config.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s: %w (choose another with --metrics-addr)", a.Config.MetricsAddr, err)
	}
	a.metricsLn = ln
	return nil
}

// MetricsAddr is the address the metrics listener listens on, nil without
// Config.MetricsAddr.
func (a *App) MetricsAddr() net.Addr {
	if a.metricsLn == nil {
		return nil
	}
	return a.metricsLn.Addr()
}

// serveMetrics serves /metrics on the metrics listener until the returned
// function is called (Serve's end), which closes it at once: a scrape has
// nothing to finish.
func (a *App) serveMetrics() (stop func()) {
	if a.metricsLn == nil {
		return func() {}
	}
	srv := &http.Server{
		Handler:           a.metrics,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(a.Config.Log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(a.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Config.Log.Error("metrics listener stopped", "err", err)
		}
	}()
	a.Config.Log.Info("metrics listening", "addr", "http://"+a.metricsLn.Addr().String()+"/metrics")
	return func() {
		srv.Close()
		<-done
	}
}
