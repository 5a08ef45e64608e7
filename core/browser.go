package core

import (
	"context"
	"time"
)

// CapabilityBrowser is the capability a browser container serves
// (browser.md §2).
const CapabilityBrowser = "browser"

// Operations of the browser capability in a browser runtime's /meta.
const (
	OpBrowserExec      = "exec"
	OpBrowserExecBatch = "exec_batch"
)

// Limits of the browser API (browser.md §3.1). A zero timeout in an input
// means the default.
const (
	BrowserDefaultTimeout      = 30
	BrowserMaxTimeout          = 300
	BrowserDefaultBatchTimeout = 60
	BrowserMaxBatchTimeout     = 600
	BrowserMaxBatchSteps       = 50
	// BrowserExecMargin and BrowserBatchMargin are added to a call's
	// timeout for the client's deadline: the runtime answers at its
	// timeout, the margin covers the rest (browser.md §3.1: t+5, t+10).
	BrowserExecMargin  = 5 * time.Second
	BrowserBatchMargin = 10 * time.Second
)

// BrowserCommand is one browser command as the client sent it: a typed
// command (Fields: the JSON object, "action" included, browser.md §3.2) or
// a command string of upstream's CLI (Cmd, e.g. `fill @e2 "Ada"`). Bay
// passes it to the runtime as it came; the grammar lives with the runtime's
// contract and is applied by Browser.Check.
type BrowserCommand struct {
	Fields map[string]any
	Cmd    string
}

// Typed reports whether c is a typed command.
func (c BrowserCommand) Typed() bool { return c.Fields != nil }

// Action names the command for logs and messages: the typed action, or
// the first word of the string.
func (c BrowserCommand) Action() string {
	if c.Typed() {
		a, _ := c.Fields["action"].(string)
		return a
	}
	for i, r := range c.Cmd {
		if r == ' ' || r == '\t' {
			return c.Cmd[:i]
		}
	}
	return c.Cmd
}

// BrowserExecInput is one command (POST /v1/sandboxes/{id}/browser/exec).
type BrowserExecInput struct {
	Command BrowserCommand
	// Timeout is in seconds, 1-300; 0 means BrowserDefaultTimeout.
	Timeout int
	// MaxOutputBytes bounds the text of the answer (256 KiB by default,
	// 1 MiB at most); 0 means the default.
	MaxOutputBytes int
}

// TimeoutOrDefault is the command's timeout.
func (in BrowserExecInput) TimeoutOrDefault() time.Duration {
	if in.Timeout <= 0 {
		return BrowserDefaultTimeout * time.Second
	}
	return time.Duration(in.Timeout) * time.Second
}

// BrowserBatchInput is an ordered list of commands run within one budget
// (POST /v1/sandboxes/{id}/browser/exec_batch).
type BrowserBatchInput struct {
	Commands []BrowserCommand
	// Timeout is in seconds for the whole batch, 1-600; 0 means
	// BrowserDefaultBatchTimeout.
	Timeout int
	// StopOnError stops at the first failed step; nil means true.
	StopOnError    *bool
	MaxOutputBytes int
}

// TimeoutOrDefault is the batch's budget.
func (in BrowserBatchInput) TimeoutOrDefault() time.Duration {
	if in.Timeout <= 0 {
		return BrowserDefaultBatchTimeout * time.Second
	}
	return time.Duration(in.Timeout) * time.Second
}

// Browser error codes of a failed command (browser.md §3.5). A failed
// command is a result, not an error: BrowserResult.ErrorCode.
const (
	BrowserInvalidArgument    = "invalid_argument"
	BrowserRefNotFound        = "ref_not_found"
	BrowserStaleRef           = "stale_ref"
	BrowserElementNotFound    = "element_not_found"
	BrowserNotInteractable    = "not_interactable"
	BrowserTimeout            = "timeout"
	BrowserNavigationFailed   = "navigation_failed"
	BrowserURLNotAllowed      = "url_not_allowed"
	BrowserJSException        = "js_exception"
	BrowserOutputTooLarge     = "output_too_large"
	BrowserDownloadFailed     = "download_failed"
	BrowserCrashed            = "browser_crashed"
	BrowserUnsupportedCommand = "unsupported_command"
)

