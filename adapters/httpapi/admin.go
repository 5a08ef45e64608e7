package httpapi

import (
	"context"
	"net/http"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// RunGC runs one GC cycle synchronously.
func (s *Server) RunGC(ctx context.Context, req oapigen.RunGCRequestObject) (oapigen.RunGCResponseObject, error) {
	var tasks []string
	if req.Body != nil && req.Body.Tasks != nil {
		tasks = nonNil(*req.Body.Tasks)
	}
	rep, err := s.gc.Run(ctx, tasks)
	if err != nil {
		return nil, err
	}
	out := oapigen.GCReport{
		Results:      make([]oapigen.GCTaskResult, 0, len(rep.Results)),
		TotalCleaned: rep.TotalCleaned,
		TotalErrors:  rep.TotalErrors,
		DurationMs:   rep.Duration.Milliseconds(),
	}
	for _, r := range rep.Results {
		out.Results = append(out.Results, oapigen.GCTaskResult{
			TaskName:     r.TaskName,
			CleanedCount: r.CleanedCount,
			SkippedCount: r.SkippedCount,
			Errors:       nonNil(r.Errors),
		})
	}
	return newReply(http.StatusOK, out)
}

// GetGCStatus describes the garbage collector.
func (s *Server) GetGCStatus(ctx context.Context, _ oapigen.GetGCStatusRequestObject) (oapigen.GetGCStatusResponseObject, error) {
	st := s.gc.Status()
	out := oapigen.GCStatus{
		Enabled:         st.Enabled,
		IsRunning:       st.IsRunning,
		InstanceId:      st.InstanceID,
		IntervalSeconds: st.IntervalSeconds,
		Tasks:           make(map[string]oapigen.GCTaskStatus, len(st.Tasks)),
	}
	for name, enabled := range st.Tasks {
		out.Tasks[name] = oapigen.GCTaskStatus{Enabled: enabled}
	}
	return newReply(http.StatusOK, out)
}
