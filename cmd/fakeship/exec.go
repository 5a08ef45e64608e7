package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bayhq/bay/ship/wire"
)

// What this fake makes of code and commands, as core/fake.Ship does.
// Everything echoes: the output is the code or the command (one stdout
// event of a stream) and the execution succeeds. Three shapes behave as
// in Ship, so that the conformance suite holds the fakes and Ship to the
// same contract:
//
//	import time; time.sleep(N)   python: prints nothing, runs N seconds
//	raise Name("message")        python: fails with the exception Name
//	sleep N                      shell: prints nothing, runs N seconds
//
// A sleep past the execution's timeout times out as Ship's does; POST
// /exec/{exec_id}/cancel ends it as cancelled.
var (
	pythonSleep = regexp.MustCompile(`^(?:import time;\s*)?time\.sleep\((\d+(?:\.\d+)?)\)$`)
	pythonRaise = regexp.MustCompile(`^raise ([A-Za-z_][A-Za-z0-9_.]*)\((?:'([^'\\]*)'|"([^"\\]*)")?\)$`)
	shellSleep  = regexp.MustCompile(`^sleep (\d+(?:\.\d+)?)$`)
)

// defaultTimeout is the timeout of an execution that sets none.
const defaultTimeout = 30

// sleepOf returns how long a sleep of m (the seconds in m[1]) runs.
func sleepOf(m []string) time.Duration {
	secs, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(min(secs, 1<<20) * float64(time.Second))
}

func timeoutOf(t *int) int {
	if t == nil || *t <= 0 {
		return defaultTimeout
	}
	return *t
}

// executions is the fake's kernel and shell: the execution counter and
// the executions in flight that Cancel can reach.
type executions struct {
	mu      sync.Mutex
	count   int
	pid     int
	running map[string]*flight
}

// flight is an execution in progress.
type flight struct {
	cancel context.CancelFunc
	// cancelled is guarded by executions.mu.
	cancelled bool
}

// ending is how an execution ended.
type ending int

const (
	ended ending = iota
	endCancelled
	endTimedOut
	// endGone: the client went away; nobody reads the answer.
	endGone
)

