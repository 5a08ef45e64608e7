package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/bayhq/bay/ship/runas"
)

// Config configures a Manager.
type Config struct {
	// Python is the interpreter that has ipykernel installed.
	Python string
	// Workspace is the kernel's working directory.
	Workspace string
	// StateDir holds private per-kernel directories (connection file, IPC
	// sockets) and default IPython/matplotlib config dirs; keep it outside
	// the workspace.
	StateDir string
	// Identity is the account the kernel runs as.
	Identity runas.Identity
	// Output receives the kernel's stdout and stderr; nil discards them.
	Output io.Writer
	// StartTimeout bounds kernel start-up; 0 means 60 s.
	StartTimeout time.Duration
	// InterruptGrace is how long an interrupted cell may take to go idle
	// before the kernel is killed and replaced; 0 means 5 s.
	InterruptGrace time.Duration
	// MaxEventBytes bounds one streamed event: a bigger MIME bundle is
	// replaced by an "omitted" placeholder, longer text is split; 0 means
	// DefaultMaxEventBytes.
	MaxEventBytes int
}

// Status values reported by Manager.Status.
const (
	StatusNotStarted = "not_started"
	StatusAlive      = "alive"
	StatusDead       = "dead"
)

// Errors of the manager.
var (
	// ErrNoKernel is returned by Shutdown when no kernel exists.
	ErrNoKernel = errors.New("kernel not found")
	// ErrExecNotFound is returned by Cancel when no running or queued
	// execution has the ID.
	ErrExecNotFound = errors.New("execution not found")
	// ErrDuplicateExec is returned by Prepare when a running or queued
	// execution already has the ID.
	ErrDuplicateExec = errors.New("an execution with this id is already running or queued")
)

// Manager owns the single kernel of this server.
type Manager struct {
	cfg  Config
	exec fifoLock

	mu      sync.Mutex
	cur     *instance
	gen     int
	lastGen int // generation of the kernel that ran the previous execution
	// execs are the queued and running executions that have an ID.
	execs map[string]*Execution
}

// NewManager returns a Manager; no kernel is started until Start or Exec.
func NewManager(cfg Config) *Manager {
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	if cfg.InterruptGrace == 0 {
		cfg.InterruptGrace = 5 * time.Second
	}
	if cfg.MaxEventBytes <= 0 {
		cfg.MaxEventBytes = DefaultMaxEventBytes
	}
	return &Manager{cfg: cfg, execs: map[string]*Execution{}}
}

// Start starts the kernel if none is running, e.g. to hide the start-up
// time before the first execution.
func (m *Manager) Start(ctx context.Context) error {
	if err := m.exec.lock(ctx); err != nil {
		return err
	}
	defer m.exec.unlock()
	_, err := m.ensure(ctx)
	return err
}

// ensure returns a live kernel, starting one if needed. The caller holds
// the exec lock.
func (m *Manager) ensure(ctx context.Context) (*instance, error) {
	m.mu.Lock()
	k := m.cur
	m.mu.Unlock()
	if k != nil && k.alive() {
		return k, nil
	}
	if k != nil {
		k.release()
	}
	m.mu.Lock()
	m.cur = nil
	m.gen++
	gen := m.gen
	m.mu.Unlock()
	k, err := startInstance(ctx, m.cfg, gen)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.cur = k
	m.mu.Unlock()
	return k, nil
}

// Request is one execution.
type Request struct {
	Code string
	// Silent runs the cell without history and without execution count.
	Silent  bool
	Timeout time.Duration
	// ID names the execution for Cancel while it is queued or running;
	// empty means it cannot be cancelled.
	ID string
}

// Execution is an execution registered with Prepare: Cancel finds it by
// its ID from then until Run returns.
type Execution struct {
	m      *Manager
	req    Request
	once   sync.Once
	cancel chan struct{}
}

