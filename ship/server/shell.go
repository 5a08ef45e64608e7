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
	if !ok {
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
	dir := s.root.Dir
	if req.Cwd != nil && *req.Cwd != "" {
		d, err := s.root.Resolve(*req.Cwd)
		if err != nil {
			msg := "403: Access denied: path must be within workspace: " + s.root.Dir
			writeJSON(w, http.StatusOK, wire.ShellExecResponse{ReturnCode: new(-1), Error: &msg})
			return
		}
		dir = d
	}
	res := s.shell.Run(r.Context(), shell.Request{
		Command:    req.Command,
		Dir:        dir,
		Env:        req.Env,
		Timeout:    timeout,
		Shell:      req.Shell == nil || *req.Shell,
		Background: req.Background,
	})
	writeJSON(w, http.StatusOK, shellResponse(res))
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
	}
}

func (s *Server) handleShellProcesses(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"processes": s.shell.Jobs()})
}
