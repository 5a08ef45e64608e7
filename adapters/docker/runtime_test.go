package docker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/docker"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
	browserimage "github.com/bayhq/bay/images/browser"
)

// testLabel tags every container and volume the tests create; its value is
// unique per test. The key is this package's own, so the sweep never touches
// objects that other tests on a shared daemon tag with a plain bay.test.
const testLabel = "bay.test.id"

var (
	// testCli is the tests' own client, for building the image, inspecting
	// what the adapter made and sweeping. Nil when the daemon did not answer.
	testCli *client.Client
	// noDocker says why the Docker tests skip.
	noDocker string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		noDocker = fmt.Sprintf("docker client: %v", err)
		return m.Run()
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		noDocker = fmt.Sprintf("docker daemon does not answer: %v", err)
		return m.Run()
	}
	testCli = cli
	sweep(ctx, cli, time.Hour)
	return m.Run()
}

// sweep removes test containers, volumes and networks older than age, left behind by
// test binaries that were killed before their cleanups ran.
func sweep(ctx context.Context, cli *client.Client, age time.Duration) {
	cutoff := time.Now().Add(-age)
	f := filters.NewArgs(filters.Arg("label", testLabel))
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err == nil {
		for _, c := range cs {
			if time.Unix(c.Created, 0).Before(cutoff) {
				_ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
			}
		}
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err == nil {
		for _, v := range vs.Volumes {
			if created, err := time.Parse(time.RFC3339, v.CreatedAt); err == nil && created.Before(cutoff) {
				_ = cli.VolumeRemove(ctx, v.Name, false)
			}
		}
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err == nil {
		for _, n := range ns {
			if n.Created.Before(cutoff) {
				_ = cli.NetworkRemove(ctx, n.ID)
			}
		}
	}
}

// removeLabelled removes every container, then every volume, carrying
// testLabel=value.
func removeLabelled(t *testing.T, value string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := filters.NewArgs(filters.Arg("label", testLabel+"="+value))
	cs, err := testCli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	require.NoError(t, err)
	for _, c := range cs {
		require.NoError(t, testCli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}))
	}
	vs, err := testCli.VolumeList(ctx, volume.ListOptions{Filters: f})
	require.NoError(t, err)
	for _, v := range vs.Volumes {
		require.NoError(t, testCli.VolumeRemove(ctx, v.Name, true))
	}
}

// guardImage holds nft for the network guards.
const guardImage = "ship:latest"

// testBundle is what setup returns besides the runtime.
type testBundle struct {
	ctx   context.Context
	image string
	label string
}

// setup opens a Runtime whose objects carry a label unique to t and are
// removed when t ends. It skips t when the daemon does not answer.
func setup(t *testing.T, opts docker.Options) (*docker.Runtime, *testBundle) {
	t.Helper()
	if testCli == nil {
		skipf(t, "skipping Docker runtime test: %s", noDocker)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	image, err := fakeRuntimeImage(ctx, testCli)
	require.NoError(t, err)

	label := core.RandomIDs{}.New("t-")
	opts.Host = os.Getenv("DOCKER_HOST") // test helpers may read the environment
	opts.Labels = map[string]string{testLabel: label}
	if opts.HelperImage == "" {
		opts.HelperImage = image
	}
	// The guards run nft, which the scratch fake runtime lacks.
	if opts.GuardImage == "" {
		if _, err := testCli.ImageInspect(ctx, guardImage); err != nil {
			skipf(t, "skipping Docker runtime test: the guard image %s is missing (images/build.sh ship builds it)", guardImage)
		}
		opts.GuardImage = guardImage
	}
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	rt, err := docker.Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		removeLabelled(t, label)
		_ = rt.Close()
	})
	return rt, &testBundle{ctx: ctx, image: image, label: label}
}

// hostPortOptions reach containers through ports published on loopback,
// which works wherever the tests run on the Docker host.
func hostPortOptions() docker.Options {
	return docker.Options{ConnectMode: docker.ConnectHostPort, PublishPorts: true, HostAddress: "127.0.0.1"}
}

