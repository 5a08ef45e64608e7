package core_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/fake"
)

// pausingProfile pauses after a minute of idleness and reclaims after 30.
func pausingProfile(id string) core.Profile {
	all := []string{core.CapabilityFilesystem, core.CapabilityShell, core.CapabilityPython}
	return core.Profile{ID: id, Image: "ship:latest", RuntimeType: core.RuntimeTypeShip, RuntimePort: 8123,
		CPUs: 1, MemoryBytes: 1 << 30, Capabilities: all, IdleTimeout: 30 * time.Minute, IdlePause: time.Minute}
}

// hookRuntime is the fake runtime with hooks around PauseContainer, so a
// test can act between the steps of a pause.
type hookRuntime struct {
	*fake.Runtime
	mu                      sync.Mutex
	beforePause, afterPause func(containerID string)
	pauseErr                error // returned instead of pausing, when set
	pauses                  int   // PauseContainer calls
}

func (r *hookRuntime) PauseContainer(ctx context.Context, id string) error {
	r.mu.Lock()
	before, after, perr := r.beforePause, r.afterPause, r.pauseErr
	r.pauses++
	r.mu.Unlock()
	if before != nil {
		before(id)
	}
	if perr != nil {
		return perr
	}
	err := r.Runtime.PauseContainer(ctx, id)
	if after != nil {
		after(id)
	}
	return err
}

func (r *hookRuntime) set(fn func(r *hookRuntime)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r)
}

type pauseBundle struct {
	*testBundle
	hooks   *hookRuntime
	metrics *countingMetrics
}

// countingMetrics counts pauses and resumes.
type countingMetrics struct {
	mu              sync.Mutex
	paused, resumed int
}

func (m *countingMetrics) SessionStart(time.Duration, error) {}
func (m *countingMetrics) RuntimeError(string)               {}
func (m *countingMetrics) SessionPaused()                    { m.mu.Lock(); m.paused++; m.mu.Unlock() }
func (m *countingMetrics) SessionResumed(time.Duration)      { m.mu.Lock(); m.resumed++; m.mu.Unlock() }
func (m *countingMetrics) counts() (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.paused, m.resumed
}

// pauseSetup returns a service with the test profiles plus "pausing", on
// a real SQLite store and the fakes, its runtime wrapped in hooks.
func pauseSetup(t *testing.T) (*core.SandboxService, *pauseBundle) {
	t.Helper()
	store := openStore(t)
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	rt := fake.NewRuntime(fake.RuntimeOptions{Clock: clock, Endpoint: func(info core.ContainerInfo, port int) string {
		return fmt.Sprintf("http://%s:%d", info.ID, port)
	}})
	ship := fake.NewShip()
	ship.CheckTokens(rt)
	hooks := &hookRuntime{Runtime: rt}
	m := &countingMetrics{}
	svc := newPausingService(store, hooks, ship, clock, "bay-a", m)
	gc := core.NewGC(core.GCOptions{
		Store: store, Runtime: hooks, Clock: clock, Sandboxes: svc, InstanceID: "bay-a",
		Tasks: map[string]bool{core.GCIdleSession: true, core.GCExpiredSandbox: true, core.GCOrphanContainer: true},
	})
	return svc, &pauseBundle{
		testBundle: &testBundle{ctx: context.Background(), store: store, runtime: rt, ship: ship, clock: clock, gc: gc},
		hooks:      hooks, metrics: m,
	}
}

func newPausingService(store core.Store, rt core.Runtime, ship *fake.Ship, clock *fake.Clock, instance string, m core.Metrics) *core.SandboxService {
	return core.NewSandboxService(core.SandboxServiceOptions{
		Store: store, Runtime: rt, Ship: ship, Clock: clock, IDs: core.RandomIDs{},
		Profiles: append(testProfiles(), pausingProfile("pausing")), InstanceID: instance,
		ReadinessTimeout: 5 * time.Second, Metrics: m,
	})
}

