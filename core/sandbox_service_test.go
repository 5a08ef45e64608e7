package core_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/sqlite"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/fake"
)

type testBundle struct {
	ctx     context.Context
	store   core.Store
	runtime *fake.Runtime
	ship    *fake.Ship
	clock   *fake.Clock
	gc      *core.GC
	lockers *core.LockerService
}

func testProfiles() []core.Profile {
	all := []string{core.CapabilityFilesystem, core.CapabilityShell, core.CapabilityPython}
	return []core.Profile{
		{ID: "python-default", Image: "ship:latest", RuntimeType: core.RuntimeTypeShip, RuntimePort: 8123,
			CPUs: 1, MemoryBytes: 1 << 30, Capabilities: all, IdleTimeout: 30 * time.Minute},
		{ID: "python-only", Image: "ship:latest", RuntimeType: core.RuntimeTypeShip, RuntimePort: 8123,
			Capabilities: []string{core.CapabilityPython}, IdleTimeout: 30 * time.Minute},
		{ID: "short-idle", Image: "ship:latest", RuntimeType: core.RuntimeTypeShip, RuntimePort: 8123,
			Capabilities: all, IdleTimeout: 2 * time.Second},
		{ID: "other-runtime", Image: "x", RuntimeType: "k8s-pod", RuntimePort: 8123,
			Capabilities: all, IdleTimeout: time.Minute},
	}
}

func openStore(t *testing.T) core.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bay.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Migrate(context.Background()))
	return s
}

// setup returns a service on a real SQLite store, the fake runtime, Ship
// and clock.
func setup(t *testing.T) (*core.SandboxService, *testBundle) {
	t.Helper()
	store := openStore(t)
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	// Each container gets its own endpoint, as published ports do.
	rt := fake.NewRuntime(fake.RuntimeOptions{Clock: clock, Endpoint: func(info core.ContainerInfo, port int) string {
		return fmt.Sprintf("http://%s:%d", info.ID, port)
	}})
	ship := fake.NewShip()
	ship.CheckTokens(rt)
	svc, b := newInstance(t, store, rt, ship, clock, "bay-a")
	return svc, b
}

func newInstance(t *testing.T, store core.Store, rt *fake.Runtime, ship *fake.Ship, clock *fake.Clock, instance string) (*core.SandboxService, *testBundle) {
	svc := core.NewSandboxService(core.SandboxServiceOptions{
		Store: store, Runtime: rt, Ship: ship, Clock: clock, IDs: core.RandomIDs{},
		Profiles: testProfiles(), InstanceID: instance, ReadinessTimeout: 5 * time.Second,
	})
	gc := core.NewGC(core.GCOptions{
		Store: store, Runtime: rt, Clock: clock, Sandboxes: svc, InstanceID: instance,
		Tasks: map[string]bool{core.GCIdleSession: true, core.GCExpiredSandbox: true, core.GCOrphanLocker: true, core.GCOrphanContainer: true},
	})
	return svc, &testBundle{
		ctx: context.Background(), store: store, runtime: rt, ship: ship, clock: clock, gc: gc,
		lockers: core.NewLockerService(store, rt, clock, core.RandomIDs{}, 1024, 0),
	}
}

func requireCode(t *testing.T, want core.Code, err error, msg ...any) {
	t.Helper()
	require.Error(t, err, msg...)
	require.Equal(t, want, core.CodeOf(err), "error: %v %v", err, msg)
}

