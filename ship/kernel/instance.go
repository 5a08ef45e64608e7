package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	// Success is true iff no error was recorded (no exception, no timeout).
	Success bool
	// ExecutionCount is the kernel's counter for this cell, or nil when the
	// kernel did not broadcast it (silent executions).
	ExecutionCount *int
	// Text is the collected text output, trimmed.
	Text string
	// Images holds base64 PNGs in arrival order.
	Images []string
	// Error is the traceback or timeout message; empty on success.
	Error string
	// KernelRestarted is true when this execution ran in a different kernel
	// than the previous one, so earlier variables are gone.
	KernelRestarted bool
	// KernelGeneration counts the kernels started by the manager.
	KernelGeneration int
}

// outcome tells how an execution ended.
type outcome int

const (
	outcomeDone outcome = iota
	outcomeTimeout
	outcomeDied
)

// execute runs code and collects its output until the kernel reports idle
// for this request and the execute_reply arrived, the timeout fires, ctx
// is done or the kernel dies.
func (k *instance) execute(ctx context.Context, code string, silent bool, timeout time.Duration) (*Result, string, outcome) {
	res := &Result{KernelGeneration: k.gen}
	// stop_on_error stays false: with true, ipykernel 6 keeps "aborting"
	// until an event scheduled after the failed cell runs, and a request we
	// send right after an error can race it and come back "aborted" with no
	// output. Requests are serialized here, so there is no queue to abort.
	msgID, err := k.cl.send(k.cl.shell, "execute_request", map[string]any{
		"code":             code,
		"silent":           silent,
		"store_history":    !silent,
		"user_expressions": map[string]any{},
		"allow_stdin":      false,
		"stop_on_error":    false,
	})
	if err != nil {
		res.Error = err.Error()
		return res, "", outcomeDied
	}
	var text strings.Builder
	var idle, replied bool
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	finish := func(o outcome) (*Result, string, outcome) {
		res.Text = strings.TrimSpace(text.String())
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
			idle = handleIOPub(m, res, &text) || idle
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
		case <-timer.C:
			k.interrupt()
			res.Error = fmt.Sprintf("Code execution timed out after %d seconds", int(timeout/time.Second))
			return finish(outcomeTimeout)
		case <-ctx.Done():
			k.interrupt()
			res.Error = "Execution cancelled: " + ctx.Err().Error()
			return finish(outcomeTimeout)
		}
	}
	return finish(outcomeDone)
}

// diedMessage is the error of an execution during which the kernel exited.
const diedMessage = "Kernel died while executing the code (for example os._exit() or out of memory); " +
	"its state is lost and the next execution starts a fresh kernel"

// handleIOPub folds one iopub message of the current request into res and
// text. It returns true for the status message that ends the request.
func handleIOPub(m *Message, res *Result, text *strings.Builder) bool {
	switch m.Header.MsgType {
	case "status":
		var c struct {
			ExecutionState string `json:"execution_state"`
		}
		_ = json.Unmarshal(m.Content, &c)
		return c.ExecutionState == "idle"
	case "execute_input":
		var c struct {
			ExecutionCount int `json:"execution_count"`
		}
		if json.Unmarshal(m.Content, &c) == nil {
			res.ExecutionCount = &c.ExecutionCount
		}
	case "stream":
		var c struct {
			Text string `json:"text"`
		}
		_ = json.Unmarshal(m.Content, &c)
		text.WriteString(c.Text)
	case "execute_result", "display_data":
		var c struct {
			Data map[string]any `json:"data"`
		}
		_ = json.Unmarshal(m.Content, &c)
		png, hasPNG := c.Data["image/png"].(string)
		if hasPNG {
			res.Images = append(res.Images, strings.Join(strings.Fields(png), ""))
		}
		// A display_data that carries a PNG keeps only the image (its
		// text/plain is a "<Figure …>" placeholder); execute_result keeps both.
		if plain, ok := c.Data["text/plain"].(string); ok && (m.Header.MsgType == "execute_result" || !hasPNG) {
			text.WriteString(plain)
		}
	case "error":
		var c struct {
			EName     string   `json:"ename"`
			EValue    string   `json:"evalue"`
			Traceback []string `json:"traceback"`
		}
		_ = json.Unmarshal(m.Content, &c)
		if len(c.Traceback) > 0 {
			res.Error = strings.Join(c.Traceback, "\n")
		} else {
			res.Error = c.EName + ": " + c.EValue
		}
	}
	return false
}