// runningSandbox creates a sandbox of the profile and runs a call on it.
func runningSandbox(t *testing.T, svc *core.SandboxService, b *pauseBundle, profile string) *core.SandboxInfo {
	t.Helper()
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: profile})
	require.NoError(t, err)
	_, err = svc.Python(b.ctx, "alice", sb.ID, "x = 42", 5)
	require.NoError(t, err)
	return sb
}

// containerStates returns the runtime states of the sandbox's containers.
func containerStates(t *testing.T, b *pauseBundle, sandboxID string) []core.ContainerState {
	t.Helper()
	list, err := b.runtime.ListContainers(b.ctx, map[string]string{core.LabelSandboxID: sandboxID})
	require.NoError(t, err)
	var out []core.ContainerState
	for _, c := range list {
		out = append(out, c.State)
	}
	return out
}

func pauseIdle(t *testing.T, svc *core.SandboxService, b *pauseBundle) int {
	t.Helper()
	n, err := svc.PauseIdle(b.ctx)
	require.NoError(t, err)
	return n
}

func TestPauseInterval(t *testing.T) {
	t.Parallel()
	p := func(d time.Duration) core.Profile { return core.Profile{IdlePause: d} }
	require.Zero(t, core.PauseInterval(nil))
	require.Zero(t, core.PauseInterval([]core.Profile{p(0)}))
	require.Equal(t, 250*time.Millisecond, core.PauseInterval([]core.Profile{p(0), p(time.Second)}))
	require.Equal(t, 2*time.Second, core.PauseInterval([]core.Profile{p(8 * time.Second), p(time.Minute)}))
	require.Equal(t, 5*time.Second, core.PauseInterval([]core.Profile{p(time.Hour)}))
}

func TestPause_DueAfterIdlePause(t *testing.T) {
	t.Parallel()
	svc, b := pauseSetup(t)
	sb := runningSandbox(t, svc, b, "pausing")
	plain := runningSandbox(t, svc, b, "python-default")

	require.Zero(t, pauseIdle(t, svc, b), "just used")
	b.clock.Advance(time.Minute - time.Microsecond)
	require.Zero(t, pauseIdle(t, svc, b), "not quite idle_pause yet")
	b.clock.Advance(time.Microsecond)
	require.Equal(t, 1, pauseIdle(t, svc, b), "idle_pause has passed: only the pausing profile's sandbox")
	require.Zero(t, pauseIdle(t, svc, b), "paused already")

	got, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusIdle, got.Status)
	require.True(t, got.Paused)
	require.Equal(t, core.StopReasonNone, got.StopReason, "a pause is no stop")
	require.NotNil(t, got.IdleExpiresAt, "the idle timeout still runs")
	require.Equal(t, []core.ContainerStatus{{Name: "ship", RuntimeType: core.RuntimeTypeShip, Status: "paused"}}, got.Containers)
	require.Equal(t, []core.ContainerState{core.ContainerPaused}, containerStates(t, b, sb.ID))
	other, err := svc.Get(b.ctx, "alice", plain.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusReady, other.Status)
	require.False(t, other.Paused)
	paused, resumed := b.metrics.counts()
	require.Equal(t, 1, paused)
	require.Zero(t, resumed)

	// A paused sandbox is idle to the status filter and counts; the
	// session still counts as running against quotas (it holds memory).
	page, err := svc.List(b.ctx, "alice", "", 50, "idle")
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, sb.ID, page.Items[0].ID)
	require.True(t, page.Items[0].Paused)
	counts, err := svc.CountByStatus(b.ctx)
	require.NoError(t, err)
	require.Equal(t, map[core.SandboxStatus]int64{core.StatusIdle: 1, core.StatusReady: 1}, counts)
	n, err := svc.CountPaused(b.ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	active, err := b.store.Sessions().CountActiveByOwner(b.ctx, "alice")
	require.NoError(t, err)
	require.EqualValues(t, 2, active)
}

