package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

// Sandboxes is what the API needs from the sandbox service. Owner isolation
// is the implementation's job: a sandbox of another owner is not_found.
type Sandboxes interface {
	Create(ctx context.Context, owner string, in core.CreateSandboxInput) (*core.SandboxInfo, error)
	Get(ctx context.Context, owner, id string) (*core.SandboxInfo, error)
	List(ctx context.Context, owner, cursor string, limit int, status string) (core.Page[core.SandboxInfo], error)
	ExtendTTL(ctx context.Context, owner, id string, extendBy int64) (*core.SandboxInfo, error)
	Keepalive(ctx context.Context, owner, id string) error
	Stop(ctx context.Context, owner, id string) error
	Delete(ctx context.Context, owner, id string) error
	Profiles() []core.Profile
	// CheckCapability runs the first checks of the capability pipeline: sandbox lookup (404) and profile capability (400 capability_not_supported).
	CheckCapability(ctx context.Context, owner, id, capability string) error
	// The capability calls run the whole pipeline themselves (lookup, profile capability, path validation with core.NormalizePath, expiry, ensure_running, runtime capability, Ship call). Paths are passed raw.
	ReadFile(ctx context.Context, owner, id, path string) (string, error)
	WriteFile(ctx context.Context, owner, id, path, content string) error
	DeleteFile(ctx context.Context, owner, id, path string) error
	ListDir(ctx context.Context, owner, id, path string) ([]core.FileEntry, error)
	Upload(ctx context.Context, owner, id, path string, body io.Reader) (*core.UploadResult, error)
	Download(ctx context.Context, owner, id, path string) (*core.Download, error)
	// BrowserExec and BrowserExecBatch run browser commands in the sandbox's browser container (browser.md §3).
	BrowserExec(ctx context.Context, owner, id string, in core.BrowserExecInput) (*core.BrowserResult, error)
	BrowserExecBatch(ctx context.Context, owner, id string, in core.BrowserBatchInput) (*core.BrowserBatchResult, error)
	// SandboxCapabilities describes the sandbox's capabilities and its runtime (agent-reach.md §6.2).
	SandboxCapabilities(ctx context.Context, owner, id string, refresh bool) (*core.SandboxCapabilities, error)
}

// Executions is what the API needs from the execution service
// (agent-reach.md §1, §2). Exec and Start run the capability pipeline
// themselves; the others check the sandbox (404 for another owner's or a
// deleted one) before the execution.
type Executions interface {
	Exec(ctx context.Context, owner, id string, in core.ExecInput) (*core.ExecOutcome, error)
	Start(ctx context.Context, owner, id string, mode core.ExecutionMode, in core.ExecInput) (*core.Run, error)
	List(ctx context.Context, owner, id string, f core.ExecutionFilter) ([]core.Execution, *core.ExecutionCursor, error)
	Count(ctx context.Context, owner, id string, f core.ExecutionFilter) (int64, error)
	Get(ctx context.Context, owner, id, execID string, wait time.Duration) (*core.Execution, error)
	Last(ctx context.Context, owner, id string, kind core.ExecutionKind) (*core.Execution, error)
	Annotate(ctx context.Context, owner, id, execID string, p core.ExecutionPatch) (*core.Execution, error)
	Cancel(ctx context.Context, owner, id, execID string) (*core.Execution, error)
}

// Lockers is what the API needs from the locker service.
type Lockers interface {
	Create(ctx context.Context, owner string, sizeLimitMB *int64) (*core.Locker, error)
	Get(ctx context.Context, owner, id string) (*core.Locker, error)
	List(ctx context.Context, owner, cursor string, limit int, managed bool) (core.Page[*core.Locker], error)
	Delete(ctx context.Context, owner, id string) error
	ReadFile(ctx context.Context, owner, id, path string) (string, error)
	WriteFile(ctx context.Context, owner, id, path, content string) error
}

// GC is what the API needs from the garbage collector.
type GC interface {
	// Run runs one cycle; tasks == nil means report every task. Returns a core error with code gc_running if a cycle is in progress.
	Run(ctx context.Context, tasks []string) (*core.GCReport, error)
	Status() core.GCStatus
}

// Idempotency replays responses of requests that carry an Idempotency-Key.
type Idempotency interface {
	// Do runs fn at most once per (owner, key, fingerprint) within the TTL and replays the stored response otherwise; a bad key format or a fingerprint mismatch is a core conflict error. key == "" means no key: fn just runs.
	Do(ctx context.Context, owner, key, fingerprint string, fn func(ctx context.Context) (status int, body []byte, err error)) (status int, body []byte, err error)
}

// Metrics receives one observation per finished request. Route is the
// matched route pattern (e.g. "GET /v1/sandboxes/{sandbox_id}"), or "" when
// no route matched.
type Metrics interface {
	ObserveRequest(route string, status int, d time.Duration)
}

// Default limits, as in the configuration reference.
const (
	DefaultMaxBodyBytes   int64 = 16 << 20
	DefaultMaxUploadBytes int64 = 1 << 30
)

