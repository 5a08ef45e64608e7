package fake

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bayhq/bay/core"
)

// Browser is an in-memory core.Browser for unit tests of services: every
// endpoint is healthy unless marked down or failed; it remembers each
// endpoint's URL, answers a snapshot with conformance's fixed page (a
// heading, textbox e1 and button e2), a screenshot with a 1×1 PNG, sleeps
// for wait {ms}, and fails unknown refs and upstream-only command strings
// as browserd does. It passes conformance.RunBrowser.
type Browser struct {
	mu     sync.Mutex
	down   map[string]bool
	failed map[string]string
	urls   map[string]string
	calls  map[string]int
	// tokens returns the runtime token of the container at an endpoint;
	// nil accepts any token.
	tokens func(endpoint string) string
	// Block, when set, is called at the start of each command, so tests
	// can hold a call in flight.
	Block func(ctx context.Context)
}

var _ core.Browser = (*Browser)(nil)

// NewBrowser returns a fake Browser.
func NewBrowser() *Browser {
	return &Browser{down: map[string]bool{}, failed: map[string]string{}, urls: map[string]string{}, calls: map[string]int{}}
}

// CheckTokens makes the fake refuse a call whose token is not tokens'
// answer for its endpoint (a container's runtime token), as browserd does.
func (b *Browser) CheckTokens(tokens func(endpoint string) string) {
	b.mu.Lock()
	b.tokens = tokens
	b.mu.Unlock()
}

// SetDown makes endpoint unreachable (or reachable again).
func (b *Browser) SetDown(endpoint string, down bool) {
	b.mu.Lock()
	b.down[endpoint] = down
	b.mu.Unlock()
}

// SetFailed makes endpoint's /health report that Chromium cannot start
// (a *core.RuntimeFailedError with msg); "" clears it.
func (b *Browser) SetFailed(endpoint, msg string) {
	b.mu.Lock()
	if msg == "" {
		delete(b.failed, endpoint)
	} else {
		b.failed[endpoint] = msg
	}
	b.mu.Unlock()
}

// Calls returns how many calls of the named method reached the fake.
func (b *Browser) Calls(method string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[method]
}

// enter counts a call and applies down endpoints and tokens.
func (b *Browser) enter(ep core.Endpoint, method string, auth bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down[ep.URL] {
		return core.Wrap(&core.ErrUnreachable{Err: io.ErrUnexpectedEOF}, core.CodeShipError, "Browser runtime request error: connection refused")
	}
	if auth && b.tokens != nil {
		want := b.tokens(ep.URL)
		if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(ep.Token)) != 1 {
			return core.Errorf(core.CodeShipError, "Browser runtime request failed: 401").
				WithDetails(map[string]any{"status": 401, "detail": "missing or invalid runtime token"})
		}
	}
	b.calls[method]++
	return nil
}

// Health implements core.Browser.
func (b *Browser) Health(_ context.Context, endpoint string) error {
	if err := b.enter(core.Endpoint{URL: endpoint}, "Health", false); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if msg, ok := b.failed[endpoint]; ok {
		return &core.RuntimeFailedError{Message: msg}
	}
	return nil
}

// browserActions are the actions the fake announces, browserd's.
var browserActions = []string{
	"navigate", "back", "forward", "reload", "snapshot", "click", "fill", "type", "press", "select",
	"check", "uncheck", "hover", "focus", "scroll", "wait", "get", "evaluate", "screenshot", "pdf",
	"upload", "tab_list", "tab_new", "tab_select", "tab_close", "set_viewport",
}

// Capabilities implements core.Browser.
func (b *Browser) Capabilities(_ context.Context, ep core.Endpoint) (core.RuntimeCapabilities, error) {
	if err := b.enter(ep, "Capabilities", true); err != nil {
		return nil, err
	}
	return core.RuntimeCapabilities{core.CapabilityBrowser: {core.OpBrowserExec, core.OpBrowserExecBatch}}, nil
}

// Info implements core.Browser.
func (b *Browser) Info(_ context.Context, ep core.Endpoint) (*core.BrowserInfo, error) {
	if err := b.enter(ep, "Info", true); err != nil {
		return nil, err
	}
	return &core.BrowserInfo{RuntimeVersion: "fake", Engine: "fake", EngineVersion: "0", ChromiumSandbox: true,
		Profile: "ephemeral", Actions: slices.Clone(browserActions)}, nil
}

// targetActions take an element (ref or selector); requiredTarget ones
// must have one.
var (
	targetActions   = []string{"click", "fill", "type", "press", "select", "check", "uncheck", "hover", "focus", "scroll", "get", "screenshot", "upload"}
	requiredTargets = []string{"click", "fill", "select", "check", "uncheck", "hover", "focus", "upload"}
)

// Check implements core.Browser with the parts of the grammar service
// tests need: one command, known actions, targets, ranges, paths.
func (b *Browser) Check(in core.BrowserExecInput) error {
	if err := rangeCheck("timeout", in.Timeout, core.BrowserMaxTimeout); err != nil {
		return err
	}
	if err := rangeCheck("max_output_bytes", in.MaxOutputBytes, 1<<20); err != nil {
		return err
	}
	return checkCommand(in.Command, "command", "cmd")
}

