package core

import (
	"context"
	"io"
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
	// Capabilities returns the keys of /meta's capabilities object. A
	// runtime whose /meta does not declare bearer authentication
	// (runtime.auth = "bearer") is refused with internal_error: it would
	// run code for anyone who can connect to it.
	Capabilities(ctx context.Context, ep Endpoint) ([]string, error)
	Python(ctx context.Context, ep Endpoint, code string, timeout int) (*PythonResult, error)
	Shell(ctx context.Context, ep Endpoint, in ShellInput) (*ShellResult, error)
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
