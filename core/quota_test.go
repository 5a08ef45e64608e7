package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/fake"
)

func ptr[T any](v T) *T { return &v }

func requireQuota(t *testing.T, err error, limit string, max, current int64) {
	t.Helper()
	requireCode(t, core.CodeQuotaExceeded, err)
	require.Equal(t, map[string]any{"limit": limit, "max": max, "current": current}, core.AsError(err).Details)
}

func TestQuotas(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	rt := fake.NewRuntime(fake.RuntimeOptions{Clock: clock})
	ship := fake.NewShip()
	quotas := core.Quotas{
		Default: core.Quota{MaxSandboxes: 2, MaxRunningSessions: 1, MaxLockers: 3, MaxLockerMB: 2048 + 512},
		Owners:  map[string]core.Quota{"carol": {}}, // carol: unbounded
	}
	svc := core.NewSandboxService(core.SandboxServiceOptions{
		Store: store, Runtime: rt, Ship: ship, Clock: clock, IDs: core.RandomIDs{},
		Profiles: testProfiles(), InstanceID: "bay-a", ReadinessTimeout: 5 * time.Second,
		DefaultLockerSizeMB: 1024, Quotas: quotas,
	})
	lockers := core.NewLockerService(store, rt, clock, core.RandomIDs{}, 1024, 0).WithQuotas(quotas)
	ctx := context.Background()

	a1, err := svc.Create(ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	a2, err := svc.Create(ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	_, err = svc.Create(ctx, "alice", core.CreateSandboxInput{})
	requireQuota(t, err, core.LimitSandboxes, 2, 2)
	creates := rt.Calls(fake.OpCreateVolume)

	// Two managed lockers of 1024 MB: 512 MB fit, 1024 more do not.
	_, err = lockers.Create(ctx, "alice", ptr(int64(1024)))
	requireQuota(t, err, core.LimitLockerMB, 2048+512, 2048)
	small, err := lockers.Create(ctx, "alice", ptr(int64(512)))
	require.NoError(t, err)
	_, err = lockers.Create(ctx, "alice", ptr(int64(1)))
	requireQuota(t, err, core.LimitLockers, 3, 3)
	require.Equal(t, creates+1, rt.Calls(fake.OpCreateVolume), "a refused create makes no volume")

	// One running session at a time.
	_, err = svc.Python(ctx, "alice", a1.ID, "1", 5)
	require.NoError(t, err)
	_, err = svc.Python(ctx, "alice", a2.ID, "1", 5)
	requireQuota(t, err, core.LimitRunningSessions, 1, 1)
	_, err = svc.Python(ctx, "alice", a1.ID, "2", 5)
	require.NoError(t, err, "the running sandbox keeps working")
	require.NoError(t, svc.Stop(ctx, "alice", a1.ID))
	_, err = svc.Python(ctx, "alice", a2.ID, "1", 5)
	require.NoError(t, err, "stopping one frees the slot")

	// Deleting frees the slots; other owners have their own.
	require.NoError(t, svc.Delete(ctx, "alice", a1.ID))
	require.NoError(t, lockers.Delete(ctx, "alice", small.ID))
	_, err = svc.Create(ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	_, err = svc.Create(ctx, "bob", core.CreateSandboxInput{})
	require.NoError(t, err)
	for range 5 {
		_, err = svc.Create(ctx, "carol", core.CreateSandboxInput{})
		require.NoError(t, err, "an owner's own quota replaces the default")
	}
}
