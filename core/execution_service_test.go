package core_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/sqlite"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/fake"
)

// execSetup returns the execution service over the sandbox service of
// setup, and a sandbox of python-default.
func execSetup(t *testing.T) (*core.ExecutionService, *core.SandboxService, *testBundle, string) {
	t.Helper()
	svc, b := setup(t)
	x := core.NewExecutionService(core.ExecutionOptions{
		Store: b.store, Ship: b.ship, Clock: b.clock, Sandboxes: svc, InstanceID: "bay-a",
		StartedAt: b.clock.Now(), ProgressEvery: 50 * time.Millisecond,
	})
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	return x, svc, b, sb.ID
}

func TestExecution_SyncExecIsRecorded(t *testing.T) {
	t.Parallel()
	x, _, b, id := execSetup(t)
	out, err := x.Exec(b.ctx, "alice", id, core.ExecInput{Kind: core.ExecPython, Code: "print(1)", Timeout: 30,
		Tags: []string{" b", "a", "b"}})
	require.NoError(t, err)
	require.Equal(t, "print(1)", out.Python.Output)
	e := out.Execution
	require.Regexp(t, `^exec-[0-9a-f]{12}$`, e.ID)
	require.Equal(t, core.ExecFinished, e.Status)
	require.NotNil(t, e.ExecutionTimeMs)

	got, err := x.Get(b.ctx, "alice", id, e.ID, 0)
	require.NoError(t, err)
	require.Equal(t, "print(1)", got.Output)
	require.Equal(t, []string{"a", "b"}, got.Tags)
	require.Equal(t, core.ModeSync, got.Mode)
	require.True(t, *got.Success)

	_, err = x.Get(b.ctx, "bob", id, e.ID, 0)
	require.Equal(t, core.CodeNotFound, core.CodeOf(err))
	_, err = x.Exec(b.ctx, "alice", id, core.ExecInput{Kind: core.ExecPython, Code: "1", Timeout: 30, Tags: []string{"no spaces"}})
	require.Equal(t, core.CodeValidation, core.CodeOf(err))

	b.clock.Advance(time.Second)
	sh, err := x.Exec(b.ctx, "alice", id, core.ExecInput{Kind: core.ExecShell, Code: "echo hi", Timeout: 30})
	require.NoError(t, err)
	last, err := x.Last(b.ctx, "alice", id, "")
	require.NoError(t, err)
	require.Equal(t, sh.Execution.ID, last.ID)
	last, err = x.Last(b.ctx, "alice", id, core.ExecPython)
	require.NoError(t, err)
	require.Equal(t, e.ID, last.ID)
}

func TestExecution_StreamEventsAndRow(t *testing.T) {
	t.Parallel()
	x, _, b, id := execSetup(t)
	run, err := x.Start(b.ctx, "alice", id, core.ModeStream, core.ExecInput{Kind: core.ExecShell, Code: "echo streamed", Timeout: 30})
	require.NoError(t, err)
	var names []string
	for {
		ev, ok, done := run.Next(b.ctx, 5*time.Second)
		require.False(t, done, "stream ended before done")
		require.True(t, ok, "no event in 5 s")
		names = append(names, ev.Name)
		if ev.Terminal() {
			require.Equal(t, "done", ev.Name)
			require.Equal(t, "finished", ev.Data["status"])
			break
		}
	}
	require.Equal(t, "start", names[0])
	require.Contains(t, names, "stdout")
	e, err := x.Get(b.ctx, "alice", id, run.Execution.ID, 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, core.ExecFinished, e.Status)
	require.Equal(t, core.ModeStream, e.Mode)
	require.Equal(t, "echo streamed", e.Output)

	// Past the long timeout: refused before a row is written.
	_, err = x.Start(b.ctx, "alice", id, core.ModeStream, core.ExecInput{Kind: core.ExecShell, Code: "true", Timeout: 3601})
	require.Equal(t, core.CodeValidation, core.CodeOf(err))
}