func TestRuntime_Conformance(t *testing.T) {
	t.Parallel()
	if testCli == nil {
		skipf(t, "skipping Docker runtime test: %s", noDocker)
	}
	image, err := fakeRuntimeImage(context.Background(), testCli)
	require.NoError(t, err)
	conformance.RunRuntime(t, conformance.RuntimeHarness{
		New: func(t *testing.T) core.Runtime {
			rt, _ := setup(t, hostPortOptions())
			return rt
		},
		Image:        image,
		RuntimePort:  fakeRuntimePort,
		MissingImage: "bay-test-missing-image:" + core.RandomIDs{}.New(""),
		Probe:        conformance.ProbeHealth,
		PortEnv:      "PORT",
		Dial:         dial,
	})
}

// dial asks the fake runtime at ep to connect to addr from inside its
// container (GET /dial).
func dial(ctx context.Context, ep core.Endpoint, addr string) error {
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.URL+"/dial?addr="+addr, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+ep.Token)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var res struct {
		Connected bool   `json:"connected"`
		Error     string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return fmt.Errorf("GET %s/dial: status %d: %w", ep.URL, resp.StatusCode, err)
	}
	if !res.Connected {
		return fmt.Errorf("dial %s from %s: %s", addr, ep.URL, res.Error)
	}
	return nil
}

// spec returns a container spec for the fake runtime image.
func spec(image string) core.ContainerSpec {
	ids := core.RandomIDs{}
	return core.ContainerSpec{
		SessionID:    ids.New(core.SessionIDPrefix),
		SandboxID:    ids.New(core.SandboxIDPrefix),
		LockerID:     ids.New(core.LockerIDPrefix),
		Owner:        "docker-test",
		RuntimeToken: core.NewRuntimeToken(),
		Profile: &core.Profile{
			ID: "test", Image: image, RuntimeType: core.RuntimeTypeShip, RuntimePort: fakeRuntimePort,
			CPUs: 1, MemoryBytes: 128 << 20,
		},
	}
}

func TestRuntime_Hardening(t *testing.T) {
	t.Parallel()
	for _, sudo := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllowSudo=%v", sudo), func(t *testing.T) {
			t.Parallel()
			rt, b := setup(t, docker.Options{ConnectMode: docker.ConnectHostPort, PublishPorts: true, InstanceID: "inst-1"})
			s := spec(b.image)
			s.Profile.AllowSudo = sudo
			require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: s.LockerID, Owner: s.Owner, Managed: true}))
			id, err := rt.CreateContainer(b.ctx, s)
			require.NoError(t, err)

			info, err := testCli.ContainerInspect(b.ctx, id)
			require.NoError(t, err)
			hc := info.HostConfig
			require.Equal(t, []string{"ALL"}, []string(hc.CapDrop))
			want := []string{"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"}
			if sudo {
				want = append(want, "AUDIT_WRITE")
			}
			var got []string
			for _, c := range hc.CapAdd {
				got = append(got, strings.TrimPrefix(c, "CAP_")) // the daemon normalizes to CAP_X
			}
			require.ElementsMatch(t, want, got)
			require.Equal(t, !sudo, slices.Contains(hc.SecurityOpt, "no-new-privileges:true"), "security options %v", hc.SecurityOpt)
			require.False(t, hc.Privileged)
			require.False(t, hc.AutoRemove)
			require.True(t, hc.RestartPolicy.IsNone(), "restart policy %q", hc.RestartPolicy.Name)
			require.Equal(t, "inst-1", info.Config.Labels[core.LabelInstanceID], "the instance id of the options fills an empty spec's")
			require.Equal(t, b.label, info.Config.Labels[testLabel])
			bindings := hc.PortBindings["8123/tcp"]
			require.Len(t, bindings, 1)
			require.Equal(t, "127.0.0.1", bindings[0].HostIP, "published on loopback unless the operator says otherwise")
			require.Empty(t, bindings[0].HostPort, "a random host port")

			ep, err := rt.StartContainer(b.ctx, id, fakeRuntimePort)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(ep, "http://127.0.0.1:"), ep)
			meta := fetchMeta(t, b.ctx, ep, s.RuntimeToken)
			require.Equal(t, s.SessionID, meta["session_id"])
			require.Equal(t, core.MountPath, meta["workspace"])
			require.Equal(t, true, meta["workspace_writable"], "the locker volume is writable at /workspace")
		})
	}
}

