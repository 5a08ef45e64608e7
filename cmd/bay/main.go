// Command bay is Bay's control plane: it serves the REST API, starts and
// stops Ship runtime containers, and keeps sandboxes, sessions and lockers
// in SQLite or Postgres.
//
//	bay serve                  run the server
//	bay migrate up|down|status manage the database schema
//	bay images [--all]         print the images the configuration needs
//	bay mcp                    serve MCP on stdio, as a client of a Bay
//	bay version                print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: bay [--config FILE] <command>

commands:
  serve                    run the API server (the default)
  migrate up|down|status   manage the database schema
  images [--all]           print the images the default profile (or every
                           profile, with --all) and Bay's helpers need
  mcp [--url URL]          serve MCP on stdin/stdout for desktop agents, as a
                           client of a Bay's /mcp (bay mcp --help)
  version                  print the version
`

func run(ctx context.Context, args []string, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (overrides BAY_CONFIG_FILE)")
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmd, rest := "serve", fs.Args()
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "bay", version)
		return 0
	case "mcp":
		// A client of a running Bay: it reads no configuration file.
		return runMCP(ctx, rest, environ, stderr)
	case "serve", "migrate", "images":
	default:
		fmt.Fprintf(stderr, "bay: unknown command %q\n\n%s", cmd, usage)
		return 2
	}

	cfg, warnings, err := LoadConfig(*configPath, environ)
	if err != nil {
		fmt.Fprintf(stderr, "bay: %v\n", err)
		return 1
	}
	logger, err := newLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bay: %v\n", err)
		return 1
	}
	for _, w := range warnings {
		logger.Warn(w)
	}

	switch cmd {
	case "migrate":
		err = migrate(ctx, cfg, rest, stdout)
	case "images":
		err = images(cfg, rest, stdout)
	default:
		err = serve(ctx, cfg, environ, logger)
	}
	if err != nil {
		var usageErr *usageError
		if errors.As(err, &usageErr) {
			fmt.Fprintf(stderr, "bay: %v\n\n%s", err, usage)
			return 2
		}
		logger.Error("bay stopped", "err", err)
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
