package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bayhq/bay/ship/wire"
)

// The browser mode (FAKE_RUNTIME=browser, browser.md §5.3) stands in for
// browserd without Chromium: /health (503 failed with FAKE_FAIL_HEALTH=1),
// a /meta that declares only "browser", and /exec and /exec_batch that
// echo the action, answer snapshot with fixed refs (a heading, textbox e1
// and button e2), screenshot with a 1×1 PNG (written to the path under
// FAKE_WORKSPACE, /workspace by default, when one is given) and wait {ms}
// with a sleep within the timeout. Bay's multi-container, routing and GC
// tests run on it in seconds. Its bodies are browserd's (browser/wire),
// written out here: the fake imports only Ship's packages.

// browserMeta is /meta of the browser mode.
var browserMeta = map[string]any{
	"runtime": map[string]any{
		"name": "fake-browser", "version": version, "api_version": "v1", "auth": wire.AuthBearer,
		"build": map[string]any{"image": "bay-fake-runtime:latest", "image_digest": nil, "git_sha": nil},
	},
	"workspace": map[string]any{"mount_path": mountPath},
	"capabilities": map[string]any{
		"browser": map[string]any{
			"operations":       []string{"exec", "exec_batch"},
			"endpoints":        map[string]string{"exec": "/exec", "exec_batch": "/exec_batch"},
			"engine":           "fake",
			"engine_version":   "0",
			"chromium_sandbox": true,
			"profile":          "ephemeral",
			"actions":          browserActions,
		},
	},
}

var browserActions = []string{
	"navigate", "back", "forward", "reload", "snapshot", "click", "fill", "type", "press", "select",
	"check", "uncheck", "hover", "focus", "scroll", "wait", "get", "evaluate", "screenshot", "pdf",
	"upload", "tab_list", "tab_new", "tab_select", "tab_close", "set_viewport",
}

// onePixelPNG is a 1×1 transparent PNG.
var onePixelPNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

// browserResult is browserd's answer to one command.
type browserResult struct {
	Success    bool           `json:"success"`
	Output     string         `json:"output"`
	Error      *string        `json:"error"`
	ExitCode   int            `json:"exit_code"`
	ErrorCode  *string        `json:"error_code"`
	Result     map[string]any `json:"result"`
	Page       map[string]any `json:"page"`
	Downloads  []any          `json:"downloads"`
	Dialogs    []any          `json:"dialogs"`
	DurationMS int64          `json:"duration_ms"`
}

// browserStep is one step of a batch answer.
type browserStep struct {
	StepIndex int    `json:"step_index"`
	Cmd       string `json:"cmd"`
	browserResult
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
}

// fakeBrowser is the browser mode's state: the URL of its one tab.
type fakeBrowser struct {
	workspace string
	failure   string
	mu        sync.Mutex
	url       string
	// slot runs one command at a time, as browserd does.
	slot chan struct{}
}

// newBrowserHandler returns the browser mode's API, guarded by token.
// failure, when not empty, makes /health answer 503 failed with it.
func newBrowserHandler(token, workspace, failure string) http.Handler {
	b := &fakeBrowser{workspace: workspace, failure: failure, url: "about:blank", slot: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+wire.PathHealth, func(w http.ResponseWriter, r *http.Request) {
		if b.failure != "" {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "failed", "error": b.failure})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": wire.StatusHealthy, "chromium_sandbox": true})
	})
	mux.HandleFunc("GET "+wire.PathMeta, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, browserMeta) })
	mux.HandleFunc("POST /exec", b.exec)
	mux.HandleFunc("POST /exec_batch", b.execBatch)
	return requireToken(token, mux)
}

func validation(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, wire.Error{Detail: []wire.ValidationItem{{Loc: []any{"body"}, Msg: msg, Type: "value_error"}}})
}

// browserTimeout reads a timeout in seconds within 1..hi, def when absent.
func browserTimeout(v *int, def, hi int) (time.Duration, bool) {
	if v == nil {
		return time.Duration(def) * time.Second, true
	}
	if *v < 1 || *v > hi {
		return 0, false
	}
	return time.Duration(*v) * time.Second, true
}

