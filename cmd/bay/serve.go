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
)

// serve runs the API server until ctx is cancelled, then shuts down
// gracefully: the listener stops accepting, requests in flight finish, the
// background loops stop, the database closes.
func serve(ctx context.Context, cfg Config, environ []string, logger *slog.Logger) error {
	began := time.Now()
	a, err := newApp(ctx, cfg, environ, logger)
	if err != nil {
		return err
	}
	defer a.close()
	wired := time.Now()
	if err := a.prepare(ctx, cfg); err != nil {
		return err
	}
	logger.Debug("start-up", "wire_ms", ms(wired.Sub(began)), "prepare_ms", ms(time.Since(wired)))

	addr := net.JoinHostPort(cfg.Server.Host, strconv.Itoa(cfg.Server.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	bgCtx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	a.background(bgCtx, cfg)
	logger.Info("bay listening", "addr", ln.Addr().String(), "version", version,
		"instance_id", cfg.InstanceID(environ), "database", databaseKind(cfg))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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

func databaseKind(cfg Config) string {
	kind, _, _ := ParseDatabaseURL(cfg.Database.URL)
	return kind
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