// Options configures a Server. Sandboxes, Lockers and GC are required;
// Idempotency may be nil, which is the same as IdempotencyEnabled false.
type Options struct {
	Sandboxes   Sandboxes
	Executions  Executions
	Lockers     Lockers
	GC          GC
	Idempotency Idempotency
	// Terminals opens terminals; nil means Sandboxes, if it can.
	Terminals Terminals

	// Keys are the accepted Bearer tokens, each with its owner and scopes.
	// APIKey, if set, is one more: owner "default", every scope.
	Keys []APIKey
	// APIKey is the accepted Bearer token; "" means none is configured.
	APIKey string
	// AllowAnonymous lets requests without a Bearer token through as the
	// owner named by X-Owner (or "default").
	AllowAnonymous bool
	// MaxBodyBytes limits JSON bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxUploadBytes limits multipart uploads; 0 means DefaultMaxUploadBytes.
	MaxUploadBytes int64
	// StreamHeartbeat is how long a stream stays silent before Bay writes
	// a keepalive comment; 0 means 15 s.
	StreamHeartbeat time.Duration
	// IdempotencyEnabled makes the Idempotency-Key header count; when false
	// the header is ignored entirely.
	IdempotencyEnabled bool
	// Terminal configures terminals (agent-reach.md §3).
	Terminal TerminalOptions

	// Logger receives the access log; nil discards it.
	Logger *slog.Logger
	// Now is the clock used for durations; nil means time.Now.
	Now func() time.Time
	// Metrics, if set, observes every request.
	Metrics Metrics
	// Ready are the dependencies GET /ready checks, by name ("database",
	// "runtime"). GET /health checks nothing.
	Ready map[string]func(ctx context.Context) error
}

// Server is Bay's HTTP API. It implements http.Handler.
type Server struct {
	sandboxes  Sandboxes
	executions Executions
	lockers    Lockers
	gc         GC
	idem       Idempotency
	terminals  Terminals

	keys           []key
	allowAnonymous bool
	maxBody        int64
	maxUpload      int64

	log     *slog.Logger
	now     func() time.Time
	metrics Metrics
	ready   *readiness

	heartbeat time.Duration
	term      *terminalState

	mux     *http.ServeMux
	routes  map[string]route
	docs    *docs
	handler http.Handler
}

var _ oapigen.StrictServerInterface = (*Server)(nil)

// New returns a Server for opts.
func New(opts Options) *Server {
	s := &Server{
		sandboxes:      opts.Sandboxes,
		executions:     opts.Executions,
		heartbeat:      opts.StreamHeartbeat,
		lockers:        opts.Lockers,
		gc:             opts.GC,
		keys:           compileKeys(allKeys(opts)),
		allowAnonymous: opts.AllowAnonymous,
		maxBody:        opts.MaxBodyBytes,
		maxUpload:      opts.MaxUploadBytes,
		log:            opts.Logger,
		now:            opts.Now,
		metrics:        opts.Metrics,
		ready:          newReadiness(opts.Ready, opts.Now),
		mux:            http.NewServeMux(),
	}
	if opts.IdempotencyEnabled {
		s.idem = opts.Idempotency
	}
	s.terminals = terminalsOf(opts)
	s.term = newTerminalState(opts, s.keys)
	if s.heartbeat <= 0 {
		s.heartbeat = 15 * time.Second
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.maxUpload <= 0 {
		s.maxUpload = DefaultMaxUploadBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.routes = routeTable()
	bodies, err := loadSpecRoutes()
	if err != nil {
		panic("httpapi: request bodies of the embedded spec: " + err.Error())
	}
	applySpecRoutes(s.routes, bodies)
	for pattern, rt := range s.routes {
		if !rt.public && rt.scope == "" {
			panic("httpapi: route " + pattern + " is neither public nor scoped")
		}
	}
	s.docs = &docs{}

	router := &routeMux{s: s}
	strict := oapigen.NewStrictHandlerWithOptions(s, nil, oapigen.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  s.writeRequestError,
		ResponseErrorHandlerFunc: s.writeError,
	})
	oapigen.HandlerWithOptions(strict, oapigen.StdHTTPServerOptions{
		BaseRouter:       router,
		ErrorHandlerFunc: s.writeParamError,
	})
	router.HandleFunc("GET /openapi.json", s.serveOpenAPI)
	router.HandleFunc("GET /docs", s.serveDocs)
	router.HandleFunc("GET /docs/{file...}", s.serveDocsAsset)

	// The request-ID middleware is outermost so that every response,
	// including panics and framework errors, carries X-Request-Id.
	s.handler = s.withRequestID(s.withAccessLog(s.withRecover(http.HandlerFunc(s.serveRoute))))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// serveRoute answers unknown routes and wrong methods with the envelope
// instead of ServeMux's plain-text replies, and hands the rest to the mux.
func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// ServeMux decides between 404 and 405 (and computes Allow) only inside
	// its own handler, so run that handler against a recorder.
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusNotFound:
		s.writeEnvelope(w, r, http.StatusNotFound, core.Errorf(core.CodeNotFound, "Not Found"), "Not Found")
	case http.StatusMethodNotAllowed:
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		s.writeEnvelope(w, r, http.StatusMethodNotAllowed,
			core.Errorf(core.CodeMethodNotAllowed, "Method Not Allowed"), "Method Not Allowed")
	default:
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body)
	}
}

// recorder captures the small replies ServeMux generates itself.
type recorder struct {
	header http.Header
	status int
	body   []byte
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body = append(r.body, b...)
	return len(b), nil
}

// allKeys adds the single security.api_key to the configured keys.
func allKeys(opts Options) []APIKey {
	keys := slices.Clone(opts.Keys)
	if opts.APIKey != "" {
		keys = append(keys, APIKey{Secret: opts.APIKey, Owner: "default", Scopes: AllScopes})
	}
	return keys
}
