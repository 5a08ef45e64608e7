package core_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/fake"
)

func requireGone(t *testing.T, l *core.TerminalLease, gone bool) {
	t.Helper()
	select {
	case <-l.Gone():
		require.True(t, gone, "the lease was signalled")
	default:
		require.False(t, gone, "the lease was not signalled")
	}
}

func TestSandboxService_OpenTerminal(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	req := core.TerminalRequest{Max: 2}

	t.Run("OpensAndReturnsTheEndpoint", func(t *testing.T) {
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
		require.NoError(t, err)
		l, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, req)
		require.NoError(t, err)
		defer l.Release()
		require.Equal(t, sb.ID, l.SandboxID())
		require.NotEmpty(t, l.Endpoint().URL)
		require.NotEmpty(t, l.Endpoint().Token)
		require.Equal(t, 30*time.Minute, l.IdleTimeout())
		require.Equal(t, time.Minute, l.RearmInterval())
		require.Equal(t, 1, b.runtime.Calls(fake.OpCreateContainer))
		requireGone(t, l, false)
	})

	t.Run("OtherOwnerIsNotFound", func(t *testing.T) {
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
		require.NoError(t, err)
		_, err = svc.OpenTerminal(b.ctx, "bob", sb.ID, req)
		requireCode(t, core.CodeNotFound, err)
		requireCode(t, core.CodeNotFound, svc.CheckTerminal(b.ctx, "bob", sb.ID))
		require.NoError(t, svc.CheckTerminal(b.ctx, "alice", sb.ID))
		_, err = svc.OpenTerminal(b.ctx, "alice", "sandbox-000000000000", req)
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("ProfileWithoutShell", func(t *testing.T) {
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "python-only"})
		require.NoError(t, err)
		checked := false
		_, err = svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Check: func() error { checked = true; return nil }})
		requireCode(t, core.CodeCapabilityNotSupported, err)
		require.Equal(t, "terminal", core.AsError(err).Details["capability"])
		require.False(t, checked, "the profile comes before the request's checks")
		err = svc.CheckTerminal(b.ctx, "alice", sb.ID)
		requireCode(t, core.CodeCapabilityNotSupported, err)
		require.Equal(t, "terminal", core.AsError(err).Details["capability"])
	})

	t.Run("LimitAndRelease", func(t *testing.T) {
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
		require.NoError(t, err)
		l1, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, req)
		require.NoError(t, err)
		l2, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, req)
		require.NoError(t, err)
		proceeded := false
		_, err = svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 2, Proceed: func() error { proceeded = true; return nil }})
		requireQuota(t, err, core.LimitTerminals, 2, 2)
		require.False(t, proceeded, "the limit comes before the upgrade check")

		// Another sandbox has its own count.
		other, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
		require.NoError(t, err)
		l3, err := svc.OpenTerminal(b.ctx, "alice", other.ID, req)
		require.NoError(t, err)
		l3.Release()

		l1.Release()
		l1.Release() // a second release frees nothing more
		l4, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, req)
		require.NoError(t, err, "a release frees its slot")
		_, err = svc.OpenTerminal(b.ctx, "alice", sb.ID, req)
		requireQuota(t, err, core.LimitTerminals, 2, 2)
		l2.Release()
		l4.Release()
	})

	t.Run("HooksInOrder", func(t *testing.T) {
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
		require.NoError(t, err)
		shape := core.Invalid("cols out of range")
		_, err = svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 1, Check: func() error { return shape }})
		require.Same(t, shape, err)

		// A refusal in Proceed frees the slot and starts nothing.
		starts := b.runtime.Calls(fake.OpCreateContainer)
		upgrade := core.Errorf(core.CodeUpgradeRequired, "not an upgrade")
		_, err = svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 1, Proceed: func() error { return upgrade }})
		require.Same(t, upgrade, err)
		require.Equal(t, starts, b.runtime.Calls(fake.OpCreateContainer))
		l, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 1})
		require.NoError(t, err)
		l.Release()
	})

	t.Run("Expired", func(t *testing.T) {
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{TTL: 1})
		require.NoError(t, err)
		b.clock.Advance(2 * time.Second)
		l, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 1, Check: func() error { return nil }})
		requireCode(t, core.CodeSandboxExpired, err)
		require.Nil(t, l)
	})
}