func TestSandboxService_Create(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)

	t.Run("DefaultsAndManagedLocker", func(t *testing.T) {
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
		require.NoError(t, err)
		require.Equal(t, "python-default", sb.Profile)
		require.Equal(t, core.StatusIdle, sb.Status)
		require.Nil(t, sb.ExpiresAt)
		require.Nil(t, sb.IdleExpiresAt)
		require.Regexp(t, `^sandbox-[0-9a-f]{12}$`, sb.ID)
		require.Regexp(t, `^locker-[0-9a-f]{12}$`, sb.LockerID)
		l, err := b.store.Lockers().Get(b.ctx, sb.LockerID)
		require.NoError(t, err)
		require.True(t, l.Managed)
		require.Equal(t, sb.ID, l.ManagedBySandboxID)
		require.Equal(t, "true", b.runtime.VolumeLabels(sb.LockerID)[core.LabelManaged])
		require.Equal(t, 0, b.runtime.Calls(fake.OpCreateContainer), "create starts nothing")
	})

	t.Run("TTL", func(t *testing.T) {
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{TTL: 60})
		require.NoError(t, err)
		require.Equal(t, b.clock.Now().Add(time.Minute), *sb.ExpiresAt)
		sb, err = svc.Create(b.ctx, "alice", core.CreateSandboxInput{TTL: -5})
		require.NoError(t, err)
		require.Nil(t, sb.ExpiresAt, "a negative ttl never expires")
		_, err = svc.Create(b.ctx, "alice", core.CreateSandboxInput{TTL: 1 << 62})
		requireCode(t, core.CodeValidation, err)
	})

	t.Run("UnknownProfile", func(t *testing.T) {
		_, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "nope"})
		requireCode(t, core.CodeValidation, err)
		require.Contains(t, err.Error(), "profile")
	})

	t.Run("ExternalAndManagedLockers", func(t *testing.T) {
		ext, err := b.lockers.Create(b.ctx, "alice", nil)
		require.NoError(t, err)
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{LockerID: ext.ID})
		require.NoError(t, err)
		require.Equal(t, ext.ID, sb.LockerID)
		_, err = svc.Create(b.ctx, "bob", core.CreateSandboxInput{LockerID: ext.ID})
		requireCode(t, core.CodeNotFound, err)
		managed, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
		require.NoError(t, err)
		_, err = svc.Create(b.ctx, "alice", core.CreateSandboxInput{LockerID: managed.LockerID})
		requireCode(t, core.CodeConflict, err)

		require.NoError(t, svc.Delete(b.ctx, "alice", sb.ID))
		_, err = b.lockers.Get(b.ctx, "alice", ext.ID)
		require.NoError(t, err, "deleting a sandbox never deletes an external locker")
		require.NoError(t, svc.Delete(b.ctx, "alice", managed.ID))
		_, err = b.store.Lockers().Get(b.ctx, managed.LockerID)
		requireCode(t, core.CodeNotFound, err)
	})
}

func TestSandboxService_OwnerIsolation(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	_, err = svc.Get(b.ctx, "bob", sb.ID)
	requireCode(t, core.CodeNotFound, err)
	requireCode(t, core.CodeNotFound, svc.Stop(b.ctx, "bob", sb.ID))
	requireCode(t, core.CodeNotFound, svc.Delete(b.ctx, "bob", sb.ID))
	requireCode(t, core.CodeNotFound, svc.Keepalive(b.ctx, "bob", sb.ID))
	_, err = svc.Python(b.ctx, "bob", sb.ID, "1", 30)
	requireCode(t, core.CodeNotFound, err)
	page, err := svc.List(b.ctx, "bob", "", 50, "")
	require.NoError(t, err)
	require.Empty(t, page.Items)
}

func TestSandboxService_ExtendTTL(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{TTL: 100})
	require.NoError(t, err)
	_, err = svc.ExtendTTL(b.ctx, "alice", sb.ID, 0)
	requireCode(t, core.CodeValidation, err)

	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.ExtendTTL(b.ctx, "alice", sb.ID, 10)
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	got, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, b.clock.Now().Add(200*time.Second), *got.ExpiresAt, "concurrent extends accumulate")

	inf, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	_, err = svc.ExtendTTL(b.ctx, "alice", inf.ID, 10)
	requireCode(t, core.CodeSandboxTTLInfinite, err)

	b.clock.Advance(201 * time.Second)
	_, err = svc.ExtendTTL(b.ctx, "alice", sb.ID, 10)
	requireCode(t, core.CodeSandboxExpired, err)
	require.Equal(t, core.FormatTime(*got.ExpiresAt), core.AsError(err).Details["expires_at"])
}