// Prepare registers req; run it with Run. Registering first lets a caller
// announce the execution (and a client cancel it) before it waits for the
// kernel. It returns ErrDuplicateExec when req.ID is taken.
func (m *Manager) Prepare(req Request) (*Execution, error) {
	e := &Execution{m: m, req: req, cancel: make(chan struct{})}
	if req.ID == "" {
		return e, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, taken := m.execs[req.ID]; taken {
		return nil, ErrDuplicateExec
	}
	m.execs[req.ID] = e
	return e, nil
}

// Cancel cancels the execution id: a running cell is interrupted
// (KeyboardInterrupt; the kernel keeps its state), a queued one leaves the
// queue without running. Either way its Result has Cancelled set. It
// returns ErrExecNotFound when no running or queued execution has the id.
func (m *Manager) Cancel(id string) error {
	m.mu.Lock()
	e := m.execs[id]
	m.mu.Unlock()
	if e == nil {
		return ErrExecNotFound
	}
	e.once.Do(func() { close(e.cancel) })
	return nil
}

// cancelled reports whether Cancel was called for e.
func (e *Execution) cancelled() bool {
	select {
	case <-e.cancel:
		return true
	default:
		return false
	}
}

// release unregisters e.
func (e *Execution) release() {
	if e.req.ID == "" {
		return
	}
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	if e.m.execs[e.req.ID] == e {
		delete(e.m.execs, e.req.ID)
	}
}

// Exec runs code in the kernel and collects its output; see Run.
func (m *Manager) Exec(ctx context.Context, code string, silent bool, timeout time.Duration) (*Result, error) {
	e, err := m.Prepare(Request{Code: code, Silent: silent, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return e.Run(ctx, nil)
}

// Run runs the execution. Executions are serialized in arrival order. With
// a nil sink the output is collected into the Result as the sync endpoint
// reports it (Text, Images); otherwise each output event goes to sink as it
// arrives (bundles filtered and bounded for streaming, see
// DisplayMIMETypes and Config.MaxEventBytes) and the Result carries no
// output. Run may be called once.
//
// It returns an error only when the kernel cannot be started or reached;
// exceptions, timeouts, cancellation and a kernel dying mid-cell are
// reported in the Result.
//
// On timeout the cell is interrupted and Run returns at once; the lock is
// held in the background until the cell went idle, or the kernel was killed
// after the grace period (the next execution then starts a new kernel).
func (e *Execution) Run(ctx context.Context, sink Sink) (*Result, error) {
	defer e.release()
	m := e.m
	if err := m.exec.lockOr(ctx, e.cancel); err != nil {
		if e.cancelled() {
			return cancelledBeforeStart(), nil
		}
		return nil, fmt.Errorf("wait for kernel: %w", err)
	}
	if e.cancelled() {
		m.exec.unlock()
		return cancelledBeforeStart(), nil
	}
	k, err := m.ensure(ctx)
	if err != nil {
		m.exec.unlock()
		return nil, err
	}
	if e.cancelled() {
		// Cancelled while the kernel started: the cell was not sent yet.
		m.exec.unlock()
		return cancelledBeforeStart(), nil
	}
	var col *collector
	if sink == nil {
		col = &collector{}
		sink = col.add
	} else {
		sink = streamFilter{max: m.cfg.MaxEventBytes, sink: sink}.emit
	}
	res, msgID, out := k.execute(ctx, e.req, sink, control{cancel: e.cancel, grace: m.cfg.InterruptGrace})
	if col != nil {
		res.Text = strings.TrimSpace(col.text.String())
		res.Images = col.images
	}
	m.mu.Lock()
	res.KernelRestarted = m.lastGen != 0 && m.lastGen != k.gen
	m.lastGen = k.gen
	m.mu.Unlock()
	m.finish(k, msgID, out)
	return res, nil
}

// cancelledBeforeStart is the Result of an execution cancelled before its
// cell reached the kernel: queued, or waiting for the kernel to start.
func cancelledBeforeStart() *Result {
	return &Result{Cancelled: true, Error: cancelledQueuedMessage}
}

// finish releases the exec lock after an execution that ended with out,
// settling or killing the kernel first where needed (in the background, so
// the caller answers at once).
func (m *Manager) finish(k *instance, msgID string, out outcome) {
	switch out {
	case outcomeTimeout:
		go func() {
			defer m.exec.unlock()
			m.settle(k, msgID)
		}()
	case outcomeStuck:
		go func() {
			defer m.exec.unlock()
			k.kill()
		}()
	case outcomeDied:
		k.kill()
		m.exec.unlock()
	default:
		m.exec.unlock()
	}
}

// settle waits for an interrupted request to go idle; if it does not
// within the grace period, the kernel is killed.
func (m *Manager) settle(k *instance, msgID string) {
	grace := time.NewTimer(m.cfg.InterruptGrace)
	defer grace.Stop()
	shellIn := k.cl.shellIn
	for {
		select {
		case msg, ok := <-k.cl.iopubIn:
			if !ok {
				k.kill()
				return
			}
			if msg.ParentHeader.MsgID == msgID && isIdle(msg) {
				return
			}
		case _, ok := <-shellIn:
			if !ok {
				shellIn = nil // closed: stop selecting it
			}
		case <-k.exited:
			k.release()
			return
		case <-grace.C:
			k.kill()
			return
		}
	}
}

// Status reports the kernel state.
func (m *Manager) Status() string {
	m.mu.Lock()
	k := m.cur
	m.mu.Unlock()
	switch {
	case k == nil:
		return StatusNotStarted
	case k.alive():
		return StatusAlive
	default:
		return StatusDead
	}
}

// Restart replaces the kernel (if any) with a fresh one.
func (m *Manager) Restart(ctx context.Context) error {
	if err := m.exec.lock(ctx); err != nil {
		return err
	}
	defer m.exec.unlock()
	m.stopCurrent()
	_, err := m.ensure(ctx)
	return err
}

// Shutdown stops the kernel. It returns ErrNoKernel when none exists.
func (m *Manager) Shutdown(ctx context.Context) error {
	if err := m.exec.lock(ctx); err != nil {
		return err
	}
	defer m.exec.unlock()
	if !m.stopCurrent() {
		return ErrNoKernel
	}
	return nil
}

// stopCurrent shuts the current kernel down; it reports whether there was
// one. The caller holds the exec lock.
func (m *Manager) stopCurrent() bool {
	m.mu.Lock()
	k := m.cur
	m.cur = nil
	m.mu.Unlock()
	if k == nil {
		return false
	}
	k.shutdown(2 * time.Second)
	return true
}

// Close kills the kernel without waiting for running executions.
func (m *Manager) Close() {
	m.mu.Lock()
	k := m.cur
	m.cur = nil
	m.mu.Unlock()
	if k != nil {
		k.kill()
	}
}
