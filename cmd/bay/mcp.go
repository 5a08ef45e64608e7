package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/bayhq/bay/adapters/mcp"
)

const mcpUsage = `usage: bay mcp [--url URL] [--api-key KEY] [--owner OWNER]

Serves MCP on stdin/stdout for desktop agents, as a client of <URL>/mcp.
It reads no configuration file, only the environment:

  BAY_URL                     Bay's base URL (or BAY_ENDPOINT, SHIPYARD_ENDPOINT_URL)
  BAY_API_KEY                 API key (or BAY_TOKEN, SHIPYARD_ACCESS_TOKEN); none = anonymous
  BAY_OWNER                   sent as X-Owner (anonymous mode)
  BAY_MCP_MAX_TRANSFER_BYTES  upload_file/download_file limit (default 52428800)
  BAY_MCP_LOCAL_ROOT          confine upload_file/download_file to this directory

Flags win over the environment. Logs go to stderr only.
`

// firstEnv returns the first of names set in environ.
func firstEnv(environ []string, names ...string) string {
	for _, n := range names {
		if v := lookupEnv(environ, n); v != "" {
			return v
		}
	}
	return ""
}

// runMCP is `bay mcp` (agent-reach.md §4.1): a stdio MCP server proxying
// a Bay's /mcp, plus the local file tools. It returns the exit code: 1 when
// Bay is unreachable (3 tries in 5 s), 2 for a usage error.
func runMCP(ctx context.Context, args, environ []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("bay mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, mcpUsage) }
	url := fs.String("url", "", "Bay's base URL (overrides BAY_URL)")
	apiKey := fs.String("api-key", "", "API key (overrides BAY_API_KEY)")
	owner := fs.String("owner", "", "X-Owner for anonymous mode (overrides BAY_OWNER)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bay mcp: unexpected argument %q\n\n%s", fs.Arg(0), mcpUsage)
		return 2
	}
	o := mcp.ProxyOptions{
		URL:       firstNonEmpty(*url, firstEnv(environ, "BAY_URL", "BAY_ENDPOINT", "SHIPYARD_ENDPOINT_URL")),
		APIKey:    firstNonEmpty(*apiKey, firstEnv(environ, "BAY_API_KEY", "BAY_TOKEN", "SHIPYARD_ACCESS_TOKEN")),
		Owner:     firstNonEmpty(*owner, lookupEnv(environ, "BAY_OWNER")),
		LocalRoot: lookupEnv(environ, "BAY_MCP_LOCAL_ROOT"),
		Version:   version,
	}
	if o.URL == "" {
		fmt.Fprintf(stderr, "bay mcp: no Bay URL: set BAY_URL or pass --url\n\n%s", mcpUsage)
		return 2
	}
	if v := lookupEnv(environ, "BAY_MCP_MAX_TRANSFER_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "bay mcp: BAY_MCP_MAX_TRANSFER_BYTES: want a positive number of bytes, got %q\n", v)
			return 2
		}
		o.MaxTransferBytes = n
	}
	// stdout carries the protocol: logs go to stderr only.
	o.Logger, _ = newLogger(LogConfig{Level: "warn", Format: "text"}, stderr)
	// An unreachable Bay (mcp.ErrUnreachable) ends here too, with its
	// message on stderr.
	if err := mcp.RunProxy(ctx, o); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "bay mcp: %v\n", err)
		return 1
	}
	return 0
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
