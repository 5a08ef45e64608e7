package core_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/fake"
)

func result(t *testing.T, r *core.GCReport, task string) core.GCTaskResult {
	t.Helper()
	for _, x := range r.Results {
		if x.TaskName == task {
			return x
		}
	}
	t.Fatalf("no result for %s in %+v", task, r)
	return core.GCTaskResult{}
}

func TestGC_IdleSession(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	require.NoError(t, svc.WriteFile(b.ctx, "alice", sb.ID, "keep.txt", "x"))
	kept, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	require.NoError(t, svc.Keepalive(b.ctx, "alice", kept.ID))

	rep, err := b.gc.Run(b.ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 0, result(t, rep, core.GCIdleSession).CleanedCount, "nothing is idle yet")

	b.clock.Advance(31 * time.Minute)
	// Naming other tasks runs only those: the idle sessions stay.
	rep, err = b.gc.Run(b.ctx, []string{core.GCOrphanLocker, "no_such_task"})
	require.NoError(t, err)
	require.Len(t, rep.Results, 1)
	require.Equal(t, core.GCOrphanLocker, rep.Results[0].TaskName)
	got, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.NotNil(t, got.IdleExpiresAt, "idle_session did not run")

	rep, err = b.gc.Run(b.ctx, []string{core.GCIdleSession})
	require.NoError(t, err)
	require.Len(t, rep.Results, 1)
	require.Equal(t, 2, rep.Results[0].CleanedCount, "the running one and the kept-alive one")
	got, err = svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusIdle, got.Status)
	require.Equal(t, core.StopReasonIdle, got.StopReason)
	require.Nil(t, got.IdleExpiresAt)
	list, err := b.runtime.ListContainers(b.ctx, map[string]string{core.LabelSandboxID: sb.ID})
	require.NoError(t, err)
	require.Empty(t, list)
	_, err = b.store.Lockers().Get(b.ctx, sb.LockerID)
	require.NoError(t, err, "idle reclaim keeps the locker")
}

func TestGC_BusySessionIsNotIdle(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "short-idle"})
	require.NoError(t, err)
	_, err = svc.Python(b.ctx, "alice", sb.ID, "warm up", 5)
	require.NoError(t, err)

	inCall := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	b.ship.Block = func(ctx context.Context) {
		once.Do(func() { close(inCall) })
		<-release
	}
	done := make(chan error, 1)
	go func() {
		_, err := svc.Python(b.ctx, "alice", sb.ID, "long", 300)
		done <- err
	}()
	<-inCall
	// Well past the 2 s idle timeout, but the call in flight may take 300 s.
	b.clock.Advance(time.Minute)
	rep, err := b.gc.Run(b.ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 0, result(t, rep, core.GCIdleSession).CleanedCount)
	close(release)
	require.NoError(t, <-done)
	got, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusReady, got.Status)
	require.Equal(t, b.clock.Now().Add(2*time.Second), *got.IdleExpiresAt, "re-armed when the call ended")
	b.clock.Advance(3 * time.Second)
	rep, err = b.gc.Run(b.ctx, []string{core.GCIdleSession})
	require.NoError(t, err)
	require.Equal(t, 1, rep.TotalCleaned, "idle once the call is over")
}

