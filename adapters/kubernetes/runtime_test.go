//go:build k8s

// The tests of this file need a cluster: ./task test:k8s starts one
// (scripts/k8s.sh) and runs them with the k8s build tag.

package kubernetes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bayhq/bay/adapters/kubernetes"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
)

// The tests run against the cluster whose kubeconfig BAY_TEST_K8S_KUBECONFIG
// names (scripts/k8s.sh up starts one on this machine and prints its
// kubeconfig; scripts/k8s.sh load ship:latest puts the runtime image on its
// node). Each run of the package gets a namespace of its own, deleted at
// the end; namespaces that killed runs left are swept after an hour.

// testLabel tags every object the tests create; its value is unique per
// test.
const testLabel = "bay.test.id"

// nsLabel marks the tests' namespaces.
const nsLabel = "bay.test.namespace"

// shipImage is the runtime image the tests run; it must be on the nodes.
const shipImage = "ship:latest"

const shipPort = 8123

var (
	kubeconfig = os.Getenv("BAY_TEST_K8S_KUBECONFIG")
	// namespace is this run's, "" when the cluster did not answer.
	namespace string
	// noCluster says why the tests skip.
	noCluster string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if kubeconfig == "" {
		noCluster = "BAY_TEST_K8S_KUBECONFIG is not set (scripts/k8s.sh up starts a cluster and prints its kubeconfig)"
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := kubernetes.Open(kubernetes.Options{Namespace: "default", Kubeconfig: kubeconfig})
	if err == nil {
		err = admin.Ping(ctx)
	}
	if err != nil {
		noCluster = fmt.Sprintf("the cluster of %s does not answer: %v", kubeconfig, err)
		return m.Run()
	}
	_ = admin.DeleteNamespaces(ctx, "", nsLabel, time.Hour)
	name := "bay-test-" + core.RandomIDs{}.New("")
	if err := admin.CreateNamespace(ctx, name, map[string]string{nsLabel: "true"}); err != nil {
		noCluster = fmt.Sprintf("create namespace %s: %v", name, err)
		return m.Run()
	}
	namespace = name
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = admin.DeleteNamespaces(dctx, name, "", 0)
	}()
	return m.Run()
}

// testBundle is what setup returns besides the runtime.
type testBundle struct {
	ctx   context.Context
	label string
}

// setup opens a Runtime on this run's namespace whose objects carry a label
// unique to t and are deleted when t ends. The k8s build tag asks for the
// Kubernetes lane: without a cluster that answers, t fails.
func setup(t *testing.T, opts kubernetes.Options) (*kubernetes.Runtime, *testBundle) {
	t.Helper()
	if namespace == "" {
		t.Fatalf("the Kubernetes lane cannot run: %s", noCluster)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	label := core.RandomIDs{}.New("t-")
	opts.Namespace = namespace
	opts.Kubeconfig = kubeconfig
	opts.Labels = map[string]string{testLabel: label}
	if opts.ImagePullPolicy == "" {
		opts.ImagePullPolicy = kubernetes.PullNever // the test cluster reaches no registry
	}
	if opts.HelperImage == "" {
		opts.HelperImage = shipImage
	}
	if opts.DefaultVolumeMB == 0 {
		opts.DefaultVolumeMB = 64
	}
	if opts.PodReadyTimeout == 0 {
		opts.PodReadyTimeout = time.Minute
	}
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	rt, err := kubernetes.Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, rt.DeleteLabelled(dctx, testLabel, label))
		_ = rt.Close()
	})
	return rt, &testBundle{ctx: ctx, label: label}
}

func TestRuntime_Conformance(t *testing.T) {
	t.Parallel()
	conformance.RunRuntime(t, conformance.RuntimeHarness{
		New: func(t *testing.T) core.Runtime {
			rt, _ := setup(t, kubernetes.Options{})
			return rt
		},
		Image:           shipImage,
		RuntimePort:     shipPort,
		MissingImage:    "bay-test-missing-image:" + core.RandomIDs{}.New(""),
		Probe:           conformance.ProbeHealth,
		SingleContainer: true,
		NoPidsLimit:     true,
	})
}