// CheckBatch implements core.Browser.
func (b *Browser) CheckBatch(in core.BrowserBatchInput) error {
	if len(in.Commands) == 0 || len(in.Commands) > core.BrowserMaxBatchSteps {
		return invalidField("commands", "must hold 1 to %d commands", core.BrowserMaxBatchSteps)
	}
	if err := rangeCheck("timeout", in.Timeout, core.BrowserMaxBatchTimeout); err != nil {
		return err
	}
	if err := rangeCheck("max_output_bytes", in.MaxOutputBytes, 1<<20); err != nil {
		return err
	}
	for i, c := range in.Commands {
		loc := fmt.Sprintf("commands[%d]", i)
		if err := checkCommand(c, loc, loc); err != nil {
			return err
		}
	}
	return nil
}

func rangeCheck(field string, v, hi int) error {
	if v < 0 || v > hi {
		return invalidField(field, "must be between 1 and %d", hi)
	}
	return nil
}

func invalidField(field, format string, args ...any) error {
	return core.Errorf(core.CodeValidation, "%s: %s", field, fmt.Sprintf(format, args...)).
		WithDetails(map[string]any{"field": field})
}

func checkCommand(c core.BrowserCommand, typedLoc, cmdLoc string) error {
	if !c.Typed() {
		words := strings.Fields(c.Cmd)
		if len(words) == 0 {
			return invalidField(cmdLoc, "empty command")
		}
		switch words[0] {
		case "screenshot", "pdf":
			for _, w := range words[1:] {
				if !strings.HasPrefix(w, "-") {
					if _, err := core.NormalizePath(cmdLoc+".path", strings.TrimPrefix(w, "/workspace/")); err != nil {
						return err
					}
				}
			}
		case "click", "fill", "select", "check", "uncheck", "hover", "focus", "upload":
			if len(words) < 2 {
				return invalidField(cmdLoc, "%s needs a target", words[0])
			}
		}
		return nil
	}
	if c.Cmd != "" {
		return invalidField(typedLoc, "give command or cmd, not both")
	}
	action, _ := c.Fields["action"].(string)
	if !slices.Contains(browserActions, action) {
		return invalidField(typedLoc+".action", "unknown action %q", action)
	}
	_, ref := c.Fields["ref"]
	_, sel := c.Fields["selector"]
	if slices.Contains(targetActions, action) {
		if ref && sel {
			return invalidField(typedLoc, "give ref or selector, not both")
		}
		if slices.Contains(requiredTargets, action) && !ref && !sel {
			return invalidField(typedLoc+".ref", "%s needs a target", action)
		}
	}
	if p, ok := c.Fields["path"].(string); ok {
		if _, err := core.NormalizePath(typedLoc+".path", strings.TrimPrefix(p, "/workspace/")); err != nil {
			return err
		}
	}
	return nil
}

// onePixelPNG is a 1×1 transparent PNG.
var onePixelPNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

// fakeSnapshot is the fixed snapshot: conformance.BrowserTestSnapshot.
const fakeSnapshot = "page \"Conformance\" %s\n- heading \"Fake page\" [level=1]\n- textbox \"Name\" [ref=e1]\n- button \"Go\" [ref=e2]"

// Exec implements core.Browser.
func (b *Browser) Exec(ctx context.Context, ep core.Endpoint, in core.BrowserExecInput) (*core.BrowserResult, error) {
	if err := b.enter(ep, "Exec", true); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, in.TimeoutOrDefault())
	defer cancel()
	res := b.run(ctx, ep.URL, in.Command, in.MaxOutputBytes)
	return &res, nil
}

// ExecBatch implements core.Browser.
func (b *Browser) ExecBatch(ctx context.Context, ep core.Endpoint, in core.BrowserBatchInput) (*core.BrowserBatchResult, error) {
	if err := b.enter(ep, "ExecBatch", true); err != nil {
		return nil, err
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, in.TimeoutOrDefault())
	defer cancel()
	stop := in.StopOnError == nil || *in.StopOnError
	out := &core.BrowserBatchResult{TotalSteps: len(in.Commands), Steps: []core.BrowserStep{}}
	all := true
	for i, c := range in.Commands {
		if ctx.Err() != nil {
			all = false
			break
		}
		res := b.run(ctx, ep.URL, c, in.MaxOutputBytes)
		echo := c.Cmd
		if c.Typed() {
			echo = c.Action()
		}
		out.Steps = append(out.Steps, core.BrowserStep{Index: i, Cmd: echo, BrowserResult: res})
		out.CompletedSteps++
		if !res.Success {
			all = false
			if stop {
				break
			}
		}
	}
	out.Success = all && out.CompletedSteps == out.TotalSteps
	out.DurationMS = time.Since(start).Milliseconds()
	return out, nil
}

