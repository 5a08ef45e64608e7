package metrics

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bayhq/bay/core"
)

// Registry holds every series.
type Registry struct {
	mu       sync.Mutex
	families []*family
	byName   map[string]*family
	collect  []func(ctx context.Context, r *Registry)
}

type kind string

const (
	counterKind   kind = "counter"
	gaugeKind     kind = "gauge"
	histogramKind kind = "histogram"
)

type family struct {
	name, help string
	kind       kind
	labels     []string
	buckets    []float64
	series     map[string]*series
}

type series struct {
	labelValues []string
	value       float64
	counts      []uint64 // histogram: per bucket (not cumulative)
	sum         float64
	count       uint64
}

// New returns a Registry with Bay's series declared.
func New() *Registry {
	r := &Registry{byName: map[string]*family{}}
	r.declare("bay_http_requests_total", "HTTP requests by route pattern (method and path) and status.", counterKind, nil, "route", "status")
	r.declare("bay_http_request_duration_seconds", "HTTP request latency by route pattern.", histogramKind,
		[]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}, "route")
	r.declare("bay_sandboxes", "Live sandboxes by computed status, read at scrape time.", gaugeKind, nil, "status")
	r.declare("bay_session_starts_total", "Runtime session starts by outcome.", counterKind, nil, "outcome")
	r.declare("bay_session_start_duration_seconds", "Time from claiming a session start to its runtime answering /health.", histogramKind,
		[]float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 120}, "outcome")
	r.declare("bay_runtime_errors_total", "Errors from the container runtime by operation.", counterKind, nil, "op")
	r.declare("bay_sessions_paused_total", "Sessions paused for idleness (idle_pause).", counterKind, nil)
	r.declare("bay_sessions_resumed_total", "Paused sessions resumed by a call.", counterKind, nil)
	r.declare("bay_session_resume_duration_seconds", "Time to thaw a paused session's containers.", histogramKind,
		[]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5})
	r.declare("bay_sessions_paused", "Sessions paused now, read at scrape time.", gaugeKind, nil)
	r.declare("bay_pool_size", "Ready warm pool entries by profile, read at scrape time.", gaugeKind, nil, "profile")
	r.declare("bay_pool_claims_total", "Sandbox creates of a profile with a warm pool, by result (hit: served from the pool; miss: started lazily).",
		counterKind, nil, "profile", "result")
	r.declare("bay_pool_refill_seconds", "Time to start one warm pool entry, from its reservation to its kernel answering, by outcome.",
		histogramKind, []float64{0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 120}, "profile", "outcome")
	r.declare("bay_gc_runs_total", "Garbage collection cycles.", counterKind, nil)
	r.declare("bay_gc_cleaned_total", "Items cleaned by garbage collection, by task.", counterKind, nil, "task")
	r.declare("bay_gc_skipped_total", "Items skipped by garbage collection, by task.", counterKind, nil, "task")
	r.declare("bay_gc_errors_total", "Item errors of garbage collection, by task.", counterKind, nil, "task")
	r.declare("bay_gc_duration_seconds", "Duration of garbage collection cycles.", histogramKind,
		[]float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60})
	r.declare("bay_executions_total", "Python and shell executions that ended, by kind, mode and status.", counterKind, nil, "kind", "mode", "status")
	r.declare("bay_execution_seconds", "Duration of executions from request to result, by kind and mode.", histogramKind,
		[]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}, "kind", "mode")
	r.declare("bay_exec_streams_open", "Streamed executions with a client attached.", gaugeKind, nil)
	r.declare("bay_terminals_open", "Terminals open through Bay.", gaugeKind, nil)
	r.declare("bay_mcp_tool_calls_total", "MCP tool calls by tool and outcome (success or error).", counterKind, nil, "tool", "outcome")
	return r
}

func (r *Registry) declare(name, help string, k kind, buckets []float64, labels ...string) {
	f := &family{name: name, help: help, kind: k, labels: labels, buckets: buckets, series: map[string]*series{}}
	r.families = append(r.families, f)
	r.byName[name] = f
}

func (r *Registry) get(name string, values ...string) *series {
	f := r.byName[name]
	key := strings.Join(values, "\xff")
	s := f.series[key]
	if s == nil {
		s = &series{labelValues: values}
		if f.kind == histogramKind {
			s.counts = make([]uint64, len(f.buckets))
		}
		f.series[key] = s
	}
	return s
}

func (r *Registry) add(name string, v float64, values ...string) {
	r.mu.Lock()
	r.get(name, values...).value += v
	r.mu.Unlock()
}

func (r *Registry) set(name string, v float64, values ...string) {
	r.mu.Lock()
	r.get(name, values...).value = v
	r.mu.Unlock()
}

func (r *Registry) observe(name string, v float64, values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.byName[name]
	s := r.get(name, values...)
	for i, b := range f.buckets {
		if v <= b {
			s.counts[i]++
			break
		}
	}
	s.sum += v
	s.count++
}

// ExecutionDone records an execution that left the running state.
func (r *Registry) ExecutionDone(kind core.ExecutionKind, mode core.ExecutionMode, status core.ExecutionStatus, d time.Duration) {
	r.add("bay_executions_total", 1, string(kind), string(mode), string(status))
	r.observe("bay_execution_seconds", d.Seconds(), string(kind), string(mode))
}

// StreamOpen counts stream clients attached (+1) and gone (-1).
func (r *Registry) StreamOpen(delta int) { r.add("bay_exec_streams_open", float64(delta)) }