// spec returns a container spec of Ship.
func spec() core.ContainerSpec {
	ids := core.RandomIDs{}
	return core.ContainerSpec{
		SessionID:    ids.New(core.SessionIDPrefix),
		SandboxID:    ids.New(core.SandboxIDPrefix),
		LockerID:     ids.New(core.LockerIDPrefix),
		Owner:        "k8s-test",
		RuntimeToken: core.NewRuntimeToken(),
		Profile: &core.Profile{
			ID: "test", Image: shipImage, RuntimeType: core.RuntimeTypeShip, RuntimePort: shipPort,
			CPUs: 1, MemoryBytes: 256 << 20,
		},
	}
}

// run creates the spec's volume and container, starts it, waits until
// Ship answers and returns its id and endpoint.
func run(t *testing.T, rt *kubernetes.Runtime, b *testBundle, s core.ContainerSpec) (string, string) {
	t.Helper()
	require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: s.LockerID, Owner: s.Owner, Managed: true}))
	id, err := rt.CreateContainer(b.ctx, s)
	require.NoError(t, err)
	ep, err := rt.StartContainer(b.ctx, id, shipPort)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return conformance.ProbeHealth(b.ctx, ep) == nil }, time.Minute, 100*time.Millisecond)
	return id, ep
}

// TestRuntime_Hardening: the sandbox pod's confinement (kubernetes.md §1),
// with and without allow_sudo, and labels that are no label values kept
// in annotations.
func TestRuntime_Hardening(t *testing.T) {
	t.Parallel()
	for _, sudo := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllowSudo=%v", sudo), func(t *testing.T) {
			t.Parallel()
			rt, b := setup(t, kubernetes.Options{InstanceID: "inst-1", RuntimeClassName: ""})
			s := spec()
			// One owner per subtest: the two run at once in one namespace,
			// and the list by owner below must find this one's pod only.
			s.Owner = fmt.Sprintf("alice@example.com / team %v ✓", sudo)
			s.Profile.AllowSudo = sudo
			id, ep := run(t, rt, b, s)

			pod, err := rt.PodOf(b.ctx, id)
			require.NoError(t, err)
			require.Equal(t, core.ContainerName(s.SessionID), pod.Name)
			ps := pod.Spec
			require.Equal(t, corev1.RestartPolicyNever, ps.RestartPolicy)
			require.False(t, *ps.AutomountServiceAccountToken)
			require.False(t, *ps.EnableServiceLinks)
			require.Equal(t, corev1.DNSDefault, ps.DNSPolicy)
			require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, ps.SecurityContext.SeccompProfile.Type)
			require.Len(t, ps.Containers, 1)
			sc := ps.Containers[0].SecurityContext
			require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
			want := []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"}
			if sudo {
				want = append(want, "AUDIT_WRITE")
			}
			require.ElementsMatch(t, want, sc.Capabilities.Add)
			require.Equal(t, sudo, *sc.AllowPrivilegeEscalation)
			require.Nil(t, sc.Privileged)
			require.Equal(t, "/health", ps.Containers[0].ReadinessProbe.HTTPGet.Path)
			require.Equal(t, "1", ps.Containers[0].Resources.Limits.Cpu().String())
			require.Equal(t, "256Mi", ps.Containers[0].Resources.Limits.Memory().String())

			require.Equal(t, "inst-1", pod.Labels[core.LabelInstanceID], "the instance id of the options fills an empty spec's")
			require.Equal(t, b.label, pod.Labels[testLabel])
			require.NotEqual(t, s.Owner, pod.Labels[core.LabelOwner], "not a label value: sanitised")
			require.Equal(t, s.Owner, pod.Annotations[core.LabelOwner], "the original in an annotation")
			infos, err := rt.ListContainers(b.ctx, map[string]string{core.LabelOwner: s.Owner})
			require.NoError(t, err)
			require.Len(t, infos, 1)
			require.Equal(t, s.Owner, infos[0].Labels[core.LabelOwner])
			infos, err = rt.ListContainers(b.ctx, map[string]string{core.LabelOwner: fmt.Sprintf("alice@example.com / team %v", sudo)})
			require.NoError(t, err)
			require.Empty(t, infos)

			require.Equal(t, "/workspace", fetchMeta(t, b.ctx, ep, s.RuntimeToken)["workspace"].(map[string]any)["mount_path"])
			out := shipShell(t, b.ctx, ep, s.RuntimeToken, "printenv BAY_SESSION_ID; id -u; touch /workspace/x && stat -c %u /workspace/x")
			require.Equal(t, 0, out.ReturnCode, "stderr: %s", out.Stderr)
			require.Equal(t, s.SessionID+"\n1000\n1000", out.Stdout, "the runtime's environment; the sandbox user; a writable locker")
		})
	}
}

