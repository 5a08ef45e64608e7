package wire

// PythonExecRequest is the body of POST /ipython/exec.
type PythonExecRequest struct {
	Code string `json:"code"`
	// Timeout is in seconds; nil or not positive means 30.
	Timeout *int `json:"timeout,omitempty"`
	// Silent runs the cell without history and without an execution count.
	Silent *bool `json:"silent,omitempty"`
	// ExecID names the execution for POST /exec/{exec_id}/cancel.
	ExecID string `json:"exec_id,omitempty"`
}

// PythonExecResponse is the answer of POST /ipython/exec: 200 whenever the
// kernel was reached, whether or not the code raised.
type PythonExecResponse struct {
	// Success is true iff no error was recorded (no exception, no timeout).
	Success bool `json:"success"`
	// ExecutionCount is the kernel's counter for this cell; null when silent.
	ExecutionCount *int         `json:"execution_count"`
	Output         PythonOutput `json:"output"`
	// Error is the traceback or the timeout message.
	Error *string `json:"error"`
	// KernelRestarted tells the caller that this execution ran in a fresh
	// kernel (the previous one died or was restarted): earlier variables
	// are gone.
	KernelRestarted  bool `json:"kernel_restarted"`
	KernelGeneration int  `json:"kernel_generation"`
	// Cancelled is true when POST /exec/{exec_id}/cancel stopped the
	// execution: interrupted while running (Error is the
	// KeyboardInterrupt traceback) or removed from the queue.
	Cancelled bool `json:"cancelled,omitempty"`
}

// PythonOutput is what a cell printed and displayed.
type PythonOutput struct {
	// Text is stream output and text/plain results, concatenated and trimmed.
	Text string `json:"text"`
	// Images are {"image/png": "<base64>"} objects in arrival order; never null.
	Images []map[string]string `json:"images"`
}

// ImagePNG is the key of an image in PythonOutput.Images.
const ImagePNG = "image/png"

// ShellExecRequest is the body of POST /shell/exec.
type ShellExecRequest struct {
	Command string `json:"command"`
	// Cwd is relative to the workspace; nil means the workspace.
	Cwd *string           `json:"cwd,omitempty"`
	Env map[string]string `json:"env,omitempty"`
	// Timeout is in seconds: not sent means 30, null or not positive means
	// no limit.
	Timeout *int `json:"timeout,omitempty"`
	// Shell runs the command through bash (the default) or directly.
	Shell      *bool `json:"shell,omitempty"`
	Background bool  `json:"background,omitempty"`
	// ExecID names the execution for POST /exec/{exec_id}/cancel.
	ExecID string `json:"exec_id,omitempty"`
}

// ShellExecResponse is the answer of POST /shell/exec.
type ShellExecResponse struct {
	Success    bool    `json:"success"`
	ReturnCode *int    `json:"return_code"`
	Stdout     string  `json:"stdout"`
	Stderr     string  `json:"stderr"`
	PID        *int    `json:"pid"`
	ProcessID  *string `json:"process_id"`
	Error      *string `json:"error"`
	// Cancelled is true when POST /exec/{exec_id}/cancel killed the
	// command (ReturnCode -1).
	Cancelled bool `json:"cancelled,omitempty"`
}
