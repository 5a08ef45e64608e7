package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bayhq/bay/browser"
	"github.com/bayhq/bay/browser/wire"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "unknown"

// shutdownTimeout is the whole graceful stop: Chromium closed and the
// process gone within Docker's 10 s grace (browser.md §5.1: 5 s).
const shutdownTimeout = 5 * time.Second

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "browserd:", err)
		os.Exit(1)
	}
}

func run() error {
	// First, before anything can start a child process.
	token := os.Getenv(wire.TokenEnv)
	_ = os.Unsetenv(wire.TokenEnv)
	port := os.Getenv(browser.EnvPort)
	if port == "" {
		port = wire.DefaultPort
	}
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.StringVar(&port, "port", port, "listen port ($"+browser.EnvPort+")")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: browserd [-port N]\n\nSettings from the environment:\n")
		for _, e := range []string{wire.TokenEnv + " (required)", browser.EnvPort + " (8124)", browser.EnvWorkspace + " (/workspace)",
			browser.EnvTmpDir + " ($TMPDIR/browser)", browser.EnvChromium + " (found on PATH)",
			browser.EnvSandbox + " (auto|require|off; auto)", browser.EnvPersistProfile + " (true)",
			browser.EnvViewport + " (1280x800)", browser.EnvLocale + " (en-US)", browser.EnvUserAgent + " (Chromium's)",
			browser.EnvImage, browser.EnvImageDigest, browser.EnvGitSHA} {
			fmt.Fprintln(flag.CommandLine.Output(), "  "+e)
		}
		flag.PrintDefaults()
	}
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return nil
	}
	if token == "" {
		return fmt.Errorf("%s is missing or empty; the control plane sets it per session", wire.TokenEnv)
	}
	cfg, err := browser.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg.Token, cfg.Version, cfg.Logger = token, version, logger
	if os.Getenv("BROWSERD_CHROMIUM_LOG") == "1" {
		cfg.ChromiumLog = os.Stderr
	}

	eng := browser.NewEngine(cfg)
	srv, err := browser.NewServer(cfg, eng)
	if err != nil {
		return err
	}
	// #nosec G102 -- Bay reaches the runtime over the session's network; every route but /health needs the token
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("browserd listening", "addr", ln.Addr().String(), "version", version, "workspace", cfg.Workspace,
		"chromium_sandbox", cfg.Sandbox, "persist_profile", cfg.PersistProfile)
	eng.Start()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Refuse new work, cancel the command in flight, close Chromium so that
	// it flushes the profile, then stop serving.
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	eng.Stop(sctx)
	_ = hs.Shutdown(sctx)
	logger.Info("browserd stopped", "seconds", time.Since(start).Seconds())
	return nil
}