// fetchMeta polls GET <ep>/meta with the runtime token until it answers and
// returns its body.
func fetchMeta(t *testing.T, ctx context.Context, ep, token string) map[string]any {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 2 * time.Second}
	var meta map[string]any
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/meta", nil)
		require.NoError(c, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		require.NoError(c, err)
		defer resp.Body.Close()
		require.Equal(c, http.StatusOK, resp.StatusCode)
		require.NoError(c, json.NewDecoder(resp.Body).Decode(&meta))
	}, time.Minute, 100*time.Millisecond)
	return meta
}

func TestRuntime_MissingNetworkIsIgnored(t *testing.T) {
	t.Parallel()
	rt, b := setup(t, docker.Options{
		ConnectMode: docker.ConnectContainerNetwork,
		Network:     "bay-test-no-such-network-" + core.RandomIDs{}.New(""),
	})
	s := spec(b.image)
	require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: s.LockerID, Owner: s.Owner}))
	id, err := rt.CreateContainer(b.ctx, s)
	require.NoError(t, err)
	info, err := testCli.ContainerInspect(b.ctx, id)
	require.NoError(t, err)
	require.Empty(t, info.HostConfig.PortBindings, "container_network publishes no port")

	// The endpoint is the container's address on Bay's network. The
	// test does not call it: a test on another host could not reach it.
	ep, err := rt.StartContainer(b.ctx, id, fakeRuntimePort)
	require.NoError(t, err)
	info, err = testCli.ContainerInspect(b.ctx, id)
	require.NoError(t, err)
	require.Contains(t, info.NetworkSettings.Networks, docker.SandboxNetwork, "Bay's own network replaces a missing one")
	require.Equal(t, fmt.Sprintf("http://%s:%d", info.NetworkSettings.Networks[docker.SandboxNetwork].IPAddress, fakeRuntimePort), ep)
}

func TestRuntime_VolumeLabels(t *testing.T) {
	t.Parallel()
	rt, b := setup(t, hostPortOptions())
	lockerID := core.RandomIDs{}.New(core.LockerIDPrefix)
	require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: lockerID, Owner: "alice", Managed: false}))
	v, err := testCli.VolumeInspect(b.ctx, core.VolumeName(lockerID))
	require.NoError(t, err)
	require.Equal(t, "alice", v.Labels[core.LabelOwner])
	require.Equal(t, lockerID, v.Labels[core.LabelLockerID])
	require.Equal(t, "false", v.Labels[core.LabelManaged], "on volumes bay.managed means a managed locker")
	require.Equal(t, b.label, v.Labels[testLabel])
}

func TestRuntime_DeadlineIsTimeout(t *testing.T) {
	t.Parallel()
	rt, _ := setup(t, hostPortOptions())
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := rt.ContainerState(ctx, "whatever")
	require.Equal(t, core.CodeTimeout, core.CodeOf(err), "error: %v", err)
}

