package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/bayhq/bay/adapters/httpapi"
)

// serve runs the API server until ctx is cancelled, then shuts down
// gracefully: the listener stops accepting, requests in flight finish, the
// background work stops, the database closes.
//
// It listens first, so that liveness never waits for the database or
// Docker: GET /health answers at once, the rest of the API once the
// database is migrated, the executions this instance left running are
// marked lost and the session starts it left half done are settled (503
// service_unavailable before; see app.prepare). Reconcile, the check for
// missing images and the start-up GC cycle run after that, beside serving;
// GET /ready reports the startup check pending until reconcile's first
// pass is done. A signal stops Bay cleanly at any point of this.
func serve(ctx context.Context, cfg Config, environ []string, logger *slog.Logger) error {
	return serveWith(ctx, cfg, environ, logger, startHooks{})
}

// startHooks hold start-up at its steps, for tests.
type startHooks struct {
	// beforeMigrate runs before the migrations; an error ends start-up.
	beforeMigrate func(ctx context.Context) error
	// beforeReconcile runs before reconcile's first pass, in the
	// background.
	beforeReconcile func(ctx context.Context)
}

func serveWith(ctx context.Context, cfg Config, environ []string, logger *slog.Logger, hooks startHooks) error {
	began := time.Now()
	addr := net.JoinHostPort(cfg.Server.Host, strconv.Itoa(cfg.Server.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	gate := httpapi.NewStarting(logger.With("component", "http"))
	srv := &http.Server{
		Handler:           gate,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("bay listening", "addr", ln.Addr().String(), "version", version,
		"instance_id", cfg.InstanceID(environ), "database", databaseKind(cfg))
	listening := time.Now()

	a, err := start(ctx, cfg, environ, logger, hooks)
	if err != nil {
		if serr := stopServing(srv, errc); serr != nil {
			logger.Warn("stop serving", "err", serr)
		}
		if ctx.Err() != nil {
			logger.Info("bay stopped during start-up")
			return nil
		}
		return err
	}
	bgCtx, stopBackground := context.WithCancel(ctx)
	defer a.close() // after stopBackground: close waits for the background work
	defer stopBackground()
	gate.Open(a.handler)
	logger.Debug("start-up", "listen_ms", ms(listening.Sub(began)), "api_ms", ms(time.Since(listening)))
	a.startBackground(bgCtx, cfg, hooks.beforeReconcile)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("bay shutting down")
	stopBackground()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The listener closes at once; streamed and async executions get 10 s
	// to end, then are marked lost and their streams end with a fault, so
	// the requests still open can finish.
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(shutdownCtx) }()
	// Terminals are hijacked connections Shutdown does not wait for: they
	// close with 1001.
	terminals := make(chan struct{})
	go func() { a.api.CloseTerminals(); close(terminals) }()
	a.execs.Shutdown(10 * time.Second)
	<-terminals
	if err := <-shut; err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("bay stopped")
	return nil
}

// start wires Bay and prepares what the API needs. On failure, whatever it
// opened is closed again.
func start(ctx context.Context, cfg Config, environ []string, logger *slog.Logger, hooks startHooks) (*app, error) {
	a, err := newApp(ctx, cfg, environ, logger)
	if err != nil {
		return nil, err
	}
	if hooks.beforeMigrate != nil {
		err = hooks.beforeMigrate(ctx)
	}
	if err == nil {
		err = a.prepare(ctx)
	}
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// stopServing ends the server of a start-up that failed or was stopped:
// only /health and refusals were served, so it ends quickly.
func stopServing(srv *http.Server, errc <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func databaseKind(cfg Config) string {
	kind, _, _ := ParseDatabaseURL(cfg.Database.URL)
	return kind
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
