package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// RuntimeHarness describes the core.Runtime under test.
type RuntimeHarness struct {
	// New returns the runtime for one test. It registers the cleanup of
	// whatever the runtime creates for t, as a backstop to the suite's own.
	New func(t *testing.T) core.Runtime
	// Image is present on the runtime host and serves GET /health with 200
	// on RuntimePort.
	Image       string
	RuntimePort int
	// MissingImage names an image that is not present; "" skips that test.
	MissingImage string
	// Probe checks once that a runtime answers at endpoint; the suite calls it
	// until it succeeds or a deadline passes. Nil skips the checks (a fake
	// starts no server). ProbeHealth suits real runtimes.
	Probe func(ctx context.Context, endpoint string) error
}

// probeClient ignores HTTP_PROXY and friends: Bay never sends runtime
// traffic through a proxy (lifecycle.md §5.4).
var probeClient = &http.Client{
	Transport: &http.Transport{Proxy: nil},
	Timeout:   2 * time.Second,
}

// ProbeHealth asks GET <endpoint>/health once and wants 200.
func ProbeHealth(ctx context.Context, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/health: status %d", endpoint, resp.StatusCode)
	}
	return nil
}

// RunRuntime tests a core.Runtime against the sentences of its port.
func RunRuntime(t *testing.T, h RuntimeHarness) {
	newFixture := func(t *testing.T) *runtimeFixture {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		t.Cleanup(cancel)
		return &runtimeFixture{t: t, ctx: ctx, rt: h.New(t), h: h, owner: core.RandomIDs{}.New("owner-")}
	}

	t.Run("Volume/CreateTwiceDeleteTwice", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		v := core.VolumeSpec{LockerID: core.RandomIDs{}.New(core.LockerIDPrefix), Owner: f.owner, Managed: true}
		require.NoError(t, f.rt.CreateVolume(f.ctx, v))
		require.NoError(t, f.rt.CreateVolume(f.ctx, v), "an existing volume is reused")
		require.NoError(t, f.rt.DeleteVolume(f.ctx, v.LockerID))
		require.NoError(t, f.rt.DeleteVolume(f.ctx, v.LockerID), "a missing volume is not an error")
	})

	t.Run("VolumeFile/WriteReadRoundTrip", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		lid := core.RandomIDs{}.New(core.LockerIDPrefix)
		f.volume(lid)
		content := []byte("Hello from a locker!\r\nline 2 \u2713\n")
		require.NoError(t, f.rt.WriteVolumeFile(f.ctx, lid, "a/b/notes.txt", content))
		got, err := f.rt.ReadVolumeFile(f.ctx, lid, "a/b/notes.txt", 1<<20)
		require.NoError(t, err)
		require.Equal(t, content, got, "bytes come back exactly")
		require.NoError(t, f.rt.WriteVolumeFile(f.ctx, lid, "a/b/notes.txt", []byte("v2")))
		got, err = f.rt.ReadVolumeFile(f.ctx, lid, "a/b/notes.txt", 1<<20)
		require.NoError(t, err)
		require.Equal(t, "v2", string(got), "a write overwrites")

		_, err = f.rt.ReadVolumeFile(f.ctx, lid, "a/missing.txt", 1<<20)
		requireCode(t, core.CodeFileNotFound, err)
		_, err = f.rt.ReadVolumeFile(f.ctx, lid, "a/b", 1<<20)
		requireCode(t, core.CodeValidation, err)
		_, err = f.rt.ReadVolumeFile(f.ctx, lid, "a/b/notes.txt", 1)
		requireCode(t, core.CodeValidation, err)
		requireCode(t, core.CodeValidation, f.rt.WriteVolumeFile(f.ctx, lid, "a/b/notes.txt/x", []byte("x")))
		requireCode(t, core.CodeValidation, f.rt.WriteVolumeFile(f.ctx, lid, "a/b", []byte("x")))
	})

	t.Run("Volume/DeleteInUseIsConflict", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		spec := f.spec()
		f.volume(spec.LockerID)
		id := f.create(spec)
		requireCode(t, core.CodeConflict, f.rt.DeleteVolume(f.ctx, spec.LockerID))
		require.NoError(t, f.rt.RemoveContainer(f.ctx, id))
		require.NoError(t, f.rt.DeleteVolume(f.ctx, spec.LockerID))
		require.NoError(t, f.rt.DeleteVolume(f.ctx, spec.LockerID))
	})

	t.Run("Container/Lifecycle", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		spec := f.spec()
		spec.Profile.Env = map[string]string{
			"FOO":                 "bar",
			core.EnvSessionID:     "from-profile",
			core.EnvWorkspacePath: "/elsewhere",
		}
		spec.Profile.CPUs = 0.5
		spec.Profile.MemoryBytes = 96 << 20
		spec.Profile.PidsLimit = 300
		f.volume(spec.LockerID)
		id := f.create(spec)
		require.NotEmpty(t, id)

		infos, err := f.rt.ListContainers(f.ctx, map[string]string{core.LabelOwner: f.owner})
		require.NoError(t, err)
		require.Len(t, infos, 1)
		c := infos[0]
		require.Equal(t, id, c.ID)
		require.Equal(t, core.ContainerName(spec.SessionID), c.Name)
		require.Equal(t, h.Image, c.Image)
		require.Equal(t, core.ContainerCreated, c.State)
		for k, v := range map[string]string{
			core.LabelOwner:       f.owner,
			core.LabelSandboxID:   spec.SandboxID,
			core.LabelSessionID:   spec.SessionID,
			core.LabelLockerID:    spec.LockerID,
			core.LabelProfileID:   spec.Profile.ID,
			core.LabelRuntimePort: fmt.Sprint(h.RuntimePort),
			core.LabelInstanceID:  spec.InstanceID,
			core.LabelManaged:     "true",
		} {
			require.Equal(t, v, c.Labels[k], "label %s", k)
		}
		require.Equal(t, "bar", c.Env["FOO"])
		require.Equal(t, spec.SessionID, c.Env[core.EnvSessionID], "Bay's variables win over the profile's")
		require.Equal(t, spec.SandboxID, c.Env[core.EnvSandboxID])
		require.Equal(t, core.MountPath, c.Env[core.EnvWorkspacePath])
		require.Equal(t, spec.RuntimeToken, c.Env[core.EnvRuntimeToken], "the runtime gets its token")
		require.Contains(t, c.Mounts, core.Mount{Volume: core.VolumeName(spec.LockerID), Target: core.MountPath})
		require.EqualValues(t, 500_000_000, c.NanoCPUs)
		require.EqualValues(t, 96<<20, c.MemoryBytes)
		require.EqualValues(t, 300, c.PidsLimit)
		f.requireState(id, core.ContainerCreated)

		ep := f.start(id)
		f.requireState(id, core.ContainerRunning)
		again, err := f.rt.StartContainer(f.ctx, id, h.RuntimePort)
		require.NoError(t, err, "starting a running container is not an error")
		require.Equal(t, ep, again)

		require.NoError(t, f.rt.StopContainer(f.ctx, id, 5*time.Second))
		f.requireState(id, core.ContainerExited)
		require.NoError(t, f.rt.StopContainer(f.ctx, id, 5*time.Second), "stopping a stopped container is not an error")

		f.start(id)
		f.requireState(id, core.ContainerRunning)

		require.NoError(t, f.rt.RemoveContainer(f.ctx, id))
		f.requireState(id, core.ContainerNotFound)
		require.NoError(t, f.rt.RemoveContainer(f.ctx, id), "a missing container is not an error")
		require.NoError(t, f.rt.StopContainer(f.ctx, id, time.Second), "a missing container is not an error")
		_, err = f.rt.StartContainer(f.ctx, id, h.RuntimePort)
		requireCode(t, core.CodeNotFound, err)
		infos, err = f.rt.ListContainers(f.ctx, map[string]string{core.LabelOwner: f.owner})
		require.NoError(t, err)
		require.Empty(t, infos)
	})

	t.Run("Container/DefaultPidsLimit", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		spec := f.spec()
		spec.Profile.PidsLimit = 0
		f.volume(spec.LockerID)
		f.create(spec)
		infos, err := f.rt.ListContainers(f.ctx, map[string]string{core.LabelSessionID: spec.SessionID})
		require.NoError(t, err)
		require.Len(t, infos, 1)
		require.EqualValues(t, core.DefaultPidsLimit, infos[0].PidsLimit)
	})

	t.Run("Container/UnknownIsNotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		id := "bay-conformance-missing-" + core.RandomIDs{}.New("")
		st, err := f.rt.ContainerState(f.ctx, id)
		require.NoError(t, err)
		require.Equal(t, core.ContainerNotFound, st)
	})

	t.Run("Container/AdoptAfterCrash", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		spec := f.spec()
		f.volume(spec.LockerID)
		first := f.create(spec)
		second := f.create(spec)
		require.Equal(t, first, second, "the session's container is adopted")
		f.start(second)

		// A container under the session's name that belongs to someone else
		// is replaced, not adopted.
		foreign := spec
		foreign.SandboxID = core.RandomIDs{}.New(core.SandboxIDPrefix)
		third := f.create(foreign)
		require.NotEqual(t, first, third)
		f.requireState(first, core.ContainerNotFound)
		infos, err := f.rt.ListContainers(f.ctx, map[string]string{core.LabelSessionID: spec.SessionID})
		require.NoError(t, err)
		require.Len(t, infos, 1)
		require.Equal(t, third, infos[0].ID)
		require.Equal(t, foreign.SandboxID, infos[0].Labels[core.LabelSandboxID])
		f.start(third)
	})

	t.Run("Container/ConcurrentCreateOfOneSession", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		spec := f.spec()
		f.volume(spec.LockerID)
		var wg sync.WaitGroup
		ids := make([]string, 2)
		errs := make([]error, 2)
		for i := range ids {
			wg.Go(func() { ids[i], errs[i] = f.rt.CreateContainer(f.ctx, spec) })
		}
		wg.Wait()
		for i := range ids {
			require.NoError(t, errs[i])
			f.cleanupContainer(ids[i])
		}
		require.Equal(t, ids[0], ids[1])
	})

	t.Run("Container/MissingImage", func(t *testing.T) {
		if h.MissingImage == "" {
			t.Skip("the harness names no missing image")
		}
		t.Parallel()
		f := newFixture(t)
		spec := f.spec()
		spec.Profile.Image = h.MissingImage
		f.volume(spec.LockerID)
		_, err := f.rt.CreateContainer(f.ctx, spec)
		requireCode(t, core.CodeInternal, err)
		require.ErrorIs(t, err, core.ErrImageMissing)
		require.Contains(t, err.Error(), h.MissingImage, "the error names the image")
	})

	t.Run("ListContainers/FiltersByAllLabels", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		a, b := f.spec(), f.spec()
		f.volume(a.LockerID)
		f.volume(b.LockerID)
		idA, idB := f.create(a), f.create(b)
		f.start(idB)

		ids := func(labels map[string]string) []string {
			t.Helper()
			infos, err := f.rt.ListContainers(f.ctx, labels)
			require.NoError(t, err)
			var out []string
			for _, c := range infos {
				out = append(out, c.ID)
			}
			return out
		}
		require.ElementsMatch(t, []string{idA, idB}, ids(map[string]string{core.LabelOwner: f.owner}),
			"created and running containers are both listed")
		require.ElementsMatch(t, []string{idA, idB}, ids(map[string]string{core.LabelOwner: f.owner, core.LabelManaged: "true"}))
		require.Equal(t, []string{idA}, ids(map[string]string{core.LabelOwner: f.owner, core.LabelSessionID: a.SessionID}))
		require.Empty(t, ids(map[string]string{core.LabelOwner: f.owner, core.LabelSessionID: "sess-000000000000"}))
		require.Empty(t, ids(map[string]string{core.LabelOwner: core.RandomIDs{}.New("owner-")}))
	})
}