func TestSandboxService_TerminalRuntimeWithoutTerminal(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	b.ship.SetCapabilities(core.CapabilityFilesystem, core.CapabilityPython, core.CapabilityShell)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	_, err = svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 1})
	requireCode(t, core.CodeCapabilityNotSupported, err)
	require.Equal(t, "terminal", core.AsError(err).Details["capability"])
	b.ship.SetCapabilities(core.CapabilityFilesystem, core.CapabilityPython, core.CapabilityShell, core.CapabilityTerminal)
	// The runtime's /meta is cached per endpoint: a new runtime declares it.
	require.NoError(t, svc.Stop(b.ctx, "alice", sb.ID))
	l, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 1})
	require.NoError(t, err, "the refusal freed its slot")
	l.Release()
}

func TestSandboxService_TerminalStopAndDelete(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)

	t.Run("StopSignals", func(t *testing.T) {
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
		require.NoError(t, err)
		l1, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 2})
		require.NoError(t, err)
		l2, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 2})
		require.NoError(t, err)
		other, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
		require.NoError(t, err)
		l3, err := svc.OpenTerminal(b.ctx, "alice", other.ID, core.TerminalRequest{Max: 2})
		require.NoError(t, err)

		require.NoError(t, svc.Stop(b.ctx, "alice", sb.ID))
		requireGone(t, l1, true)
		requireGone(t, l2, true)
		requireGone(t, l3, false)
		// The stopped terminals no longer count: new ones start a new runtime.
		l4, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 1})
		require.NoError(t, err)
		requireGone(t, l4, false)
		l1.Release()
		l2.Release()
		l3.Release()
		l4.Release()
	})

	t.Run("DeleteSignals", func(t *testing.T) {
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
		require.NoError(t, err)
		l, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 1})
		require.NoError(t, err)
		require.NoError(t, svc.Delete(b.ctx, "alice", sb.ID))
		requireGone(t, l, true)
		l.Release()
		_, err = svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 1})
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("StopOfAnIdleSandboxSignalsNothingLater", func(t *testing.T) {
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
		require.NoError(t, err)
		l, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 1})
		require.NoError(t, err)
		l.Release()
		require.NoError(t, svc.Stop(b.ctx, "alice", sb.ID))
		requireGone(t, l, false)
	})
}

func TestSandboxService_TerminalKeepsTheSandboxActive(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "short-idle"})
	require.NoError(t, err)
	l, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 1})
	require.NoError(t, err)
	require.Equal(t, time.Second, l.RearmInterval(), "min(60 s, idle/2)")
	idleAt := func() time.Time {
		got, err := svc.Get(b.ctx, "alice", sb.ID)
		require.NoError(t, err)
		require.NotNil(t, got.IdleExpiresAt)
		return *got.IdleExpiresAt
	}

	// Re-armed every second, the sandbox never idles: idle GC keeps it.
	for range 5 {
		b.clock.Advance(time.Second)
		l.Rearm(b.ctx)
		require.Equal(t, b.clock.Now().Add(2*time.Second), idleAt())
		rep, err := b.gc.Run(b.ctx, []string{core.GCIdleSession})
		require.NoError(t, err)
		require.Zero(t, rep.TotalCleaned)
	}
	requireGone(t, l, false)

	// Released, the deadline counts from the close; past it, GC reclaims
	// the runtime.
	b.clock.Advance(500 * time.Millisecond)
	l.Release()
	require.Equal(t, b.clock.Now().Add(2*time.Second), idleAt())
	b.clock.Advance(3 * time.Second)
	rep, err := b.gc.Run(b.ctx, []string{core.GCIdleSession})
	require.NoError(t, err)
	require.EqualValues(t, 1, rep.TotalCleaned)
}

func TestSandboxService_TerminalIdleReclaimSignals(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "short-idle"})
	require.NoError(t, err)
	l, err := svc.OpenTerminal(b.ctx, "alice", sb.ID, core.TerminalRequest{Max: 1})
	require.NoError(t, err)
	// A terminal that failed to re-arm is closed like a stopped one when
	// idle GC reclaims its runtime.
	b.clock.Advance(3 * time.Second)
	rep, err := b.gc.Run(b.ctx, []string{core.GCIdleSession})
	require.NoError(t, err)
	require.EqualValues(t, 1, rep.TotalCleaned)
	requireGone(t, l, true)
	l.Release()
	got, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Nil(t, got.IdleExpiresAt, "a release after the stop leaves the deadline cleared")
}
