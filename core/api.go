package core

import (
	"io"
	"time"
)

// SandboxInfo is a sandbox as clients see it (bay-api.md §6.1).
type SandboxInfo struct {
	ID     string
	Status SandboxStatus
	// Paused is true while the current session is paused (idle_pause):
	// Status is then idle, and the next call resumes the runtime as it was.
	Paused  bool
	Profile string
	// LockerID is the locker mounted at /workspace.
	LockerID string
	// Capabilities is the profile's list as currently configured; empty if
	// the profile is no longer configured.
	Capabilities  []string
	CreatedAt     time.Time
	ExpiresAt     *time.Time
	IdleExpiresAt *time.Time
	// StopReason says why the sandbox's compute last stopped ("" if it
	// never did).
	StopReason StopReason
	// Containers are the sandbox's containers (browser.md §1.2), only in
	// Get's answer: the running session's, else the profile's, stopped.
	Containers []ContainerStatus
}

// ContainerStatus is one container of a sandbox as clients see it.
type ContainerStatus struct {
	Name        string
	RuntimeType string
	// Status is the state of the session it belongs to (pending,
	// starting, running, paused, stopping, failed), or stopped when there
	// is no session.
	Status string
}

// CreateSandboxInput is the body of a create request after defaults.
type CreateSandboxInput struct {
	// Profile is the profile id; "" means python-default.
	Profile string
	// LockerID attaches an existing external locker; "" creates a managed one.
	LockerID string
	// TTL in seconds; zero or negative means the sandbox never expires.
	TTL int64
}

// Page is one page of a listing.
type Page[T any] struct {
	Items []T
	// NextCursor is the cursor of the next page, "" when the listing is
	// exhausted.
	NextCursor string
}

// newPage returns a page of items fetched with limit: a full page may have
// a successor, so its last id becomes the next cursor.
func newPage[T any](items []T, limit int, id func(T) string) Page[T] {
	p := Page[T]{Items: items}
	if limit > 0 && len(items) == limit {
		p.NextCursor = id(items[len(items)-1])
	}
	return p
}

// PythonResult is the outcome of running Python code (bay-api.md §7.4.2).
type PythonResult struct {
	Success        bool
	Output         string
	Error          *string
	ExecutionCount *int64
	// Data is Ship's output object verbatim, normally
	// {"text": ..., "images": [{"image/png": ...}]}.
	Data map[string]any
	// KernelRestarted is true when the kernel had died and this call ran in
	// a fresh one: earlier variables are gone.
	KernelRestarted bool
	// Cancelled is true when a cancel of the execution stopped it.
	Cancelled bool
}

// ShellInput is a shell command to run.
type ShellInput struct {
	Command string
	Timeout int
	// Cwd is relative to /workspace; nil means /workspace.
	Cwd *string
	// ExecID, when not empty, names the execution so that Cancel can
	// reach it.
	ExecID string
}

// ShellResult is the outcome of a shell command (bay-api.md §7.4.3).
type ShellResult struct {
	Success  bool
	Output   string
	Error    *string
	ExitCode *int64
	// Cancelled is true when a cancel of the execution killed it.
	Cancelled bool
}

// FileEntry is one entry of a directory listing, as Ship reports it: Path
// is absolute, Size is nil for directories, ModifiedTime is in seconds since
// the epoch.
type FileEntry struct {
	Name         string
	Path         string
	IsFile       bool
	IsDir        bool
	Size         *int64
	ModifiedTime *float64
}

// UploadResult reports a finished upload.
type UploadResult struct {
	// Path is the normalized path the file was written to.
	Path string
	Size int64
}

// Download is a file being streamed out of a sandbox. The caller must close
// Body.
type Download struct {
	// Name is the last segment of the normalized path.
	Name string
	// Size is the length in bytes, or -1 if unknown.
	Size int64
	Body io.ReadCloser
}

// GC task names, in the fixed order a cycle runs them (lifecycle.md §12).
const (
	GCIdleSession     = "idle_session"
	GCExpiredSandbox  = "expired_sandbox"
	GCOrphanLocker    = "orphan_locker"
	GCOrphanContainer = "orphan_container"
	// GCExecutionHistory bounds execution rows (agent-reach.md §1.6).
	GCExecutionHistory = "execution_history"
)

// GCTaskResult is what one GC task did in a cycle.
type GCTaskResult struct {
	TaskName     string
	CleanedCount int
	SkippedCount int
	Errors       []string
}

// GCReport is the outcome of one GC cycle.
type GCReport struct {
	Results      []GCTaskResult
	TotalCleaned int
	TotalErrors  int
	Duration     time.Duration
}

// GCStatus describes the GC scheduler.
type GCStatus struct {
	Enabled         bool
	IsRunning       bool
	InstanceID      string
	IntervalSeconds int
	// Tasks maps each task name to whether it is enabled.
	Tasks map[string]bool
}
