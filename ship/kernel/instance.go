package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// instance is one running kernel process and its sockets.
type instance struct {
	once   sync.Once
	gen    int
	cmd    *exec.Cmd
	dir    string
	cl     *client
	exited chan struct{}
}

// errKernelDied reports that the kernel process exited.
var errKernelDied = errors.New("kernel process exited")

// startInstance launches a kernel and waits until it answers.
func startInstance(ctx context.Context, cfg Config, gen int) (*instance, error) {
	dir := filepath.Join(cfg.StateDir, fmt.Sprintf("kernel-%d", gen))
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create kernel dir: %w", err)
	}
	// The kernel binds its IPC sockets in dir and reads the connection file,
	// so both belong to the kernel's user.
	if err := cfg.Identity.Chown(dir); err != nil {
		return nil, err
	}
	ci := newIPCConnection(dir)
	connFile := filepath.Join(dir, "connection.json")
	if err := ci.write(connFile); err != nil {
		return nil, err
	}
	if err := cfg.Identity.Chown(connFile); err != nil {
		return nil, err
	}
	// #nosec G204 -- cfg.Python is the image's interpreter (-python or $SHIP_PYTHON), not request input
	cmd := exec.Command(cfg.Python, "-m", "ipykernel_launcher", "-f", connFile,
		"--InteractiveShell.colors=NoColor")
	cmd.Dir = cfg.Workspace
	// IPython and matplotlib would otherwise write .ipython, .cache and
	// .config into every workspace.
	env := map[string]string{
		"IPYTHONDIR":   envOr("IPYTHONDIR", filepath.Join(cfg.StateDir, "ipython")),
		"MPLCONFIGDIR": envOr("MPLCONFIGDIR", filepath.Join(cfg.StateDir, "matplotlib")),
		// Silences debugpy's frozen-modules warning at every start.
		"PYDEVD_DISABLE_FILE_VALIDATION": "1",
	}
	for _, d := range []string{env["IPYTHONDIR"], env["MPLCONFIGDIR"]} {
		if _, err := os.Stat(d); err != nil {
			// #nosec G301 -- chowned to the kernel's user below; parents MkdirAll creates as root must stay traversable
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("create %s: %w", d, err)
			}
			if err := cfg.Identity.Chown(d); err != nil {
				return nil, err
			}
		}
	}
	cmd.Env = cfg.Identity.Env(env)
	cmd.Stdout = cfg.Output
	cmd.Stderr = cfg.Output
	cmd.SysProcAttr = cfg.Identity.SysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", cfg.Python, err)
	}
	// Under memory pressure the kernel, not Ship, should be the one the OOM
	// killer picks; raising the score needs no privileges (best effort).
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", cmd.Process.Pid), []byte("500"), 0)
	k := &instance{gen: gen, cmd: cmd, dir: dir, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(k.exited)
	}()

	sctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	go func() {
		select {
		case <-k.exited:
			cancel()
		case <-sctx.Done():
		}
	}()
	cl, err := dialClient(sctx, ci)
	if err == nil {
		k.cl = cl
		err = k.waitReady(sctx)
	}
	if err != nil {
		k.kill()
		select {
		case <-k.exited:
			return nil, fmt.Errorf("kernel exited during start-up (%s): %w", cmd.ProcessState, errKernelDied)
		default:
		}
		return nil, fmt.Errorf("kernel start-up: %w", err)
	}
	return k, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// waitReady repeats kernel_info_request until a reply arrives and at least
