package core

import (
	"context"
	"slices"
	"sync"
	"time"
)

// streamMargin is added to a streamed execution's timeout for Bay's own
// deadline on Ship's stream (agent-reach.md §2.2).
const streamMargin = 10 * time.Second

// RunEvent is one event of a streamed execution as clients see it
// (agent-reach.md §2.3): Name is start, stdout, stderr, display_data,
// result, error, done or fault. A fault carries Fault, the error the row
// was marked lost with; Data then holds only the execution id.
type RunEvent struct {
	Name  string
	Data  map[string]any
	Fault *Error
}

// Terminal reports whether e ends the stream.
func (e RunEvent) Terminal() bool { return e.Name == "done" || e.Name == "fault" }

// Run is a streamed or async execution in progress in this process. Its
// row exists; its events queue for a client until Detach. Reading Ship
// never waits on the client: when the queue is full the client counts as
// gone.
type Run struct {
	Execution *Execution

	x     *ExecutionService
	mu    sync.Mutex
	queue []RunEvent
	bytes int
	wake  chan struct{}
	gone  bool // no client, or it fell behind
	// counted: a stream client holds the streams-open gauge until Detach.
	counted bool
	fold    *fold
	dirty   bool // output changed since the last progress write
	cancel  context.CancelFunc
}

