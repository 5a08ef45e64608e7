package shell

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bayhq/bay/ship/runas"
)

// Request is one command to run.
type Request struct {
	Command string
	// Dir is the resolved working directory.
	Dir string
	Env map[string]string
	// Timeout of 0 means no limit.
	Timeout time.Duration
	// Shell runs Command with `bash -l -c`; otherwise it is split into words.
	Shell      bool
	Background bool
	// ID names the command for Cancel while it runs; empty means it cannot
	// be cancelled. Background jobs ignore it.
	ID string
	// Started, when set, is called with the pid once the process runs.
	Started func(pid int)
	// Output, when set, receives the output while the command runs:
	// stream is "stdout" or "stderr", text is valid UTF-8, coalesced
	// (sent once 32 KiB are pending or 50 ms after the first unsent byte).
	// It is called from one goroutine per stream.
	Output func(stream, text string)
}

// Stream names passed to Request.Output.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Result is the outcome of a command, shaped like the /shell/exec response.
type Result struct {
	Success    bool    `json:"success"`
	ReturnCode *int    `json:"return_code"`
	Stdout     string  `json:"stdout"`
	Stderr     string  `json:"stderr"`
	PID        *int    `json:"pid"`
	ProcessID  *string `json:"process_id"`
	Error      *string `json:"error"`
	// TimedOut and Cancelled tell why a command was killed: its timeout,
	// or Cancel.
	TimedOut  bool `json:"-"`
	Cancelled bool `json:"-"`
}

// Job is a background process.
type Job struct {
	ProcessID string `json:"process_id"`
	PID       int    `json:"pid"`
	Command   string `json:"command"`
	Status    string `json:"status"`
}

// Errors of the runner.
var (
	// ErrNotFound is returned by Cancel when no running command has the ID.
	ErrNotFound = errors.New("execution not found")
	// ErrDuplicate is returned by Run when a running command has the ID.
	ErrDuplicate = errors.New("an execution with this id is already running")
)

// Runner runs commands as one identity and remembers background jobs.
type Runner struct {
	ID runas.Identity

	mu      sync.Mutex
	jobs    []*Job
	running map[string]context.CancelCauseFunc
}

// maxOutput caps each captured stream so a runaway command cannot exhaust
// the server's memory; the rest is discarded.
const maxOutput = 16 << 20

// capped is a bytes.Buffer that silently drops writes beyond maxOutput.
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := maxOutput - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	// strings.ToValidUTF8 replaces invalid bytes with U+FFFD.
	return strings.TrimSpace(strings.ToValidUTF8(c.buf.String(), "\uFFFD"))
}

func intp(i int) *int          { return &i }
func strp(s string) *string    { return &s }
func failed(msg string) Result { return Result{ReturnCode: intp(-1), Error: strp(msg)} }

// command builds the exec.Cmd for req; the process gets its own process
// group (runas.Identity.SysProcAttr) and reads /dev/null.
func (r *Runner) command(req Request) (*exec.Cmd, error) {
	var args []string
	if req.Shell {
		// bash reports a missing directory like `cd` does instead of the
		// spawn failing.
		args = []string{"/bin/bash", "-l", "-c", "cd -- " + shellQuote(req.Dir) + " || exit 1\n" + req.Command}
	} else {
		words, err := SplitWords(req.Command)
		if err != nil {
			return nil, err
		}
		if len(words) == 0 {
			return nil, errors.New("empty command")
		}
		args = words
	}
	// #nosec G204 -- running the caller's command in the sandbox is this package's job
	cmd := exec.Command(args[0], args[1:]...)
	if req.Shell {
		cmd.Dir = r.ID.Home
		if _, err := os.Stat(cmd.Dir); err != nil {
			cmd.Dir = "/"
		}
	} else {
		cmd.Dir = req.Dir
	}
	cmd.Env = r.ID.Env(req.Env)
	cmd.SysProcAttr = r.ID.SysProcAttr()
	return cmd, nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Causes of a command's end besides its own exit.
var (
	errTimedOut  = errors.New("command timed out")
	errCancelled = errors.New("command cancelled")
)

// Run executes req and waits for it unless it is a background job. On
// timeout, Cancel or the end of ctx the whole process group is killed
// (SIGTERM, SIGKILL killGrace later) and the result has return code -1
// with the output captured so far. It returns ErrDuplicate when req.ID
// names a command still running; every other failure is in the Result.
func (r *Runner) Run(ctx context.Context, req Request) (Result, error) {
	if req.Background {
		return r.start(req), nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if req.ID != "" {
		if err := r.track(req.ID, cancel); err != nil {
			return Result{}, err
		}
		defer r.untrack(req.ID)
	}
	if req.Timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, req.Timeout, errTimedOut)
		defer stop()
	}
	return r.run(ctx, req), nil
}