// runtimeFixture holds one test's runtime and owner; every container and
// volume it makes is labelled with that owner and removed in cleanup.
type runtimeFixture struct {
	t     *testing.T
	ctx   context.Context
	rt    core.Runtime
	h     RuntimeHarness
	owner string
}

// spec returns a container spec of a new session of the fixture's owner.
func (f *runtimeFixture) spec() core.ContainerSpec {
	ids := core.RandomIDs{}
	return core.ContainerSpec{
		SessionID:    ids.New(core.SessionIDPrefix),
		SandboxID:    ids.New(core.SandboxIDPrefix),
		LockerID:     ids.New(core.LockerIDPrefix),
		Owner:        f.owner,
		InstanceID:   "conformance",
		RuntimeToken: core.NewRuntimeToken(),
		Profile: &core.Profile{
			ID:          "conformance",
			Image:       f.h.Image,
			RuntimeType: core.RuntimeTypeShip,
			RuntimePort: f.h.RuntimePort,
			CPUs:        1,
			MemoryBytes: 128 << 20,
			PidsLimit:   256,
		},
	}
}

// volume creates a volume and deletes it in cleanup.
func (f *runtimeFixture) volume(lockerID string) {
	f.t.Helper()
	require.NoError(f.t, f.rt.CreateVolume(f.ctx, core.VolumeSpec{LockerID: lockerID, Owner: f.owner, Managed: true}))
	f.t.Cleanup(func() {
		if err := f.rt.DeleteVolume(context.Background(), lockerID); err != nil {
			f.t.Errorf("cleanup: delete volume of %s: %v", lockerID, err)
		}
	})
}