func (r *Run) push(ev RunEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone {
		return
	}
	n := eventBytes(ev)
	if !ev.Terminal() && (len(r.queue) >= r.x.o.QueueEvents || r.bytes+n > r.x.o.QueueBytes) {
		r.dropClient()
		return
	}
	r.queue = append(r.queue, ev)
	r.bytes += n
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// dropClient forgets the client; r.mu is held.
func (r *Run) dropClient() {
	r.gone = true
	r.queue, r.bytes = nil, 0
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Next returns the next event, waiting up to idle for one. ok is false when
// none came in time (the caller sends a heartbeat) or, with done true, when
// the stream has nothing more to give (after the terminal event, or after
// Detach).
func (r *Run) Next(ctx context.Context, idle time.Duration) (ev RunEvent, ok, done bool) {
	t := time.NewTimer(idle)
	defer t.Stop()
	for {
		r.mu.Lock()
		if r.gone {
			r.mu.Unlock()
			return RunEvent{}, false, true
		}
		if len(r.queue) > 0 {
			ev = r.queue[0]
			r.queue[0] = RunEvent{}
			r.queue = r.queue[1:]
			r.bytes -= eventBytes(ev)
			r.mu.Unlock()
			return ev, true, false
		}
		r.mu.Unlock()
		select {
		case <-r.wake:
		case <-t.C:
			return RunEvent{}, false, false
		case <-ctx.Done():
			return RunEvent{}, false, true
		}
	}
}

// Detach tells the run its client is gone: the execution goes on and its
// result lands in the row.
func (r *Run) Detach() {
	r.mu.Lock()
	if !r.gone {
		r.dropClient()
	}
	if r.counted {
		// A client dropped for falling behind left the gauge to here.
		r.counted = false
		r.x.o.Metrics.StreamOpen(-1)
	}
	r.mu.Unlock()
}

// eventBytes estimates what an event holds in memory.
func eventBytes(ev RunEvent) int {
	n := 64
	for k, v := range ev.Data {
		n += len(k) + valueBytes(v)
	}
	return n
}

func valueBytes(v any) int {
	switch v := v.(type) {
	case string:
		return len(v)
	case map[string]any:
		n := 0
		for k, w := range v {
			n += len(k) + valueBytes(w)
		}
		return n
	case []string:
		n := 0
		for _, s := range v {
			n += len(s)
		}
		return n
	case []any:
		n := 0
		for _, w := range v {
			n += valueBytes(w)
		}
		return n
	}
	return 8
}

// CheckLongTimeout refuses a streamed or async timeout outside 1 to the
// configured maximum.
func (x *ExecutionService) CheckLongTimeout(timeout int) error {
	if timeout < 1 || timeout > x.o.MaxLongTimeout {
		return fieldInvalid("timeout", "timeout must be between 1 and %d", x.o.MaxLongTimeout)
	}
	return nil
}

// Start runs a streamed (ModeStream) or async (ModeAsync) execution. Every
// check and the row insert happen before it returns, with the statuses of
// a sync call (plus kernel_busy); then the execution runs in the
// background, detached from ctx, until Ship's end, its deadline
// (timeout + 10 s) or Bay's shutdown. A stream client reads the returned
// Run's events; an async caller Detaches at once.
func (x *ExecutionService) Start(ctx context.Context, owner, sandboxID string, mode ExecutionMode, in ExecInput) (*Run, error) {
	if err := x.CheckLongTimeout(in.Timeout); err != nil {
		return nil, err
	}
	validate, err := x.prepareInput(&in)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	if x.closing {
		x.mu.Unlock()
		return nil, notReady(sandboxID, errShuttingDown)
	}
	x.wg.Add(1)
	x.mu.Unlock()

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	run := &Run{x: x, wake: make(chan struct{}, 1), fold: newFold(in.Kind, x.o.Limits), cancel: cancel}
	ready := make(chan error, 1)
	go func() {
		defer x.wg.Done()
		defer cancel()
		x.run(bg, owner, sandboxID, mode, in, validate, run, ready)
	}()
	select {
	case err := <-ready:
		if err != nil {
			return nil, err
		}
		if mode == ModeStream { // an async caller never attaches
			run.mu.Lock()
			run.counted = true
			run.mu.Unlock()
			x.o.Metrics.StreamOpen(1)
		}
		return run, nil
	case <-ctx.Done():
		// The client left before the row existed; the execution may still
		// start and its result will land in history.
		return nil, ctx.Err()
	}
}

// run is the background part of Start.
func (x *ExecutionService) run(ctx context.Context, owner, sandboxID string, mode ExecutionMode, in ExecInput,
	validate func() error, run *Run, ready chan<- error) {
	capability := execCapability(in.Kind)
	var row *Execution
	var end *StreamEnd
	stopProgress := func() {}
	err := x.sb.call(ctx, owner, sandboxID, capability, time.Duration(in.Timeout)*time.Second+streamMargin+callMargin, validate,
		func(ctx context.Context, ep Endpoint) error {
			if row == nil {
				if err := x.sb.checkRuntimeOperation(ctx, ep, capability, OpExecStream); err != nil {
					return err
				}
				r, err := x.insertRow(ctx, owner, sandboxID, mode, in)
				if err != nil {
					return err
				}
				row = r
				run.Execution = r
				x.register(run)
				run.push(RunEvent{Name: "start", Data: map[string]any{
					"execution_id": r.ID, "sandbox_id": sandboxID, "kind": string(in.Kind),
					"timeout": in.Timeout, "created_at": FormatTime(r.CreatedAt),
				}})
				stopProgress = x.progressLoop(ctx, run)
				ready <- nil
			}
			sctx, cancel := context.WithTimeout(ctx, time.Duration(in.Timeout)*time.Second+streamMargin)
			defer cancel()
			var err error
			if in.Kind == ExecPython {
				end, err = x.o.Ship.PythonStream(sctx, ep, in.Code, in.Timeout, row.ID, run.sink)
			} else {
				end, err = x.o.Ship.ShellStream(sctx, ep, ShellInput{Command: in.Code, Timeout: in.Timeout, Cwd: in.Cwd, ExecID: row.ID}, run.sink)
			}
			return err
		})
	stopProgress()
	if row == nil {
		ready <- err
		return
	}
	defer x.unregister(run)
	wctx := context.WithoutCancel(ctx)
	if err != nil {
		if ctx.Err() != nil && CodeOf(err) != CodeTimeout {
			err = Wrap(err, CodeInternal, lostOnRestart)
		}
		x.lose(wctx, row, err, in.Received)
		fault := AsError(err)
		if fault == nil {
			fault = Wrap(err, CodeInternal, "An internal error occurred")
		}
		fault = &Error{Code: fault.Code, Message: fault.Message, Details: fault.Details, Err: fault.Err}
		run.push(RunEvent{Name: "fault", Data: map[string]any{"execution_id": row.ID}, Fault: fault})
		return
	}
	run.mu.Lock()
	run.fold.end = end
	res := run.fold.result(x.o.Clock.Now(), in.Received)
	run.mu.Unlock()
	if _, err := x.o.Store.Executions().Finish(wctx, row.ID, res); err != nil {
		x.log.WarnContext(wctx, "record execution result", "execution_id", row.ID, "err", err)
	}
	applyResult(row, res)
	x.done(row, res.Status, in.Received)
	run.push(RunEvent{Name: "done", Data: map[string]any{
		"execution_id": row.ID, "status": string(res.Status), "success": res.Success,
		"exit_code": res.ExitCode, "execution_count": res.ExecutionCount,
		"kernel_restarted": res.KernelRestarted, "timed_out": end.TimedOut,
		"execution_time_ms": res.ExecutionTimeMs, "output_truncated": res.OutputTruncated,
	}})
}

// sink takes one event from Ship: it is folded into the row's output and
// queued for the client. It never waits.
func (r *Run) sink(ev StreamEvent) {
	r.mu.Lock()
	r.fold.event(ev)
	r.dirty = true
	r.mu.Unlock()
	var out RunEvent
	switch ev.Type {
	case "stdout", "stderr":
		out = RunEvent{Name: ev.Type, Data: map[string]any{"text": ev.Text}}
	case "display_data":
		out = RunEvent{Name: ev.Type, Data: map[string]any{"data": r.bundle(ev.Data)}}
	case "result":
		out = RunEvent{Name: ev.Type, Data: map[string]any{"execution_count": ev.ExecutionCount, "data": r.bundle(ev.Data)}}
	case "error":
		tb := ev.Traceback
		if tb == nil {
			tb = []string{}
		}
		out = RunEvent{Name: ev.Type, Data: map[string]any{"ename": ev.EName, "evalue": ev.EValue, "traceback": tb}}
	default:
		return
	}
	r.push(out)
}

// bundle returns a MIME bundle as the client gets it: one over the event
// limit is replaced by what it held.
func (r *Run) bundle(data map[string]any) map[string]any {
	n := valueBytes(data)
	if n <= r.x.o.MaxEventBytes {
		return data
	}
	types := make([]string, 0, len(data))
	for k := range data {
		types = append(types, k)
	}
	slices.Sort(types)
	return map[string]any{"omitted": true, "bytes": n, "mime_types": types}
}

// progressLoop writes the output so far of a running row every
// ProgressEvery, so polls show progress; the returned func stops it.
func (x *ExecutionService) progressLoop(ctx context.Context, run *Run) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(x.o.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			run.mu.Lock()
			if !run.dirty {
				run.mu.Unlock()
				continue
			}
			run.dirty = false
			p := run.fold.progress(x.o.Clock.Now())
			run.mu.Unlock()
			if err := x.o.Store.Executions().Progress(context.WithoutCancel(ctx), run.Execution.ID, p); err != nil {
				x.log.WarnContext(ctx, "record execution progress", "execution_id", run.Execution.ID, "err", err)
			}
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}

func (x *ExecutionService) register(r *Run) {
	x.mu.Lock()
	x.runs[r.Execution.ID] = r
	x.mu.Unlock()
}

func (x *ExecutionService) unregister(r *Run) {
	x.mu.Lock()
	delete(x.runs, r.Execution.ID)
	x.mu.Unlock()
}

// Shutdown stops accepting streamed and async executions, gives the
// running ones grace to end, then ends the rest: their rows are marked
// lost and their streams end with a fault (agent-reach.md §2.4).
func (x *ExecutionService) Shutdown(grace time.Duration) {
	x.mu.Lock()
	x.closing = true
	x.mu.Unlock()
	done := make(chan struct{})
	go func() {
		x.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(grace):
	}
	x.mu.Lock()
	for _, r := range x.runs {
		r.cancel()
	}
	x.mu.Unlock()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}