func TestOpen(t *testing.T) {
	t.Parallel()
	t.Run("DaemonDownStartsAndFailsOnUse", func(t *testing.T) {
		t.Parallel()
		rt, err := docker.Open(docker.Options{Host: t.TempDir() + "/no-docker.sock"})
		require.NoError(t, err, "Bay starts without Docker")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = rt.Ping(ctx)
		require.Equal(t, core.CodeInternal, core.CodeOf(err), "error: %v", err)
		require.Contains(t, err.Error(), "unreachable")
		_, err = rt.ListContainers(ctx, nil)
		require.Equal(t, core.CodeInternal, core.CodeOf(err), "error: %v", err)
	})
	t.Run("Hosts", func(t *testing.T) {
		t.Parallel()
		for _, host := range []string{"", "unix:///var/run/docker.sock", "/var/run/docker.sock", "tcp://127.0.0.1:2375"} {
			_, err := docker.Open(docker.Options{Host: host})
			require.NoError(t, err, host)
		}
		_, err := docker.Open(docker.Options{Host: "ftp://example"})
		require.Equal(t, core.CodeValidation, core.CodeOf(err))
		_, err = docker.Open(docker.Options{ConnectMode: "carrier-pigeon"})
		require.Equal(t, core.CodeValidation, core.CodeOf(err))
		_, err = docker.Open(docker.Options{Seccomp: "[not a profile"})
		require.Equal(t, core.CodeValidation, core.CodeOf(err), "a seccomp profile that is no JSON object")
	})
}

func TestRuntime_ContainerNetwork(t *testing.T) {
	t.Parallel()
	if testCli == nil {
		skipf(t, "skipping Docker runtime test: %s", noDocker)
	}
	// The network is made before setup so that its removal, registered
	// first, runs after the containers on it are gone.
	name := "bay-test-net-" + core.RandomIDs{}.New("")
	_, err := testCli.NetworkCreate(context.Background(), name, network.CreateOptions{Labels: map[string]string{testLabel: name}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, testCli.NetworkRemove(context.Background(), name)) })

	rt, b := setup(t, docker.Options{ConnectMode: docker.ConnectAuto, Network: name, PublishPorts: true})
	s := spec(b.image)
	require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: s.LockerID, Owner: s.Owner}))
	id, err := rt.CreateContainer(b.ctx, s)
	require.NoError(t, err)
	ep, err := rt.StartContainer(b.ctx, id, fakeRuntimePort)
	require.NoError(t, err)
	info, err := testCli.ContainerInspect(b.ctx, id)
	require.NoError(t, err)
	require.Contains(t, info.NetworkSettings.Networks, name)
	require.Equal(t, fmt.Sprintf("http://%s:%d", info.NetworkSettings.Networks[name].IPAddress, fakeRuntimePort), ep,
		"auto prefers the address on the configured network")
	require.NotEmpty(t, info.HostConfig.PortBindings, "auto publishes the port as well")
}

func TestRuntime_FixedHostPort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	opts := hostPortOptions()
	opts.HostPort = port
	rt, b := setup(t, opts)
	s := spec(b.image)
	require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: s.LockerID, Owner: s.Owner}))
	id, err := rt.CreateContainer(b.ctx, s)
	require.NoError(t, err)
	ep, err := rt.StartContainer(b.ctx, id, fakeRuntimePort)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("http://127.0.0.1:%d", port), ep)
	fetchMeta(t, b.ctx, ep, s.RuntimeToken)
}

// groupSpecs returns the specs of a two-container session of the fake
// runtime image: a ship that owns the network and a browser that joins it
// (created with the owner's id once known).
func groupSpecs(image string) (owner, browser core.ContainerSpec) {
	s := spec(image)
	s.Profile.Containers = []core.ContainerProfile{
		{Name: "ship", RuntimeType: core.RuntimeTypeShip, Image: image, Port: fakeRuntimePort,
			CPUs: 1, MemoryBytes: 128 << 20, Capabilities: []string{core.CapabilityPython}},
		{Name: "browser", RuntimeType: core.RuntimeTypeBrowser, Image: image, Port: fakeRuntimePort + 1,
			CPUs: 1, MemoryBytes: 128 << 20, PidsLimit: 1024, Shm: "64m", ShmBytes: 64 << 20,
			Env: map[string]string{"PORT": fmt.Sprint(fakeRuntimePort + 1)}, Capabilities: []string{"browser"},
			Browser: &core.BrowserSettings{ChromiumSandbox: core.ChromiumSandboxAuto, PersistProfile: true,
				ViewportWidth: 1280, ViewportHeight: 800, Locale: "en-US"}},
	}
	owner, browser = s, s
	owner.Container, browser.Container = &s.Profile.Containers[0], &s.Profile.Containers[1]
	return owner, browser
}

