package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/metrics"
	"github.com/bayhq/bay/core"
)

func TestRegistry_Exposition(t *testing.T) {
	t.Parallel()
	r := metrics.New()
	r.ObserveRequest("GET /v1/sandboxes/{sandbox_id}", 200, 3*time.Millisecond)
	r.ObserveRequest("GET /v1/sandboxes/{sandbox_id}", 404, 300*time.Microsecond)
	r.SessionStart(800*time.Millisecond, nil)
	r.SessionStart(2*time.Second, errors.New("boom"))
	r.RuntimeError("create_container")
	r.GCCycle(&core.GCReport{Duration: 20 * time.Millisecond, Results: []core.GCTaskResult{
		{TaskName: core.GCIdleSession, CleanedCount: 2, SkippedCount: 1, Errors: []string{"x"}},
	}})
	r.CollectSandboxes(func(context.Context) (map[core.SandboxStatus]int64, error) {
		return map[core.SandboxStatus]int64{core.StatusReady: 3, core.StatusIdle: 1}, nil
	})
	r.SessionPaused()
	r.SessionPaused()
	r.SessionResumed(20 * time.Millisecond)
	r.CollectPaused(func(context.Context) (int64, error) { return 1, nil })
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	require.Equal(t, "text/plain; version=0.0.4; charset=utf-8", rec.Header().Get("Content-Type"))
	for _, want := range []string{
		`bay_http_requests_total{route="GET /v1/sandboxes/{sandbox_id}",status="200"} 1`,
		`bay_http_requests_total{route="GET /v1/sandboxes/{sandbox_id}",status="404"} 1`,
		`bay_http_request_duration_seconds_bucket{route="GET /v1/sandboxes/{sandbox_id}",le="0.0005"} 1`,
		`bay_http_request_duration_seconds_bucket{route="GET /v1/sandboxes/{sandbox_id}",le="0.005"} 2`,
		`bay_http_request_duration_seconds_count{route="GET /v1/sandboxes/{sandbox_id}"} 2`,
		`bay_session_starts_total{outcome="failure"} 1`,
		`bay_session_start_duration_seconds_bucket{outcome="success",le="1"} 1`,
		`bay_runtime_errors_total{op="create_container"} 1`,
		`bay_gc_runs_total 1`,
		`bay_gc_cleaned_total{task="idle_session"} 2`,
		`bay_gc_errors_total{task="idle_session"} 1`,
		`bay_sandboxes{status="ready"} 3`,
		`bay_sandboxes{status="expired"} 0`,
		`bay_sessions_paused_total 2`,
		`bay_sessions_resumed_total 1`,
		`bay_session_resume_duration_seconds_bucket{le="0.025"} 1`,
		`bay_sessions_paused 1`,
		"# TYPE bay_http_request_duration_seconds histogram",
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, `status="deleted"`)
	require.True(t, strings.HasSuffix(body, "\n"))
}
