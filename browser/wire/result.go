package wire

import (
	"fmt"
	"unicode/utf8"
)

// Error codes of a failed command (browser.md §3.5): the answer is still a
// 200, with success false.
const (
	ErrInvalidArgument    = "invalid_argument"
	ErrRefNotFound        = "ref_not_found"
	ErrStaleRef           = "stale_ref"
	ErrElementNotFound    = "element_not_found"
	ErrNotInteractable    = "not_interactable"
	ErrTimeout            = "timeout"
	ErrNavigationFailed   = "navigation_failed"
	ErrURLNotAllowed      = "url_not_allowed"
	ErrJSException        = "js_exception"
	ErrOutputTooLarge     = "output_too_large"
	ErrDownloadFailed     = "download_failed"
	ErrBrowserCrashed     = "browser_crashed"
	ErrUnsupportedCommand = "unsupported_command"
)

// ErrorCodes lists the codes.
var ErrorCodes = []string{
	ErrInvalidArgument, ErrRefNotFound, ErrStaleRef, ErrElementNotFound, ErrNotInteractable,
	ErrTimeout, ErrNavigationFailed, ErrURLNotAllowed, ErrJSException, ErrOutputTooLarge,
	ErrDownloadFailed, ErrBrowserCrashed, ErrUnsupportedCommand,
}

// Exit codes of a command: 0 on success, -1 on timeout, else 1.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitTimeout = -1
)

// Result is the answer of POST /exec (browser.md §3.4). success, output,
// error and exit_code keep upstream's shape; Result holds the action's
// structured result (an object), Page the active tab after the command.
type Result struct {
	Success    bool       `json:"success"`
	Output     string     `json:"output"`
	Error      *string    `json:"error"`
	ExitCode   int        `json:"exit_code"`
	ErrorCode  *string    `json:"error_code"`
	Result     any        `json:"result"`
	Page       *Page      `json:"page"`
	Downloads  []Download `json:"downloads"`
	Dialogs    []Dialog   `json:"dialogs"`
	DurationMS int64      `json:"duration_ms"`
}

// Page is the active tab.
type Page struct {
	TabID string `json:"tab_id"`
	URL   string `json:"url"`
	Title string `json:"title"`
}

// Download is a download that finished during a command: its path
// relative to the workspace, its size and its state (completed or
// canceled).
type Download struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	State string `json:"state"`
	URL   string `json:"url,omitempty"`
}

// Dialog is a JavaScript dialog that opened during a command and how it
// was answered.
type Dialog struct {
	Type       string  `json:"type"`
	Message    string  `json:"message"`
	URL        string  `json:"url,omitempty"`
	Accepted   bool    `json:"accepted"`
	PromptText *string `json:"prompt_text,omitempty"`
}

// StepResult is one step of a batch: the step's Result plus its index,
// the command echoed as sent, and stdout/stderr mirroring output/error for
// upstream clients.
type StepResult struct {
	StepIndex int    `json:"step_index"`
	Cmd       string `json:"cmd"`
	Result
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
}

// BatchResponse is the answer of POST /exec_batch. Success means every
// step ran and succeeded.
type BatchResponse struct {
	Success        bool         `json:"success"`
	TotalSteps     int          `json:"total_steps"`
	CompletedSteps int          `json:"completed_steps"`
	DurationMS     int64        `json:"duration_ms"`
	Results        []StepResult `json:"results"`
}

// Truncate cuts s to at most limit bytes at a UTF-8 boundary and appends
// the marker "\n[... truncated N bytes ...]" (browser.md §3.6). It reports
// whether it cut.
func Truncate(s string, limit int) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	cut := CutPoint(s, limit)
	return s[:cut] + TruncationMarker(len(s)-cut), true
}

// CutPoint is where Truncate cuts s: the last UTF-8 boundary at or before
// limit (len(s) when s fits).
func CutPoint(s string, limit int) int {
	if len(s) <= limit {
		return len(s)
	}
	cut := max(limit, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return cut
}

// TruncationMarker is what replaces n cut bytes.
func TruncationMarker(n int) string { return fmt.Sprintf("\n[... truncated %d bytes ...]", n) }
