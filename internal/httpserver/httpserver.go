// Package httpserver runs an HTTP server until its context ends, then shuts
// it down gracefully; every service listens through it.
package httpserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Serve listens on addr and serves h until ctx is done.
func Serve(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, h, logger)
}

// ServeListener serves on an open listener until ctx is done.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Long-lived WebSockets do not end on their own; close them.
		err = srv.Close()
	}
	if logger != nil {
		logger.Debug("http server stopped", "addr", ln.Addr().String())
	}
	return err
}

// ErrShuttingDown is the readiness error of a server that is draining.
var ErrShuttingDown = errors.New("shutting down")

// Draining is the graceful stop of a server behind a load balancer that
// polls /readyz: once ctx ends, draining reports true (fail readiness with
// ErrShuttingDown then), and drain later the returned context ends (serve
// with it), so the balancer stops sending requests before the server stops
// listening and lets in-flight requests finish.
func Draining(ctx context.Context, drain time.Duration) (serve context.Context, draining func() bool) {
	serve, stop := context.WithCancel(context.WithoutCancel(ctx))
	var flag atomic.Bool
	context.AfterFunc(ctx, func() {
		flag.Store(true)
		time.AfterFunc(drain, stop)
	})
	return serve, flag.Load
}

// Health serves /healthz (alive) and /readyz (ready when ready returns nil).
func Health(mux *http.ServeMux, ready func(ctx context.Context) error) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if ready != nil {
			if err := ready(ctx); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}

// Metrics returns the Prometheus /metrics handler, with the Go profiler
// under /debug/pprof/, served on its own (internal) port.
func Metrics() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
