package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
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
	// PortEnv names the variable that moves Image's runtime off
	// RuntimePort, so that two containers of one session can listen in one
	// network namespace; "" starts the second on RuntimePort as well (a
	// fake that opens no port).
	PortEnv string
	// Dial asks the runtime at ep to open a TCP connection to addr from
	// inside its container and returns nil if it was accepted. Nil skips
	// the checks that containers of one session reach each other on
	// 127.0.0.1.
	Dial func(ctx context.Context, ep core.Endpoint, addr string) error
	// SingleContainer says the runtime runs sessions of one container only
	// (Kubernetes: a pod cannot join another pod's network namespace).
	// Creating a container of a profile with several is then
	// validation_error, which the suite checks instead of joining.
	SingleContainer bool
	// NoPidsLimit says the runtime cannot limit one container's processes
	// (Kubernetes: the kubelet's podPidsLimit holds for every pod of a
	// node). ContainerInfo.PidsLimit must then be 0, "unlimited", rather
	// than a limit that is not applied.
	NoPidsLimit bool
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
		if h.NoPidsLimit {
			require.Zero(t, c.PidsLimit, "a limit the runtime does not apply is not reported")
		} else {
			require.EqualValues(t, 300, c.PidsLimit)
		}
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

	t.Run("Container/PauseAndUnpause", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		spec := f.spec()
		f.volume(spec.LockerID)
		id := f.create(spec)
		// A container that is not running cannot be paused.
		requireCode(t, core.CodeConflict, f.rt.PauseContainer(f.ctx, id))
		require.NoError(t, f.rt.UnpauseContainer(f.ctx, id), "unpausing one that is not paused is not an error")
		ep := f.start(id)

		err := f.rt.PauseContainer(f.ctx, id)
		if errors.Is(err, core.ErrPauseUnsupported) {
			requireCode(t, core.CodeInternal, err)
			t.Skip("the runtime cannot pause containers")
		}
		require.NoError(t, err)
		f.requireState(id, core.ContainerPaused)
		require.NoError(t, f.rt.PauseContainer(f.ctx, id), "pausing a paused container is not an error")
		f.requireState(id, core.ContainerPaused)
		infos, err := f.rt.ListContainers(f.ctx, map[string]string{core.LabelSessionID: spec.SessionID})
		require.NoError(t, err)
		require.Len(t, infos, 1)
		require.Equal(t, core.ContainerPaused, infos[0].State)

		require.NoError(t, f.rt.UnpauseContainer(f.ctx, id))
		f.requireState(id, core.ContainerRunning)
		require.NoError(t, f.rt.UnpauseContainer(f.ctx, id), "unpausing a running container is not an error")
		if f.h.Probe != nil {
			require.NoError(t, pollProbe(f.ctx, f.h.Probe, ep, time.Minute), "the runtime answers again at its endpoint")
		}

		missing := "bay-conformance-missing-" + core.RandomIDs{}.New("")
		requireCode(t, core.CodeNotFound, f.rt.PauseContainer(f.ctx, missing))
		requireCode(t, core.CodeNotFound, f.rt.UnpauseContainer(f.ctx, missing))
	})

	t.Run("Container/StopAndRemoveWhilePaused", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		spec := f.spec()
		f.volume(spec.LockerID)
		id := f.create(spec)
		f.start(id)
		err := f.rt.PauseContainer(f.ctx, id)
		if errors.Is(err, core.ErrPauseUnsupported) {
			t.Skip("the runtime cannot pause containers")
		}
		require.NoError(t, err)
		began := time.Now()
		require.NoError(t, f.rt.StopContainer(f.ctx, id, 30*time.Second))
		f.requireState(id, core.ContainerExited)
		t.Logf("stop of a paused container took %s", time.Since(began))

		f.start(id)
		require.NoError(t, f.rt.PauseContainer(f.ctx, id))
		require.NoError(t, f.rt.RemoveContainer(f.ctx, id))
		f.requireState(id, core.ContainerNotFound)
		infos, err := f.rt.ListContainers(f.ctx, map[string]string{core.LabelSessionID: spec.SessionID})
		require.NoError(t, err)
		require.Empty(t, infos)
	})

	t.Run("Container/DefaultPidsLimit", func(t *testing.T) {
		if h.NoPidsLimit {
			t.Skip("the runtime cannot limit a container's processes")
		}
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

	t.Run("Container/JoinedSharesItsOwnersNetwork", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		spec := f.spec()
		ownerPort, otherPort := h.RuntimePort, h.RuntimePort+1
		env := map[string]string{"AUX": "1", "SHARED": "container"}
		if h.PortEnv != "" {
			env[h.PortEnv] = strconv.Itoa(otherPort)
		}
		spec.Profile.Env = map[string]string{"SHARED": "profile", "PROFILE_ONLY": "p"}
		spec.Profile.Containers = []core.ContainerProfile{
			{Name: "ship", RuntimeType: core.RuntimeTypeShip, Image: h.Image, Port: ownerPort,
				CPUs: 1, MemoryBytes: 128 << 20, PidsLimit: 256, Capabilities: []string{core.CapabilityFilesystem}},
			{Name: "aux", RuntimeType: core.RuntimeTypeShip, Image: h.Image, Port: otherPort,
				CPUs: 0.5, MemoryBytes: 64 << 20, PidsLimit: 128, Env: env, Capabilities: []string{"aux"}},
		}
		f.volume(spec.LockerID)
		owner, other := spec, spec
		owner.Container, other.Container = &spec.Profile.Containers[0], &spec.Profile.Containers[1]
		if h.SingleContainer {
			_, err := f.rt.CreateContainer(f.ctx, owner)
			requireCode(t, core.CodeValidation, err)
			infos, err := f.rt.ListContainers(f.ctx, map[string]string{core.LabelSessionID: spec.SessionID})
			require.NoError(t, err)
			require.Empty(t, infos, "nothing was created")
			return
		}
		ownerID := f.create(owner)
		other.NetworkOwner = ownerID
		otherID := f.create(other)
		require.NotEqual(t, ownerID, otherID)
		require.Equal(t, otherID, f.create(other), "a joined container is adopted like its owner")

		infos, err := f.rt.ListContainers(f.ctx, map[string]string{core.LabelSessionID: spec.SessionID})
		require.NoError(t, err)
		require.Len(t, infos, 2)
		byID := map[string]core.ContainerInfo{}
		for _, c := range infos {
			byID[c.ID] = c
		}
		o, x := byID[ownerID], byID[otherID]
		require.Equal(t, core.ContainerName(spec.SessionID), o.Name, "the owner keeps the session's name")
		require.Equal(t, core.ContainerName(spec.SessionID)+"-aux", x.Name)
		require.Empty(t, o.NetworkOwner)
		require.Equal(t, ownerID, x.NetworkOwner)
		for c, want := range map[*core.ContainerInfo][3]string{&o: {"ship", "ship", fmt.Sprint(ownerPort)}, &x: {"aux", "ship", fmt.Sprint(otherPort)}} {
			require.Equal(t, want[0], c.Labels[core.LabelContainer])
			require.Equal(t, want[1], c.Labels[core.LabelRuntimeType])
			require.Equal(t, want[2], c.Labels[core.LabelRuntimePort])
			require.Equal(t, spec.SessionID, c.Labels[core.LabelSessionID])
			require.Equal(t, "true", c.Labels[core.LabelManaged])
			require.Equal(t, want[0], c.Env[core.EnvContainerName])
			require.Equal(t, spec.RuntimeToken, c.Env[core.EnvRuntimeToken], "one token for every container of the session")
			require.Equal(t, "p", c.Env["PROFILE_ONLY"])
			require.Contains(t, c.Mounts, core.Mount{Volume: core.VolumeName(spec.LockerID), Target: core.MountPath}, "one Locker")
		}
		require.Equal(t, "profile", o.Env["SHARED"])
		require.Equal(t, "container", x.Env["SHARED"], "a container's own environment wins over the profile's")
		require.Empty(t, o.Env["AUX"])
		require.EqualValues(t, 500_000_000, x.NanoCPUs)
		require.EqualValues(t, 64<<20, x.MemoryBytes)
		require.EqualValues(t, 128, x.PidsLimit)

		_, err = f.rt.StartContainer(f.ctx, otherID, otherPort)
		require.Error(t, err, "a container cannot join the network of one that is not running")
		ownerEP := f.start(ownerID)
		otherEP := f.startOn(otherID, otherPort)
		require.NotEqual(t, ownerEP, otherEP)
		ou, err := url.Parse(ownerEP)
		require.NoError(t, err)
		xu, err := url.Parse(otherEP)
		require.NoError(t, err)
		require.Equal(t, ou.Hostname(), xu.Hostname(), "reached through its owner's host")
		if h.Dial != nil {
			tok := spec.RuntimeToken
			require.NoError(t, h.Dial(f.ctx, core.Endpoint{URL: ownerEP, Token: tok}, net.JoinHostPort("127.0.0.1", strconv.Itoa(otherPort))),
				"the owner reaches the other container on 127.0.0.1")
			require.NoError(t, h.Dial(f.ctx, core.Endpoint{URL: otherEP, Token: tok}, net.JoinHostPort("127.0.0.1", strconv.Itoa(ownerPort))),
				"and the other the owner")
		}

		require.NoError(t, f.rt.RemoveContainer(f.ctx, otherID))
		require.NoError(t, f.rt.RemoveContainer(f.ctx, ownerID))
		f.requireState(otherID, core.ContainerNotFound)
		f.requireState(ownerID, core.ContainerNotFound)
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
	return f.startOn(id, f.h.RuntimePort)
}

// startOn is start for a runtime listening on port.
func (f *runtimeFixture) startOn(id string, port int) string {
	f.t.Helper()
	ep, err := f.rt.StartContainer(f.ctx, id, port)
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
