package core

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// ExecutionOptions configures an ExecutionService.
type ExecutionOptions struct {
	Store     Store
	Ship      Ship
	Clock     Clock
	Sandboxes *SandboxService
	Limits    HistoryLimits
	// MaxLongTimeout bounds the timeout of streamed and async executions
	// (exec.max_long_timeout, 3600 s).
	MaxLongTimeout int
	// InstanceID is recorded on every row this process runs; StartedAt
	// tells rows left running by an earlier process of the same instance.
	InstanceID string
	StartedAt  time.Time
	// Queue bounds the events waiting for a slow stream client
	// (256 events or 4 MiB by default).
	QueueEvents int
	QueueBytes  int
	// MaxEventBytes bounds one streamed display_data or result: a larger
	// one reaches the client as {"omitted": true, "bytes", "mime_types"}
	// (exec.max_event_bytes, 8 MiB).
	MaxEventBytes int
	// ProgressEvery is how often a streamed or async row's output so far
	// is written (5 s).
	ProgressEvery time.Duration
	Metrics       ExecutionMetrics
	Logger        *slog.Logger
}

// ExecutionMetrics receives the events of executions worth counting.
type ExecutionMetrics interface {
	// ExecutionDone records an execution that left the running state.
	ExecutionDone(kind ExecutionKind, mode ExecutionMode, status ExecutionStatus, d time.Duration)
	// StreamOpen records a stream client attached (+1) or gone (-1).
	StreamOpen(delta int)
}

type noExecutionMetrics struct{}

func (noExecutionMetrics) ExecutionDone(ExecutionKind, ExecutionMode, ExecutionStatus, time.Duration) {
}
func (noExecutionMetrics) StreamOpen(int) {}

// ExecutionService runs python and shell executions as stored resources
// (agent-reach.md §1, §2): every execution through Bay gets a row, written
// before Ship is called and finished with its bounded result.
type ExecutionService struct {
	o   ExecutionOptions
	sb  *SandboxService
	log *slog.Logger

	mu      sync.Mutex
	waiters map[string]chan struct{} // closed when the row leaves running
	runs    map[string]*Run          // streamed and async executions of this process
	closing bool
	wg      sync.WaitGroup
}