func (b *fakeBrowser) exec(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Command        json.RawMessage `json:"command"`
		Cmd            *string         `json:"cmd"`
		Timeout        *int            `json:"timeout"`
		MaxOutputBytes *int            `json:"max_output_bytes"`
	}
	if !decode(w, r, &req) {
		return
	}
	timeout, ok := browserTimeout(req.Timeout, 30, 300)
	hasCommand := len(req.Command) > 0 && string(req.Command) != "null"
	switch {
	case !ok:
		validation(w, "timeout must be between 1 and 300")
		return
	case hasCommand == (req.Cmd != nil):
		validation(w, "give command (typed) or cmd (string), one of them")
		return
	}
	item := req.Command
	if req.Cmd != nil {
		item, _ = json.Marshal(*req.Cmd)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if !b.acquire(ctx) {
		writeJSON(w, 200, fakeFailure("timeout", "queued behind another command"))
		return
	}
	defer func() { <-b.slot }()
	_, res := b.run(ctx, item, limitOf(req.MaxOutputBytes))
	writeJSON(w, 200, res)
}

func (b *fakeBrowser) acquire(ctx context.Context) bool {
	select {
	case b.slot <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func limitOf(v *int) int {
	if v == nil || *v <= 0 {
		return 256 << 10
	}
	return *v
}

func (b *fakeBrowser) execBatch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Commands       []json.RawMessage `json:"commands"`
		Timeout        *int              `json:"timeout"`
		StopOnError    *bool             `json:"stop_on_error"`
		MaxOutputBytes *int              `json:"max_output_bytes"`
	}
	if !decode(w, r, &req) {
		return
	}
	timeout, ok := browserTimeout(req.Timeout, 60, 600)
	switch {
	case !ok:
		validation(w, "timeout must be between 1 and 600")
		return
	case len(req.Commands) == 0 || len(req.Commands) > 50:
		validation(w, "commands must hold 1 to 50 commands")
		return
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	stop := req.StopOnError == nil || *req.StopOnError
	out := map[string]any{"total_steps": len(req.Commands)}
	steps := []browserStep{}
	all := true
	if !b.acquire(ctx) {
		all = false
	} else {
		defer func() { <-b.slot }()
		for i, item := range req.Commands {
			if ctx.Err() != nil {
				all = false
				break
			}
			echo, res := b.run(ctx, item, limitOf(req.MaxOutputBytes))
			stderr := ""
			if res.Error != nil {
				stderr = *res.Error
			}
			steps = append(steps, browserStep{StepIndex: i, Cmd: echo, browserResult: res, Stdout: res.Output, Stderr: stderr})
			if !res.Success {
				all = false
				if stop {
					break
				}
			}
		}
	}
	out["results"] = steps
	out["completed_steps"] = len(steps)
	out["success"] = all && len(steps) == len(req.Commands)
	out["duration_ms"] = time.Since(start).Milliseconds()
	writeJSON(w, 200, out)
}

func fakeFailure(code, msg string) browserResult {
	exit := 1
	if code == "timeout" {
		exit = -1
	}
	return browserResult{Error: &msg, ExitCode: exit, ErrorCode: &code, Result: map[string]any{}, Downloads: []any{}, Dialogs: []any{}}
}

// unsupported are upstream's verbs and flags browserd does not take.
var unsupported = []string{"cookies", "storage", "network", "record", "frame", "--json", "--proxy", "--session", "--headed", "--cdp"}

// run answers one command (a JSON object or string); it returns what a
// batch step echoes.
func (b *fakeBrowser) run(ctx context.Context, item json.RawMessage, limit int) (string, browserResult) {
	start := time.Now()
	var (
		fields map[string]any
		echo   string
	)
	var s string
	if err := json.Unmarshal(item, &s); err == nil {
		echo = s
		fields = cmdFields(strings.Fields(s))
	} else if err := json.Unmarshal(item, &fields); err != nil || fields == nil {
		return "", fakeFailure("invalid_argument", "a command is an object or a string")
	} else {
		echo, _ = fields["action"].(string)
	}
	action, _ := fields["action"].(string)
	b.mu.Lock()
	url := b.url
	b.mu.Unlock()
	page := map[string]any{"tab_id": "t1", "url": url, "title": "Conformance"}
	done := func(output string, result map[string]any) browserResult {
		if result == nil {
			result = map[string]any{}
		}
		if len(output) > limit {
			output = output[:limit] + fmt.Sprintf("\n[... truncated %d bytes ...]", len(output)-limit)
			result["truncated"] = true
		}
		return browserResult{Success: true, Output: output, Result: result, Page: page, Downloads: []any{}, Dialogs: []any{},
			DurationMS: time.Since(start).Milliseconds()}
	}
	fail := func(code, format string, args ...any) browserResult {
		res := fakeFailure(code, fmt.Sprintf(format, args...))
		res.Page, res.DurationMS = page, time.Since(start).Milliseconds()
		return res
	}
	if u, _ := fields["unsupported"].(string); u != "" {
		return echo, fail("unsupported_command", "%q is not supported by this browser runtime", u)
	}
	if ref, _ := fields["ref"].(string); ref != "" && strings.TrimPrefix(ref, "@") != "e1" && strings.TrimPrefix(ref, "@") != "e2" {
		return echo, fail("ref_not_found", "unknown ref %s: take a new snapshot", ref)
	}
	switch action {
	case "navigate":
		u, _ := fields["url"].(string)
		b.mu.Lock()
		b.url = u
		b.mu.Unlock()
		page["url"] = u
		return echo, done(u, map[string]any{"url": u, "title": "Conformance", "status": 200})
	case "snapshot":
		text := fmt.Sprintf("page \"Conformance\" %s\n- heading \"Fake page\" [level=1]\n- textbox \"Name\" [ref=e1]\n- button \"Go\" [ref=e2]", url)
		return echo, done(text, map[string]any{"url": url, "title": "Conformance", "text": text, "truncated": false, "nodes": []any{
			map[string]any{"role": "heading", "name": "Fake page", "level": 1, "depth": 0},
			map[string]any{"ref": "e1", "role": "textbox", "name": "Name", "depth": 0},
			map[string]any{"ref": "e2", "role": "button", "name": "Go", "depth": 0},
		}})
	case "get":
		if fields["what"] == "url" {
			return echo, done(url, map[string]any{"value": url})
		}
		return echo, done("", map[string]any{"value": ""})
	case "wait":
		ms, _ := fields["ms"].(float64)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return echo, done(fmt.Sprint(int(ms)), map[string]any{"waited_ms": int(ms)})
		case <-ctx.Done():
			return echo, fail("timeout", "the wait of %d ms did not happen within the timeout", int(ms))
		}
	case "screenshot":
		result := map[string]any{"width": 1, "height": 1, "bytes": len(onePixelPNG), "format": "png"}
		out := "screenshot 1x1 png"
		if p, _ := fields["path"].(string); p != "" {
			rel := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(p, mountPath+"/")), "/")
			file := filepath.Join(b.workspace, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil { // #nosec G301 -- a workspace directory the sandbox user reads
				return echo, fail("invalid_argument", "cannot write %s: %v", rel, err)
			}
			if err := os.WriteFile(file, onePixelPNG, 0o644); err != nil { // #nosec G306 -- a test image for the sandbox user
				return echo, fail("invalid_argument", "cannot write %s: %v", rel, err)
			}
			result["path"], out = rel, rel
		}
		if inline, set := fields["inline"].(bool); (set && inline) || (!set && result["path"] == nil) {
			result["data"] = base64.StdEncoding.EncodeToString(onePixelPNG)
		}
		return echo, done(out, result)
	}
	if slices.Contains(browserActions, action) {
		return echo, done("", map[string]any{"action": action})
	}
	return echo, fail("unsupported_command", "unknown command %q", action)
}

