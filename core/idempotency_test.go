package core_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/fake"
)

func TestIdempotencyService(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	svc := core.NewIdempotencyService(store, clock, time.Hour, true)
	ctx := context.Background()
	var runs atomic.Int64
	create := func(ctx context.Context) (int, []byte, error) {
		n := runs.Add(1)
		return 201, []byte(fmt.Sprintf(`{"n":%d}`, n)), nil
	}

	st, body, err := svc.Do(ctx, "alice", "k-1", "fp-a", create)
	require.NoError(t, err)
	require.Equal(t, 201, st)
	st, replay, err := svc.Do(ctx, "alice", "k-1", "fp-a", create)
	require.NoError(t, err)
	require.Equal(t, 201, st)
	require.Equal(t, body, replay, "replayed byte for byte")
	require.EqualValues(t, 1, runs.Load())

	_, _, err = svc.Do(ctx, "alice", "k-1", "fp-b", create)
	requireCode(t, core.CodeConflict, err)
	require.Equal(t, "k-1", core.AsError(err).Details["key"])
	require.Contains(t, core.AsError(err).Details, "hint")

	for _, bad := range []string{"has space", "ünï", string(make([]byte, 129)), "a/b"} {
		_, _, err = svc.Do(ctx, "alice", bad, "fp-a", create)
		requireCode(t, core.CodeConflict, err)
	}

	_, _, err = svc.Do(ctx, "bob", "k-1", "fp-b", create)
	require.NoError(t, err, "keys are per owner")
	require.EqualValues(t, 2, runs.Load())

	failing := func(ctx context.Context) (int, []byte, error) { return 0, nil, core.NotFound("gone") }
	_, _, err = svc.Do(ctx, "alice", "k-2", "fp", failing)
	requireCode(t, core.CodeNotFound, err)
	_, _, err = svc.Do(ctx, "alice", "k-2", "fp", create)
	require.NoError(t, err, "errors are never stored")

	clock.Advance(time.Hour + time.Second)
	_, body2, err := svc.Do(ctx, "alice", "k-1", "fp-b", create)
	require.NoError(t, err, "an expired key is unknown")
	require.NotEqual(t, body, body2)

	off := core.NewIdempotencyService(store, clock, time.Hour, false)
	_, _, err = off.Do(ctx, "alice", "not a key!", "x", create)
	require.NoError(t, err, "disabled: the header is ignored")
}

func TestIdempotencyService_ConcurrentSameKeyRunsOnce(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	svc := core.NewIdempotencyService(store, core.SystemClock{}, time.Hour, true)
	var runs atomic.Int64
	var wg sync.WaitGroup
	bodies := make([][]byte, 10)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, b, err := svc.Do(context.Background(), "alice", "same", "fp", func(context.Context) (int, []byte, error) {
				return 201, []byte(fmt.Sprint(runs.Add(1))), nil
			})
			require.NoError(t, err)
			bodies[i] = b
		}()
	}
	wg.Wait()
	require.EqualValues(t, 1, runs.Load())
	for _, b := range bodies {
		require.Equal(t, "1", string(b))
	}
}

func TestLockerService(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	l, err := b.lockers.Create(b.ctx, "alice", nil)
	require.NoError(t, err)
	require.False(t, l.Managed)
	require.EqualValues(t, 1024, l.SizeLimitMB)
	bad := int64(0)
	_, err = b.lockers.Create(b.ctx, "alice", &bad)
	requireCode(t, core.CodeValidation, err)

	require.NoError(t, b.lockers.WriteFile(b.ctx, "alice", l.ID, "./notes/a.txt", "hello"))
	got, err := b.lockers.ReadFile(b.ctx, "alice", l.ID, "notes/a.txt")
	require.NoError(t, err)
	require.Equal(t, "hello", got)
	_, err = b.lockers.ReadFile(b.ctx, "alice", l.ID, "../x")
	requireCode(t, core.CodeInvalidPath, err)
	_, err = b.lockers.ReadFile(b.ctx, "alice", l.ID, "nope")
	requireCode(t, core.CodeFileNotFound, err)
	require.NoError(t, b.lockers.WriteFile(b.ctx, "alice", l.ID, "bin", string([]byte{0xff, 0xfe})))
	_, err = b.lockers.ReadFile(b.ctx, "alice", l.ID, "bin")
	requireCode(t, core.CodeValidation, err)
	_, err = b.lockers.ReadFile(b.ctx, "bob", l.ID, "notes/a.txt")
	requireCode(t, core.CodeNotFound, err)
	require.Equal(t, 0, b.runtime.Calls(fake.OpCreateContainer), "direct access starts no session")

	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{LockerID: l.ID})
	require.NoError(t, err)
	err = b.lockers.Delete(b.ctx, "alice", l.ID)
	requireCode(t, core.CodeConflict, err)
	require.Equal(t, []string{sb.ID}, core.AsError(err).Details["active_sandbox_ids"])

	managed, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	err = b.lockers.Delete(b.ctx, "alice", managed.LockerID)
	requireCode(t, core.CodeConflict, err)
	require.Equal(t, managed.ID, core.AsError(err).Details["managed_by_sandbox_id"])

	page, err := b.lockers.List(b.ctx, "alice", "", 50, false)
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	page, err = b.lockers.List(b.ctx, "alice", "", 50, true)
	require.NoError(t, err)
	require.Len(t, page.Items, 1)

	require.NoError(t, svc.Delete(b.ctx, "alice", sb.ID))
	require.NoError(t, b.lockers.Delete(b.ctx, "alice", l.ID))
	_, err = b.lockers.Get(b.ctx, "alice", l.ID)
	requireCode(t, core.CodeNotFound, err)
	requireCode(t, core.CodeNotFound, b.lockers.Delete(b.ctx, "alice", l.ID))
}
