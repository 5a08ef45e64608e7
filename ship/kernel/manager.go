package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
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
}

// Status values reported by Manager.Status.
const (
	StatusNotStarted = "not_started"
	StatusAlive      = "alive"
	StatusDead       = "dead"
)

// ErrNoKernel is returned by Shutdown when no kernel exists.
var ErrNoKernel = errors.New("kernel not found")

// Manager owns the single kernel of this server.
type Manager struct {
	cfg  Config
	exec fifoLock

	mu      sync.Mutex
	cur     *instance
	gen     int
	lastGen int // generation of the kernel that ran the previous execution
}

// NewManager returns a Manager; no kernel is started until Start or Exec.
func NewManager(cfg Config) *Manager {
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	if cfg.InterruptGrace == 0 {
		cfg.InterruptGrace = 5 * time.Second
	}
	return &Manager{cfg: cfg}
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

// Exec runs code in the kernel. Executions are serialized in arrival order.
// It returns an error only when the kernel cannot be started or reached;
// exceptions, timeouts and a kernel dying mid-cell are reported in the Result.
//
// On timeout the cell is interrupted and Exec returns at once; the lock is
// held in the background until the cell went idle, or the kernel was killed
// after the grace period (the next execution then starts a new kernel).
func (m *Manager) Exec(ctx context.Context, code string, silent bool, timeout time.Duration) (*Result, error) {
	if err := m.exec.lock(ctx); err != nil {
		return nil, fmt.Errorf("wait for kernel: %w", err)
	}
	k, err := m.ensure(ctx)
	if err != nil {
		m.exec.unlock()
		return nil, err
	}
	res, msgID, out := k.execute(ctx, code, silent, timeout)
	m.mu.Lock()
	res.KernelRestarted = m.lastGen != 0 && m.lastGen != k.gen
	m.lastGen = k.gen
	m.mu.Unlock()
	switch out {
	case outcomeTimeout:
		go func() {
			defer m.exec.unlock()
			m.settle(k, msgID)
		}()
	case outcomeDied:
		k.kill()
		m.exec.unlock()
	default:
		m.exec.unlock()
	}
	return res, nil
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
			if msg.ParentHeader.MsgID == msgID && msg.Header.MsgType == "status" &&
				handleIOPub(msg, &Result{}, nil) {
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