// one iopub message has been seen: a SUB socket drops what was published
// before its subscription reached the kernel, so an iopub message proves
// the subscription is live.
func (k *instance) waitReady(ctx context.Context) error {
	var replied, iopub bool
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	if _, err := k.cl.send(k.cl.shell, "kernel_info_request", struct{}{}); err != nil {
		return err
	}
	for !replied || !iopub {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-k.cl.shellIn:
			if !ok {
				return errKernelDied
			}
			if m.Header.MsgType == "kernel_info_reply" {
				replied = true
			}
		case _, ok := <-k.cl.iopubIn:
			if !ok {
				return errKernelDied
			}
			iopub = true
		case <-tick.C:
			if !iopub || !replied {
				if _, err := k.cl.send(k.cl.shell, "kernel_info_request", struct{}{}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// alive reports whether the kernel process is still running.
func (k *instance) alive() bool {
	select {
	case <-k.exited:
		return false
	default:
		return true
	}
}

// interrupt sends SIGINT to the kernel's process group, as jupyter_client
// does; ipykernel turns it into KeyboardInterrupt in the running cell.
func (k *instance) interrupt() {
	_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGINT)
}

// kill SIGKILLs the kernel's process group, waits for the process to be
// reaped and releases the sockets and the private directory.
func (k *instance) kill() {
	_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
	<-k.exited
	k.release()
}

// release closes the sockets and removes the private directory.
func (k *instance) release() {
	k.once.Do(func() {
		if k.cl != nil {
			k.cl.close()
		}
		_ = os.RemoveAll(k.dir)
	})
}

// shutdown asks the kernel to exit through the control channel and kills it
// after grace.
func (k *instance) shutdown(grace time.Duration) {
	if k.alive() && k.cl != nil {
		_, _ = k.cl.send(k.cl.control, "shutdown_request", map[string]bool{"restart": false})
		select {
		case <-k.exited:
		case <-time.After(grace):
		}
	}
	k.kill()
}

// Result is the outcome of one execution.
type Result struct {
	// Success is true iff no error was recorded (no exception, no timeout,
	// no cancellation).
	Success bool
	// ExecutionCount is the kernel's counter for this cell, or nil when the
	// kernel did not broadcast it (silent executions).
	ExecutionCount *int
	// Text is the collected text output, trimmed; empty for a streamed
	// execution (the stream carried it).
	Text string
	// Images holds base64 PNGs in arrival order; empty for a streamed
	// execution.
	Images []string
	// Error is the traceback or timeout message; empty on success.
	Error string
	// KernelRestarted is true when this execution ran in a different kernel
	// than the previous one, so earlier variables are gone.
	KernelRestarted bool
	// KernelGeneration counts the kernels started by the manager.
	KernelGeneration int
	// TimedOut is true when the timeout interrupted the cell.
	TimedOut bool
	// Cancelled is true when Manager.Cancel stopped the execution, running
	// (interrupted) or queued (never ran).
	Cancelled bool
}

// outcome tells how an execution ended.
type outcome int

const (
	outcomeDone outcome = iota
	// outcomeTimeout: the cell was interrupted and may still be running;
	// the manager settles it in the background.
	outcomeTimeout
	// outcomeDied: the kernel exited.
	outcomeDied
	// outcomeStuck: a cancelled cell ignored the interrupt; the kernel
	// must be killed.
	outcomeStuck
)

// control is how an execution can be stopped besides its timeout.
type control struct {
	// cancel is closed by Manager.Cancel.
	cancel <-chan struct{}
	// grace is how long a cancelled cell may take to go idle.
	grace time.Duration
}

// execute runs req.Code, handing each output event to sink as it arrives,
// until the kernel reports idle for this request and the execute_reply
// arrived, the timeout fires, ctx is done, the execution is cancelled or
// the kernel dies. Only iopub messages whose parent msg_id is this
// request's reach the sink.
//
// A cancelled cell is interrupted once it started (execute_input, or busy
// for a silent cell: a SIGINT that reaches the kernel before it runs the
// cell is lost), and execute keeps reading until the cell goes idle (its
// KeyboardInterrupt traceback becomes the error; the kernel keeps its
// state), or reports outcomeStuck after ctl.grace.
func (k *instance) execute(ctx context.Context, req Request, sink Sink, ctl control) (*Result, string, outcome) {
	res := &Result{KernelGeneration: k.gen}
	// stop_on_error stays false: with true, ipykernel 6 keeps "aborting"
	// until an event scheduled after the failed cell runs, and a request we
	// send right after an error can race it and come back "aborted" with no
	// output. Requests are serialized here, so there is no queue to abort.
	msgID, err := k.cl.send(k.cl.shell, "execute_request", map[string]any{
		"code":             req.Code,
		"silent":           req.Silent,
		"store_history":    !req.Silent,
		"user_expressions": map[string]any{},
		"allow_stdin":      false,
		"stop_on_error":    false,
	})
	if err != nil {
		res.Error = err.Error()
		return res, "", outcomeDied
	}
	var idle, replied, started bool
	timer := time.NewTimer(req.Timeout)
	defer timer.Stop()
	cancel := ctl.cancel
	var stuck <-chan time.Time
	// interrupt stops the cancelled cell once it started.
	interrupt := func() {
		if res.Cancelled && started && stuck == nil && !idle {
			k.interrupt()
			stuck = time.After(ctl.grace)
		}
	}
	finish := func(o outcome) (*Result, string, outcome) {
		res.Success = res.Error == ""
		return res, msgID, o
	}
	for !idle || !replied {
		select {
		case m, ok := <-k.cl.iopubIn:
			if !ok {
				res.Error = diedMessage
				return finish(outcomeDied)
			}
			if m.ParentHeader.MsgID != msgID {
				continue
			}
			switch k.handleIOPub(m, res, sink) {
			case stateIdle:
				idle = true
			case stateInput:
				started = true
			case stateBusy:
				started = started || req.Silent
			}
			interrupt()
		case m, ok := <-k.cl.shellIn:
			if !ok {
				res.Error = diedMessage
				return finish(outcomeDied)
			}
			// Replies to earlier, interrupted requests are dropped here.
			if m.ParentHeader.MsgID == msgID && m.Header.MsgType == "execute_reply" {
				replied = true
			}
		case <-k.exited:
			res.Error = diedMessage
			return finish(outcomeDied)
		case <-cancel:
			cancel = nil
			res.Cancelled = !idle
			interrupt()
		case <-stuck:
			res.Error = stuckMessage
			return finish(outcomeStuck)
		case <-timer.C:
			k.interrupt()
			res.TimedOut = true
			res.Error = fmt.Sprintf("Code execution timed out after %d seconds", int(req.Timeout/time.Second))
			return finish(outcomeTimeout)
		case <-ctx.Done():
			k.interrupt()
			res.Error = "Execution cancelled: " + ctx.Err().Error()
			return finish(outcomeTimeout)
		}
	}
	if res.Cancelled && res.Error == "" {
		// The cell finished before the interrupt took effect.
		res.Error = cancelledMessage
	}
	return finish(outcomeDone)
}

// Messages of executions that ended without a traceback of their own.
const (
	diedMessage = "Kernel died while executing the code (for example os._exit() or out of memory); " +
		"its state is lost and the next execution starts a fresh kernel"
	stuckMessage = "KeyboardInterrupt: execution cancelled; the cell ignored the interrupt, so the kernel " +
		"is restarted and its state is lost"
	// The messages of a cancelled execution name KeyboardInterrupt, as an
	// interrupted cell's traceback does, whether or not the cell ran.
	cancelledMessage       = "KeyboardInterrupt: execution cancelled"
	cancelledQueuedMessage = "KeyboardInterrupt: execution cancelled before it started"
)

// requestState is what an iopub message tells about the request.
type requestState int

const (
	stateOther requestState = iota
	stateBusy               // the kernel took the request
	stateInput              // execute_input: the cell is about to run
	stateIdle               // the request is done
)

// handleIOPub takes one iopub message of the current request: it records
// the execution count and exceptions in res and hands output to sink.
func (k *instance) handleIOPub(m *Message, res *Result, sink Sink) requestState {
	switch m.Header.MsgType {
	case "status":
		if isIdle(m) {
			return stateIdle
		}
		return stateBusy
	case "execute_input":
		var c struct {
			ExecutionCount int `json:"execution_count"`
		}
		if json.Unmarshal(m.Content, &c) == nil {
			res.ExecutionCount = &c.ExecutionCount
		}
		return stateInput
	}
	ev, ok := decodeEvent(m)
	if !ok {
		return stateOther
	}
	if ev.Type == EventError {
		res.Error = errorText(ev)
	}
	sink(ev)
	return stateOther
}