// TestRuntime_FailuresSayWhy: a pod whose image is missing though the
// node lists cannot tell, or whose claim is missing, fails its start with
// Kubernetes' reason instead of hanging (status_test.go has the other
// reasons).
func TestRuntime_FailuresSayWhy(t *testing.T) {
	t.Parallel()
	t.Run("ImagePullPolicyIfNotPresent", func(t *testing.T) {
		t.Parallel()
		// With IfNotPresent the node may pull: the image is found missing
		// only when the pod starts, as ErrImagePull or ImagePullBackOff.
		rt, b := setup(t, kubernetes.Options{ImagePullPolicy: kubernetes.PullIfNotPresent, PodReadyTimeout: 90 * time.Second})
		s := spec()
		s.Profile.Image = "bay-test-missing-image:" + core.RandomIDs{}.New("")
		require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: s.LockerID, Owner: s.Owner}))
		id, err := rt.CreateContainer(b.ctx, s)
		require.NoError(t, err)
		_, err = rt.StartContainer(b.ctx, id, shipPort)
		require.Error(t, err)
		require.ErrorIs(t, err, core.ErrImageMissing)
		require.Contains(t, err.Error(), s.Profile.Image)
		require.Regexp(t, "ErrImagePull|ImagePullBackOff", err.Error())
	})
	t.Run("MissingClaim", func(t *testing.T) {
		t.Parallel()
		rt, b := setup(t, kubernetes.Options{})
		s := spec()
		id, err := rt.CreateContainer(b.ctx, s)
		require.NoError(t, err)
		_, err = rt.StartContainer(b.ctx, id, shipPort)
		require.Equal(t, core.CodeInternal, core.CodeOf(err), "error: %v", err)
		require.Contains(t, err.Error(), "not found")
	})
}

// TestRuntime_VolumeLabels: a claim's labels, size and access mode.
func TestRuntime_VolumeLabels(t *testing.T) {
	t.Parallel()
	rt, b := setup(t, kubernetes.Options{})
	lockerID := core.RandomIDs{}.New(core.LockerIDPrefix)
	require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: lockerID, Owner: "alice", Managed: false, SizeLimitMB: 100}))
	// Written and read back through a helper pod.
	require.NoError(t, rt.WriteVolumeFile(b.ctx, lockerID, "x/y.txt", []byte("hi")))
	got, err := rt.ReadVolumeFile(b.ctx, lockerID, "x/y.txt", 10)
	require.NoError(t, err)
	require.Equal(t, "hi", string(got))
	require.NoError(t, rt.DeleteVolume(b.ctx, lockerID))
}

func TestRuntime_DeadlineIsTimeout(t *testing.T) {
	t.Parallel()
	rt, _ := setup(t, kubernetes.Options{})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := rt.ContainerState(ctx, "bay-session-sess-000000000000/abc")
	require.Equal(t, core.CodeTimeout, core.CodeOf(err), "error: %v", err)
}

// shellResult is Ship's answer to POST /shell/exec.
type shellResult struct {
	Success    bool   `json:"success"`
	ReturnCode int    `json:"return_code"`
	Stdout     string `json:"stdout"`
	Stderr     string `json:"stderr"`
}

var shipClient = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 60 * time.Second}

// shipShell runs a command through Ship's API at ep.
func shipShell(t *testing.T, ctx context.Context, ep, token, command string) shellResult {
	t.Helper()
	body, err := json.Marshal(map[string]any{"command": command, "timeout": 30})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep+"/shell/exec", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := shipClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out shellResult
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// fetchMeta returns GET <ep>/meta.
func fetchMeta(t *testing.T, ctx context.Context, ep, token string) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/meta", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := shipClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var meta map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&meta))
	return meta
}