// create creates a container and removes it in cleanup, before the volume
// cleanups registered earlier run.
func (f *runtimeFixture) create(spec core.ContainerSpec) string {
	f.t.Helper()
	id, err := f.rt.CreateContainer(f.ctx, spec)
	require.NoError(f.t, err)
	f.cleanupContainer(id)
	return id
}

func (f *runtimeFixture) cleanupContainer(id string) {
	f.t.Cleanup(func() {
		if err := f.rt.RemoveContainer(context.Background(), id); err != nil {
			f.t.Errorf("cleanup: remove container %s: %v", id, err)
		}
	})
}

// start starts the container and, when the harness can probe, waits until
// its runtime answers.
func (f *runtimeFixture) start(id string) string {
	f.t.Helper()
	ep, err := f.rt.StartContainer(f.ctx, id, f.h.RuntimePort)
	require.NoError(f.t, err)
	require.True(f.t, strings.HasPrefix(ep, "http://"), "endpoint %q", ep)
	if f.h.Probe != nil {
		require.NoError(f.t, pollProbe(f.ctx, f.h.Probe, ep, time.Minute), "runtime at %s never answered", ep)
	}
	return ep
}

func (f *runtimeFixture) requireState(id string, want core.ContainerState) {
	f.t.Helper()
	got, err := f.rt.ContainerState(f.ctx, id)
	require.NoError(f.t, err)
	require.Equal(f.t, want, got)
}

// pollProbe calls probe until it succeeds or within is over, backing off
// from 50 ms to 500 ms between calls.
func pollProbe(ctx context.Context, probe func(context.Context, string) error, endpoint string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	wait := 50 * time.Millisecond
	for {
		err := probe(ctx, endpoint)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}