// run answers one command.
func (b *Browser) run(ctx context.Context, endpoint string, c core.BrowserCommand, limit int) core.BrowserResult {
	start := time.Now()
	if b.Block != nil {
		b.Block(ctx)
	}
	if limit <= 0 {
		limit = 256 << 10
	}
	action, args := c.Action(), map[string]any{}
	if c.Typed() {
		args = c.Fields
	} else {
		words := strings.Fields(c.Cmd)
		if len(words) > 1 {
			args = cmdArgs(action, words[1:])
		}
		action = cmdAction(action)
		for _, w := range words {
			if slices.Contains(globalFlags, w) {
				action = w
			}
		}
	}
	b.mu.Lock()
	url := b.urls[endpoint]
	if url == "" {
		url = "about:blank"
	}
	b.mu.Unlock()
	page := &core.BrowserPage{TabID: "t1", URL: url, Title: "Conformance"}
	done := func(output string, result map[string]any) core.BrowserResult {
		if result == nil {
			result = map[string]any{}
		}
		if len(output) > limit {
			output = output[:limit] + fmt.Sprintf("\n[... truncated %d bytes ...]", len(output)-limit)
			result["truncated"] = true
		}
		return core.BrowserResult{Success: true, Output: output, Result: result, Page: page,
			Downloads: []core.BrowserDownload{}, Dialogs: []core.BrowserDialog{}, DurationMS: time.Since(start).Milliseconds()}
	}
	failure := func(code, format string, a ...any) core.BrowserResult {
		msg, exit := fmt.Sprintf(format, a...), 1
		if code == core.BrowserTimeout {
			exit = -1
		}
		return core.BrowserResult{Error: &msg, ExitCode: exit, ErrorCode: code, Result: map[string]any{}, Page: page,
			Downloads: []core.BrowserDownload{}, Dialogs: []core.BrowserDialog{}, DurationMS: time.Since(start).Milliseconds()}
	}
	ref, _ := args["ref"].(string)
	ref = strings.TrimPrefix(ref, "@")
	if ref != "" && ref != "e1" && ref != "e2" {
		return failure(core.BrowserRefNotFound, "unknown ref %s: take a new snapshot", ref)
	}
	switch action {
	case "navigate":
		u, _ := args["url"].(string)
		b.mu.Lock()
		b.urls[endpoint] = u
		b.mu.Unlock()
		page.URL = u
		return done(u, map[string]any{"url": u, "title": "Conformance", "status": 200})
	case "snapshot":
		text := fmt.Sprintf(fakeSnapshot, url)
		return done(text, map[string]any{"url": url, "title": "Conformance", "text": text, "truncated": false, "nodes": []any{
			map[string]any{"role": "heading", "name": "Fake page", "level": 1, "depth": 0},
			map[string]any{"ref": "e1", "role": "textbox", "name": "Name", "depth": 0},
			map[string]any{"ref": "e2", "role": "button", "name": "Go", "depth": 0},
		}})
	case "get":
		what, _ := args["what"].(string)
		if what == "url" {
			return done(url, map[string]any{"value": url})
		}
		return done("", map[string]any{"value": ""})
	case "wait":
		ms, _ := args["ms"].(float64)
		if n, ok := args["ms"].(int); ok {
			ms = float64(n)
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return done(fmt.Sprint(int(ms)), map[string]any{"waited_ms": int(ms)})
		case <-ctx.Done():
			return failure(core.BrowserTimeout, "the wait of %d ms did not happen within the timeout", int(ms))
		}
	case "screenshot":
		return done("screenshot 1x1 png", map[string]any{"width": 1, "height": 1, "bytes": len(onePixelPNG),
			"data": base64.StdEncoding.EncodeToString(onePixelPNG), "format": "png"})
	}
	if slices.Contains(browserActions, action) {
		return done("", map[string]any{"action": action})
	}
	return failure(core.BrowserUnsupportedCommand, "%q is not supported by this browser runtime", action)
}

// globalFlags are upstream CLI flags browserd does not support.
var globalFlags = []string{"--json", "--proxy", "--session", "--headed", "--cdp", "--profile", "--headers"}

// cmdAction maps a command string's verb to the action it stands for.
func cmdAction(verb string) string {
	switch verb {
	case "open", "goto":
		return "navigate"
	case "dblclick":
		return "click"
	case "eval":
		return "evaluate"
	case "scrollintoview":
		return "scroll"
	}
	return verb
}

// cmdArgs reads the few arguments the fake looks at from a command
// string: a URL, a ref, get's what, wait's ms. A global flag of upstream's
// CLI makes the command unsupported.
func cmdArgs(verb string, words []string) map[string]any {
	args := map[string]any{}
	switch verb {
	case "open", "goto", "navigate":
		args["url"] = words[0]
	case "get":
		args["what"] = words[0]
	case "wait":
		var ms int
		if _, err := fmt.Sscan(words[0], &ms); err == nil {
			args["ms"] = ms
		}
	default:
		if strings.HasPrefix(words[0], "@") || (len(words[0]) > 1 && words[0][0] == 'e' && strings.Trim(words[0][1:], "0123456789") == "") {
			args["ref"] = words[0]
		}
	}
	return args
}