// connects reports whether a TCP connection from inside the runtime at ep
// to addr:port is accepted within 3 s.
func connects(t *testing.T, ctx context.Context, ep, token, addr string, port int) bool {
	t.Helper()
	cmd := fmt.Sprintf(`python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)' %s %d`, addr, port)
	res := shipShell(t, ctx, ep, token, cmd)
	t.Logf("connect %s:%d from %s: exit %d %s", addr, port, ep, res.ReturnCode, lastLine(res.Stderr))
	return res.ReturnCode == 0
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// listenOutsideCluster accepts connections on one of this machine's
// addresses that is neither loopback, nor the node's, nor in the pods'
// range, and returns it and the port.
func listenOutsideCluster(t *testing.T, nodeIP string) (netip.Addr, int) {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	pods := netip.MustParsePrefix("10.244.0.0/16")
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		ip = ip.Unmap()
		if !ok || !ip.Is4() || ip.IsLoopback() || ip.String() == nodeIP || pods.Contains(ip) {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
		return ip, l.Addr().(*net.TCPAddr).Port
	}
	t.Fatal("no address of this machine outside the cluster's")
	return netip.Addr{}, 0
}

// plainShip starts a pod of Ship that no sandbox policy selects, with the
// given labels, and returns its address.
func plainShip(t *testing.T, rt *kubernetes.Runtime, b *testBundle, name string, lbls map[string]string, token string) string {
	t.Helper()
	no := false
	l := map[string]string{testLabel: b.label}
	for k, v := range lbls {
		l[k] = v
	}
	_, err := rt.CreatePod(b.ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, AutomountServiceAccountToken: &no, EnableServiceLinks: &no,
			DNSPolicy: corev1.DNSDefault,
			Containers: []corev1.Container{{
				Name: "runtime", Image: shipImage, ImagePullPolicy: corev1.PullNever,
				Env: []corev1.EnvVar{{Name: core.EnvRuntimeToken, Value: token}},
			}},
		},
	})
	require.NoError(t, err)
	ip, err := rt.WaitPodIP(b.ctx, name)
	require.NoError(t, err)
	ep := "http://" + ip + fmt.Sprintf(":%d", shipPort)
	require.Eventually(t, func() bool { return conformance.ProbeHealth(b.ctx, ep) == nil }, time.Minute, 100*time.Millisecond)
	return ip
}