// BrowserResult is the answer to one command (browser.md §3.4).
type BrowserResult struct {
	Success bool
	// Output is the text form: snapshot text, a value got, evaluate's
	// JSON, a saved path.
	Output string
	// Error is the failure's message; nil on success.
	Error *string
	// ExitCode is 0 on success, -1 on timeout, else 1.
	ExitCode int
	// ErrorCode is one of the Browser* codes; empty on success.
	ErrorCode string
	// Result is the action's structured result (a JSON object).
	Result map[string]any
	// Page is the active tab after the command; nil when there is none
	// (Chromium restarting).
	Page       *BrowserPage
	Downloads  []BrowserDownload
	Dialogs    []BrowserDialog
	DurationMS int64
}

// BrowserPage is a browser tab.
type BrowserPage struct {
	TabID string
	URL   string
	Title string
}

// BrowserDownload is a download that finished during a command: its path
// relative to the workspace, size and state (completed, canceled).
type BrowserDownload struct {
	Path  string
	Size  int64
	State string
	URL   string
}

// BrowserDialog is a JavaScript dialog a command met and how it was
// answered.
type BrowserDialog struct {
	Type       string
	Message    string
	URL        string
	Accepted   bool
	PromptText *string
}

// BrowserStep is one step of a batch: its index, the command echoed (the
// string, or the typed command's action) and its result.
type BrowserStep struct {
	Index int
	Cmd   string
	BrowserResult
}

// BrowserBatchResult is the answer to a batch. Success means every step
// ran and succeeded; CompletedSteps counts the steps that ran.
type BrowserBatchResult struct {
	Success        bool
	TotalSteps     int
	CompletedSteps int
	DurationMS     int64
	Steps          []BrowserStep
}

// BrowserInfo is what a browser runtime's /meta says of its browser.
type BrowserInfo struct {
	RuntimeVersion string
	Engine         string
	EngineVersion  string
	// ChromiumSandbox says whether Chromium's own sandbox is on (browser.md
	// §6).
	ChromiumSandbox bool
	// Profile is "persistent" (on the Locker) or "ephemeral".
	Profile string
	Actions []string
}

// Browser is the port to a session's browser runtime (browserd, browser.md
// §3 and §5.1), addressed like Ship by an Endpoint with the session's
// runtime token. Health and Capabilities are RuntimeMeta's: Health gives a
// *RuntimeFailedError when the runtime reports it cannot start, and
// Capabilities refuses a runtime that does not declare bearer
// authentication with internal_error.
//
// The adapter maps transport failures as the Ship client does: ship_error
// (its message names the browser runtime) for an error status, an
// unreachable runtime (wrapping *ErrUnreachable when the request never
// reached it) or an unusable answer; timeout when the call passes the
// command's timeout plus BrowserExecMargin (BrowserBatchMargin for a
// batch). A command that fails in the browser is no error: its result says
// so (Success false, ErrorCode).
type Browser interface {
	RuntimeMeta
	// Info returns /meta's description of the browser.
	Info(ctx context.Context, ep Endpoint) (*BrowserInfo, error)
	// Check validates a request with the runtime's grammar without calling
	// a runtime (bay-api.md §3.4: before the session starts): the shape of
	// each command (typed or string), the ranges and the path fields.
	// Returns validation_error with details.field (e.g. "commands[2].ref")
	// or invalid_path with details.field and details.reason.
	Check(in BrowserExecInput) error
	// CheckBatch is Check for a batch (1-50 commands).
	CheckBatch(in BrowserBatchInput) error
	// Exec runs one command.
	Exec(ctx context.Context, ep Endpoint, in BrowserExecInput) (*BrowserResult, error)
	// ExecBatch runs the commands in order within the batch's budget.
	ExecBatch(ctx context.Context, ep Endpoint, in BrowserBatchInput) (*BrowserBatchResult, error)
}
