package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/bayhq/bay/browser/wire"
)

// cmdError is a command that failed with one of wire's error codes.
type cmdError struct {
	code string
	msg  string
}

func (e *cmdError) Error() string { return e.code + ": " + e.msg }

func fail(code, format string, args ...any) error {
	return &cmdError{code: code, msg: fmt.Sprintf(format, args...)}
}

// ErrStopping is the error of a command refused because the runtime stops.
var ErrStopping = errors.New("the browser runtime is stopping")

// acquire waits for the command slot (FIFO) until ctx ends; the time in
// the queue counts against the command's timeout (browser.md §3.6).
func (e *Engine) acquire(ctx context.Context, cancel context.CancelFunc) error {
	select {
	case e.slot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.stopped:
		return ErrStopping
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == wire.StatusStopping {
		<-e.slot
		return ErrStopping
	}
	e.cancelRunning = cancel
	return nil
}

func (e *Engine) release() {
	e.mu.Lock()
	e.cancelRunning = nil
	e.mu.Unlock()
	<-e.slot
}

// Exec runs one command within its timeout (browser.md §3.1).
func (e *Engine) Exec(ctx context.Context, x wire.Exec) wire.Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, time.Duration(x.TimeoutSeconds)*time.Second)
	defer cancel()
	var res wire.Result
	if err := e.acquire(ctx, cancel); err != nil {
		res = failure(queueError(err, x.TimeoutSeconds), nil)
	} else {
		res = e.run(ctx, &x.Command, x.MaxOutputBytes)
		e.release()
	}
	res.DurationMS = time.Since(start).Milliseconds()
	return res
}

// ExecBatch runs commands in order within one budget (browser.md §3.1,
// §3.6): each step gets what is left; a step with nothing left does not
// run. The batch holds the command slot throughout.
func (e *Engine) ExecBatch(ctx context.Context, b wire.Batch) wire.BatchResponse {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, time.Duration(b.TimeoutSeconds)*time.Second)
	defer cancel()
	resp := wire.BatchResponse{TotalSteps: len(b.Commands), Results: []wire.StepResult{}}
	if err := e.acquire(ctx, cancel); err != nil {
		res := failure(queueError(err, b.TimeoutSeconds), nil)
		resp.Results = append(resp.Results, step(0, &b.Commands[0], res))
		resp.DurationMS = time.Since(start).Milliseconds()
		return resp
	}
	defer e.release()
	size, allOK := 0, true
	for i := range b.Commands {
		c := &b.Commands[i]
		if ctx.Err() != nil {
			allOK = false
			break
		}
		stepStart := time.Now()
		res := e.run(ctx, c, b.MaxOutputBytes)
		res.DurationMS = time.Since(stepStart).Milliseconds()
		// The response is bounded: once it is full, outputs become the
		// marker and results lose their data.
		if n := resultSize(res); size+n > wire.MaxBatchResponseBytes {
			res.Output = wire.TruncationMarker(len(res.Output))
			res.Result = map[string]any{"truncated": true}
		} else {
			size += n
		}
		resp.Results = append(resp.Results, step(i, c, res))
		resp.CompletedSteps++
		if !res.Success {
			allOK = false
			if b.StopOnError {
				break
			}
		}
	}
	resp.Success = allOK && resp.CompletedSteps == resp.TotalSteps
	resp.DurationMS = time.Since(start).Milliseconds()
	return resp
}

func step(i int, c *wire.Command, res wire.Result) wire.StepResult {
	stderr := ""
	if res.Error != nil {
		stderr = *res.Error
	}
	return wire.StepResult{StepIndex: i, Cmd: c.Source, Result: res, Stdout: res.Output, Stderr: stderr}
}

func resultSize(r wire.Result) int {
	b, err := json.Marshal(r)
	if err != nil {
		return len(r.Output)
	}
	return len(b)
}

func queueError(err error, timeout int) error {
	if errors.Is(err, ErrStopping) {
		return fail(wire.ErrBrowserCrashed, "%v", err)
	}
	return fail(wire.ErrTimeout, "the command waited %d s behind other commands and did not start (one command runs at a time)", timeout)
}

// failure is the answer of a failed command.
func failure(err error, page *wire.Page) wire.Result {
	ce := &cmdError{}
	if !errors.As(err, &ce) {
		ce = &cmdError{code: wire.ErrInvalidArgument, msg: err.Error()}
	}
	exit := wire.ExitFailed
	if ce.code == wire.ErrTimeout {
		exit = wire.ExitTimeout
	}
	msg, code := ce.msg, ce.code
	return wire.Result{
		Success: false, Output: "", Error: &msg, ExitCode: exit, ErrorCode: &code,
		Result: map[string]any{}, Page: page, Downloads: []wire.Download{}, Dialogs: []wire.Dialog{},
	}
}

