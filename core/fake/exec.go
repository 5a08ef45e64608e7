package fake

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bayhq/bay/core"
)

// What the fake makes of code and commands. Everything echoes: the output
// is the code or the command, as one stdout event of a stream, and the
// execution succeeds. Three shapes behave as they do in Ship, so that the
// conformance suite can hold the fakes and Ship to the same contract
// (cmd/fakeship follows the same rules):
//
//	import time; time.sleep(N)   python: prints nothing, runs N seconds
//	raise Name("message")        python: fails with the exception Name
//	sleep N                      shell: prints nothing, runs N seconds
//
// A sleep past the execution's timeout times out as Ship's does; Cancel
// of the execution's id ends it, and Block, as cancelled.
var (
	pythonSleep = regexp.MustCompile(`^(?:import time;\s*)?time\.sleep\((\d+(?:\.\d+)?)\)$`)
	pythonRaise = regexp.MustCompile(`^raise ([A-Za-z_][A-Za-z0-9_.]*)\((?:'([^'\\]*)'|"([^"\\]*)")?\)$`)
	shellSleep  = regexp.MustCompile(`^sleep (\d+(?:\.\d+)?)$`)
)

// sleepOf returns how long a sleep of m (the seconds in m[1]) runs.
func sleepOf(m []string) time.Duration {
	secs, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(secs * float64(time.Second))
}

// defaultTimeout is Ship's timeout of an execution that sets none.
const defaultTimeout = 30

// execKey names an execution of an endpoint.
type execKey struct{ endpoint, id string }

// flight is an execution in progress that Cancel can reach.
type flight struct {
	cancel context.CancelFunc
	// cancelled is guarded by Ship.mu.
	cancelled bool
}

// ending is how a fake execution ended.
type ending int

const (
	ended ending = iota
	endCancelled
	endTimedOut
)

// run holds an execution in flight: registered under execID for Cancel, in
// Block, then for sleep (0: none). A caller whose context ends during a
// sleep gets the error shipclient gives it.
func (s *Ship) run(ctx context.Context, ep core.Endpoint, execID, route string, timeout int, sleep time.Duration) (ending, error) {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &flight{cancel: cancel}
	key := execKey{ep.URL, execID}
	if execID != "" {
		s.mu.Lock()
		s.running[key] = f
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			if s.running[key] == f {
				delete(s.running, key)
			}
			s.mu.Unlock()
		}()
	}
	cancelled := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return f.cancelled
	}

	if s.Block != nil {
		s.Block(fctx)
	}
	if cancelled() {
		return endCancelled, nil
	}
	if sleep <= 0 {
		return ended, nil
	}
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	limit := time.Duration(timeout) * time.Second
	t := time.NewTimer(min(sleep, limit))
	defer t.Stop()
	select {
	case <-t.C:
		if sleep > limit {
			return endTimedOut, nil
		}
		return ended, nil
	case <-fctx.Done():
		if cancelled() {
			return endCancelled, nil
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return 0, core.Wrap(ctx.Err(), core.CodeTimeout, "Ship request timed out: "+route)
		}
		return 0, core.Wrap(ctx.Err(), core.CodeShipError, "Ship request error: "+ctx.Err().Error()+" ("+route+")")
	}
}

// Cancel implements core.Ship: it ends the execution execID of the
// endpoint, in flight in Block or a sleep, as cancelled.
func (s *Ship) Cancel(ctx context.Context, ep core.Endpoint, execID string) error {
	route := "/exec/" + execID + "/cancel"
	if err := s.call(ep, "Cancel", route); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.running[execKey{ep.URL, execID}]
	if f == nil {
		// shipclient's answer to Ship's 404.
		return core.Errorf(core.CodeNotFound, "Runtime has no running execution %s", execID).
			WithDetails(map[string]any{"execution_id": execID, "ship_path": route})
	}
	f.cancelled = true
	f.cancel()
	return nil
}

// traceback is the error text of a failed cell, shaped as IPython's
// without colours.
func traceback(n int64, code, ename, evalue string) []string {
	last := ename
	if evalue != "" {
		last += ": " + evalue
	}
	return []string{
		strings.Repeat("-", 75),
		fmt.Sprintf("%-41s Traceback (most recent call last)", ename),
		fmt.Sprintf("Cell In[%d], line 1", n),
		"----> 1 " + code,
		"",
		last,
	}
}