func TestSandboxService_CapabilityPipeline(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	only, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "python-only"})
	require.NoError(t, err)
	_, err = svc.Shell(b.ctx, "alice", only.ID, core.ShellInput{Command: "ls", Timeout: 5})
	requireCode(t, core.CodeCapabilityNotSupported, err)
	require.Equal(t, []string{"python"}, core.AsError(err).Details["available"])

	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{TTL: 10})
	require.NoError(t, err)
	_, err = svc.ReadFile(b.ctx, "alice", sb.ID, "../etc/passwd")
	requireCode(t, core.CodeInvalidPath, err)
	cwd := ""
	_, err = svc.Shell(b.ctx, "alice", sb.ID, core.ShellInput{Command: "ls", Timeout: 5, Cwd: &cwd})
	requireCode(t, core.CodeInvalidPath, err)
	require.Equal(t, 0, b.runtime.Calls(fake.OpCreateContainer), "nothing before ensure_running touches a container")

	b.ship.SetCapabilities(core.CapabilityPython)
	_, err = svc.ListDir(b.ctx, "alice", sb.ID, "")
	requireCode(t, core.CodeCapabilityNotSupported, err)
	require.Contains(t, err.Error(), "Runtime does not support capability")
	b.ship.SetCapabilities(core.CapabilityPython, core.CapabilityFilesystem)
	b.clock.Advance(11 * time.Second)
	_, err = svc.ReadFile(b.ctx, "alice", sb.ID, "x")
	requireCode(t, core.CodeSandboxExpired, err)

	other, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "other-runtime"})
	require.NoError(t, err)
	before := b.runtime.Calls(fake.OpCreateContainer)
	_, err = svc.Python(b.ctx, "alice", other.ID, "1", 5)
	requireCode(t, core.CodeInternal, err)
	require.Equal(t, before, b.runtime.Calls(fake.OpCreateContainer), "unknown runtime type fails before any container")
}

func TestSandboxService_ConcurrentFirstCallsStartOneContainer(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	rt := fake.NewRuntime(fake.RuntimeOptions{Clock: clock})
	ship := fake.NewShip()
	ship.CheckTokens(rt)
	a, b := newInstance(t, store, rt, ship, clock, "bay-a")
	other, _ := newInstance(t, store, rt, ship, clock, "bay-b")
	sb, err := a.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range 2 * n {
		svc := a
		if i%2 == 1 {
			svc = other // a second Bay process on the same database
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := svc.Python(b.ctx, "alice", sb.ID, "print(1+2)", 30)
			if err == nil && res.Output != "print(1+2)" {
				err = core.Errorf(core.CodeInternal, "wrong output %q", res.Output)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, rt.Calls(fake.OpCreateContainer), "exactly one container")
	got, err := a.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusReady, got.Status)
	require.NotNil(t, got.IdleExpiresAt)
}

func TestSandboxService_StopThenNextCallStartsFresh(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	require.NoError(t, svc.Stop(b.ctx, "alice", sb.ID), "stop of a sandbox that never ran")
	require.NoError(t, svc.WriteFile(b.ctx, "alice", sb.ID, "a.txt", "x"))
	require.NoError(t, svc.Stop(b.ctx, "alice", sb.ID))
	require.NoError(t, svc.Stop(b.ctx, "alice", sb.ID), "stop is idempotent")
	got, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusIdle, got.Status)
	require.Nil(t, got.IdleExpiresAt)
	require.Equal(t, core.StopReasonUser, got.StopReason)
	list, err := b.runtime.ListContainers(b.ctx, map[string]string{core.LabelSandboxID: sb.ID})
	require.NoError(t, err)
	require.Empty(t, list, "stop removes the container")

	_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 5)
	require.NoError(t, err)
	require.Equal(t, 2, b.runtime.Calls(fake.OpCreateContainer))
}