// run runs one command against the running Chromium.
func (e *Engine) run(ctx context.Context, c *wire.Command, limit int) wire.Result {
	if c.Unsupported != "" {
		msg := fmt.Sprintf("unknown command %q: the command strings accepted start with %s", c.Unsupported, strings.Join(wire.CmdVerbs, ", "))
		if wire.UpstreamOnly(c.Unsupported) {
			msg = fmt.Sprintf("%q is not supported by this browser runtime; the typed actions are %s", c.Unsupported, strings.Join(wire.Actions, ", "))
		}
		return failure(fail(wire.ErrUnsupportedCommand, "%s", msg), nil)
	}
	inst, err := e.waitInstance(ctx)
	if err != nil {
		return failure(err, nil)
	}
	// Chromium's death ends the command at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-inst.lost:
			cancel()
		case <-stop:
		}
	}()
	e.begin(c.Dialog)
	x := &execution{e: e, inst: inst, cmd: c, limit: limit}
	out, result, err := x.run(ctx)
	if err == nil && inst.dead() {
		err = errors.New("chromium exited")
	}
	x.cleanup()
	dialogs, downloads := e.end()
	page := x.pageInfo()
	if err != nil {
		res := failure(e.classify(ctx, inst, x, err), page)
		res.Dialogs, res.Downloads = dialogs, downloads
		return res
	}
	out, cut := wire.Truncate(out, limit)
	if result == nil {
		result = map[string]any{}
	}
	if cut || x.truncated {
		result["truncated"] = true
	}
	return wire.Result{
		Success: true, Output: out, ExitCode: wire.ExitOK, Result: result, Page: page,
		Downloads: downloads, Dialogs: dialogs,
	}
}

// waitInstance returns the running Chromium, waiting while it (re)starts.
func (e *Engine) waitInstance(ctx context.Context) (*instance, error) {
	for {
		e.mu.Lock()
		state, failure, inst, ready := e.state, e.failure, e.inst, e.ready
		e.mu.Unlock()
		switch state {
		case wire.StatusHealthy:
			if inst != nil && !inst.dead() {
				return inst, nil
			}
		case wire.StatusFailed:
			return nil, fail(wire.ErrBrowserCrashed, "Chromium cannot start: %s", failure)
		case wire.StatusStopping:
			return nil, fail(wire.ErrBrowserCrashed, "%v", ErrStopping)
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fail(wire.ErrTimeout, "Chromium was not ready (state %s) within the timeout", state)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// classify maps the error of a command to a wire error code.
func (e *Engine) classify(ctx context.Context, inst *instance, x *execution, err error) error {
	var ce *cmdError
	switch {
	case inst.dead() && e.Status().State != wire.StatusStopping:
		return fail(wire.ErrBrowserCrashed, "Chromium exited during the command (it is being restarted, and tabs and refs are gone): run the command again")
	case errors.As(err, &ce):
		return ce
	case x.t != nil && x.t.crashedNow():
		return fail(wire.ErrBrowserCrashed, "the page's renderer crashed: navigate again or open a new tab")
	case errors.Is(ctx.Err(), context.Canceled) && e.Status().State == wire.StatusStopping:
		return fail(wire.ErrBrowserCrashed, "%v", ErrStopping)
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return fail(wire.ErrTimeout, "the command did not finish within its timeout")
	case errors.Is(err, chromedp.ErrTargetDetached):
		return fail(wire.ErrNavigationFailed, "the tab closed during the command")
	}
	var pe *cdproto.Error
	if errors.As(err, &pe) {
		return fail(wire.ErrInvalidArgument, "%s", pe.Message)
	}
	return fail(wire.ErrInvalidArgument, "%v", err)
}

// execution is one command being run.
type execution struct {
	e    *Engine
	inst *instance
	// t is the tab the command runs in: the active tab.
	t         *tab
	cmd       *wire.Command
	limit     int
	truncated bool
}

const objectGroup = "browserd"

// cleanup releases the JavaScript objects the command held.
func (x *execution) cleanup() {
	if x.t == nil || x.inst.dead() {
		return
	}
	ctx, cancel := context.WithTimeout(x.inst.rootCtx, time.Second)
	defer cancel()
	_ = x.t.target.Call(ctx, runtime.CommandReleaseObjectGroup, runtime.ReleaseObjectGroupParams{ObjectGroup: objectGroup}, nil)
}

// pageInfo describes the active tab after the command.
func (x *execution) pageInfo() *wire.Page {
	if x.inst.dead() {
		return nil
	}
	x.inst.mu.Lock()
	t := x.inst.active
	x.inst.mu.Unlock()
	if t == nil || t.isClosed() {
		return nil
	}
	ctx, cancel := context.WithTimeout(x.inst.rootCtx, time.Second)
	defer cancel()
	url, title := t.info()
	if v, err := evalValue[[2]string](ctx, t, `[location.href, document.title]`); err == nil {
		url, title = v[0], v[1]
		t.setInfo(url, title)
	}
	return &wire.Page{TabID: t.id, URL: url, Title: title}
}

func (t *tab) crashedNow() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.crashed
}

// evalValue evaluates a JavaScript expression in the tab and decodes its
// JSON value.
func evalValue[T any](ctx context.Context, t *tab, expr string) (T, error) {
	var zero T
	byValue := true
	var res runtime.EvaluateResult
	if err := t.target.Call(ctx, runtime.CommandEvaluate, runtime.EvaluateParams{Expression: expr, ReturnByValue: &byValue}, &res); err != nil {
		return zero, err
	}
	if res.ExceptionDetails != nil {
		return zero, fail(wire.ErrJSException, "%s", exceptionText(res.ExceptionDetails))
	}
	var v T
	if res.Result == nil || len(res.Result.Value) == 0 {
		return zero, fmt.Errorf("no value")
	}
	if err := json.Unmarshal(res.Result.Value, &v); err != nil {
		return zero, err
	}
	return v, nil
}

// exceptionText is the message of a JavaScript exception.
func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	if d.Exception != nil && len(d.Exception.Value) > 0 {
		return d.Text + " " + string(d.Exception.Value)
	}
	return d.Text
}
