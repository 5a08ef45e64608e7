package mcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bayhq/bay/core"
)

// DefaultMaxTransferBytes bounds a local file tool's transfer
// (BAY_MCP_MAX_TRANSFER_BYTES).
const DefaultMaxTransferBytes = 50 << 20

// ErrUnreachable is returned by RunProxy when Bay did not answer.
var ErrUnreachable = errors.New("bay is unreachable")

// ProxyOptions configures `bay mcp` (agent-reach.md §4.1, §4.3).
type ProxyOptions struct {
	// URL is Bay's base URL; the proxy talks to URL + "/mcp" and, for the
	// local file tools, to the REST API under URL.
	URL string
	// APIKey is sent as a Bearer token; "" is anonymous.
	APIKey string
	// Owner is sent as X-Owner (anonymous mode); "" sends none.
	Owner string
	// MaxTransferBytes bounds upload_file and download_file; 0 means
	// DefaultMaxTransferBytes.
	MaxTransferBytes int64
	// LocalRoot, when set, confines the local file tools' local paths to
	// this directory (relative paths are relative to it).
	LocalRoot string
	// Version is announced with the name "bay".
	Version string
	// Logger receives the proxy's logs (stderr only: stdout is the
	// protocol).
	Logger *slog.Logger
	// Transport is the local side; nil means the process's stdin and
	// stdout.
	Transport sdk.Transport
	// HTTPClient carries every request to Bay; nil means one without a
	// timeout (transfers and executions take their time). The proxy adds
	// the authentication headers.
	HTTPClient *http.Client
}

// Local file tools (agent-reach.md §4.3): only the stdio proxy has them.
const (
	toolUploadFile   = "upload_file"
	toolDownloadFile = "download_file"
)

// RunProxy serves MCP on the local transport as a client of Bay's /mcp
// endpoint: the remote tools and resource templates are re-exposed
// unchanged and calls forwarded, plus upload_file and download_file. It
// returns ErrUnreachable (wrapped) when Bay does not answer 3 tries within
// 5 seconds, else when the local side closes or ctx ends.
func RunProxy(ctx context.Context, o ProxyOptions) error {
	if o.MaxTransferBytes <= 0 {
		o.MaxTransferBytes = DefaultMaxTransferBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Transport == nil {
		o.Transport = &sdk.StdioTransport{}
	}
	base := o.HTTPClient
	if base == nil {
		base = &http.Client{}
	}
	p := &proxy{o: o, base: strings.TrimRight(o.URL, "/"), log: o.Logger}
	hc := *base
	hc.Transport = &authTransport{next: base.Transport, apiKey: o.APIKey, owner: o.Owner}
	p.http = &hc
	p.client = sdk.NewClient(&sdk.Implementation{Name: "bay-mcp", Version: o.Version}, &sdk.ClientOptions{
		Logger:                      o.Logger,
		ProgressNotificationHandler: p.forwardProgress,
	})

	cs, err := p.dial(ctx)
	if err != nil {
		return err
	}
	p.cs = cs
	defer func() {
		p.mu.Lock()
		if p.cs != nil {
			_ = p.cs.Close()
		}
		p.mu.Unlock()
	}()
	srv, err := p.server(ctx, cs)
	if err != nil {
		return err
	}
	return srv.Run(ctx, o.Transport)
}

// proxy is a running `bay mcp`.
type proxy struct {
	o      ProxyOptions
	base   string
	http   *http.Client
	client *sdk.Client
	log    *slog.Logger

	mu sync.Mutex
	cs *sdk.ClientSession // nil after a transport failure: the next call dials again

	local atomic.Pointer[sdk.ServerSession] // the local session, for progress
}

// authTransport adds the proxy's credentials to every request to Bay.
type authTransport struct {
	next          http.RoundTripper
	apiKey, owner string
}

func (t *authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if t.apiKey != "" {
		r.Header.Set("Authorization", "Bearer "+t.apiKey)
	}
	if t.owner != "" {
		r.Header.Set("X-Owner", t.owner)
	}
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}

// dialTries and dialBudget: Bay must answer within 3 tries in 5 seconds.
const (
	dialTries  = 3
	dialBudget = 5 * time.Second
)

// dial connects to Bay's /mcp, trying dialTries times within dialBudget.
func (p *proxy) dial(ctx context.Context) (*sdk.ClientSession, error) {
	slot := dialBudget / dialTries
	var last error
	for i := range dialTries {
		start := time.Now()
		tctx, cancel := context.WithTimeout(ctx, slot)
		cs, err := p.connect(tctx)
		cancel()
		if err == nil {
			return cs, nil
		}
		last = err
		p.log.Warn("connect to Bay", "url", p.base+"/mcp", "try", i+1, "err", err)
		if i == dialTries-1 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(slot - time.Since(start)):
		}
	}
	return nil, fmt.Errorf("%w at %s (%d tries in %s): %v", ErrUnreachable, p.base+"/mcp", dialTries, dialBudget, last)
}

func (p *proxy) connect(ctx context.Context) (*sdk.ClientSession, error) {
	return p.client.Connect(ctx, &sdk.StreamableClientTransport{
		Endpoint: p.base + "/mcp", HTTPClient: p.http, DisableStandaloneSSE: true,
	}, nil)
}

