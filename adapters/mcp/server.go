package mcp

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bayhq/bay/core"
)

// Sandboxes is what the MCP server needs from the sandbox service. Owner
// isolation is the implementation's job: a sandbox of another owner is
// not_found. The capability calls run the whole pipeline themselves and
// take paths raw.
type Sandboxes interface {
	Create(ctx context.Context, owner string, in core.CreateSandboxInput) (*core.SandboxInfo, error)
	Get(ctx context.Context, owner, id string) (*core.SandboxInfo, error)
	List(ctx context.Context, owner, cursor string, limit int, status string) (core.Page[core.SandboxInfo], error)
	ExtendTTL(ctx context.Context, owner, id string, extendBy int64) (*core.SandboxInfo, error)
	Stop(ctx context.Context, owner, id string) error
	Delete(ctx context.Context, owner, id string) error
	Profiles() []core.Profile
	ReadFile(ctx context.Context, owner, id, path string) (string, error)
	WriteFile(ctx context.Context, owner, id, path, content string) error
	DeleteFile(ctx context.Context, owner, id, path string) error
	ListDir(ctx context.Context, owner, id, path string) ([]core.FileEntry, error)
	Upload(ctx context.Context, owner, id, path string, body io.Reader) (*core.UploadResult, error)
	Download(ctx context.Context, owner, id, path string) (*core.Download, error)
	SandboxCapabilities(ctx context.Context, owner, id string, refresh bool) (*core.SandboxCapabilities, error)
}

// Executions is what the MCP server needs from the execution service
// (agent-reach.md §1, §2).
type Executions interface {
	Exec(ctx context.Context, owner, id string, in core.ExecInput) (*core.ExecOutcome, error)
	Start(ctx context.Context, owner, id string, mode core.ExecutionMode, in core.ExecInput) (*core.Run, error)
	List(ctx context.Context, owner, id string, f core.ExecutionFilter) ([]core.Execution, *core.ExecutionCursor, error)
	Get(ctx context.Context, owner, id, execID string, wait time.Duration) (*core.Execution, error)
	Last(ctx context.Context, owner, id string, kind core.ExecutionKind) (*core.Execution, error)
	Annotate(ctx context.Context, owner, id, execID string, p core.ExecutionPatch) (*core.Execution, error)
	Cancel(ctx context.Context, owner, id, execID string) (*core.Execution, error)
}

// Lockers is what the MCP server needs from the locker service: the direct
// read of a locker's file (bay-api.md §7.5.5).
type Lockers interface {
	ReadFile(ctx context.Context, owner, id, path string) (string, error)
}

// Metrics counts tool calls; outcome is "success" or "error".
type Metrics interface {
	MCPToolCall(tool, outcome string)
}

// AuthenticateFunc resolves the owner and the scopes of the caller of an
// HTTP request, with the REST API's rules; the error is a core error.
type AuthenticateFunc func(r *http.Request) (owner string, scopes []string, err error)

// Scopes the tools and resources need; the names are the REST API's.
const (
	ScopeSandboxes = "sandboxes"
	ScopeLockers   = "lockers"
)

// Defaults of the mcp configuration section (agent-reach.md §7).
const (
	DefaultMaxTextChars     = 12000
	DefaultTTL              = 3600
	DefaultMaxWriteBytes    = 5 << 20
	DefaultMaxResourceBytes = 1 << 20
)

// Options configures a Server. Sandboxes and Executions are required;
// Lockers may be nil (locker resources then answer not found).
type Options struct {
	Sandboxes  Sandboxes
	Executions Executions
	Lockers    Lockers

	// Authenticate resolves each request's caller from the headers of the
	// HTTP request that carried it. Nil makes every caller the owner
	// "default" with every scope (in-process use and tests only).
	Authenticate AuthenticateFunc

	// Version is Bay's version, announced with the name "bay".
	Version string
	// MaxTextChars bounds a text field of a result (runes); 0 means
	// DefaultMaxTextChars.
	MaxTextChars int
	// DefaultTTL is create_sandbox's ttl when none is given, in seconds;
	// 0 means sandboxes that never expire (not a fallback).
	DefaultTTL int64
	// MaxWriteBytes bounds write_file's content after base64 decoding; 0
	// means DefaultMaxWriteBytes.
	MaxWriteBytes int64
	// MaxResourceBytes bounds a resource read and a base64 read_file; 0
	// means DefaultMaxResourceBytes.
	MaxResourceBytes int64
	// MaxBodyBytes bounds an HTTP request body (server.max_body_bytes); 0
	// means the SDK's default.
	MaxBodyBytes int64
	// DisableLocalhostProtection turns off the SDK's DNS rebinding check
	// (a same-host reverse proxy reaching 127.0.0.1 with a public Host).
	DisableLocalhostProtection bool

	Logger  *slog.Logger
	Metrics Metrics
}