// run holds an execution in flight for sleep (0: not at all), registered
// under execID for cancel.
func (x *executions) run(ctx context.Context, execID string, timeout int, sleep time.Duration) ending {
	if sleep <= 0 {
		return ended
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &flight{cancel: cancel}
	if execID != "" {
		x.mu.Lock()
		x.running[execID] = f
		x.mu.Unlock()
		defer func() {
			x.mu.Lock()
			if x.running[execID] == f {
				delete(x.running, execID)
			}
			x.mu.Unlock()
		}()
	}
	limit := time.Duration(timeout) * time.Second
	t := time.NewTimer(min(sleep, limit))
	defer t.Stop()
	select {
	case <-t.C:
		if sleep > limit {
			return endTimedOut
		}
		return ended
	case <-ctx.Done():
		x.mu.Lock()
		defer x.mu.Unlock()
		if f.cancelled {
			return endCancelled
		}
		return endGone
	}
}

// cancel ends the execution execID; false when none is in flight.
func (x *executions) cancel(execID string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	f := x.running[execID]
	if f == nil {
		return false
	}
	f.cancelled = true
	f.cancel()
	return true
}

// traceback is the error text of a failed cell, shaped as IPython's
// without colours.
func traceback(n int, code, ename, evalue string) []string {
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

func ptr[T any](v T) *T { return &v }

// python runs a cell, handing its output events to emit, and returns the
// end event and the output text of the sync answer; ok is false when the
// client went away.
func (x *executions) python(ctx context.Context, code string, timeout int, execID string, emit func(wire.StreamEvent)) (end wire.StreamEvent, output string, ok bool) {
	x.mu.Lock()
	x.count++
	n := x.count
	x.mu.Unlock()

	var sleep time.Duration
	raise := pythonRaise.FindStringSubmatch(code)
	if m := pythonSleep.FindStringSubmatch(code); m != nil {
		sleep = sleepOf(m)
	} else if raise == nil {
		output = code
		emit(wire.StreamEvent{Type: wire.EventStdout, Text: code})
	}
	how := x.run(ctx, execID, timeout, sleep)
	end = wire.StreamEvent{Type: wire.EventEnd, Success: ptr(true), ExecutionCount: &n}
	fail := func(ename, evalue string) {
		tb := traceback(n, code, ename, evalue)
		emit(wire.StreamEvent{Type: wire.EventError, EName: ename, EValue: evalue, Traceback: tb})
		end.Success, end.Error = ptr(false), ptr(strings.Join(tb, "\n"))
	}
	switch {
	case how == endGone:
		return end, "", false
	case how == endCancelled:
		fail("KeyboardInterrupt", "")
		end.Cancelled = true
	case how == endTimedOut:
		end.Success, end.TimedOut = ptr(false), true
		end.Error = ptr(fmt.Sprintf("Code execution timed out after %d seconds", timeout))
	case raise != nil:
		fail(raise[1], raise[2]+raise[3])
	}
	return end, output, true
}

// shell runs a command as python runs a cell.
func (x *executions) shell(ctx context.Context, command string, timeout int, execID string, emit func(wire.StreamEvent)) (end wire.StreamEvent, output string, ok bool) {
	var sleep time.Duration
	if m := shellSleep.FindStringSubmatch(command); m != nil {
		sleep = sleepOf(m)
	} else {
		output = command
		emit(wire.StreamEvent{Type: wire.EventStdout, Text: command})
	}
	how := x.run(ctx, execID, timeout, sleep)
	end = wire.StreamEvent{Type: wire.EventEnd, Success: ptr(true), ExitCode: ptr(0)}
	switch how {
	case endGone:
		return end, "", false
	case endCancelled:
		// Ship kills the command's process group.
		end.Success, end.ExitCode, end.Cancelled = ptr(false), ptr(-1), true
	case endTimedOut:
		end.Success, end.ExitCode, end.TimedOut = ptr(false), ptr(-1), true
		end.Error = ptr("Command timed out")
	}
	return end, output, true
}

// nextPID returns a process id for a command's start event.
func (x *executions) nextPID() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.pid++
	return 1000 + x.pid
}

// stream answers a streamed execution: start, the events run emits, end
// (agent-reach.md §2.7), one line each, flushed per line.
func stream(w http.ResponseWriter, start wire.StreamEvent, run func(emit func(wire.StreamEvent)) (wire.StreamEvent, bool)) {
	w.Header().Set("Content-Type", wire.ContentTypeNDJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	emit := func(ev wire.StreamEvent) {
		_ = enc.Encode(ev)
		_ = rc.Flush()
	}
	emit(start)
	if end, ok := run(emit); ok {
		emit(end)
	}
}

// handleExec adds the python and shell routes, streamed or not, cancel
// and /capabilities to mux.
func handleExec(mux *http.ServeMux) {
	x := &executions{running: map[string]*flight{}}
	drop := func(wire.StreamEvent) {}

	mux.HandleFunc("POST "+wire.PathPythonExec, func(w http.ResponseWriter, r *http.Request) {
		var req wire.PythonExecRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Silent != nil && *req.Silent {
			// A silent cell leaves no trace: no count, no output, as the
			// kernel's (ship.md: silent).
			writeJSON(w, http.StatusOK, wire.PythonExecResponse{
				Success: true, Output: wire.PythonOutput{Images: []map[string]string{}},
			})
			return
		}
		end, output, ok := x.python(r.Context(), req.Code, timeoutOf(req.Timeout), req.ExecID, drop)
		if !ok {
			return
		}
		writeJSON(w, http.StatusOK, wire.PythonExecResponse{
			Success: *end.Success, ExecutionCount: end.ExecutionCount, Error: end.Error,
			Output: wire.PythonOutput{Text: output, Images: []map[string]string{}},
		})
	})
	mux.HandleFunc("POST "+wire.PathShellExec, func(w http.ResponseWriter, r *http.Request) {
		var req wire.ShellExecRequest
		if !decode(w, r, &req) {
			return
		}
		end, output, ok := x.shell(r.Context(), req.Command, timeoutOf(req.Timeout), req.ExecID, drop)
		if !ok {
			return
		}
		writeJSON(w, http.StatusOK, wire.ShellExecResponse{
			Success: *end.Success, ReturnCode: end.ExitCode, Stdout: output, PID: ptr(x.nextPID()), Error: end.Error,
		})
	})
	mux.HandleFunc("POST "+wire.PathPythonExecStream, func(w http.ResponseWriter, r *http.Request) {
		var req wire.PythonStreamRequest
		if !decode(w, r, &req) {
			return
		}
		stream(w, wire.StreamEvent{Type: wire.EventStart}, func(emit func(wire.StreamEvent)) (wire.StreamEvent, bool) {
			end, _, ok := x.python(r.Context(), req.Code, timeoutOf(req.Timeout), req.ExecID, emit)
			return end, ok
		})
	})
	mux.HandleFunc("POST "+wire.PathShellExecStream, func(w http.ResponseWriter, r *http.Request) {
		var req wire.ShellStreamRequest
		if !decode(w, r, &req) {
			return
		}
		stream(w, wire.StreamEvent{Type: wire.EventStart, PID: ptr(x.nextPID())}, func(emit func(wire.StreamEvent)) (wire.StreamEvent, bool) {
			end, _, ok := x.shell(r.Context(), req.Command, timeoutOf(req.Timeout), req.ExecID, emit)
			return end, ok
		})
	})
	mux.HandleFunc("POST "+wire.PathExecCancel, func(w http.ResponseWriter, r *http.Request) {
		if !x.cancel(r.PathValue("exec_id")) {
			writeDetail(w, http.StatusNotFound, "Execution not found: "+r.PathValue("exec_id"))
			return
		}
		writeJSON(w, http.StatusOK, wire.CancelResponse{Cancelled: true})
	})
	mux.HandleFunc("GET "+wire.PathCapabilities, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, capabilities())
	})
}

// capabilities is the GET /capabilities document (agent-reach.md §6.1):
// /meta's keys and operations, and what a fake knows of itself.
func capabilities() map[string]any {
	caps := make(map[string]any, len(meta.Capabilities))
	for k, c := range meta.Capabilities {
		caps[k] = map[string]any{"operations": c.Operations}
	}
	return map[string]any{
		"api_version": meta.Runtime.APIVersion,
		"runtime": map[string]any{
			"name": meta.Runtime.Name, "version": meta.Runtime.Version,
			"image": meta.Runtime.Build.Image, "image_digest": meta.Runtime.Build.ImageDigest,
		},
		"workspace":    map[string]any{"mount_path": meta.Workspace.MountPath},
		"capabilities": caps,
	}
}