// TestRuntime_Group: the two containers of a session in host_port mode:
// names, labels, the joined network mode, both ports published on the
// owner, both endpoints answering, a browser container's confinement with
// the seccomp profile, adoption and ordered removal (browser.md §1.3, §6).
func TestRuntime_Group(t *testing.T) {
	t.Parallel()
	opts := hostPortOptions()
	opts.Seccomp = browserimage.Seccomp // Bay's own, as cmd/bay passes it
	rt, b := setup(t, opts)
	owner, browser := groupSpecs(b.image)
	require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: owner.LockerID, Owner: owner.Owner, Managed: true}))
	ownerID, err := rt.CreateContainer(b.ctx, owner)
	require.NoError(t, err)
	browser.NetworkOwner = ownerID
	browserID, err := rt.CreateContainer(b.ctx, browser)
	require.NoError(t, err)
	again, err := rt.CreateContainer(b.ctx, browser)
	require.NoError(t, err)
	require.Equal(t, browserID, again, "adopted")

	oi, err := testCli.ContainerInspect(b.ctx, ownerID)
	require.NoError(t, err)
	bi, err := testCli.ContainerInspect(b.ctx, browserID)
	require.NoError(t, err)
	require.Equal(t, "/"+core.ContainerName(owner.SessionID), oi.Name)
	require.Equal(t, "/"+core.ContainerName(owner.SessionID)+"-browser", bi.Name)
	require.Equal(t, "browser", bi.Config.Labels[core.LabelContainer])
	require.Equal(t, core.RuntimeTypeBrowser, bi.Config.Labels[core.LabelRuntimeType])
	require.Equal(t, fmt.Sprint(fakeRuntimePort+1), bi.Config.Labels[core.LabelRuntimePort])
	require.Equal(t, "ship", oi.Config.Labels[core.LabelContainer])

	// One namespace: the owner publishes both ports, the browser none.
	require.Equal(t, "container:"+ownerID, string(bi.HostConfig.NetworkMode))
	require.Empty(t, bi.HostConfig.PortBindings)
	for _, port := range []int{fakeRuntimePort, fakeRuntimePort + 1} {
		bindings := oi.HostConfig.PortBindings[nat.Port(fmt.Sprintf("%d/tcp", port))]
		require.Len(t, bindings, 1, "port %d", port)
		require.Equal(t, "127.0.0.1", bindings[0].HostIP)
	}

	// The browser's confinement; Ship's is TestRuntime_Hardening's.
	require.Equal(t, core.BrowserUser, bi.Config.User)
	require.Equal(t, []string{"ALL"}, []string(bi.HostConfig.CapDrop))
	require.Empty(t, bi.HostConfig.CapAdd)
	require.True(t, bi.HostConfig.ReadonlyRootfs)
	require.Equal(t, map[string]string{"/tmp": core.BrowserTmpfs}, bi.HostConfig.Tmpfs)
	require.EqualValues(t, 64<<20, bi.HostConfig.ShmSize)
	require.EqualValues(t, 1024, *bi.HostConfig.PidsLimit)
	require.Contains(t, bi.HostConfig.SecurityOpt, "no-new-privileges:true")
	require.True(t, slices.ContainsFunc(bi.HostConfig.SecurityOpt, func(o string) bool {
		return strings.HasPrefix(o, "seccomp=") && strings.Contains(o, `"unshare"`)
	}), "the seccomp profile that allows user namespaces")
	benv := map[string]string{}
	for _, kv := range bi.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		benv[k] = v
	}
	require.Equal(t, "auto", benv["BROWSERD_CHROMIUM_SANDBOX"])
	require.Equal(t, "1280", benv["BROWSERD_VIEWPORT_WIDTH"])
	require.Equal(t, fmt.Sprint(fakeRuntimePort+1), benv["BROWSERD_PORT"])
	require.Equal(t, "browser", benv[core.EnvContainerName])
	require.Equal(t, owner.RuntimeToken, benv[core.EnvRuntimeToken])

	_, err = rt.StartContainer(b.ctx, browserID, fakeRuntimePort+1)
	require.Error(t, err, "the browser needs its owner running")
	ownerEP, err := rt.StartContainer(b.ctx, ownerID, fakeRuntimePort)
	require.NoError(t, err)
	browserEP, err := rt.StartContainer(b.ctx, browserID, fakeRuntimePort+1)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(browserEP, "http://127.0.0.1:"), browserEP)
	require.NotEqual(t, ownerEP, browserEP)
	oi, err = testCli.ContainerInspect(b.ctx, ownerID)
	require.NoError(t, err)
	hostPort := oi.NetworkSettings.Ports[nat.Port(fmt.Sprintf("%d/tcp", fakeRuntimePort+1))][0].HostPort
	require.Equal(t, "http://127.0.0.1:"+hostPort, browserEP, "the browser's binding on the owner")
	meta := fetchMeta(t, b.ctx, browserEP, owner.RuntimeToken)
	require.Equal(t, owner.SessionID, meta["session_id"])
	require.EqualValues(t, 1000, meta["uid"])
	fetchMeta(t, b.ctx, ownerEP, owner.RuntimeToken)

	infos, err := rt.ListContainers(b.ctx, map[string]string{core.LabelSessionID: owner.SessionID})
	require.NoError(t, err)
	require.Len(t, infos, 2, "guards are not listed")
	for _, c := range infos {
		if c.ID == browserID {
			require.Equal(t, ownerID, c.NetworkOwner)
		} else {
			require.Empty(t, c.NetworkOwner)
		}
	}

	require.NoError(t, rt.StopContainer(b.ctx, browserID, 10*time.Second))
	require.NoError(t, rt.RemoveContainer(b.ctx, browserID))
	require.NoError(t, rt.RemoveContainer(b.ctx, ownerID))
	for _, id := range []string{browserID, ownerID} {
		st, err := rt.ContainerState(b.ctx, id)
		require.NoError(t, err)
		require.Equal(t, core.ContainerNotFound, st)
	}
}