// cmdFields reads a command string as the fields of a typed command, as
// far as the fake needs them.
func cmdFields(words []string) map[string]any {
	f := map[string]any{}
	if len(words) == 0 {
		return f
	}
	for _, w := range words {
		if slices.Contains(unsupported, w) {
			f["unsupported"] = w
			return f
		}
	}
	verb, args := words[0], words[1:]
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch verb {
	case "open", "goto", "navigate":
		f["action"], f["url"] = "navigate", arg(0)
	case "get":
		f["action"], f["what"] = "get", arg(0)
	case "wait":
		f["action"] = "wait"
		var ms float64
		if _, err := fmt.Sscan(arg(0), &ms); err == nil {
			f["ms"] = ms
		}
	case "screenshot":
		f["action"] = "screenshot"
		for _, a := range args {
			if !strings.HasPrefix(a, "-") {
				f["path"] = a
			}
		}
	case "dblclick":
		f["action"], f["ref"] = "click", arg(0)
	case "eval":
		f["action"] = "evaluate"
	default:
		f["action"] = verb
		if a := arg(0); strings.HasPrefix(a, "@") || (len(a) > 1 && a[0] == 'e' && strings.Trim(a[1:], "0123456789") == "") {
			f["ref"] = a
		}
	}
	return f
}
