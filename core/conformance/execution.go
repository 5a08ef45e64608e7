package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// RunExecutionStore tests a core.ExecutionStore.
func RunExecutionStore(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("Insert/RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		e := newExecution(sb, base)
		e.Kind, e.Mode, e.Status = core.ExecShell, core.ModeStream, core.ExecFinished
		e.Cwd = ptr("/workspace/sub dir")
		e.CodeTruncated, e.CodeBytes = true, 70000
		e.Success, e.ExitCode, e.ExecutionCount = ptr(false), ptr(int64(-1)), ptr(int64(4))
		e.KernelRestarted = true
		e.Output, e.OutputBytes, e.OutputTruncated = "out\n", 200000, true
		e.Error, e.ErrorTruncated, e.ErrorCode = ptr("Traceback…\nZeroDivisionError"), true, ptr("timeout")
		e.Images, e.ImageCount, e.ImagesTruncated = []string{"iVBORw0KGgo=", "AAAA"}, 3, true
		e.Description, e.Notes = ptr("first run"), ptr("keep this")
		e.Tags = []string{"etl", "release:1", "x_y"}
		e.FinishedAt, e.ExecutionTimeMs = ptr(at(142*time.Millisecond)), ptr(int64(142))
		e.UpdatedAt = at(time.Second)
		require.NoError(t, s.Executions().Insert(ctx, e))
		got, err := s.Executions().Get(ctx, "alice", sb.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, e, got)

		// The optional fields left empty come back empty.
		m := newExecution(sb, at(time.Second))
		require.NoError(t, s.Executions().Insert(ctx, m))
		got, err = s.Executions().Get(ctx, "alice", sb.ID, m.ID)
		require.NoError(t, err)
		require.Equal(t, m, got)
		require.Nil(t, got.Tags)
		require.Nil(t, got.Images)
	})

	t.Run("Insert/TimesKeepMicroseconds", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		e := newExecution(sb, base.Add(789*time.Nanosecond))
		require.NoError(t, s.Executions().Insert(ctx, e))
		got, err := s.Executions().Get(ctx, "alice", sb.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, core.Micro(e.CreatedAt), got.CreatedAt)
		// A cursor built from the stored row excludes exactly that row.
		later := newExecution(sb, got.CreatedAt)
		require.NoError(t, s.Executions().Insert(ctx, later))
		after := &core.ExecutionCursor{CreatedAt: got.CreatedAt, ID: got.ID}
		list, err := s.Executions().List(ctx, "alice", sb.ID, core.ExecutionFilter{Asc: true, After: after, Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{later.ID}, ids(list))
	})

	t.Run("Insert/ConflictAndUnknownSandbox", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		e := newExecution(sb, base)
		require.NoError(t, s.Executions().Insert(ctx, e))
		requireCode(t, core.CodeConflict, s.Executions().Insert(ctx, e))
		orphan := newExecution(&core.Sandbox{ID: "sandbox-ffffffffffff", Owner: "alice"}, base)
		requireCode(t, core.CodeNotFound, s.Executions().Insert(ctx, orphan))
	})

	t.Run("Insert/HostileText", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		for _, v := range hostile(h.TextHoldsNUL) {
			e := newExecution(sb, base)
			e.Code, e.Output, e.Error, e.Description = v, v, ptr(v), ptr(v)
			require.NoError(t, s.Executions().Insert(ctx, e))
			got, err := s.Executions().Get(ctx, "alice", sb.ID, e.ID)
			require.NoError(t, err)
			require.Equal(t, e, got)
		}
		if !h.TextHoldsNUL {
			e := newExecution(sb, base)
			e.Output = "nul\x00byte"
			requireCode(t, core.CodeValidation, s.Executions().Insert(ctx, e))
		}
		n, err := s.Executions().Count(ctx, "alice", sb.ID, core.ExecutionFilter{})
		require.NoError(t, err)
		require.EqualValues(t, len(hostile(h.TextHoldsNUL)), n)
	})

	t.Run("Isolation/OwnerAndSandbox", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		other := createSandbox(t, s, "alice")
		bobs := createSandbox(t, s, "bob")
		e := newExecution(sb, base)
		require.NoError(t, s.Executions().Insert(ctx, e))
		require.NoError(t, s.Executions().Insert(ctx, newExecution(bobs, base)))

		for _, c := range []struct{ owner, sandboxID string }{
			{"bob", sb.ID},        // another owner
			{"alice", other.ID},   // another sandbox of the owner
			{"bob", bobs.ID},      // another owner's own sandbox
			{"alice", bobs.ID},    // a sandbox of another owner
			{"", sb.ID},           // no owner
			{"alice", ""},         // no sandbox
			{"alice", "sandbox-"}, // a prefix
		} {
			_, err := s.Executions().Get(ctx, c.owner, c.sandboxID, e.ID)
			requireCode(t, core.CodeNotFound, err)
			_, err = s.Executions().Annotate(ctx, c.owner, c.sandboxID, e.ID,
				core.ExecutionPatch{SetNotes: true, Notes: ptr("x"), UpdatedAt: at(time.Hour)})
			requireCode(t, core.CodeNotFound, err)
			if c.owner == "bob" && c.sandboxID == bobs.ID {
				continue // bob's own row
			}
			_, err = s.Executions().Last(ctx, c.owner, c.sandboxID, "")
			requireCode(t, core.CodeNotFound, err)
			list, err := s.Executions().List(ctx, c.owner, c.sandboxID, core.ExecutionFilter{Limit: 10})
			require.NoError(t, err)
			require.Empty(t, list)
			n, err := s.Executions().Count(ctx, c.owner, c.sandboxID, core.ExecutionFilter{})
			require.NoError(t, err)
			require.Zero(t, n)
		}
		got, err := s.Executions().Get(ctx, "alice", sb.ID, e.ID)
		require.NoError(t, err)
		require.Nil(t, got.Notes, "no annotation went through")
		_, err = s.Executions().Get(ctx, "alice", sb.ID, "exec-ffffffffffff")
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("Last/ByKind", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		_, err := s.Executions().Last(ctx, "alice", sb.ID, "")
		requireCode(t, core.CodeNotFound, err)

		py := newExecution(sb, at(time.Second))
		sh := newExecution(sb, at(time.Second)) // same instant: the larger id is newer
		sh.Kind = core.ExecShell
		old := newExecution(sb, base)
		for _, e := range []*core.Execution{py, sh, old} {
			require.NoError(t, s.Executions().Insert(ctx, e))
		}
		got, err := s.Executions().Last(ctx, "alice", sb.ID, "")
		require.NoError(t, err)
		require.Equal(t, sh, got)
		got, err = s.Executions().Last(ctx, "alice", sb.ID, core.ExecShell)
		require.NoError(t, err)
		require.Equal(t, sh.ID, got.ID)
		got, err = s.Executions().Last(ctx, "alice", sb.ID, core.ExecPython)
		require.NoError(t, err)
		require.Equal(t, py.ID, got.ID)

		only := createSandbox(t, s, "alice")
		require.NoError(t, s.Executions().Insert(ctx, newExecution(only, base)))
		_, err = s.Executions().Last(ctx, "alice", only.ID, core.ExecShell)
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("List/PagesWalkEveryRowOnce", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		// Inserted out of order, with ties on created_at (broken by id).
		offsets := []time.Duration{3, 1, 1, 1, 2, 0, 3}
		var asc []string // expected oldest first
		rows := make([]*core.Execution, len(offsets))
		for i, d := range offsets {
			rows[i] = newExecution(sb, at(d*time.Second))
			require.NoError(t, s.Executions().Insert(ctx, rows[i]))
		}
		for _, d := range []time.Duration{0, 1, 2, 3} {
			for _, e := range rows {
				if e.CreatedAt.Equal(at(d * time.Second)) {
					asc = append(asc, e.ID) // ids grow with insertion
				}
			}
		}
		desc := reversed(asc)

		for _, order := range []struct {
			asc  bool
			want []string
		}{{false, desc}, {true, asc}} {
			var seen []string
			f := core.ExecutionFilter{Asc: order.asc, Limit: 2}
			for range len(rows) {
				page, err := s.Executions().List(ctx, "alice", sb.ID, f)
				require.NoError(t, err)
				require.LessOrEqual(t, len(page), 2)
				if len(page) == 0 {
					break
				}
				seen = append(seen, ids(page)...)
				last := page[len(page)-1]
				f.After = &core.ExecutionCursor{CreatedAt: last.CreatedAt, ID: last.ID}
			}
			require.Equal(t, order.want, seen, "asc=%v", order.asc)
		}

		// Offset, for the compatibility routes.
		page, err := s.Executions().List(ctx, "alice", sb.ID, core.ExecutionFilter{Offset: 5, Limit: 10})
		require.NoError(t, err)
		require.Equal(t, desc[5:], ids(page))
		page, err = s.Executions().List(ctx, "alice", sb.ID, core.ExecutionFilter{Offset: 2, Limit: 3, Asc: true})
		require.NoError(t, err)
		require.Equal(t, asc[2:5], ids(page))

		// Rows come back whole.
		page, err = s.Executions().List(ctx, "alice", sb.ID, core.ExecutionFilter{Limit: 1})
		require.NoError(t, err)
		got, err := s.Executions().Get(ctx, "alice", sb.ID, page[0].ID)
		require.NoError(t, err)
		require.Equal(t, *got, page[0])
	})

	t.Run("List/Filters", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		mk := func(d time.Duration, fn func(e *core.Execution)) string {
			e := newExecution(sb, at(d))
			fn(e)
			require.NoError(t, s.Executions().Insert(ctx, e))
			return e.ID
		}
		ok := mk(0, func(e *core.Execution) {
			e.Status, e.Success = core.ExecFinished, ptr(true)
			e.Tags = []string{"etl", "test"}
			e.Description = ptr("nightly")
		})
		failed := mk(time.Second, func(e *core.Execution) {
			e.Kind = core.ExecShell
			e.Status, e.Success = core.ExecFinished, ptr(false)
			e.Tags = []string{"testing"}
			e.Notes = ptr("flaky")
		})
		cancelled := mk(2*time.Second, func(e *core.Execution) {
			e.Status, e.Success = core.ExecCancelled, ptr(false)
			e.Tags = []string{"a_b", "etl"}
			e.Description, e.Notes = ptr(""), ptr("")
		})
		lost := mk(3*time.Second, func(e *core.Execution) {
			e.Kind = core.ExecShell
			e.Status, e.ErrorCode, e.Error = core.ExecLost, ptr("ship_error"), ptr("gone")
			e.Tags = []string{"axb"}
		})
		running := mk(4*time.Second, func(e *core.Execution) {})

		for name, c := range map[string]struct {
			f    core.ExecutionFilter
			want []string // newest first
		}{
			"none":                  {core.ExecutionFilter{}, []string{running, lost, cancelled, failed, ok}},
			"kind":                  {core.ExecutionFilter{Kind: core.ExecShell}, []string{lost, failed}},
			"status":                {core.ExecutionFilter{Status: core.ExecRunning}, []string{running}},
			"success=true":          {core.ExecutionFilter{Success: ptr(true)}, []string{ok}},
			"success=false":         {core.ExecutionFilter{Success: ptr(false)}, []string{failed}}, // not the cancelled row
			"tag":                   {core.ExecutionFilter{Tags: []string{"etl"}}, []string{cancelled, ok}},
			"tags all-of":           {core.ExecutionFilter{Tags: []string{"etl", "test"}}, []string{ok}},
			"tag is exact":          {core.ExecutionFilter{Tags: []string{"test"}}, []string{ok}}, // not "testing"
			"tag prefix":            {core.ExecutionFilter{Tags: []string{"tes"}}, nil},
			"underscore literal":    {core.ExecutionFilter{Tags: []string{"a_b"}}, []string{cancelled}}, // not "axb"
			"percent literal":       {core.ExecutionFilter{Tags: []string{"%"}}, nil},
			"unknown tag":           {core.ExecutionFilter{Tags: []string{"etl", "nope"}}, nil},
			"since inclusive":       {core.ExecutionFilter{Since: ptr(at(3 * time.Second))}, []string{running, lost}},
			"until exclusive":       {core.ExecutionFilter{Until: ptr(at(time.Second))}, []string{ok}},
			"since and until":       {core.ExecutionFilter{Since: ptr(at(time.Second)), Until: ptr(at(3 * time.Second))}, []string{cancelled, failed}},
			"has_description":       {core.ExecutionFilter{HasDescription: ptr(true)}, []string{cancelled, ok}},
			"has no description":    {core.ExecutionFilter{HasDescription: ptr(false)}, []string{running, lost, failed}},
			"has_notes":             {core.ExecutionFilter{HasNotes: ptr(true)}, []string{cancelled, failed}},
			"has no notes":          {core.ExecutionFilter{HasNotes: ptr(false)}, []string{running, lost, ok}},
			"combined":              {core.ExecutionFilter{Kind: core.ExecPython, Tags: []string{"etl"}, HasNotes: ptr(false)}, []string{ok}},
			"status and success":    {core.ExecutionFilter{Status: core.ExecCancelled, Success: ptr(false)}, nil},
			"tag on shell and lost": {core.ExecutionFilter{Kind: core.ExecShell, Status: core.ExecLost, Tags: []string{"axb"}}, []string{lost}},
		} {
			c.f.Limit = 50
			list, err := s.Executions().List(ctx, "alice", sb.ID, c.f)
			require.NoError(t, err, name)
			require.Equal(t, c.want, ids(list), name)
			c.f.Asc = true
			list, err = s.Executions().List(ctx, "alice", sb.ID, c.f)
			require.NoError(t, err, name)
			require.Equal(t, reversed(c.want), ids(list), name)
			// Count ignores order, cursor, offset and limit.
			c.f.Limit, c.f.Offset = 1, 1
			c.f.After = &core.ExecutionCursor{CreatedAt: at(-time.Hour), ID: ""}
			n, err := s.Executions().Count(ctx, "alice", sb.ID, c.f)
			require.NoError(t, err, name)
			require.EqualValues(t, len(c.want), n, name)
		}
	})

	t.Run("Finish/OnlyRunningRowsKeepAnnotations", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		e := newExecution(sb, base)
		e.Tags = []string{"etl"}
		require.NoError(t, s.Executions().Insert(ctx, e))
		// An annotation lands while the row runs.
		_, err := s.Executions().Annotate(ctx, "alice", sb.ID, e.ID, core.ExecutionPatch{
			SetDescription: true, Description: ptr("d"), SetNotes: true, Notes: ptr("n"), UpdatedAt: at(time.Millisecond),
		})
		require.NoError(t, err)

		r := core.ExecutionResult{
			Status:          core.ExecFinished,
			Success:         ptr(true),
			ExecutionCount:  ptr(int64(7)),
			KernelRestarted: true,
			Output:          "6\n",
			OutputBytes:     2,
			Error:           ptr("warning"),
			ErrorTruncated:  true,
			Images:          []string{"iVBORw0KGgo="},
			ImageCount:      1,
			FinishedAt:      ptr(at(time.Second)),
			ExecutionTimeMs: ptr(int64(1000)),
			UpdatedAt:       at(time.Second),
		}
		done, err := s.Executions().Finish(ctx, e.ID, r)
		require.NoError(t, err)
		require.True(t, done)

		want := *e
		want.Status, want.Success, want.ExecutionCount, want.KernelRestarted = r.Status, r.Success, r.ExecutionCount, true
		want.Output, want.OutputBytes, want.Error, want.ErrorTruncated = r.Output, r.OutputBytes, r.Error, true
		want.Images, want.ImageCount = r.Images, r.ImageCount
		want.FinishedAt, want.ExecutionTimeMs, want.UpdatedAt = r.FinishedAt, r.ExecutionTimeMs, r.UpdatedAt
		want.Description, want.Notes = ptr("d"), ptr("n")
		got, err := s.Executions().Get(ctx, "alice", sb.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, &want, got)

		// A second end (a lost after a finish, say) writes nothing.
		done, err = s.Executions().Finish(ctx, e.ID, core.ExecutionResult{
			Status: core.ExecLost, ErrorCode: ptr("internal_error"), UpdatedAt: at(time.Hour),
		})
		require.NoError(t, err)
		require.False(t, done)
		got, err = s.Executions().Get(ctx, "alice", sb.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, &want, got)

		done, err = s.Executions().Finish(ctx, "exec-ffffffffffff", r)
		require.NoError(t, err)
		require.False(t, done)
	})

	t.Run("Progress/OnlyRunningRows", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		e := newExecution(sb, base)
		e.Mode = core.ModeStream
		e.Description = ptr("d")
		require.NoError(t, s.Executions().Insert(ctx, e))
		p := core.ExecutionProgress{Output: "step 1\n", OutputBytes: 90000, OutputTruncated: true, UpdatedAt: at(5 * time.Second)}
		require.NoError(t, s.Executions().Progress(ctx, e.ID, p))
		want := *e
		want.Output, want.OutputBytes, want.OutputTruncated, want.UpdatedAt = p.Output, p.OutputBytes, true, p.UpdatedAt
		got, err := s.Executions().Get(ctx, "alice", sb.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, &want, got)

		done, err := s.Executions().Finish(ctx, e.ID, core.ExecutionResult{
			Status: core.ExecCancelled, Output: "final", OutputBytes: 5, UpdatedAt: at(6 * time.Second),
		})
		require.NoError(t, err)
		require.True(t, done)
		require.NoError(t, s.Executions().Progress(ctx, e.ID, core.ExecutionProgress{Output: "late", UpdatedAt: at(time.Hour)}))
		got, err = s.Executions().Get(ctx, "alice", sb.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, core.ExecCancelled, got.Status)
		require.Equal(t, "final", got.Output)
		require.Equal(t, at(6*time.Second), got.UpdatedAt)
		require.NoError(t, s.Executions().Progress(ctx, "exec-ffffffffffff", p), "a missing row is no error")
	})

	t.Run("Annotate/SetKeepClear", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		e := newExecution(sb, base)
		e.Status, e.Success, e.Output, e.FinishedAt = core.ExecFinished, ptr(true), "result", ptr(at(time.Second))
		require.NoError(t, s.Executions().Insert(ctx, e))
		get := func() *core.Execution {
			got, err := s.Executions().Get(ctx, "alice", sb.ID, e.ID)
			require.NoError(t, err)
			return got
		}

		// Set all three.
		got, err := s.Executions().Annotate(ctx, "alice", sb.ID, e.ID, core.ExecutionPatch{
			SetDescription: true, Description: ptr("desc"),
			SetTags: true, Tags: []string{"b", "a_1"},
			SetNotes: true, Notes: ptr("notes"),
			UpdatedAt: at(time.Minute),
		})
		require.NoError(t, err)
		want := *e
		want.Description, want.Tags, want.Notes, want.UpdatedAt = ptr("desc"), []string{"a_1", "b"}, ptr("notes"), at(time.Minute)
		require.Equal(t, &want, got)
		require.Equal(t, &want, get())

		// Absent fields keep their values.
		got, err = s.Executions().Annotate(ctx, "alice", sb.ID, e.ID, core.ExecutionPatch{
			SetNotes: true, Notes: ptr("more"), UpdatedAt: at(2 * time.Minute),
		})
		require.NoError(t, err)
		want.Notes, want.UpdatedAt = ptr("more"), at(2*time.Minute)
		require.Equal(t, &want, got)

		// An empty patch changes nothing, updated_at included.
		got, err = s.Executions().Annotate(ctx, "alice", sb.ID, e.ID, core.ExecutionPatch{UpdatedAt: at(time.Hour)})
		require.NoError(t, err)
		require.Equal(t, &want, got)

		// Set with nothing clears.
		got, err = s.Executions().Annotate(ctx, "alice", sb.ID, e.ID, core.ExecutionPatch{
			SetDescription: true, SetTags: true, SetNotes: true, UpdatedAt: at(3 * time.Minute),
		})
		require.NoError(t, err)
		want.Description, want.Tags, want.Notes, want.UpdatedAt = nil, nil, nil, at(3*time.Minute)
		require.Equal(t, &want, got)
		require.Equal(t, &want, get())
		n, err := s.Executions().Count(ctx, "alice", sb.ID, core.ExecutionFilter{Tags: []string{"b"}})
		require.NoError(t, err)
		require.Zero(t, n)

		_, err = s.Executions().Annotate(ctx, "alice", sb.ID, "exec-ffffffffffff", core.ExecutionPatch{UpdatedAt: base})
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("RunningPython/StreamOrAsyncOnly", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		other := createSandbox(t, s, "alice")
		_, err := s.Executions().RunningPython(ctx, sb.ID)
		requireCode(t, core.CodeNotFound, err)

		mk := func(sb *core.Sandbox, d time.Duration, kind core.ExecutionKind, mode core.ExecutionMode, st core.ExecutionStatus) *core.Execution {
			e := newExecution(sb, at(d))
			e.Kind, e.Mode, e.Status = kind, mode, st
			require.NoError(t, s.Executions().Insert(ctx, e))
			return e
		}
		mk(sb, 5*time.Second, core.ExecPython, core.ModeSync, core.ExecRunning)
		mk(sb, 5*time.Second, core.ExecShell, core.ModeStream, core.ExecRunning)
		mk(sb, 5*time.Second, core.ExecPython, core.ModeStream, core.ExecFinished)
		mk(sb, 5*time.Second, core.ExecPython, core.ModeAsync, core.ExecLost)
		mk(other, 9*time.Second, core.ExecPython, core.ModeAsync, core.ExecRunning)
		_, err = s.Executions().RunningPython(ctx, sb.ID)
		requireCode(t, core.CodeNotFound, err)

		async := mk(sb, time.Second, core.ExecPython, core.ModeAsync, core.ExecRunning)
		got, err := s.Executions().RunningPython(ctx, sb.ID)
		require.NoError(t, err)
		require.Equal(t, async, got)
		stream := mk(sb, 2*time.Second, core.ExecPython, core.ModeStream, core.ExecRunning)
		got, err = s.Executions().RunningPython(ctx, sb.ID)
		require.NoError(t, err)
		require.Equal(t, stream.ID, got.ID, "the newest")
	})

	t.Run("GC/DeleteOfDeletedSandboxes", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		gone := createSandbox(t, s, "alice")
		kept := createSandbox(t, s, "alice")
		for range 3 {
			require.NoError(t, s.Executions().Insert(ctx, newExecution(gone, base)))
		}
		keep := newExecution(kept, base)
		require.NoError(t, s.Executions().Insert(ctx, keep))

		n, err := s.Executions().DeleteOfDeletedSandboxes(ctx, 10)
		require.NoError(t, err)
		require.Zero(t, n, "no sandbox is deleted yet")

		require.NoError(t, update(ctx, s, gone.ID, func(sb *core.Sandbox) { sb.DeletedAt = ptr(at(time.Hour)) }))
		for _, want := range []int64{2, 1, 0} {
			n, err := s.Executions().DeleteOfDeletedSandboxes(ctx, 2)
			require.NoError(t, err)
			require.Equal(t, want, n, "batches of 2")
		}
		requireCount(t, s, "alice", gone.ID, 0)
		_, err = s.Executions().Get(ctx, "alice", kept.ID, keep.ID)
		require.NoError(t, err)
	})

	t.Run("GC/DeleteCreatedBefore", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		for _, d := range []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second} {
			require.NoError(t, s.Executions().Insert(ctx, newExecution(sb, at(d))))
		}
		for _, want := range []int64{2, 1, 0} {
			n, err := s.Executions().DeleteCreatedBefore(ctx, at(3*time.Second), 2)
			require.NoError(t, err)
			require.Equal(t, want, n)
		}
		list, err := s.Executions().List(ctx, "alice", sb.ID, core.ExecutionFilter{Asc: true, Limit: 10})
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, at(3*time.Second), list[0].CreatedAt, "a row created at t stays")
	})

	t.Run("GC/DeleteBeyondCap", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		big := createSandbox(t, s, "alice")
		small := createSandbox(t, s, "bob")
		var bigRows []*core.Execution
		for _, d := range []time.Duration{4, 0, 2, 2, 1, 3} {
			e := newExecution(big, at(d*time.Second))
			require.NoError(t, s.Executions().Insert(ctx, e))
			bigRows = append(bigRows, e)
		}
		for range 2 {
			require.NoError(t, s.Executions().Insert(ctx, newExecution(small, base)))
		}
		before, err := s.Executions().List(ctx, "alice", big.ID, core.ExecutionFilter{Limit: 10})
		require.NoError(t, err)
		require.Len(t, before, len(bigRows))

		n, err := s.Executions().DeleteBeyondCap(ctx, 3, 2)
		require.NoError(t, err)
		require.EqualValues(t, 2, n, "batch of 2")
		n, err = s.Executions().DeleteBeyondCap(ctx, 3, 2)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		n, err = s.Executions().DeleteBeyondCap(ctx, 3, 2)
		require.NoError(t, err)
		require.Zero(t, n)

		after, err := s.Executions().List(ctx, "alice", big.ID, core.ExecutionFilter{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, ids(before[:3]), ids(after), "the newest three, ties by id")
		requireCount(t, s, "bob", small.ID, 2)
	})

	t.Run("GC/MarkLost", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		const margin = 600 * time.Second
		mk := func(instance string, d time.Duration, timeoutS int, st core.ExecutionStatus) *core.Execution {
			e := newExecution(sb, at(d))
			e.InstanceID, e.TimeoutS, e.Status = instance, timeoutS, st
			require.NoError(t, s.Executions().Insert(ctx, e))
			return e
		}
		mine := mk("bay-1", 0, 3600, core.ExecRunning)              // (a): this instance, before start
		mineNew := mk("bay-1", 2*time.Minute, 30, core.ExecRunning) // started after this process
		mineDone := mk("bay-1", 0, 30, core.ExecFinished)           // not running
		noInstance := mk("", 0, 3600, core.ExecRunning)             // an empty id matches none
		theirs := mk("bay-2", 0, 30, core.ExecRunning)              // (b) once 630 s old
		theirsLong := mk("bay-2", 0, 3600, core.ExecRunning)        // its timeout is long
		startedBefore, now := at(time.Minute), at(3*time.Minute)

		n, err := s.Executions().MarkLost(ctx, "bay-1", startedBefore, now, margin,
			"internal_error", "Bay restarted during the execution", 10)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		got, err := s.Executions().Get(ctx, "alice", sb.ID, mine.ID)
		require.NoError(t, err)
		want := *mine
		want.Status, want.ErrorCode, want.Error, want.UpdatedAt = core.ExecLost, ptr("internal_error"),
			ptr("Bay restarted during the execution"), now
		require.Equal(t, &want, got)
		require.Nil(t, got.Success)
		require.Nil(t, got.FinishedAt)
		require.Nil(t, got.ExecutionTimeMs)

		n, err = s.Executions().MarkLost(ctx, "", startedBefore, now, margin, "internal_error", "x", 10)
		require.NoError(t, err)
		require.Zero(t, n, "an empty instance id matches none and nothing is stale yet")

		// 631 s after base: theirs (30 s + 600 s) is stale, the others are not.
		now = at(631 * time.Second)
		n, err = s.Executions().MarkLost(ctx, "bay-3", startedBefore, now, margin, "internal_error", "stale", 10)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		requireStatus(t, s, sb, theirs.ID, core.ExecLost)
		for _, id := range []string{mineNew.ID, noInstance.ID, theirsLong.ID} {
			requireStatus(t, s, sb, id, core.ExecRunning)
		}
		requireStatus(t, s, sb, mineDone.ID, core.ExecFinished)
		got, err = s.Executions().Get(ctx, "alice", sb.ID, mine.ID)
		require.NoError(t, err)
		require.Equal(t, &want, got, "a lost row is left alone")

		// Batches: three stale rows, two at a time.
		now = at(10 * time.Hour)
		for _, wantN := range []int64{2, 1, 0} {
			n, err := s.Executions().MarkLost(ctx, "bay-9", startedBefore, now, margin, "timeout", "stale", 2)
			require.NoError(t, err)
			require.Equal(t, wantN, n)
		}
		requireStatus(t, s, sb, mineDone.ID, core.ExecFinished)
		n, err = s.Executions().Count(ctx, "alice", sb.ID, core.ExecutionFilter{Status: core.ExecLost})
		require.NoError(t, err)
		require.EqualValues(t, 5, n)
	})
}