// NewExecutionService returns an ExecutionService.
func NewExecutionService(o ExecutionOptions) *ExecutionService {
	if o.Limits == (HistoryLimits{}) {
		o.Limits = DefaultHistoryLimits
	}
	if o.MaxLongTimeout == 0 {
		o.MaxLongTimeout = 3600
	}
	if o.QueueEvents == 0 {
		o.QueueEvents = 256
	}
	if o.QueueBytes == 0 {
		o.QueueBytes = 4 << 20
	}
	if o.MaxEventBytes == 0 {
		o.MaxEventBytes = 8 << 20
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 5 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = noExecutionMetrics{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = o.Sandboxes.clock
	}
	return &ExecutionService{
		o: o, sb: o.Sandboxes, log: o.Logger,
		waiters: map[string]chan struct{}{}, runs: map[string]*Run{},
	}
}

// ExecInput is one python or shell execution request after the shape
// checks.
type ExecInput struct {
	Kind ExecutionKind
	// Code is the Python code or the shell command.
	Code    string
	Timeout int
	// Cwd is the shell command's directory, relative to /workspace.
	Cwd         *string
	Description *string
	Tags        []string
	// Received is when Bay received the request: execution_time_ms counts
	// from there, cold start included. Zero means now.
	Received time.Time
}

// ExecOutcome is a sync execution's answer: Ship's result and its row.
type ExecOutcome struct {
	Python    *PythonResult
	Shell     *ShellResult
	Execution *Execution
}

// execCapability is the capability an execution kind needs.
func execCapability(k ExecutionKind) string {
	if k == ExecShell {
		return CapabilityShell
	}
	return CapabilityPython
}

// prepareInput fills in when the request arrived, checks the annotation
// fields and returns the validator of the working directory, if any.
func (x *ExecutionService) prepareInput(in *ExecInput) (validate func() error, err error) {
	if in.Received.IsZero() {
		in.Received = x.o.Clock.Now()
	}
	if err := CheckDescription(in.Description); err != nil {
		return nil, err
	}
	if in.Tags, err = NormalizeTags(in.Tags); err != nil {
		return nil, err
	}
	if in.Cwd != nil {
		// The validator normalizes the path in place: on a copy, not the
		// caller's string.
		cwd := *in.Cwd
		in.Cwd = &cwd
		validate = pathValidator("cwd", in.Cwd)
	}
	return validate, nil
}

// newRow builds the running row of an execution about to reach Ship.
func (x *ExecutionService) newRow(owner, sandboxID string, mode ExecutionMode, in ExecInput) *Execution {
	now := x.o.Clock.Now().UTC().Truncate(time.Microsecond)
	code, cut, size := boundCode(in.Code, x.o.Limits.MaxCodeBytes)
	return &Execution{
		ID: NewExecutionID(), SandboxID: sandboxID, Owner: owner, Kind: in.Kind, Mode: mode,
		Status: ExecRunning, InstanceID: x.o.InstanceID, Cwd: in.Cwd, TimeoutS: in.Timeout,
		Code: storable(code), CodeBytes: size, CodeTruncated: cut,
		Description: storablePtr(in.Description), Tags: in.Tags, CreatedAt: now, UpdatedAt: now,
	}
}

// checkKernelFree refuses a python execution while a streamed or async one
// holds the sandbox's kernel (agent-reach.md §2.6).
func (x *ExecutionService) checkKernelFree(ctx context.Context, sandboxID string) error {
	cur, err := x.o.Store.Executions().RunningPython(ctx, sandboxID)
	if CodeOf(err) == CodeNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	return Conflict("The sandbox's Python kernel is busy with execution %s", cur.ID).
		WithDetails(map[string]any{"reason": "kernel_busy", "running_execution_id": cur.ID})
}

// Exec runs a sync execution: the capability pipeline, the row, Ship's
// call, the result written to the row.
func (x *ExecutionService) Exec(ctx context.Context, owner, sandboxID string, in ExecInput) (*ExecOutcome, error) {
	validate, err := x.prepareInput(&in)
	if err != nil {
		return nil, err
	}
	var row *Execution
	out := &ExecOutcome{}
	err = x.sb.call(ctx, owner, sandboxID, execCapability(in.Kind), time.Duration(in.Timeout)*time.Second+callMargin, validate,
		func(ctx context.Context, ep Endpoint) error {
			if row == nil { // a retry on a fresh container reuses the row
				r, err := x.insertRow(ctx, owner, sandboxID, ModeSync, in)
				if err != nil {
					return err
				}
				row = r
			}
			var err error
			if in.Kind == ExecPython {
				out.Python, err = x.o.Ship.Python(ctx, ep, in.Code, in.Timeout, row.ID)
			} else {
				out.Shell, err = x.o.Ship.Shell(ctx, ep, ShellInput{Command: in.Code, Timeout: in.Timeout, Cwd: in.Cwd, ExecID: row.ID})
			}
			return err
		})
	if row == nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	if err != nil {
		x.lose(ctx, row, err, in.Received)
		if ce := AsError(err); ce != nil && (ce.Code == CodeShipError || ce.Code == CodeTimeout) {
			d := map[string]any{}
			for k, v := range ce.Details {
				d[k] = v
			}
			d["execution_id"] = row.ID
			err = &Error{Code: ce.Code, Message: ce.Message, Details: d, Err: ce.Err}
		}
		return nil, err
	}
	fold := newFold(in.Kind, x.o.Limits)
	if out.Python != nil {
		fold.python(out.Python)
	} else {
		fold.shell(out.Shell)
	}
	res := fold.result(x.o.Clock.Now(), in.Received)
	if _, err := x.o.Store.Executions().Finish(ctx, row.ID, res); err != nil {
		x.log.WarnContext(ctx, "record execution result", "execution_id", row.ID, "err", err)
	}
	x.done(row, res.Status, in.Received)
	applyResult(row, res)
	out.Execution = row
	return out, nil
}

// insertRow writes the running row of an execution about to reach Ship,
// unless the sandbox's kernel is busy with a streamed or async python
// execution and this one is python too.
func (x *ExecutionService) insertRow(ctx context.Context, owner, sandboxID string, mode ExecutionMode, in ExecInput) (*Execution, error) {
	if in.Kind == ExecPython {
		if err := x.checkKernelFree(ctx, sandboxID); err != nil {
			return nil, err
		}
	}
	r := x.newRow(owner, sandboxID, mode, in)
	if err := x.o.Store.Executions().Insert(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// lose marks a row lost after a failed call to Ship.
func (x *ExecutionService) lose(ctx context.Context, row *Execution, cause error, received time.Time) {
	code := CodeOf(cause)
	switch code {
	case CodeShipError, CodeTimeout:
	default:
		code = CodeInternal
	}
	msg := cause.Error()
	if ce := AsError(cause); ce != nil {
		msg = ce.Message
	}
	msg = storable(msg)
	c := string(code)
	res := ExecutionResult{Status: ExecLost, Error: &msg, ErrorCode: &c, UpdatedAt: x.o.Clock.Now()}
	if _, err := x.o.Store.Executions().Finish(ctx, row.ID, res); err != nil {
		x.log.WarnContext(ctx, "record lost execution", "execution_id", row.ID, "err", err)
	}
	applyResult(row, res)
	x.done(row, ExecLost, received)
}

// done wakes the waiters of a row that left running and counts it.
func (x *ExecutionService) done(row *Execution, status ExecutionStatus, received time.Time) {
	x.o.Metrics.ExecutionDone(row.Kind, row.Mode, status, x.o.Clock.Now().Sub(received))
	x.mu.Lock()
	if ch, ok := x.waiters[row.ID]; ok {
		close(ch)
		delete(x.waiters, row.ID)
	}
	x.mu.Unlock()
}

// applyResult copies a result onto the row the caller holds.
func applyResult(e *Execution, r ExecutionResult) {
	e.Status, e.Success, e.ExitCode, e.ExecutionCount = r.Status, r.Success, r.ExitCode, r.ExecutionCount
	e.KernelRestarted = r.KernelRestarted
	e.Output, e.OutputBytes, e.OutputTruncated = r.Output, r.OutputBytes, r.OutputTruncated
	e.Error, e.ErrorTruncated, e.ErrorCode = r.Error, r.ErrorTruncated, r.ErrorCode
	e.Images, e.ImageCount, e.ImagesTruncated = r.Images, r.ImageCount, r.ImagesTruncated
	e.FinishedAt, e.ExecutionTimeMs, e.UpdatedAt = r.FinishedAt, r.ExecutionTimeMs, r.UpdatedAt
}

// fold turns what Ship answered, whole or as events, into a row's bounded
// result with the rules of ship.md §6: python output is the stream text
// and the text/plain of results and of displays without an image, trimmed;
// images are the PNGs in order; shell output is stdout.
type fold struct {
	kind   ExecutionKind
	limits HistoryLimits
	text   *textBound
	images []string
	count  int64
	end    *StreamEnd
}

func newFold(kind ExecutionKind, limits HistoryLimits) *fold {
	return &fold{kind: kind, limits: limits, text: newTextBound(limits.MaxOutputBytes, kind == ExecPython)}
}

// event folds one streamed event in.
func (f *fold) event(ev StreamEvent) {
	switch ev.Type {
	case "stdout":
		f.text.WriteString(ev.Text)
	case "stderr":
		if f.kind == ExecPython {
			f.text.WriteString(ev.Text) // Ship folds both python streams into the text
		}
	case "display_data", "result":
		if ev.Update {
			return // Ship's sync answer ignores display updates too
		}
		png, hasPNG := ev.Data["image/png"].(string)
		if hasPNG {
			f.image(strings.Join(strings.Fields(png), ""))
		}
		if plain, ok := ev.Data["text/plain"].(string); ok && (ev.Type == "result" || !hasPNG) {
			f.text.WriteString(plain)
		}
	}
}

func (f *fold) image(png string) {
	f.count++
	f.images = append(f.images, png)
	if kept, cut := boundImages(f.images, f.limits.MaxImageBytes); cut {
		f.images = kept // stop holding what the row will not keep
	}
}

// python folds a whole sync answer in.
func (f *fold) python(r *PythonResult) {
	f.text.WriteString(r.Output)
	if imgs, ok := r.Data["images"].([]any); ok {
		for _, img := range imgs {
			if m, ok := img.(map[string]any); ok {
				if png, ok := m["image/png"].(string); ok {
					f.image(png)
				}
			}
		}
	}
	f.end = &StreamEnd{Success: r.Success, ExecutionCount: r.ExecutionCount, KernelRestarted: r.KernelRestarted,
		Cancelled: r.Cancelled, Error: r.Error}
}

// shell folds a whole sync answer in.
func (f *fold) shell(r *ShellResult) {
	f.text.WriteString(r.Output)
	f.end = &StreamEnd{Success: r.Success, ExitCode: r.ExitCode, Cancelled: r.Cancelled, Error: r.Error}
}

// result is the row's result once the end is known.
func (f *fold) result(now, received time.Time) ExecutionResult {
	out, cut, size := f.text.Result()
	end := f.end
	if end == nil {
		end = &StreamEnd{}
	}
	errText, errCut := boundError(end.Error, f.limits.MaxErrorBytes)
	images, imgCut := boundImages(f.images, f.limits.MaxImageBytes)
	status := ExecFinished
	if end.Cancelled {
		status = ExecCancelled
	}
	success := end.Success
	ms := now.Sub(received).Milliseconds()
	fin := now.UTC().Truncate(time.Microsecond)
	r := ExecutionResult{
		Status: status, Success: &success, ExecutionCount: end.ExecutionCount, ExitCode: end.ExitCode,
		KernelRestarted: end.KernelRestarted,
		Output:          storable(out), OutputBytes: size, OutputTruncated: cut,
		Error: storablePtr(errText), ErrorTruncated: errCut,
		Images: images, ImageCount: f.count, ImagesTruncated: imgCut || int64(len(images)) < f.count,
		FinishedAt: &fin, ExecutionTimeMs: &ms, UpdatedAt: fin,
	}
	if f.kind == ExecShell {
		r.ExecutionCount = nil
	} else {
		r.ExitCode = nil
	}
	return r
}

// progress is the output so far.
func (f *fold) progress(now time.Time) ExecutionProgress {
	out, cut, size := f.text.Result()
	return ExecutionProgress{Output: storable(out), OutputBytes: size, OutputTruncated: cut, UpdatedAt: now}
}

// lookup runs the checks every history endpoint starts with: the sandbox
// is the owner's and not deleted (an expired one still answers).
func (x *ExecutionService) lookup(ctx context.Context, owner, sandboxID string) error {
	sb, err := x.o.Store.Sandboxes().GetForOwner(ctx, owner, sandboxID)
	if err != nil {
		return err
	}
	if sb.DeletedAt != nil {
		return NotFound("Sandbox not found: %s", sandboxID)
	}
	return nil
}

// notFound is the answer for an execution the caller cannot see.
func execNotFound(id string) *Error { return NotFound("Execution not found: %s", id) }

// List lists a sandbox's executions, newest first unless f.Asc. The
// returned rows carry no images (ImageCount stays).
func (x *ExecutionService) List(ctx context.Context, owner, sandboxID string, f ExecutionFilter) ([]Execution, *ExecutionCursor, error) {
	if err := x.lookup(ctx, owner, sandboxID); err != nil {
		return nil, nil, err
	}
	rows, err := x.o.Store.Executions().List(ctx, owner, sandboxID, f)
	if err != nil {
		return nil, nil, err
	}
	for i := range rows {
		rows[i].Images = nil
	}
	var next *ExecutionCursor
	if f.Limit > 0 && len(rows) == f.Limit {
		last := rows[len(rows)-1]
		next = &ExecutionCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return rows, next, nil
}

// Count counts a sandbox's executions matching f.
func (x *ExecutionService) Count(ctx context.Context, owner, sandboxID string, f ExecutionFilter) (int64, error) {
	if err := x.lookup(ctx, owner, sandboxID); err != nil {
		return 0, err
	}
	return x.o.Store.Executions().Count(ctx, owner, sandboxID, f)
}

// Get returns one execution. With wait > 0 and the row running, it holds
// until the row changes state or wait elapses, then answers the row as it
// is.
func (x *ExecutionService) Get(ctx context.Context, owner, sandboxID, id string, wait time.Duration) (*Execution, error) {
	if err := x.lookup(ctx, owner, sandboxID); err != nil {
		return nil, err
	}
	get := func() (*Execution, error) {
		e, err := x.o.Store.Executions().Get(ctx, owner, sandboxID, id)
		if CodeOf(err) == CodeNotFound {
			return nil, execNotFound(id)
		}
		return e, err
	}
	e, err := get()
	if err != nil || wait <= 0 || e.Status != ExecRunning {
		return e, err
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poll := time.NewTicker(500 * time.Millisecond)
	defer poll.Stop()
	woke := x.waiter(id)
	for {
		select {
		case <-ctx.Done():
			return e, nil
		case <-deadline.C:
			return get()
		case <-woke:
			woke = nil
		case <-poll.C:
		}
		e, err = get()
		if err != nil || e.Status != ExecRunning {
			return e, err
		}
	}
}

// waiter returns a channel closed when this process sees id leave running.
func (x *ExecutionService) waiter(id string) <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	ch, ok := x.waiters[id]
	if !ok {
		ch = make(chan struct{})
		x.waiters[id] = ch
	}
	return ch
}

// Last returns the newest execution, of kind if not empty.
func (x *ExecutionService) Last(ctx context.Context, owner, sandboxID string, kind ExecutionKind) (*Execution, error) {
	if err := x.lookup(ctx, owner, sandboxID); err != nil {
		return nil, err
	}
	e, err := x.o.Store.Executions().Last(ctx, owner, sandboxID, kind)
	if CodeOf(err) == CodeNotFound {
		return nil, NotFound("No execution found")
	}
	return e, err
}

// Annotate applies a merge-patch to an execution's description, tags and
// notes; it is allowed while the execution runs.
func (x *ExecutionService) Annotate(ctx context.Context, owner, sandboxID, id string, p ExecutionPatch) (*Execution, error) {
	if err := CheckDescription(p.Description); err != nil {
		return nil, err
	}
	if err := CheckNotes(p.Notes); err != nil {
		return nil, err
	}
	if p.SetTags {
		tags, err := NormalizeTags(p.Tags)
		if err != nil {
			return nil, err
		}
		p.Tags = tags
	}
	if err := x.lookup(ctx, owner, sandboxID); err != nil {
		return nil, err
	}
	p.Description, p.Notes = storablePtr(p.Description), storablePtr(p.Notes)
	p.UpdatedAt = x.o.Clock.Now().UTC().Truncate(time.Microsecond)
	e, err := x.o.Store.Executions().Annotate(ctx, owner, sandboxID, id, p)
	if CodeOf(err) == CodeNotFound {
		return nil, execNotFound(id)
	}
	return e, err
}

// Cancel asks the runtime to cancel a running execution (any mode). The
// row turns cancelled when the runtime's end arrives; the row is returned
// as it is now.
func (x *ExecutionService) Cancel(ctx context.Context, owner, sandboxID, id string) (*Execution, error) {
	sb, err := x.o.Store.Sandboxes().GetForOwner(ctx, owner, sandboxID)
	if err != nil {
		return nil, err
	}
	if sb.DeletedAt != nil {
		return nil, NotFound("Sandbox not found: %s", sandboxID)
	}
	e, err := x.o.Store.Executions().Get(ctx, owner, sandboxID, id)
	if CodeOf(err) == CodeNotFound {
		return nil, execNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	if e.Status != ExecRunning {
		return nil, Conflict("Execution %s is not running (status %s)", id, e.Status).
			WithDetails(map[string]any{"status": string(e.Status)})
	}
	if sb.CurrentSessionID == "" {
		return e, nil // its runtime is gone: the row is being marked lost
	}
	sess, err := x.o.Store.Sessions().Get(ctx, sb.CurrentSessionID)
	if err != nil || sess.Endpoint == "" {
		return e, nil
	}
	if err := x.o.Ship.Cancel(ctx, sess.Target(), id); err != nil && CodeOf(err) != CodeNotFound {
		return nil, err
	}
	return e, nil
}

// RecoverLost marks lost the rows this instance left running before it
// started (a crash or a kill): nothing will finish them. Run it once at
// start-up, before serving.
func (x *ExecutionService) RecoverLost(ctx context.Context) (int64, error) {
	var total int64
	for {
		n, err := x.o.Store.Executions().MarkLost(ctx, x.o.InstanceID, x.o.StartedAt, x.o.Clock.Now(),
			staleRunning, string(CodeInternal), lostOnRestart, gcBatch)
		total += n
		if err != nil || n < gcBatch {
			return total, err
		}
	}
}

const (
	// staleRunning is how long past its timeout a running row counts as
	// abandoned by whoever ran it.
	staleRunning  = 600 * time.Second
	lostOnRestart = "Bay restarted during the execution"
	gcBatch       = 1000
)

var errShuttingDown = errors.New("shutting down")