func TestExecution_AsyncKernelBusyAndCancel(t *testing.T) {
	t.Parallel()
	x, _, b, id := execSetup(t)
	run, err := x.Start(b.ctx, "alice", id, core.ModeAsync, core.ExecInput{Kind: core.ExecPython, Code: "import time; time.sleep(30)", Timeout: 60})
	require.NoError(t, err)
	run.Detach()
	jid := run.Execution.ID

	_, err = x.Exec(b.ctx, "alice", id, core.ExecInput{Kind: core.ExecPython, Code: "1", Timeout: 30})
	require.Equal(t, core.CodeConflict, core.CodeOf(err))
	require.Equal(t, "kernel_busy", core.AsError(err).Details["reason"])
	require.Equal(t, jid, core.AsError(err).Details["running_execution_id"])
	_, err = x.Start(b.ctx, "alice", id, core.ModeStream, core.ExecInput{Kind: core.ExecPython, Code: "1", Timeout: 30})
	require.Equal(t, core.CodeConflict, core.CodeOf(err))
	_, err = x.Exec(b.ctx, "alice", id, core.ExecInput{Kind: core.ExecShell, Code: "true", Timeout: 30})
	require.NoError(t, err, "shell never conflicts")

	_, err = x.Cancel(b.ctx, "bob", id, jid)
	require.Equal(t, core.CodeNotFound, core.CodeOf(err))
	began := time.Now()
	_, err = x.Cancel(b.ctx, "alice", id, jid)
	require.NoError(t, err)
	e, err := x.Get(b.ctx, "alice", id, jid, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, core.ExecCancelled, e.Status)
	require.Less(t, time.Since(began), 5*time.Second)
	_, err = x.Cancel(b.ctx, "alice", id, jid)
	require.Equal(t, core.CodeConflict, core.CodeOf(err))

	_, err = x.Exec(b.ctx, "alice", id, core.ExecInput{Kind: core.ExecPython, Code: "1", Timeout: 30})
	require.NoError(t, err, "the kernel is free again")
}

func TestExecution_AnnotateMergePatch(t *testing.T) {
	t.Parallel()
	x, _, b, id := execSetup(t)
	out, err := x.Exec(b.ctx, "alice", id, core.ExecInput{Kind: core.ExecShell, Code: "true", Timeout: 30, Tags: []string{"keep"}})
	require.NoError(t, err)
	eid := out.Execution.ID
	d, n := "desc", "notes"
	e, err := x.Annotate(b.ctx, "alice", id, eid, core.ExecutionPatch{SetDescription: true, Description: &d, SetNotes: true, Notes: &n})
	require.NoError(t, err)
	require.Equal(t, "desc", *e.Description)
	require.Equal(t, []string{"keep"}, e.Tags)
	e, err = x.Annotate(b.ctx, "alice", id, eid, core.ExecutionPatch{SetDescription: true, SetTags: true})
	require.NoError(t, err)
	require.Nil(t, e.Description)
	require.Empty(t, e.Tags)
	require.Equal(t, "notes", *e.Notes)
	_, err = x.Annotate(b.ctx, "bob", id, eid, core.ExecutionPatch{SetNotes: true, Notes: &n})
	require.Equal(t, core.CodeNotFound, core.CodeOf(err))
}