func TestPause_NextCallResumes(t *testing.T) {
	t.Parallel()
	svc, b := pauseSetup(t)
	sb := runningSandbox(t, svc, b, "pausing")
	b.clock.Advance(time.Minute)
	require.Equal(t, 1, pauseIdle(t, svc, b))
	before := b.runtime.Started()

	b.clock.Advance(10 * time.Minute)
	res, err := svc.Python(b.ctx, "alice", sb.ID, "print(x)", 5)
	require.NoError(t, err)
	require.True(t, res.Success)
	require.Equal(t, before, b.runtime.Started(), "the same container, not a new one")
	require.Equal(t, []core.ContainerState{core.ContainerRunning}, containerStates(t, b, sb.ID))
	got, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusReady, got.Status)
	require.False(t, got.Paused)
	require.Equal(t, core.StopReasonNone, got.StopReason)
	require.Equal(t, b.clock.Now().Add(30*time.Minute), *got.IdleExpiresAt, "the call re-armed the deadline")
	_, resumed := b.metrics.counts()
	require.Equal(t, 1, resumed)

	// Idle again: paused again, idle_pause after this call.
	b.clock.Advance(59 * time.Second)
	require.Zero(t, pauseIdle(t, svc, b))
	b.clock.Advance(time.Second)
	require.Equal(t, 1, pauseIdle(t, svc, b))
}

func TestPause_CallInFlightIsNotPaused(t *testing.T) {
	t.Parallel()
	svc, b := pauseSetup(t)
	sb := runningSandbox(t, svc, b, "pausing")

	inCall := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	b.ship.Block = func(ctx context.Context) {
		once.Do(func() { close(inCall) })
		<-release
	}
	done := make(chan error, 1)
	go func() {
		_, err := svc.Python(b.ctx, "alice", sb.ID, "long", 60)
		done <- err
	}()
	<-inCall
	b.clock.Advance(5 * time.Minute)
	require.Zero(t, pauseIdle(t, svc, b), "a call is in flight in this process")

	// Another instance does not see this process's calls; a running
	// execution row keeps it off too.
	other := newPausingService(b.store, b.hooks, b.ship, b.clock, "bay-b", nil)
	row := &core.Execution{ID: core.NewExecutionID(), SandboxID: sb.ID, Owner: "alice", Kind: core.ExecPython,
		Mode: core.ModeSync, Status: core.ExecRunning, InstanceID: "bay-a", TimeoutS: 60,
		CreatedAt: b.clock.Now(), UpdatedAt: b.clock.Now()}
	require.NoError(t, b.store.Executions().Insert(b.ctx, row))
	n, err := other.PauseIdle(b.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "an execution is running in the sandbox")

	close(release)
	require.NoError(t, <-done)
	_, err = b.store.Executions().Finish(b.ctx, row.ID, core.ExecutionResult{Status: core.ExecLost, UpdatedAt: b.clock.Now()})
	require.NoError(t, err)
	require.Zero(t, pauseIdle(t, svc, b), "the call just ended")
	b.clock.Advance(time.Minute)
	require.Equal(t, 1, pauseIdle(t, svc, b))
}

func TestPause_ResumeRacingThePause(t *testing.T) {
	t.Parallel()
	for _, when := range []string{"BeforeFreeze", "AfterFreeze"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			svc, b := pauseSetup(t)
			sb := runningSandbox(t, svc, b, "pausing")
			b.clock.Advance(time.Minute)
			var callErr error
			hook := func(string) {
				b.hooks.set(func(r *hookRuntime) { r.beforePause, r.afterPause = nil, nil })
				_, callErr = svc.Python(b.ctx, "alice", sb.ID, "print(x)", 5)
			}
			b.hooks.set(func(r *hookRuntime) {
				if when == "BeforeFreeze" {
					r.beforePause = hook
				} else {
					r.afterPause = hook
				}
			})
			require.Equal(t, 1, pauseIdle(t, svc, b), "frozen, and thawed again at once")
			require.NoError(t, callErr)
			require.Equal(t, []core.ContainerState{core.ContainerRunning}, containerStates(t, b, sb.ID),
				"thawed again after the freeze")
			got, err := svc.Get(b.ctx, "alice", sb.ID)
			require.NoError(t, err)
			require.Equal(t, core.StatusReady, got.Status)
			require.False(t, got.Paused)
			_, err = svc.Python(b.ctx, "alice", sb.ID, "print(x)", 5)
			require.NoError(t, err)
		})
	}
}