// TerminalOpen counts terminals opened (+1) and closed (-1).
func (r *Registry) TerminalOpen(delta int) { r.add("bay_terminals_open", float64(delta)) }

// MCPToolCall counts one MCP tool call; outcome is "success" or "error".
func (r *Registry) MCPToolCall(tool, outcome string) {
	r.add("bay_mcp_tool_calls_total", 1, tool, outcome)
}

// ObserveRequest records one HTTP request. route is the matched pattern
// ("GET /v1/sandboxes/{sandbox_id}"); "" (no route matched) is recorded as
// "unmatched" so that arbitrary paths never become label values.
func (r *Registry) ObserveRequest(route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	r.add("bay_http_requests_total", 1, route, strconv.Itoa(status))
	r.observe("bay_http_request_duration_seconds", d.Seconds(), route)
}

// SessionStart records a runtime start and how long it took.
func (r *Registry) SessionStart(d time.Duration, err error) {
	outcome := "success"
	if err != nil {
		outcome = "failure"
	}
	r.add("bay_session_starts_total", 1, outcome)
	r.observe("bay_session_start_duration_seconds", d.Seconds(), outcome)
}

// RuntimeError records a failed runtime operation.
func (r *Registry) RuntimeError(op string) { r.add("bay_runtime_errors_total", 1, op) }

// SessionPaused counts a session paused for idleness.
func (r *Registry) SessionPaused() { r.add("bay_sessions_paused_total", 1) }

// SessionResumed counts a paused session resumed and how long its thaw
// took.
func (r *Registry) SessionResumed(d time.Duration) {
	r.add("bay_sessions_resumed_total", 1)
	r.observe("bay_session_resume_duration_seconds", d.Seconds())
}

// CollectPaused makes every scrape read how many sessions are paused.
func (r *Registry) CollectPaused(count func(ctx context.Context) (int64, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collect = append(r.collect, func(ctx context.Context, r *Registry) {
		if n, err := count(ctx); err == nil {
			r.set("bay_sessions_paused", float64(n))
		}
	})
}

// PoolClaim counts a create of a profile with a warm pool.
func (r *Registry) PoolClaim(profile string, hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	r.add("bay_pool_claims_total", 1, profile, result)
}

// PoolRefill records the start of one warm pool entry.
func (r *Registry) PoolRefill(profile string, d time.Duration, err error) {
	outcome := "success"
	if err != nil {
		outcome = "failure"
	}
	r.observe("bay_pool_refill_seconds", d.Seconds(), profile, outcome)
}

// CollectPool makes every scrape read the ready warm pool entries of every
// profile that keeps a pool.
func (r *Registry) CollectPool(count func(ctx context.Context) (map[string]int64, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collect = append(r.collect, func(ctx context.Context, r *Registry) {
		counts, err := count(ctx)
		if err != nil {
			return
		}
		for profile, n := range counts {
			r.set("bay_pool_size", float64(n), profile)
		}
	})
}

// GCCycle records one garbage collection cycle.
func (r *Registry) GCCycle(rep *core.GCReport) {
	r.add("bay_gc_runs_total", 1)
	r.observe("bay_gc_duration_seconds", rep.Duration.Seconds())
	for _, t := range rep.Results {
		r.add("bay_gc_cleaned_total", float64(t.CleanedCount), t.TaskName)
		r.add("bay_gc_skipped_total", float64(t.SkippedCount), t.TaskName)
		r.add("bay_gc_errors_total", float64(len(t.Errors)), t.TaskName)
	}
}

// CollectSandboxes makes every scrape read the live sandboxes by status.
func (r *Registry) CollectSandboxes(count func(ctx context.Context) (map[core.SandboxStatus]int64, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collect = append(r.collect, func(ctx context.Context, r *Registry) {
		counts, err := count(ctx)
		if err != nil {
			return
		}
		for _, st := range core.SandboxStatuses {
			if st == core.StatusDeleted {
				continue
			}
			r.set("bay_sandboxes", float64(counts[st]), string(st))
		}
	})
}

// ServeHTTP writes every series in the Prometheus text format.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
	defer cancel()
	r.mu.Lock()
	collectors := append([]func(context.Context, *Registry){}, r.collect...)
	r.mu.Unlock()
	for _, c := range collectors {
		c(ctx, r)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	r.Write(w)
}

// Write writes every series in the Prometheus text format.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.families {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		keys := make([]string, 0, len(f.series))
		for k := range f.series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s := f.series[k]
			if f.kind != histogramKind {
				fmt.Fprintf(w, "%s%s %s\n", f.name, labels(f.labels, s.labelValues, "", ""), num(s.value))
				continue
			}
			var cum uint64
			for i, b := range f.buckets {
				cum += s.counts[i]
				fmt.Fprintf(w, "%s_bucket%s %d\n", f.name, labels(f.labels, s.labelValues, "le", num(b)), cum)
			}
			fmt.Fprintf(w, "%s_bucket%s %d\n", f.name, labels(f.labels, s.labelValues, "le", "+Inf"), s.count)
			fmt.Fprintf(w, "%s_sum%s %s\n", f.name, labels(f.labels, s.labelValues, "", ""), num(s.sum))
			fmt.Fprintf(w, "%s_count%s %d\n", f.name, labels(f.labels, s.labelValues, "", ""), s.count)
		}
	}
}

func num(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var escaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func labels(names, values []string, extraName, extraValue string) string {
	if len(names) == 0 && extraName == "" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, n, escaper.Replace(values[i]))
	}
	if extraName != "" {
		if len(names) > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, extraName, extraValue)
	}
	b.WriteByte('}')
	return b.String()
}