// TestRuntime_GroupOnContainerNetwork: in container_network mode the
// joined container's endpoint is the owner's address with its own port.
func TestRuntime_GroupOnContainerNetwork(t *testing.T) {
	t.Parallel()
	if testCli == nil {
		skipf(t, "skipping Docker runtime test: %s", noDocker)
	}
	rt, b := setup(t, docker.Options{ConnectMode: docker.ConnectContainerNetwork})
	owner, browser := groupSpecs(b.image)
	require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: owner.LockerID, Owner: owner.Owner}))
	ownerID, err := rt.CreateContainer(b.ctx, owner)
	require.NoError(t, err)
	browser.NetworkOwner = ownerID
	browserID, err := rt.CreateContainer(b.ctx, browser)
	require.NoError(t, err)
	ownerEP, err := rt.StartContainer(b.ctx, ownerID, fakeRuntimePort)
	require.NoError(t, err)
	browserEP, err := rt.StartContainer(b.ctx, browserID, fakeRuntimePort+1)
	require.NoError(t, err)
	oi, err := testCli.ContainerInspect(b.ctx, ownerID)
	require.NoError(t, err)
	ip := oi.NetworkSettings.Networks[docker.SandboxNetwork].IPAddress
	require.Equal(t, fmt.Sprintf("http://%s:%d", ip, fakeRuntimePort), ownerEP)
	require.Equal(t, fmt.Sprintf("http://%s:%d", ip, fakeRuntimePort+1), browserEP)
	require.Empty(t, oi.HostConfig.PortBindings, "container_network publishes no port")
}