func TestPause_FailedFreezeLeavesItRunning(t *testing.T) {
	t.Parallel()
	svc, b := pauseSetup(t)
	sb := runningSandbox(t, svc, b, "pausing")
	b.clock.Advance(time.Minute)

	b.runtime.FailNext(fake.OpPauseContainer, core.Errorf(core.CodeInternal, "docker hiccup"))
	n, err := svc.PauseIdle(b.ctx)
	require.Error(t, err)
	require.Zero(t, n)
	got, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusReady, got.Status)
	require.Equal(t, []core.ContainerState{core.ContainerRunning}, containerStates(t, b, sb.ID))
	require.Equal(t, 1, pauseIdle(t, svc, b), "retried on the next round")

	// A runtime that cannot pause turns the feature off.
	svc2, b2 := pauseSetup(t)
	sb2 := runningSandbox(t, svc2, b2, "pausing")
	b2.clock.Advance(time.Minute)
	b2.hooks.set(func(r *hookRuntime) {
		r.pauseErr = core.Wrap(core.ErrPauseUnsupported, core.CodeInternal, "no freezer")
	})
	_, err = svc2.PauseIdle(b2.ctx)
	require.ErrorIs(t, err, core.ErrPauseUnsupported)
	b2.hooks.set(func(r *hookRuntime) { r.pauseErr = nil })
	require.Zero(t, pauseIdle(t, svc2, b2), "not tried again")
	b2.hooks.set(func(r *hookRuntime) { require.Equal(t, 1, r.pauses) })
	got, err = svc2.Get(b2.ctx, "alice", sb2.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusReady, got.Status)
}

func TestPause_StopDeleteAndIdleReclaim(t *testing.T) {
	t.Parallel()
	svc, b := pauseSetup(t)
	stopped := runningSandbox(t, svc, b, "pausing")
	deleted := runningSandbox(t, svc, b, "pausing")
	reclaimed := runningSandbox(t, svc, b, "pausing")
	b.clock.Advance(time.Minute)
	require.Equal(t, 3, pauseIdle(t, svc, b))

	require.NoError(t, svc.Stop(b.ctx, "alice", stopped.ID))
	require.Empty(t, containerStates(t, b, stopped.ID))
	got, err := svc.Get(b.ctx, "alice", stopped.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusIdle, got.Status)
	require.False(t, got.Paused)
	require.Equal(t, core.StopReasonUser, got.StopReason)

	require.NoError(t, svc.Delete(b.ctx, "alice", deleted.ID))
	require.Empty(t, containerStates(t, b, deleted.ID))

	// The idle timeout runs on under the pause.
	b.clock.Advance(30 * time.Minute)
	rep, err := b.gc.Run(b.ctx, []string{core.GCIdleSession})
	require.NoError(t, err)
	require.Equal(t, 1, rep.TotalCleaned)
	require.Empty(t, containerStates(t, b, reclaimed.ID))
	got, err = svc.Get(b.ctx, "alice", reclaimed.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusIdle, got.Status)
	require.False(t, got.Paused)
	require.Equal(t, core.StopReasonIdle, got.StopReason)
	res, err := svc.Python(b.ctx, "alice", reclaimed.ID, "x", 5)
	require.NoError(t, err, "a new container")
	require.True(t, res.Success)
}

func TestPause_ResumeOfAGoneContainerStartsAnew(t *testing.T) {
	t.Parallel()
	svc, b := pauseSetup(t)
	sb := runningSandbox(t, svc, b, "pausing")
	b.clock.Advance(time.Minute)
	require.Equal(t, 1, pauseIdle(t, svc, b))
	list, err := b.runtime.ListContainers(b.ctx, map[string]string{core.LabelSandboxID: sb.ID})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.NoError(t, b.runtime.RemoveContainer(b.ctx, list[0].ID), "removed by hand")

	_, err = svc.Python(b.ctx, "alice", sb.ID, "print(x)", 5)
	require.NoError(t, err)
	got, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusReady, got.Status)
	require.Equal(t, core.StopReasonError, got.StopReason, "its memory is gone")
	require.Equal(t, []core.ContainerState{core.ContainerRunning}, containerStates(t, b, sb.ID))
}

