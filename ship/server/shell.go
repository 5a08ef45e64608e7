package server

import (
	"net/http"
	"time"

	"github.com/bayhq/bay/ship/shell"
	"github.com/bayhq/bay/ship/wire"
)

func (s *Server) handleShellExec(w http.ResponseWriter, r *http.Request) {
	var req wire.ShellExecRequest
	present, ok := decodeBody(w, r, &req, "command")
	if !ok || !checkExecID(w, req.ExecID) {
		return
	}
	// timeout: absent → 30 s; null → no limit.
	timeout := 30 * time.Second
	if _, sent := present["timeout"]; sent {
		timeout = 0
		if req.Timeout != nil && *req.Timeout > 0 {
			timeout = time.Duration(*req.Timeout) * time.Second
		}
	}
	dir, denied := s.shellDir(req.Cwd)
	if denied != nil {
		writeJSON(w, http.StatusOK, shellResponse(*denied))
		return
	}
	res, err := s.shell.Run(r.Context(), shell.Request{
		Command:    req.Command,
		Dir:        dir,
		Env:        req.Env,
		Timeout:    timeout,
		Shell:      req.Shell == nil || *req.Shell,
		Background: req.Background,
		ID:         req.ExecID,
	})
	if err != nil {
		writeDuplicateExec(w, req.ExecID)
		return
	}
	writeJSON(w, http.StatusOK, shellResponse(res))
}

// shellDir resolves a request's cwd. A cwd outside the workspace gives the
// failed result the endpoints answer with 200 (spec/ship.md §7).
func (s *Server) shellDir(cwd *string) (string, *shell.Result) {
	if cwd == nil || *cwd == "" {
		return s.root.Dir, nil
	}
	d, err := s.root.Resolve(*cwd)
	if err != nil {
		msg := "403: Access denied: path must be within workspace: " + s.root.Dir
		return "", &shell.Result{ReturnCode: new(-1), Error: &msg}
	}
	return d, nil
}

// handleShellStream serves POST /shell/exec/stream: start with the pid,
// stdout and stderr as the command writes them, then end. A cwd outside
// the workspace or a command that cannot be spawned is a start without
// pid and a failed end, as the sync endpoint answers 200 for them.
func (s *Server) handleShellStream(w http.ResponseWriter, r *http.Request) {
	var req wire.ShellStreamRequest
	if _, ok := decodeBody(w, r, &req, "command"); !ok || !checkExecID(w, req.ExecID) {
		return
	}
	timeout := 30 * time.Second
	if req.Timeout != nil && *req.Timeout > 0 {
		timeout = time.Duration(*req.Timeout) * time.Second
	}
	out := newEventWriter(w)
	dir, denied := s.shellDir(req.Cwd)
	if denied != nil {
		out.sendStart(nil)
		out.send(shellEnd(*denied))
		return
	}
	res, err := s.shell.Run(r.Context(), shell.Request{
		Command: req.Command,
		Dir:     dir,
		Env:     req.Env,
		Timeout: timeout,
		Shell:   true,
		ID:      req.ExecID,
		Started: func(pid int) { out.sendStart(&pid) },
		Output: func(stream, text string) {
			typ := wire.EventStdout
			if stream == shell.Stderr {
				typ = wire.EventStderr
			}
			out.send(wire.StreamEvent{Type: typ, Text: text})
		},
	})
	if err != nil {
		// Nothing was sent yet: the id was taken before the command started.
		writeDuplicateExec(w, req.ExecID)
		return
	}
	out.sendStart(nil)
	out.send(shellEnd(res))
}

// shellResponse puts a command's outcome on the wire.
func shellResponse(res shell.Result) wire.ShellExecResponse {
	return wire.ShellExecResponse{
		Success:    res.Success,
		ReturnCode: res.ReturnCode,
		Stdout:     res.Stdout,
		Stderr:     res.Stderr,
		PID:        res.PID,
		ProcessID:  res.ProcessID,
		Error:      res.Error,
		Cancelled:  res.Cancelled,
	}
}

func (s *Server) handleShellProcesses(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"processes": s.shell.Jobs()})
}
