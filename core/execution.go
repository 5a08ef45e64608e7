package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// ExecutionKind is what ran: Python code or a shell command.
type ExecutionKind string

// Execution kinds (agent-reach.md §1.3).
const (
	ExecPython ExecutionKind = "python"
	ExecShell  ExecutionKind = "shell"
)

// ExecutionMode is how the execution was asked for.
type ExecutionMode string

// Execution modes: a JSON answer at the end, a stream of events, or a
// submission polled later.
const (
	ModeSync   ExecutionMode = "sync"
	ModeStream ExecutionMode = "stream"
	ModeAsync  ExecutionMode = "async"
)

// ExecutionStatus is where an execution stands.
type ExecutionStatus string

// Execution states (agent-reach.md §1.1): running until Ship's result
// arrives (finished), it was cancelled, or no result can come (lost).
const (
	ExecRunning   ExecutionStatus = "running"
	ExecFinished  ExecutionStatus = "finished"
	ExecCancelled ExecutionStatus = "cancelled"
	ExecLost      ExecutionStatus = "lost"
)

// Execution is one python or shell execution through Bay, as stored
// (agent-reach.md §1.3): its text fields are already bounded.
type Execution struct {
	ID         string
	SandboxID  string
	Owner      string
	Kind       ExecutionKind
	Mode       ExecutionMode
	Status     ExecutionStatus
	InstanceID string
	// Cwd is the shell command's working directory; nil for python or the
	// workspace.
	Cwd      *string
	TimeoutS int

	Code          string
	CodeBytes     int64
	CodeTruncated bool

	Success         *bool
	ExitCode        *int64
	ExecutionCount  *int64
	KernelRestarted bool

	Output          string
	OutputBytes     int64
	OutputTruncated bool
	Error           *string
	ErrorTruncated  bool
	// ErrorCode is set on lost rows: ship_error, timeout or internal_error.
	ErrorCode *string

	// Images are base64 PNGs in arrival order.
	Images          []string
	ImageCount      int64
	ImagesTruncated bool

	Description *string
	// Tags are sorted and unique.
	Tags  []string
	Notes *string

	CreatedAt       time.Time
	FinishedAt      *time.Time
	ExecutionTimeMs *int64
	UpdatedAt       time.Time
}

// NewExecutionID returns "exec-" + 12 random lowercase hex digits.
func NewExecutionID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "exec-" + hex.EncodeToString(b[:])
}

// ExecutionCursor is a position in a listing: the created_at and id of the
// last row of the previous page.
type ExecutionCursor struct {
	CreatedAt time.Time
	ID        string
}

// ExecutionFilter selects and orders rows of one sandbox. Zero fields do
// not filter.
type ExecutionFilter struct {
	Kind   ExecutionKind
	Status ExecutionStatus
	// Success matches finished rows with that outcome.
	Success *bool
	// Tags: a row must carry every one, compared exactly.
	Tags []string
	// Since and Until bound created_at: Since <= created_at < Until.
	Since, Until   *time.Time
	HasDescription *bool
	HasNotes       *bool
	// Asc lists oldest first; the default is newest first.
	Asc bool
	// After continues a listing after this row (in the listing's order).
	After *ExecutionCursor
	// Offset skips rows (the compatibility /history routes only).
	Offset int
	Limit  int
}

// ExecutionPatch is a merge-patch of the annotation fields: a field with
// its Set flag false is left as it is; set with a nil value it is cleared.
type ExecutionPatch struct {
	SetDescription bool
	Description    *string
	SetTags        bool
	Tags           []string
	SetNotes       bool
	Notes          *string
	UpdatedAt      time.Time
}

// ExecutionResult is what the end of an execution writes: the status and
// the result columns. It never touches the annotation fields, so a PATCH
// racing the end loses nothing.
type ExecutionResult struct {
	Status          ExecutionStatus
	Success         *bool
	ExitCode        *int64
	ExecutionCount  *int64
	KernelRestarted bool
	Output          string
	OutputBytes     int64
	OutputTruncated bool
	Error           *string
	ErrorTruncated  bool
	ErrorCode       *string
	Images          []string
	ImageCount      int64
	ImagesTruncated bool
	FinishedAt      *time.Time
	ExecutionTimeMs *int64
	UpdatedAt       time.Time
}

// ExecutionProgress is the output so far of a running execution.
type ExecutionProgress struct {
	Output          string
	OutputBytes     int64
	OutputTruncated bool
	UpdatedAt       time.Time
}

// ExecutionStore persists executions. Every read filters by owner and
// sandbox id: a row is found only through its own sandbox by its owner.
type ExecutionStore interface {
	// Insert adds a row. Returns conflict if the id is taken.
	Insert(ctx context.Context, e *Execution) error
	// Get returns a row. Returns not_found if there is none for this owner
	// and sandbox.
	Get(ctx context.Context, owner, sandboxID, id string) (*Execution, error)
	// Last returns the newest row (created_at, then id), of kind if kind is
	// not empty. Returns not_found if there is none.
	Last(ctx context.Context, owner, sandboxID string, kind ExecutionKind) (*Execution, error)
	// List returns up to f.Limit rows matching f, in f's order.
	List(ctx context.Context, owner, sandboxID string, f ExecutionFilter) ([]Execution, error)
	// Count returns how many rows match f (its order, cursor, offset and
	// limit are ignored).
	Count(ctx context.Context, owner, sandboxID string, f ExecutionFilter) (int64, error)
	// Finish writes the result columns of a running row. It returns false
	// (and writes nothing) when the row is no longer running.
	Finish(ctx context.Context, id string, r ExecutionResult) (bool, error)
	// Progress writes the output so far of a running row; a row no longer
	// running is left alone.
	Progress(ctx context.Context, id string, p ExecutionProgress) error
	// Annotate applies a merge-patch to the annotation fields and returns
	// the row. Returns not_found as Get does.
	Annotate(ctx context.Context, owner, sandboxID, id string, p ExecutionPatch) (*Execution, error)
	// RunningPython returns the newest running python row of mode stream
	// or async of the sandbox, or not_found.
	RunningPython(ctx context.Context, sandboxID string) (*Execution, error)

	// DeleteOfDeletedSandboxes removes up to limit rows whose sandbox is
	// soft-deleted (or gone) and returns how many.
	DeleteOfDeletedSandboxes(ctx context.Context, limit int) (int64, error)
	// DeleteCreatedBefore removes up to limit rows created before t.
	DeleteCreatedBefore(ctx context.Context, t time.Time, limit int) (int64, error)
	// DeleteBeyondCap removes up to limit rows that are not among the
	// newest keep rows of their sandbox.
	DeleteBeyondCap(ctx context.Context, keep, limit int) (int64, error)
	// MarkLost turns up to limit running rows into lost rows with the
	// given error code and message: those of instanceID created before
	// startedBefore (an empty instanceID matches none), and any created
	// before its own timeout_s plus staleMargin ago at now. It returns how
	// many.
	MarkLost(ctx context.Context, instanceID string, startedBefore, now time.Time, staleMargin time.Duration,
		code, message string, limit int) (int64, error)
}
