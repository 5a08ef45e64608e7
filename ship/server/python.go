package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/bayhq/bay/ship/kernel"
	"github.com/bayhq/bay/ship/wire"
)

func (s *Server) handlePythonExec(w http.ResponseWriter, r *http.Request) {
	var req wire.PythonExecRequest
	if _, ok := decodeBody(w, r, &req, "code"); !ok {
		return
	}
	timeout := 30
	if req.Timeout != nil && *req.Timeout > 0 {
		timeout = *req.Timeout
	}
	silent := req.Silent != nil && *req.Silent
	res, err := s.kernel.Exec(r.Context(), req.Code, silent, time.Duration(timeout)*time.Second)
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
	}
	for _, img := range res.Images {
		resp.Output.Images = append(resp.Output.Images, map[string]string{wire.ImagePNG: img})
	}
	if res.Error != "" {
		resp.Error = strp(res.Error)
	}
	writeJSON(w, http.StatusOK, resp)
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