// Instructions tell agents how to use Bay's tools (agent-reach.md §4.1).
const Instructions = `Bay runs code in sandboxes. Create one sandbox with create_sandbox and reuse it for the whole task: ` +
	`every call on it shares its /workspace. Files in the workspace persist across calls and across stops ` +
	`(the sandbox restarts on its next call), but Python state (variables, imports) does not survive a stop or an idle timeout. ` +
	`Results are cut to a bounded length; a cut result names where the whole record is. ` +
	`Delete the sandbox with delete_sandbox when the task is done.`

// Server is Bay's MCP server. Handler serves it over Streamable HTTP.
type Server struct {
	o     Options
	srv   *sdk.Server
	log   *slog.Logger
	caps  map[string]bool // capabilities some configured profile lists
	tools []string        // registered tool names, in table order
}

// New returns a Server with the tools the configured profiles allow.
func New(o Options) *Server {
	if o.MaxTextChars <= 0 {
		o.MaxTextChars = DefaultMaxTextChars
	}
	if o.MaxWriteBytes <= 0 {
		o.MaxWriteBytes = DefaultMaxWriteBytes
	}
	if o.MaxResourceBytes <= 0 {
		o.MaxResourceBytes = DefaultMaxResourceBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = noMetrics{}
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	s := &Server{o: o, log: o.Logger, caps: map[string]bool{}}
	for _, p := range o.Sandboxes.Profiles() {
		for _, c := range p.Capabilities {
			s.caps[c] = true
		}
	}
	s.srv = sdk.NewServer(&sdk.Implementation{Name: "bay", Title: "Bay", Version: o.Version}, &sdk.ServerOptions{
		Instructions: Instructions,
		Logger:       o.Logger,
		// The lists are fixed for the process's life: no list_changed.
		Capabilities: &sdk.ServerCapabilities{Tools: &sdk.ToolCapabilities{}, Resources: &sdk.ResourceCapabilities{}},
	})
	s.registerTools()
	s.registerResources()
	return s
}

// Handler returns the Streamable HTTP handler: stateless, so that every
// request authenticates alone and Bay instances need no session affinity.
// The caller mounts it behind the API's authentication (httpapi's Guard).
func (s *Server) Handler() http.Handler {
	return sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s.srv }, &sdk.StreamableHTTPOptions{
		Stateless:                  true,
		DisableLocalhostProtection: s.o.DisableLocalhostProtection,
		MaxRequestBodyBytes:        s.o.MaxBodyBytes,
		Logger:                     s.log,
	})
}

// MCP returns the underlying SDK server, to connect it to other transports.
func (s *Server) MCP() *sdk.Server { return s.srv }

// Tools returns the names of the registered tools, in table order.
func (s *Server) Tools() []string { return slices.Clone(s.tools) }

type noMetrics struct{}

func (noMetrics) MCPToolCall(string, string) {}

// caller is who a request comes from.
type caller struct {
	owner     string
	scopes    []string
	requestID string
}

// callerOf authenticates the HTTP request behind an MCP request from its
// headers, with the API's resolver. extra is nil off HTTP.
func (s *Server) callerOf(extra *sdk.RequestExtra) (caller, error) {
	h := http.Header{}
	if extra != nil && extra.Header != nil {
		h = extra.Header
	}
	c := caller{requestID: h.Get("X-Request-Id")}
	if c.requestID == "" {
		c.requestID = newRequestID()
	}
	if s.o.Authenticate == nil {
		c.owner, c.scopes = "default", []string{ScopeSandboxes, ScopeLockers}
		return c, nil
	}
	owner, scopes, err := s.o.Authenticate(&http.Request{Header: h})
	if err != nil {
		return c, err
	}
	c.owner, c.scopes = owner, scopes
	return c, nil
}

// need refuses a caller whose key lacks scope, as the API does.
func (c caller) need(scope string) error {
	if slices.Contains(c.scopes, scope) {
		return nil
	}
	return core.Errorf(core.CodeForbidden, "This API key lacks the %s scope", scope).
		WithDetails(map[string]any{"scope": scope})
}
