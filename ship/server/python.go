package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/bayhq/bay/ship/kernel"
	"github.com/bayhq/bay/ship/wire"
)

// pythonTimeout is a request's timeout: nil or not positive means 30 s.
func pythonTimeout(t *int) time.Duration {
	if t != nil && *t > 0 {
		return time.Duration(*t) * time.Second
	}
	return 30 * time.Second
}

// preparePython registers a python execution, answering 422 for a bad
// exec_id and 409 for one in use.
func (s *Server) preparePython(w http.ResponseWriter, req kernel.Request) (*kernel.Execution, bool) {
	if !checkExecID(w, req.ID) {
		return nil, false
	}
	exe, err := s.kernel.Prepare(req)
	if err != nil {
		writeDuplicateExec(w, req.ID)
		return nil, false
	}
	return exe, true
}

func (s *Server) handlePythonExec(w http.ResponseWriter, r *http.Request) {
	var req wire.PythonExecRequest
	if _, ok := decodeBody(w, r, &req, "code"); !ok {
		return
	}
	exe, ok := s.preparePython(w, kernel.Request{
		Code:    req.Code,
		Silent:  req.Silent != nil && *req.Silent,
		Timeout: pythonTimeout(req.Timeout),
		ID:      req.ExecID,
	})
	if !ok {
		return
	}
	res, err := exe.Run(r.Context(), nil)
	if err != nil {
		s.log.ErrorContext(r.Context(), "python exec", "err", err)
		writeDetail(w, http.StatusInternalServerError, "Failed to execute code: "+err.Error())
		return
	}
	resp := wire.PythonExecResponse{
		Success:          res.Success,
		ExecutionCount:   res.ExecutionCount,
		Output:           wire.PythonOutput{Text: res.Text, Images: make([]map[string]string, 0, len(res.Images))},
		KernelRestarted:  res.KernelRestarted,
		KernelGeneration: res.KernelGeneration,
		Cancelled:        res.Cancelled,
	}
	for _, img := range res.Images {
		resp.Output.Images = append(resp.Output.Images, map[string]string{wire.ImagePNG: img})
	}
	if res.Error != "" {
		resp.Error = strp(res.Error)
	}
	writeJSON(w, http.StatusOK, resp)
}

// handlePythonStream serves POST /ipython/exec/stream: start, the cell's
// output events as the kernel publishes them, then end. A kernel that
// cannot be started or reached (a 500 on the sync endpoint) ends the
// stream with success false and the sync endpoint's message as error.
func (s *Server) handlePythonStream(w http.ResponseWriter, r *http.Request) {
	var req wire.PythonStreamRequest
	if _, ok := decodeBody(w, r, &req, "code"); !ok {
		return
	}
	exe, ok := s.preparePython(w, kernel.Request{Code: req.Code, Timeout: pythonTimeout(req.Timeout), ID: req.ExecID})
	if !ok {
		return
	}
	out := newEventWriter(w)
	out.sendStart(nil)
	res, err := exe.Run(r.Context(), func(ev kernel.Event) { out.send(kernelEvent(ev)) })
	if err != nil {
		s.log.ErrorContext(r.Context(), "python exec stream", "err", err)
		failed := false
		out.send(wire.StreamEvent{Type: wire.EventEnd, Success: &failed, Error: strp("Failed to execute code: " + err.Error())})
		return
	}
	out.send(pythonEnd(res))
}

func (s *Server) handleKernelStatus(w http.ResponseWriter, r *http.Request) {
	st := s.kernel.Status()
	writeJSON(w, http.StatusOK, map[string]any{
		"status":     st,
		"has_kernel": st != kernel.StatusNotStarted,
		"workspace":  s.root.Dir,
	})
}

func (s *Server) handleKernelRestart(w http.ResponseWriter, r *http.Request) {
	if err := s.kernel.Restart(r.Context()); err != nil {
		writeDetail(w, http.StatusInternalServerError, "Failed to restart kernel: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Kernel restarted successfully"})
}

func (s *Server) handleKernelShutdown(w http.ResponseWriter, r *http.Request) {
	err := s.kernel.Shutdown(r.Context())
	switch {
	case errors.Is(err, kernel.ErrNoKernel):
		writeDetail(w, http.StatusNotFound, "Kernel not found")
	case err != nil:
		writeDetail(w, http.StatusInternalServerError, "Failed to shutdown kernel: "+err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Kernel shutdown successfully"})
	}
}