// TestRuntime_NetworkPolicy: from inside sandbox pods, per network mode,
// what the policy lets through (kubernetes.md §1, core/network.go): no
// sandbox reaches another, the node or a blocked range; open reaches the
// rest, allowlist what it lists, none nothing; only Bay's pods (and the
// nodes) reach a sandbox.
func TestRuntime_NetworkPolicy(t *testing.T) {
	t.Parallel()
	bayLabels := map[string]string{"app": "bay-" + core.RandomIDs{}.New("")}
	rt, b := setup(t, kubernetes.Options{BayPodLabels: bayLabels})
	token := core.NewRuntimeToken()
	// Two pods no policy selects, both serving Ship's port: one carries
	// Bay's pod labels, the other is a stranger.
	bayIP := plainShip(t, rt, b, "bay-"+b.label, bayLabels, token)
	strangerIP := plainShip(t, rt, b, "stranger-"+b.label, nil, token)
	nodeIP := os.Getenv("BAY_K8S_NODE_IP")
	if nodeIP == "" {
		nodeIP = "10.243.0.1" // scripts/k8s.sh's default
	}
	// An address outside the pods' range and the nodes' addresses that
	// answers: a listener of this test on one of the machine's own other
	// addresses (traffic stays on this machine).
	target, targetPort := listenOutsideCluster(t, nodeIP)

	sandbox := func(network core.NetworkPolicy, blocked []string) (core.ContainerSpec, string) {
		t.Helper()
		r := rt
		if blocked != nil {
			var prefixes []netip.Prefix
			for _, h := range blocked {
				p, err := core.ParseBlockedHost(h)
				require.NoError(t, err)
				prefixes = append(prefixes, p)
			}
			var err error
			r, err = kubernetes.Open(kubernetes.Options{
				Namespace: namespace, Kubeconfig: kubeconfig, Labels: map[string]string{testLabel: b.label},
				ImagePullPolicy: kubernetes.PullNever, BayPodLabels: bayLabels, BlockedHosts: prefixes, DefaultVolumeMB: 64,
			})
			require.NoError(t, err)
		}
		s := spec()
		s.Profile.Network = network
		_, ep := run(t, r, b, s)
		return s, ep
	}
	none := []string{} // no blocked ranges beyond the nodes and pods
	open, openEP := sandbox(core.NetworkPolicy{Mode: core.NetworkOpen}, none)
	blockedSB, defaultEP := sandbox(core.NetworkPolicy{Mode: core.NetworkOpen}, []string{target.String()})
	sealed, sealedEP := sandbox(core.NetworkPolicy{Mode: core.NetworkNone}, none)
	listed, listedEP := sandbox(core.NetworkPolicy{Mode: core.NetworkAllowlist, Allow: []core.NetworkRule{
		{Prefix: netip.PrefixFrom(target, 32), Port: targetPort},
	}}, none)
	elsewhere, elsewhereEP := sandbox(core.NetworkPolicy{Mode: core.NetworkAllowlist, Allow: []core.NetworkRule{
		{Prefix: netip.MustParsePrefix("198.51.100.0/24")},
	}}, none)
	targetIP := target.String()

	tok := func(s core.ContainerSpec) string { return s.RuntimeToken }
	t.Run("OpenReachesWhatIsNotBlocked", func(t *testing.T) {
		require.True(t, connects(t, b.ctx, openEP, tok(open), targetIP, targetPort))
	})
	t.Run("BlockedRangesHold", func(t *testing.T) {
		// security.blocked_hosts lists the address.
		require.False(t, connects(t, b.ctx, defaultEP, tok(blockedSB), targetIP, targetPort))
	})
	t.Run("NoneReachesNothing", func(t *testing.T) {
		require.False(t, connects(t, b.ctx, sealedEP, tok(sealed), targetIP, targetPort))
	})
	t.Run("AllowlistReachesWhatItLists", func(t *testing.T) {
		require.True(t, connects(t, b.ctx, listedEP, tok(listed), targetIP, targetPort))
		require.False(t, connects(t, b.ctx, elsewhereEP, tok(elsewhere), targetIP, targetPort))
	})
	t.Run("NoSandboxReachesOtherPods", func(t *testing.T) {
		require.False(t, connects(t, b.ctx, openEP, tok(open), strangerIP, shipPort))
	})
	t.Run("NoSandboxReachesTheNode", func(t *testing.T) {
		for _, port := range []int{6443, 10250} {
			require.False(t, connects(t, b.ctx, openEP, tok(open), nodeIP, port), "node port %d", port)
		}
	})
	t.Run("NoSandboxReachesAnother", func(t *testing.T) {
		listedIP := strings.TrimSuffix(strings.TrimPrefix(listedEP, "http://"), fmt.Sprintf(":%d", shipPort))
		require.False(t, connects(t, b.ctx, openEP, tok(open), listedIP, shipPort))
	})
	t.Run("OnlyBayPodsReachASandbox", func(t *testing.T) {
		openIP := strings.TrimSuffix(strings.TrimPrefix(openEP, "http://"), fmt.Sprintf(":%d", shipPort))
		bayEP := fmt.Sprintf("http://%s:%d", bayIP, shipPort)
		strangerEP := fmt.Sprintf("http://%s:%d", strangerIP, shipPort)
		require.True(t, connects(t, b.ctx, bayEP, token, openIP, shipPort), "Bay's pods reach a sandbox")
		require.False(t, connects(t, b.ctx, strangerEP, token, openIP, shipPort), "other pods do not")
		// Both are reachable from a pod without policy: the refusal above
		// is the sandbox's ingress rule.
		require.True(t, connects(t, b.ctx, strangerEP, token, bayIP, shipPort))
	})
}