func TestSandboxService_DeadContainerIsReplaced(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 5)
	require.NoError(t, err)
	list, err := b.runtime.ListContainers(b.ctx, map[string]string{core.LabelSandboxID: sb.ID})
	require.NoError(t, err)
	require.Len(t, list, 1)
	b.runtime.Exit(list[0].ID)
	ep := "http://" + list[0].ID + ":8123"
	b.ship.SetDown(ep, true)

	res, err := svc.Python(b.ctx, "alice", sb.ID, "2", 5)
	require.NoError(t, err)
	require.Equal(t, "2", res.Output)
	require.Equal(t, 2, b.runtime.Calls(fake.OpCreateContainer))
	got, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StopReasonError, got.StopReason, "the agent can tell its state is gone")
}

func TestSandboxService_FailedStartIsRetried(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	b.runtime.FailNext(fake.OpStartContainer, core.Errorf(core.CodeInternal, "boom"))
	_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 5)
	requireCode(t, core.CodeInternal, err)
	got, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusFailed, got.Status)
	list, err := b.runtime.ListContainers(b.ctx, map[string]string{core.LabelSandboxID: sb.ID})
	require.NoError(t, err)
	require.Empty(t, list, "the failed container is cleaned up")

	_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 5)
	require.NoError(t, err)
	got, err = svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusReady, got.Status)
}

func TestSandboxService_ListStatusAndPages(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	var ids []string
	for range 5 {
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
		require.NoError(t, err)
		ids = append(ids, sb.ID)
	}
	_, err := svc.Python(b.ctx, "alice", ids[2], "1", 5)
	require.NoError(t, err)
	page, err := svc.List(b.ctx, "alice", "", 2, "")
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, page.Items[1].ID, page.NextCursor)
	ready, err := svc.List(b.ctx, "alice", "", 50, "ready")
	require.NoError(t, err)
	require.Len(t, ready.Items, 1)
	require.Equal(t, ids[2], ready.Items[0].ID)
	require.Empty(t, ready.NextCursor)
	all, err := svc.List(b.ctx, "alice", "", 50, "nonsense")
	require.NoError(t, err)
	require.Len(t, all.Items, 5)
}

func TestSandboxService_ReadinessTimeoutIsSessionNotReady(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	rt := fake.NewRuntime(fake.RuntimeOptions{Clock: clock})
	ship := fake.NewShip()
	ship.CheckTokens(rt)
	ship.SetUnhealthy(true)
	svc := core.NewSandboxService(core.SandboxServiceOptions{
		Store: store, Runtime: rt, Ship: ship, Clock: clock, IDs: core.RandomIDs{},
		Profiles: testProfiles(), InstanceID: "bay-a", ReadinessTimeout: 300 * time.Millisecond,
	})
	ctx := context.Background()
	sb, err := svc.Create(ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	_, err = svc.Python(ctx, "alice", sb.ID, "1", 5)
	requireCode(t, core.CodeSessionNotReady, err)
	e := core.AsError(err)
	require.Equal(t, "Runtime failed to become ready", e.Message)
	require.Equal(t, map[string]any{"sandbox_id": sb.ID, "retry_after_ms": 1000}, e.Details, "the sandbox id, not the session id")
	list, err := rt.ListContainers(ctx, map[string]string{core.LabelSandboxID: sb.ID})
	require.NoError(t, err)
	require.Empty(t, list, "the container that never became ready is removed")
	got, err := svc.Get(ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusFailed, got.Status)

	ship.SetUnhealthy(false)
	_, err = svc.Python(ctx, "alice", sb.ID, "1", 5)
	require.NoError(t, err, "the next call retries with a new container")
}
