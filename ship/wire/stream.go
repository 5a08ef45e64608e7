package wire

// Paths of the streaming, cancel and capabilities routes
// (agent-reach.md §2.7, §6.1).
const (
	PathPythonExecStream = "/ipython/exec/stream"
	PathShellExecStream  = "/shell/exec/stream"
	// PathExecCancel is the pattern of POST /exec/{exec_id}/cancel; use
	// ExecCancelPath for a request.
	PathExecCancel   = "/exec/{exec_id}/cancel"
	PathCapabilities = "/capabilities"
)

// ExecCancelPath is the path that cancels execution execID.
func ExecCancelPath(execID string) string { return "/exec/" + execID + "/cancel" }

// ContentTypeNDJSON is the media type of a streamed execution's answer:
// one JSON object (StreamEvent) per line, flushed per line.
const ContentTypeNDJSON = "application/x-ndjson"

// Operations of /meta's python and shell capabilities beyond "exec".
const (
	OpExec       = "exec"
	OpExecStream = "exec_stream"
	OpCancel     = "cancel"
)

// PythonStreamRequest is the body of POST /ipython/exec/stream.
type PythonStreamRequest struct {
	Code string `json:"code"`
	// Timeout is in seconds; nil or not positive means 30.
	Timeout *int `json:"timeout,omitempty"`
	// ExecID names the execution for POST /exec/{exec_id}/cancel.
	ExecID string `json:"exec_id,omitempty"`
}

// ShellStreamRequest is the body of POST /shell/exec/stream.
type ShellStreamRequest struct {
	Command string `json:"command"`
	// Cwd is relative to the workspace; nil means the workspace.
	Cwd *string           `json:"cwd,omitempty"`
	Env map[string]string `json:"env,omitempty"`
	// Timeout is in seconds; nil or not positive means 30.
	Timeout *int   `json:"timeout,omitempty"`
	ExecID  string `json:"exec_id,omitempty"`
}

// Stream event types, in the order they come: start, then any number of
// output events, then end (always last, exactly once, unless the stream
// broke).
const (
	EventStart       = "start"
	EventStdout      = "stdout"
	EventStderr      = "stderr"
	EventDisplayData = "display_data"
	EventResult      = "result"
	EventError       = "error"
	EventEnd         = "end"
)

// StreamEvent is one line of a streamed execution's answer. Which fields
// are set depends on Type:
//
//	start          PID (shell only)
//	stdout/stderr  Text
//	display_data   Data (a MIME bundle); Update when it came from
//	               update_display_data (it replaces an earlier display,
//	               and spec/ship.md §6 leaves it out of the sync output)
//	result         Data, ExecutionCount
//	error          EName, EValue, Traceback (a Python exception)
//	end            Success, ExitCode (shell) or ExecutionCount (python),
//	               KernelRestarted, TimedOut, Cancelled, Error (the sync
//	               endpoint's error text: traceback, timeout message, stderr)
type StreamEvent struct {
	Type            string         `json:"type"`
	PID             *int           `json:"pid,omitempty"`
	Text            string         `json:"text,omitempty"`
	Data            map[string]any `json:"data,omitempty"`
	Update          bool           `json:"update,omitempty"`
	ExecutionCount  *int           `json:"execution_count,omitempty"`
	EName           string         `json:"ename,omitempty"`
	EValue          string         `json:"evalue,omitempty"`
	Traceback       []string       `json:"traceback,omitempty"`
	Success         *bool          `json:"success,omitempty"`
	ExitCode        *int           `json:"exit_code,omitempty"`
	KernelRestarted bool           `json:"kernel_restarted,omitempty"`
	TimedOut        bool           `json:"timed_out,omitempty"`
	Cancelled       bool           `json:"cancelled,omitempty"`
	Error           *string        `json:"error,omitempty"`
}

// CancelResponse is the answer of POST /exec/{exec_id}/cancel.
type CancelResponse struct {
	Cancelled bool `json:"cancelled"`
}
