package core

import (
	"context"
	"io"
	"slices"
)

// Endpoint addresses a session's runtime: the URL recorded on the session
// and the runtime token it was started with, which every call but Health
// must carry (ship.md "auth").
type Endpoint struct {
	URL   string
	Token string
}

// Ship is the port to a session's runtime (the Ship HTTP API, ship.md),
// addressed by the endpoint recorded on the session. The adapter maps
// transport failures to the codes of bay-api.md Appendix A: ship_error for an
// error status, an unreachable runtime or an unusable answer; timeout when
// the call exceeds its deadline; file_not_found for a download of a missing
// file.
type Ship interface {
	// Health returns nil when the runtime answers GET /health with 200.
	Health(ctx context.Context, endpoint string) error
	// Capabilities returns /meta's capabilities: each key with its
	// operations. A runtime whose /meta does not declare bearer
	// authentication (runtime.auth = "bearer") is refused with
	// internal_error: it would run code for anyone who can connect to it.
	Capabilities(ctx context.Context, ep Endpoint) (RuntimeCapabilities, error)
	// Python runs code; execID, when not empty, names the execution so
	// that Cancel can reach it.
	Python(ctx context.Context, ep Endpoint, code string, timeout int, execID string) (*PythonResult, error)
	// WarmKernel returns once the runtime's Python kernel answers: it runs
	// a silent, empty cell, which leaves no trace in the kernel's history
	// or execution count, within timeout seconds.
	WarmKernel(ctx context.Context, ep Endpoint, timeout int) error
	Shell(ctx context.Context, ep Endpoint, in ShellInput) (*ShellResult, error)
	// PythonStream runs code through Ship's streaming endpoint, handing
	// each event to sink as it arrives (sink must not block), and returns
	// the end event. An error means the stream broke or never started:
	// no end event came.
	PythonStream(ctx context.Context, ep Endpoint, code string, timeout int, execID string, sink func(StreamEvent)) (*StreamEnd, error)
	// ShellStream is PythonStream for a shell command.
	ShellStream(ctx context.Context, ep Endpoint, in ShellInput, sink func(StreamEvent)) (*StreamEnd, error)
	// Cancel asks the runtime to cancel the running or queued execution
	// execID. Returns not_found when the runtime has no such execution.
	Cancel(ctx context.Context, ep Endpoint, execID string) error
	// RuntimeInfo returns the runtime's GET /capabilities document as
	// JSON. Returns not_found when the runtime does not serve it (an older
	// image).
	RuntimeInfo(ctx context.Context, ep Endpoint) (map[string]any, error)
	ReadFile(ctx context.Context, ep Endpoint, path string) (string, error)
	WriteFile(ctx context.Context, ep Endpoint, path, content string) error
	DeleteFile(ctx context.Context, ep Endpoint, path string) error
	ListDir(ctx context.Context, ep Endpoint, path string) ([]FileEntry, error)
	// Upload streams body to path and returns the number of bytes written.
	Upload(ctx context.Context, ep Endpoint, path string, body io.Reader) (int64, error)
	// Download opens path for reading; the caller closes the body.
	Download(ctx context.Context, ep Endpoint, path string) (*Download, error)
}

// ErrUnreachable marks a Ship error where the request never reached the
// runtime (connection refused or reset before sending): the call can be
// retried safely on a fresh container.
type ErrUnreachable struct{ Err error }

func (e *ErrUnreachable) Error() string { return "runtime unreachable: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ErrUnreachable) Unwrap() error { return e.Err }

// RuntimeCapabilities maps each capability key of a runtime's /meta to its
// operations.
type RuntimeCapabilities map[string][]string

// Keys returns the capability keys, sorted.
func (c RuntimeCapabilities) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Has reports whether the runtime declares capability with operation ("" =
// any operation).
func (c RuntimeCapabilities) Has(capability, operation string) bool {
	ops, ok := c[capability]
	return ok && (operation == "" || slices.Contains(ops, operation))
}

// Operations of /meta that streamed and async executions need
// (agent-reach.md §2.7).
const (
	OpExecStream = "exec_stream"
	OpCancel     = "cancel"
)

// StreamEvent is one event of a streamed execution (agent-reach.md §2.3),
// as Ship sends it: Type is stdout, stderr, display_data, result or error.
type StreamEvent struct {
	Type string
	// Text of stdout and stderr.
	Text string
	// Data is the MIME bundle of display_data and result.
	Data map[string]any
	// Update marks a display_data that updates an earlier display (Python's
	// update_display_data): clients see it, the folded output does not.
	Update bool
	// ExecutionCount of result.
	ExecutionCount *int64
	// EName, EValue and Traceback of error.
	EName     string
	EValue    string
	Traceback []string
}

// StreamEnd is the end of a streamed execution.
type StreamEnd struct {
	Success bool
	// ExitCode is the shell command's; ExecutionCount the cell's.
	ExitCode        *int64
	ExecutionCount  *int64
	KernelRestarted bool
	TimedOut        bool
	Cancelled       bool
	// Error is what the sync endpoint would answer as error: traceback,
	// timeout message or the command's stderr; nil on success.
	Error *string
}