func TestGC_ExpiredSandboxAndOrphans(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	exp, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{TTL: 60})
	require.NoError(t, err)
	_, err = svc.Python(b.ctx, "alice", exp.ID, "1", 5)
	require.NoError(t, err)
	ext, err := b.lockers.Create(b.ctx, "alice", nil)
	require.NoError(t, err)
	withExt, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{LockerID: ext.ID, TTL: 60})
	require.NoError(t, err)
	extended, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{TTL: 60})
	require.NoError(t, err)
	_, err = svc.ExtendTTL(b.ctx, "alice", extended.ID, 3600)
	require.NoError(t, err)

	b.clock.Advance(61 * time.Second)
	got, err := svc.Get(b.ctx, "alice", exp.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusExpired, got.Status, "expired wins over a running session")
	rep, err := b.gc.Run(b.ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 2, result(t, rep, core.GCExpiredSandbox).CleanedCount)
	_, err = svc.Get(b.ctx, "alice", exp.ID)
	requireCode(t, core.CodeNotFound, err)
	_, err = b.store.Lockers().Get(b.ctx, exp.LockerID)
	requireCode(t, core.CodeNotFound, err, "the managed locker goes with it")
	_, err = b.store.Lockers().Get(b.ctx, ext.ID)
	require.NoError(t, err, "external lockers are never collected")
	_, err = svc.Get(b.ctx, "alice", withExt.ID)
	requireCode(t, core.CodeNotFound, err)
	_, err = svc.Get(b.ctx, "alice", extended.ID)
	require.NoError(t, err)

	// An orphaned managed locker (its sandbox deleted, the volume removal
	// failed) is collected by the next cycle.
	orphan, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	b.runtime.FailNext(fake.OpDeleteVolume, core.Errorf(core.CodeConflict, "volume in use"))
	requireCode(t, core.CodeConflict, svc.Delete(b.ctx, "alice", orphan.ID))
	rep, err = b.gc.Run(b.ctx, []string{core.GCOrphanLocker})
	require.NoError(t, err)
	require.Equal(t, 1, rep.TotalCleaned)
	_, err = b.store.Lockers().Get(b.ctx, orphan.LockerID)
	requireCode(t, core.CodeNotFound, err)
}

func TestGC_OrphanContainerIsStrict(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 5)
	require.NoError(t, err)
	p := testProfiles()[0]
	// A container of this instance whose session row is gone.
	orphan, err := b.runtime.CreateContainer(b.ctx, core.ContainerSpec{
		SessionID: "sess-00000000dead", SandboxID: sb.ID, LockerID: sb.LockerID, Owner: "alice", InstanceID: "bay-a", Profile: &p})
	require.NoError(t, err)
	// One of another instance: never listed, never touched.
	foreign, err := b.runtime.CreateContainer(b.ctx, core.ContainerSpec{
		SessionID: "sess-00000000beef", SandboxID: sb.ID, LockerID: sb.LockerID, Owner: "alice", InstanceID: "bay-b", Profile: &p})
	require.NoError(t, err)

	rep, err := b.gc.Run(b.ctx, []string{core.GCOrphanContainer})
	require.NoError(t, err)
	r := rep.Results[0]
	require.Equal(t, 1, r.CleanedCount)
	require.Equal(t, 1, r.SkippedCount, "the healthy session's container")
	st, err := b.runtime.ContainerState(b.ctx, orphan)
	require.NoError(t, err)
	require.Equal(t, core.ContainerNotFound, st)
	st, err = b.runtime.ContainerState(b.ctx, foreign)
	require.NoError(t, err)
	require.NotEqual(t, core.ContainerNotFound, st)
}