// newExecution returns a running python sync execution in sb created at t.
func newExecution(sb *core.Sandbox, t time.Time) *core.Execution {
	return &core.Execution{
		ID:         id("exec-"),
		SandboxID:  sb.ID,
		Owner:      sb.Owner,
		Kind:       core.ExecPython,
		Mode:       core.ModeSync,
		Status:     core.ExecRunning,
		InstanceID: "bay-test",
		TimeoutS:   30,
		Code:       "print(1)",
		CodeBytes:  8,
		CreatedAt:  t,
		UpdatedAt:  t,
	}
}

func ids(list []core.Execution) []string {
	var out []string
	for _, e := range list {
		out = append(out, e.ID)
	}
	return out
}

func reversed(s []string) []string {
	var out []string
	for i := len(s) - 1; i >= 0; i-- {
		out = append(out, s[i])
	}
	return out
}

func requireCount(t *testing.T, s core.Store, owner, sandboxID string, want int64) {
	t.Helper()
	n, err := s.Executions().Count(context.Background(), owner, sandboxID, core.ExecutionFilter{})
	require.NoError(t, err)
	require.Equal(t, want, n)
}

func requireStatus(t *testing.T, s core.Store, sb *core.Sandbox, id string, want core.ExecutionStatus) {
	t.Helper()
	got, err := s.Executions().Get(context.Background(), sb.Owner, sb.ID, id)
	require.NoError(t, err)
	require.Equal(t, want, got.Status, "execution %s", id)
}
