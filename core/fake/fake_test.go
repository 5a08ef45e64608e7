package fake_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
	"github.com/bayhq/bay/core/fake"
)

const image = "ship:test"

func TestRuntime_Conformance(t *testing.T) {
	t.Parallel()
	conformance.RunRuntime(t, conformance.RuntimeHarness{
		New: func(t *testing.T) core.Runtime {
			return fake.NewRuntime(fake.RuntimeOptions{Images: []string{image}})
		},
		Image:        image,
		RuntimePort:  8123,
		MissingImage: "ship:missing",
	})
}

func TestRuntime_FailNextExitAndEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	rt := fake.NewRuntime(fake.RuntimeOptions{
		Clock: clock,
		Endpoint: func(c core.ContainerInfo, port int) string {
			return "http://runtime.test/" + c.Labels[core.LabelSessionID]
		},
	})
	spec := core.ContainerSpec{SessionID: "sess-1", SandboxID: "sandbox-1", LockerID: "locker-1",
		Profile: &core.Profile{ID: "p", Image: "any:image", RuntimePort: 8123}}

	boom := errors.New("boom")
	rt.FailNext(fake.OpCreateContainer, boom)
	_, err := rt.CreateContainer(ctx, spec)
	require.ErrorIs(t, err, boom)
	id, err := rt.CreateContainer(ctx, spec)
	require.NoError(t, err, "an injected error fails one call only")
	require.Equal(t, 2, rt.Calls(fake.OpCreateContainer))

	ep, err := rt.StartContainer(ctx, id, 8123)
	require.NoError(t, err)
	require.Equal(t, "http://runtime.test/sess-1", ep)

	rt.Exit(id)
	st, err := rt.ContainerState(ctx, id)
	require.NoError(t, err)
	require.Equal(t, core.ContainerExited, st)

	infos, err := rt.ListContainers(ctx, nil)
	require.NoError(t, err)
	require.Len(t, infos, 1)
	require.Equal(t, clock.Now(), infos[0].Created)
	infos[0].Labels["mutated"] = "yes"
	again, err := rt.ListContainers(ctx, nil)
	require.NoError(t, err)
	require.NotContains(t, again[0].Labels, "mutated", "callers get copies")

	require.Equal(t, map[string]string{}, rt.VolumeLabels("locker-1"), "a missing volume is created without labels, as on Docker")
}

func TestClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 30, 7, 0, 0, 123456789, time.FixedZone("x", 3600))
	c := fake.NewClock(start)
	require.Equal(t, core.Micro(start), c.Now())
	require.Equal(t, time.UTC, c.Now().Location())
	require.Equal(t, core.Micro(start).Add(time.Minute), c.Advance(time.Minute))
	require.Equal(t, core.Micro(start).Add(time.Minute), c.Now())
	c.Set(start)
	require.Equal(t, core.Micro(start), c.Now())
}

func TestIDs(t *testing.T) {
	t.Parallel()
	var ids fake.IDs
	require.Equal(t, "sandbox-000000000001", ids.New(core.SandboxIDPrefix))
	require.Equal(t, "sandbox-000000000002", ids.New(core.SandboxIDPrefix))
	require.Equal(t, "locker-000000000001", ids.New(core.LockerIDPrefix))

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]bool{}
	)
	for range 8 {
		wg.Go(func() {
			for range 100 {
				id := ids.New(core.SessionIDPrefix)
				mu.Lock()
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, 800, "concurrent ids are distinct")
	require.Equal(t, "sess-000000000321", ids.New(core.SessionIDPrefix))
}