func TestGC_RunWhileRunningIsGCRunning(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	gc := core.NewGC(core.GCOptions{
		Store: b.store, Runtime: b.runtime, Clock: b.clock, Sandboxes: svc, InstanceID: "bay-a",
		Tasks: map[string]bool{core.GCIdleSession: true},
		// Observe runs inside the cycle: blocking it holds the cycle.
		Observe: func(*core.GCReport) {
			close(entered)
			<-release
		},
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		gc.RunCycle(context.Background())
	}()
	<-entered
	require.True(t, gc.Status().IsRunning)
	_, err := gc.Run(b.ctx, nil)
	requireCode(t, core.CodeGCRunning, err)
	close(release)
	<-done
	require.False(t, gc.Status().IsRunning)
	gc2 := core.NewGC(core.GCOptions{Store: b.store, Runtime: b.runtime, Clock: b.clock, Sandboxes: svc,
		InstanceID: "bay-a", Tasks: map[string]bool{core.GCIdleSession: true}})
	rep, err := gc2.Run(b.ctx, nil)
	require.NoError(t, err)
	require.Len(t, rep.Results, 1, "disabled tasks are absent")
	st := gc2.Status()
	require.Equal(t, "bay-a", st.InstanceID)
	require.False(t, st.Tasks[core.GCOrphanContainer])
}

func TestGC_ReconcileAfterCrashMidStart(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	rt := fake.NewRuntime(fake.RuntimeOptions{Clock: clock})
	ship := fake.NewShip()
	ship.CheckTokens(rt)
	before, b := newInstance(t, store, rt, ship, clock, "bay-a")
	sb, err := before.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	// The process dies between creating the container and recording it:
	// the start claim stays, the container exists, unrecorded.
	rt.FailNext(fake.OpStartContainer, context.Canceled)
	_, _ = before.Python(b.ctx, "alice", sb.ID, "1", 5) // leaves state failed, not starting
	require.NoError(t, store.InTx(b.ctx, func(tx core.Store) error {
		cur, err := tx.Sandboxes().GetForUpdate(b.ctx, sb.ID)
		if err != nil {
			return err
		}
		sess, err := tx.Sessions().Get(b.ctx, cur.CurrentSessionID)
		if err != nil {
			return err
		}
		now := clock.Now()
		sess.ObservedState = core.SessionStarting
		sess.ClaimedBy, sess.ClaimedAt = "bay-a", &now
		return tx.Sessions().Save(b.ctx, sess)
	}))
	p := testProfiles()[0]
	cur, err := store.Sandboxes().Get(b.ctx, sb.ID)
	require.NoError(t, err)
	sess, err := store.Sessions().Get(b.ctx, cur.CurrentSessionID)
	require.NoError(t, err)
	// The container of the interrupted start, as Bay asked for it.
	_, err = rt.CreateContainer(b.ctx, core.ContainerSpec{SessionID: cur.CurrentSessionID, SandboxID: sb.ID,
		LockerID: sb.LockerID, Owner: "alice", InstanceID: "bay-a", Profile: &p, RuntimeToken: sess.RuntimeToken})
	require.NoError(t, err)

	clock.Advance(time.Second)
	after, b2 := newInstance(t, store, rt, ship, clock, "bay-a") // the restarted process
	fixed, err := b2.gc.Reconcile(b.ctx, true)
	require.NoError(t, err)
	require.Equal(t, 1, fixed)
	starting, err := store.Sessions().ListByObservedState(b.ctx, core.SessionStarting)
	require.NoError(t, err)
	require.Empty(t, starting)
	list, err := rt.ListContainers(b.ctx, map[string]string{core.LabelInstanceID: "bay-a"})
	require.NoError(t, err)
	require.Empty(t, list)
	got, err := after.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusFailed, got.Status, "the interrupted start shows as failed")
	require.Equal(t, core.StopReasonError, got.StopReason)
	// A container the daemon finishes creating after the reconcile still
	// belongs to a known session: it is no orphan, and the next start
	// adopts it instead of failing on the name.
	late, err := rt.CreateContainer(b.ctx, core.ContainerSpec{SessionID: cur.CurrentSessionID, SandboxID: sb.ID,
		LockerID: sb.LockerID, Owner: "alice", InstanceID: "bay-a", Profile: &p, RuntimeToken: sess.RuntimeToken})
	require.NoError(t, err)
	rep, err := b2.gc.Run(b.ctx, []string{core.GCOrphanContainer})
	require.NoError(t, err)
	require.Equal(t, 0, rep.TotalCleaned)
	_, err = after.Python(b.ctx, "alice", sb.ID, "1", 5)
	require.NoError(t, err, "the next call starts cleanly")
	list, err = rt.ListContainers(b.ctx, map[string]string{core.LabelSandboxID: sb.ID})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, late, list[0].ID, "the late container was adopted")
}

func TestGC_LoopPurgesExpiredIdempotencyKeys(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	idem := core.NewIdempotencyService(store, clock, time.Hour, true)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	_, _, err := idem.Do(ctx, "alice", "k-1", "fp", func(context.Context) (int, []byte, error) { return 201, []byte("{}"), nil })
	require.NoError(t, err)
	clock.Advance(2 * time.Hour)
	// The GC loop itself is off: the purge runs regardless.
	g := core.NewGC(core.GCOptions{Store: store, Clock: clock, Idempotency: idem, PurgeEvery: 10 * time.Millisecond})
	go g.Loop(ctx)
	require.Eventually(t, func() bool {
		_, err := store.Idempotency().Get(ctx, "alice", "k-1")
		return core.CodeOf(err) == core.CodeNotFound
	}, 30*time.Second, 10*time.Millisecond)
}