func TestExecution_GCAndRecovery(t *testing.T) {
	t.Parallel()
	x, svc, b, id := execSetup(t)
	other, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	for range 4 {
		_, err := x.Exec(b.ctx, "alice", id, core.ExecInput{Kind: core.ExecShell, Code: "true", Timeout: 30})
		require.NoError(t, err)
		b.clock.Advance(time.Second)
	}
	_, err = x.Exec(b.ctx, "alice", other.ID, core.ExecInput{Kind: core.ExecShell, Code: "true", Timeout: 30})
	require.NoError(t, err)
	require.NoError(t, svc.Delete(b.ctx, "alice", other.ID))

	// A row left running by this instance before it started.
	stale := &core.Execution{ID: core.NewExecutionID(), SandboxID: id, Owner: "alice", Kind: core.ExecPython,
		Mode: core.ModeAsync, Status: core.ExecRunning, InstanceID: "bay-a", TimeoutS: 60,
		CreatedAt: b.clock.Now().Add(-time.Hour), UpdatedAt: b.clock.Now().Add(-time.Hour)}
	require.NoError(t, b.store.Executions().Insert(b.ctx, stale))

	gc := core.NewGC(core.GCOptions{Store: b.store, Runtime: b.runtime, Clock: b.clock, Sandboxes: svc, InstanceID: "bay-a",
		Tasks:     map[string]bool{core.GCExecutionHistory: true},
		History:   core.HistoryRetention{MaxAge: 24 * time.Hour, MaxPerSandbox: 3},
		StartedAt: b.clock.Now()})
	rep, err := gc.Run(b.ctx, []string{core.GCExecutionHistory})
	require.NoError(t, err)
	require.Equal(t, core.GCExecutionHistory, rep.Results[0].TaskName)
	// One of the deleted sandbox, two over the cap (4 + the stale row).
	require.Equal(t, 3, rep.Results[0].CleanedCount)
	rows, _, err := x.List(b.ctx, "alice", id, core.ExecutionFilter{Limit: 50})
	require.NoError(t, err)
	require.Len(t, rows, 3)

	// Recovery at start-up marks rows of this instance from before it lost.
	stale2 := *stale
	stale2.ID = core.NewExecutionID()
	stale2.CreatedAt = b.clock.Now().Add(-time.Minute)
	require.NoError(t, b.store.Executions().Insert(b.ctx, &stale2))
	n, err := x.RecoverLost(b.ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	e, err := x.Get(b.ctx, "alice", id, stale2.ID, 0)
	require.NoError(t, err)
	require.Equal(t, core.ExecLost, e.Status)
	require.Equal(t, "internal_error", *e.ErrorCode)
	require.Nil(t, e.Success)
}

func TestExecution_ShipFailureLosesRow(t *testing.T) {
	t.Parallel()
	x, _, b, id := execSetup(t)
	_, err := x.Exec(b.ctx, "alice", id, core.ExecInput{Kind: core.ExecShell, Code: "true", Timeout: 30})
	require.NoError(t, err)
	cs, err := b.runtime.ListContainers(b.ctx, map[string]string{core.LabelSandboxID: id})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	b.ship.SetDown(fmt.Sprintf("http://%s:8123", cs[0].ID), true)
	_, err = x.Exec(b.ctx, "alice", id, core.ExecInput{Kind: core.ExecShell, Code: "true", Timeout: 30})
	require.Error(t, err)
	ce := core.AsError(err)
	require.NotNil(t, ce)
	eid, ok := ce.Details["execution_id"].(string)
	require.True(t, ok, "details: %v", ce.Details)
	e, err := x.Get(b.ctx, "alice", id, eid, 0)
	require.NoError(t, err)
	require.Equal(t, core.ExecLost, e.Status)
	require.NotNil(t, e.ErrorCode)
}

// BenchmarkSyncExecHistory is the cost of recording a sync execution: the
// same python call through the sandbox service (no row) and through the
// execution service (a row inserted and finished), on SQLite, with the
// fake runtime and Ship so that only Bay's own work is measured.
func BenchmarkSyncExecHistory(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bay.db"))
	require.NoError(b, err)
	b.Cleanup(func() { _ = store.Close() })
	require.NoError(b, store.Migrate(ctx))
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	rt := fake.NewRuntime(fake.RuntimeOptions{Clock: clock})
	ship := fake.NewShip()
	svc := core.NewSandboxService(core.SandboxServiceOptions{
		Store: store, Runtime: rt, Ship: ship, Clock: clock, IDs: core.RandomIDs{},
		Profiles: testProfiles(), InstanceID: "bench", ReadinessTimeout: 5 * time.Second,
	})
	x := core.NewExecutionService(core.ExecutionOptions{Store: store, Ship: ship, Clock: clock, Sandboxes: svc, InstanceID: "bench"})
	sb, err := svc.Create(ctx, "alice", core.CreateSandboxInput{})
	require.NoError(b, err)
	_, err = svc.Python(ctx, "alice", sb.ID, "1", 30)
	require.NoError(b, err)
	b.Run("without_history", func(b *testing.B) {
		p50(b, func() error {
			_, err := svc.Python(ctx, "alice", sb.ID, "1", 30)
			return err
		})
	})
	b.Run("with_history", func(b *testing.B) {
		p50(b, func() error {
			_, err := x.Exec(ctx, "alice", sb.ID, core.ExecInput{Kind: core.ExecPython, Code: "1", Timeout: 30})
			return err
		})
	})
}

// p50 runs fn b.N times and reports the median call as p50-ns beside the
// mean.
func p50(b *testing.B, fn func() error) {
	times := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
}
