package core

import (
	"context"
	"io"
)

// Ship is the port to a session's runtime (the Ship HTTP API, ship.md),
// addressed by the endpoint recorded on the session. The adapter maps
// transport failures to the codes of bay-api.md Appendix A: ship_error for an
// error status, an unreachable runtime or an unusable answer; timeout when
// the call exceeds its deadline; file_not_found for a download of a missing
// file.
type Ship interface {
	// Health returns nil when the runtime answers GET /health with 200.
	Health(ctx context.Context, endpoint string) error
	// Capabilities returns the keys of /meta's capabilities object.
	Capabilities(ctx context.Context, endpoint string) ([]string, error)
	Python(ctx context.Context, endpoint, code string, timeout int) (*PythonResult, error)
	Shell(ctx context.Context, endpoint string, in ShellInput) (*ShellResult, error)
	ReadFile(ctx context.Context, endpoint, path string) (string, error)
	WriteFile(ctx context.Context, endpoint, path, content string) error
	DeleteFile(ctx context.Context, endpoint, path string) error
	ListDir(ctx context.Context, endpoint, path string) ([]FileEntry, error)
	// Upload streams body to path and returns the number of bytes written.
	Upload(ctx context.Context, endpoint, path string, body io.Reader) (int64, error)
	// Download opens path for reading; the caller closes the body.
	Download(ctx context.Context, endpoint, path string) (*Download, error)
}

// ErrUnreachable marks a Ship error where the request never reached the
// runtime (connection refused or reset before sending): the call can be
// retried safely on a fresh container.
type ErrUnreachable struct{ Err error }

func (e *ErrUnreachable) Error() string { return "runtime unreachable: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ErrUnreachable) Unwrap() error { return e.Err }