// track registers the cancel function of running command id.
func (r *Runner) track(id string, cancel context.CancelCauseFunc) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, taken := r.running[id]; taken {
		return ErrDuplicate
	}
	if r.running == nil {
		r.running = map[string]context.CancelCauseFunc{}
	}
	r.running[id] = cancel
	return nil
}

func (r *Runner) untrack(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, id)
}

// Cancel kills the process group of the running command id; its Result
// has Cancelled set. It returns ErrNotFound when no command has the id.
func (r *Runner) Cancel(id string) error {
	r.mu.Lock()
	cancel := r.running[id]
	r.mu.Unlock()
	if cancel == nil {
		return ErrNotFound
	}
	cancel(errCancelled)
	return nil
}

// run starts req's process, reads both pipes until it exited (or was
// killed when ctx ended) and builds the Result.
func (r *Runner) run(ctx context.Context, req Request) Result {
	cmd, err := r.command(req)
	if err != nil {
		return failed(err.Error())
	}
	stdout, err := newPipeReader(Stdout, req.Output)
	if err != nil {
		return failed(err.Error())
	}
	stderr, err := newPipeReader(Stderr, req.Output)
	if err != nil {
		stdout.abandon()
		return failed(err.Error())
	}
	cmd.Stdout, cmd.Stderr = stdout.w, stderr.w
	err = cmd.Start()
	stdout.closeWriter()
	stderr.closeWriter()
	if err != nil {
		stdout.abandon()
		stderr.abandon()
		return failed(err.Error())
	}
	pid := cmd.Process.Pid
	if req.Started != nil {
		req.Started(pid)
	}
	go stdout.loop()
	go stderr.loop()

	waitErr := wait(ctx, cmd)
	// Grandchildren that keep the pipes open (`sleep 100 &`) must not hold
	// the request once the command itself exited.
	stdout.drain(pipeDrain)
	stderr.drain(pipeDrain)
	res := Result{PID: intp(pid), Stdout: stdout.result.String(), Stderr: stderr.result.String()}
	if ctx.Err() != nil {
		res.ReturnCode = intp(-1)
		switch context.Cause(ctx) {
		case errTimedOut:
			res.TimedOut = true
			res.Error = strp("Command timed out")
		case errCancelled:
			res.Cancelled = true
			res.Error = strp("Command cancelled")
		default:
			res.Error = strp("Command cancelled")
		}
		return res
	}
	res.ReturnCode = intp(exitCode(cmd, waitErr))
	if *res.ReturnCode == -1 {
		res.Error = strp(waitErr.Error())
		return res
	}
	res.Success = *res.ReturnCode == 0
	return res
}

// Bounds of a command's end.
const (
	// killGrace is the time between SIGTERM and SIGKILL to the group.
	killGrace = 2 * time.Second
	// pipeDrain is how long the pipes are read after the command exited.
	pipeDrain = 250 * time.Millisecond
)

// wait waits for cmd to exit. When ctx ends first, the process group gets
// SIGTERM, and SIGKILL killGrace later (also when the leader exited by
// then, for members that ignored SIGTERM).
func wait(ctx context.Context, cmd *exec.Cmd) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	time.AfterFunc(killGrace, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	return <-done
}

// exitCode is the command's exit status: 128+signal when a signal ended
// it, -1 when it could not be waited for.
func exitCode(cmd *exec.Cmd, err error) int {
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return cmd.ProcessState.ExitCode()
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exitErr.ExitCode()
	default:
		return -1
	}
}

// start launches a background job with its output discarded.
func (r *Runner) start(req Request) Result {
	cmd, err := r.command(req)
	if err != nil {
		return failed(err.Error())
	}
	cmd.Stdout, cmd.Stderr = nil, nil // /dev/null
	if err := cmd.Start(); err != nil {
		return failed(err.Error())
	}
	job := &Job{ProcessID: newProcessID(), PID: cmd.Process.Pid, Command: req.Command, Status: "running"}
	r.mu.Lock()
	r.jobs = append(r.jobs, job)
	r.mu.Unlock()
	go func() {
		err := cmd.Wait()
		r.mu.Lock()
		defer r.mu.Unlock()
		if err == nil {
			job.Status = "completed"
		} else {
			job.Status = "failed"
		}
	}()
	return Result{Success: true, ReturnCode: intp(0), PID: intp(job.PID), ProcessID: strp(job.ProcessID)}
}

// Jobs returns a snapshot of all background jobs in start order.
func (r *Runner) Jobs() []Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Job, len(r.jobs))
	for i, j := range r.jobs {
		out[i] = *j
	}
	return out
}

func newProcessID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SplitWords splits s with POSIX shell quoting rules (single quotes,
// double quotes with backslash escapes, backslash outside quotes).
func SplitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote")
			}
			inWord = true
		case c == '\\':
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					cur.WriteByte(s[i])
				}
			}
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
