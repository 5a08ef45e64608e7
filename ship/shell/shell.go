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
}

// Result is the outcome of a command, shaped like the /shell/exec response.
type Result struct {
	Success    bool    `json:"success"`
	ReturnCode *int    `json:"return_code"`
	Stdout     string  `json:"stdout"`
	Stderr     string  `json:"stderr"`
	PID        *int    `json:"pid"`
	ProcessID  *string `json:"process_id"`
	Error      *string `json:"error"`
}

// Job is a background process.
type Job struct {
	ProcessID string `json:"process_id"`
	PID       int    `json:"pid"`
	Command   string `json:"command"`
	Status    string `json:"status"`
}

// Runner runs commands as one identity and remembers background jobs.
type Runner struct {
	ID runas.Identity

	mu   sync.Mutex
	jobs []*Job
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

// command builds the exec.Cmd for req.
func (r *Runner) command(ctx context.Context, req Request) (*exec.Cmd, error) {
	var args []string
	if req.Shell {
		args = []string{"/bin/bash", "-l", "-c", req.Command}
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
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if req.Shell {
		// bash reports a missing directory like `cd` does instead of the
		// spawn failing.
		cmd.Args = []string{"/bin/bash", "-l", "-c", "cd -- " + shellQuote(req.Dir) + " || exit 1\n" + req.Command}
		cmd.Dir = r.ID.Home
		if _, err := os.Stat(cmd.Dir); err != nil {
			cmd.Dir = "/"
		}
	} else {
		cmd.Dir = req.Dir
	}
	cmd.Env = r.ID.Env(req.Env)
	cmd.SysProcAttr = r.ID.SysProcAttr()
	// Kill the whole process group, not just the direct child.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Grandchildren that keep the pipes open (`sleep 100 &`) must not hold
	// the request once the command itself exited.
	cmd.WaitDelay = 250 * time.Millisecond
	return cmd, nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Run executes req and waits for it unless it is a background job.
func (r *Runner) Run(ctx context.Context, req Request) Result {
	if req.Background {
		return r.start(req)
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	cmd, err := r.command(ctx, req)
	if err != nil {
		return failed(err.Error())
	}
	var stdout, stderr capped
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return failed(err.Error())
	}
	res := Result{PID: intp(cmd.Process.Pid)}
	err = cmd.Wait()
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	if ctx.Err() != nil {
		res.ReturnCode = intp(-1)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.Error = strp("Command timed out")
		} else {
			res.Error = strp("Command cancelled")
		}
		return res
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil || errors.Is(err, exec.ErrWaitDelay):
		res.ReturnCode = intp(cmd.ProcessState.ExitCode())
	case errors.As(err, &exitErr):
		code := exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		res.ReturnCode = intp(code)
	default:
		res.ReturnCode = intp(-1)
		res.Error = strp(err.Error())
		return res
	}
	res.Success = *res.ReturnCode == 0
	return res
}

// start launches a background job with its output discarded.
func (r *Runner) start(req Request) Result {
	cmd, err := r.command(context.Background(), req)
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