// python runs code as the fake does, handing events to sink; it returns
// the end and the output text the sync answer carries.
func (s *Ship) python(ctx context.Context, ep core.Endpoint, method, route, code string, timeout int, execID string, sink func(core.StreamEvent)) (*core.StreamEnd, string, error) {
	if err := s.call(ep, method, route); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	s.counts[ep.URL]++
	n := s.counts[ep.URL]
	s.mu.Unlock()

	var sleep time.Duration
	raise := pythonRaise.FindStringSubmatch(code)
	output := ""
	if m := pythonSleep.FindStringSubmatch(code); m != nil {
		sleep = sleepOf(m)
	} else if raise == nil {
		output = code
		sink(core.StreamEvent{Type: "stdout", Text: code})
	}
	how, err := s.run(ctx, ep, execID, route, timeout, sleep)
	if err != nil {
		return nil, "", err
	}
	end := &core.StreamEnd{Success: true, ExecutionCount: &n}
	fail := func(ename, evalue string) {
		tb := traceback(n, code, ename, evalue)
		sink(core.StreamEvent{Type: "error", EName: ename, EValue: evalue, Traceback: tb})
		msg := strings.Join(tb, "\n")
		end.Success, end.Error = false, &msg
	}
	switch {
	case how == endCancelled:
		fail("KeyboardInterrupt", "")
		end.Cancelled = true
	case how == endTimedOut:
		if timeout <= 0 {
			timeout = defaultTimeout
		}
		msg := fmt.Sprintf("Code execution timed out after %d seconds", timeout)
		end.Success, end.Error, end.TimedOut = false, &msg, true
	case raise != nil:
		fail(raise[1], raise[2]+raise[3])
	}
	return end, output, nil
}

// Python implements core.Ship: the output is the code, and each endpoint
// counts its executions as a kernel does.
func (s *Ship) Python(ctx context.Context, ep core.Endpoint, code string, timeout int, execID string) (*core.PythonResult, error) {
	end, output, err := s.python(ctx, ep, "Python", "/ipython/exec", code, timeout, execID, func(core.StreamEvent) {})
	if err != nil {
		return nil, err
	}
	return &core.PythonResult{
		Success: end.Success, Output: output, Error: end.Error, ExecutionCount: end.ExecutionCount,
		Data: map[string]any{"text": output, "images": []any{}},
	}, nil
}

// WarmKernel implements core.Ship: it reaches the runtime as Python does
// and leaves its execution count alone.
func (s *Ship) WarmKernel(ctx context.Context, ep core.Endpoint, timeout int) error {
	return s.call(ep, "WarmKernel", "/ipython/exec")
}

// PythonStream implements core.Ship: the events are those of Python's
// answer, as Ship streams them (no start: shipclient drops it).
func (s *Ship) PythonStream(ctx context.Context, ep core.Endpoint, code string, timeout int, execID string, sink func(core.StreamEvent)) (*core.StreamEnd, error) {
	if sink == nil {
		sink = func(core.StreamEvent) {}
	}
	end, _, err := s.python(ctx, ep, "PythonStream", "/ipython/exec/stream", code, timeout, execID, sink)
	return end, err
}

// shell runs a command as the fake does, handing events to sink; it
// returns the end and the output text the sync answer carries.
func (s *Ship) shell(ctx context.Context, ep core.Endpoint, method, route string, in core.ShellInput, sink func(core.StreamEvent)) (*core.StreamEnd, string, error) {
	if err := s.call(ep, method, route); err != nil {
		return nil, "", err
	}
	var sleep time.Duration
	output := ""
	if m := shellSleep.FindStringSubmatch(in.Command); m != nil {
		sleep = sleepOf(m)
	} else {
		output = in.Command
		sink(core.StreamEvent{Type: "stdout", Text: in.Command})
	}
	how, err := s.run(ctx, ep, in.ExecID, route, in.Timeout, sleep)
	if err != nil {
		return nil, "", err
	}
	code := int64(0)
	end := &core.StreamEnd{Success: true, ExitCode: &code}
	switch how {
	case endCancelled:
		// Ship kills the command's process group.
		code = -1
		end.Success, end.Cancelled = false, true
	case endTimedOut:
		code = -1
		msg := "Command timed out"
		end.Success, end.TimedOut, end.Error = false, true, &msg
	}
	return end, output, nil
}

// Shell implements core.Ship: the output is the command.
func (s *Ship) Shell(ctx context.Context, ep core.Endpoint, in core.ShellInput) (*core.ShellResult, error) {
	end, output, err := s.shell(ctx, ep, "Shell", "/shell/exec", in, func(core.StreamEvent) {})
	if err != nil {
		return nil, err
	}
	return &core.ShellResult{Success: end.Success, Output: output, Error: end.Error, ExitCode: end.ExitCode}, nil
}

// ShellStream implements core.Ship: the events are those of Shell's
// answer, as Ship streams them (no start: shipclient drops it).
func (s *Ship) ShellStream(ctx context.Context, ep core.Endpoint, in core.ShellInput, sink func(core.StreamEvent)) (*core.StreamEnd, error) {
	if sink == nil {
		sink = func(core.StreamEvent) {}
	}
	end, _, err := s.shell(ctx, ep, "ShellStream", "/shell/exec/stream", in, sink)
	return end, err
}