func TestPause_FailedThawIsRetried(t *testing.T) {
	t.Parallel()
	svc, b := pauseSetup(t)
	sb := runningSandbox(t, svc, b, "pausing")
	b.clock.Advance(time.Minute)
	require.Equal(t, 1, pauseIdle(t, svc, b))

	b.runtime.FailNext(fake.OpUnpauseContainer, core.Errorf(core.CodeInternal, "docker hiccup"))
	_, err := svc.Python(b.ctx, "alice", sb.ID, "print(x)", 5)
	requireCode(t, core.CodeInternal, err)
	got, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.True(t, got.Paused, "still paused: the next call thaws it")
	_, err = svc.Python(b.ctx, "alice", sb.ID, "print(x)", 5)
	require.NoError(t, err)
	require.Equal(t, []core.ContainerState{core.ContainerRunning}, containerStates(t, b, sb.ID))
}

func TestPause_RepairThawsUnderARunningSession(t *testing.T) {
	t.Parallel()
	svc, b := pauseSetup(t)
	broken := runningSandbox(t, svc, b, "pausing")
	kept := runningSandbox(t, svc, b, "pausing")
	b.clock.Advance(time.Minute)
	require.NoError(t, svc.Keepalive(b.ctx, "alice", broken.ID))
	require.Equal(t, 1, pauseIdle(t, svc, b), "kept is paused, broken was kept alive")
	// A crash between a resume's commit and its thaw: running in the
	// database, paused in the runtime.
	list, err := b.runtime.ListContainers(b.ctx, map[string]string{core.LabelSandboxID: broken.ID})
	require.NoError(t, err)
	require.NoError(t, b.runtime.PauseContainer(b.ctx, list[0].ID))

	n, err := svc.RepairPaused(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []core.ContainerState{core.ContainerRunning}, containerStates(t, b, broken.ID))
	require.Equal(t, []core.ContainerState{core.ContainerPaused}, containerStates(t, b, kept.ID), "a paused session's stay paused")
}

func TestPause_EveryContainerOfTheSession(t *testing.T) {
	t.Parallel()
	p := browserPythonProfile("browser-python")
	p.IdlePause = time.Minute
	svc, b := setupMulti(t, p)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: p.ID})
	require.NoError(t, err)
	_, err = svc.Python(b.ctx, "alice", sb.ID, "x = 1", 5)
	require.NoError(t, err)
	b.clock.Advance(time.Minute)
	n, err := svc.PauseIdle(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	sessionID := sessionOf(t, b, sb.ID).ID
	containers := listSession(t, b, sessionID)
	require.Len(t, containers, 2)
	for name, c := range containers {
		require.Equal(t, core.ContainerPaused, c.State, name)
	}
	_, err = svc.Python(b.ctx, "alice", sb.ID, "print(x)", 5)
	require.NoError(t, err)
	for name, c := range listSession(t, b, sessionID) {
		require.Equal(t, core.ContainerRunning, c.State, name)
	}
	b.clock.Advance(time.Minute)
	n, err = svc.PauseIdle(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, svc.Stop(b.ctx, "alice", sb.ID), "a paused browser container is stopped and removed too")
	require.Empty(t, listSession(t, b, sessionID))
}

func TestPause_OpenTerminalIsNotPaused(t *testing.T) {
	t.Parallel()
	svc, b := pauseSetup(t)
	sb := runningSandbox(t, svc, b, "pausing")
	lease, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 2})
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, lease.RearmInterval(), "re-armed often enough for other instances to see it")
	b.clock.Advance(5 * time.Minute)
	require.Zero(t, pauseIdle(t, svc, b), "a terminal is open here")
	lease.Release()
	require.Zero(t, pauseIdle(t, svc, b), "its close re-armed the deadline")
	b.clock.Advance(time.Minute)
	require.Equal(t, 1, pauseIdle(t, svc, b))
}