// session returns the connection to Bay, dialling again after a failure.
func (p *proxy) session(ctx context.Context) (*sdk.ClientSession, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cs != nil {
		return p.cs, nil
	}
	cs, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	p.cs = cs
	return cs, nil
}

// drop forgets a connection that failed.
func (p *proxy) drop(cs *sdk.ClientSession) {
	p.mu.Lock()
	if p.cs == cs {
		p.cs = nil
		_ = cs.Close()
	}
	p.mu.Unlock()
}

// server builds the local server from what Bay offers.
func (p *proxy) server(ctx context.Context, cs *sdk.ClientSession) (*sdk.Server, error) {
	instructions := Instructions
	if ir := cs.InitializeResult(); ir != nil && ir.Instructions != "" {
		instructions = ir.Instructions
	}
	srv := sdk.NewServer(&sdk.Implementation{Name: "bay", Title: "Bay", Version: p.o.Version}, &sdk.ServerOptions{
		Instructions: instructions, Logger: p.log,
		Capabilities: &sdk.ServerCapabilities{Tools: &sdk.ToolCapabilities{}, Resources: &sdk.ResourceCapabilities{}},
	})
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("list Bay's tools: %w", err)
		}
		srv.AddTool(t, p.forwardTool)
	}
	for t, err := range cs.ResourceTemplates(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("list Bay's resource templates: %w", err)
		}
		// Reads are forwarded by the middleware below; the templates are
		// registered to be listed.
		srv.AddResourceTemplate(t, func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			return p.forwardRead(ctx, req.Params)
		})
	}
	p.addLocalTools(srv)
	srv.AddReceivingMiddleware(func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			switch method {
			case "resources/list":
				params, _ := req.GetParams().(*sdk.ListResourcesParams)
				return p.forwardList(ctx, params)
			case "resources/read":
				if params, ok := req.GetParams().(*sdk.ReadResourceParams); ok {
					return p.forwardRead(ctx, params)
				}
			}
			return next(ctx, method, req)
		}
	})
	return srv, nil
}

// remoteFailure is the result of a call Bay could not be asked.
func remoteFailure(err error) *sdk.CallToolResult {
	return errorResult(core.Errorf(core.CodeInternal, "Bay did not answer: %v", err), newRequestID())
}

// protocolError returns the JSON-RPC error inside err, which Bay answered
// and the local client should see as it is.
func protocolError(err error) (*jsonrpc.Error, bool) {
	var je *jsonrpc.Error
	if errors.As(err, &je) {
		return je, true
	}
	return nil, false
}

// forwardTool calls the same tool on Bay with the same arguments (and
// progress token, whose notifications are relayed back).
func (p *proxy) forwardTool(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
	if req.Session != nil {
		p.local.Store(req.Session)
	}
	cs, err := p.session(ctx)
	if err != nil {
		return remoteFailure(err), nil
	}
	params := &sdk.CallToolParams{Name: req.Params.Name}
	if len(req.Params.Arguments) > 0 {
		params.Arguments = req.Params.Arguments
	}
	if token := req.Params.GetProgressToken(); token != nil {
		params.Meta = sdk.Meta{"progressToken": token}
	}
	res, err := cs.CallTool(ctx, params)
	if err != nil {
		if je, ok := protocolError(err); ok {
			return nil, je
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p.drop(cs)
		return remoteFailure(err), nil
	}
	return res, nil
}

// forwardProgress relays Bay's progress notifications to the local client:
// the token is the one the local client sent.
func (p *proxy) forwardProgress(ctx context.Context, req *sdk.ProgressNotificationClientRequest) {
	if ss := p.local.Load(); ss != nil && req.Params != nil {
		_ = ss.NotifyProgress(ctx, req.Params)
	}
}

func (p *proxy) forwardRead(ctx context.Context, params *sdk.ReadResourceParams) (*sdk.ReadResourceResult, error) {
	cs, err := p.session(ctx)
	if err != nil {
		return nil, &jsonrpc.Error{Code: codeInternalError, Message: "Bay did not answer: " + err.Error()}
	}
	res, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: params.URI})
	if err != nil {
		if je, ok := protocolError(err); ok {
			return nil, je
		}
		if ctx.Err() == nil {
			p.drop(cs)
		}
		return nil, &jsonrpc.Error{Code: codeInternalError, Message: "Bay did not answer: " + err.Error()}
	}
	return res, nil
}

func (p *proxy) forwardList(ctx context.Context, params *sdk.ListResourcesParams) (*sdk.ListResourcesResult, error) {
	cs, err := p.session(ctx)
	if err != nil {
		return nil, &jsonrpc.Error{Code: codeInternalError, Message: "Bay did not answer: " + err.Error()}
	}
	fwd := &sdk.ListResourcesParams{}
	if params != nil {
		fwd.Cursor = params.Cursor
	}
	res, err := cs.ListResources(ctx, fwd)
	if err != nil {
		if je, ok := protocolError(err); ok {
			return nil, je
		}
		if ctx.Err() == nil {
			p.drop(cs)
		}
		return nil, &jsonrpc.Error{Code: codeInternalError, Message: "Bay did not answer: " + err.Error()}
	}
	return res, nil
}
