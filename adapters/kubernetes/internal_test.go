package kubernetes

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bayhq/bay/core"
)

func TestLabelValue(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "alice", "sess-0123456789ab", "a.b_c-d", strings.Repeat("x", 63)} {
		require.Equal(t, v, labelValue(v), "a label value stays as it is")
	}
	seen := map[string]string{}
	for _, v := range []string{
		"alice@example.com", "alice@example.org", "-lead", "trail-", "naïve", "a b", "✓", "@@@",
		strings.Repeat("x", 64), strings.Repeat("x", 65), "'; DROP TABLE sandboxes; --",
	} {
		got := labelValue(v)
		require.Empty(t, validation.IsValidLabelValue(got), "%q → %q", v, got)
		require.NotContains(t, seen, got, "%q and %q sanitise alike", v, seen[got])
		seen[got] = v
	}
	lbls, notes := objectLabels(map[string]string{core.LabelOwner: "bob@x", core.LabelSessionID: "sess-1"})
	require.Equal(t, map[string]string{core.LabelOwner: "bob@x"}, notes)
	require.Equal(t, map[string]string{core.LabelOwner: "bob@x", core.LabelSessionID: "sess-1"}, originalLabels(lbls, notes))
	require.True(t, matches(originalLabels(lbls, notes), map[string]string{core.LabelOwner: "bob@x"}))
	require.False(t, matches(originalLabels(lbls, notes), map[string]string{core.LabelOwner: "bob_x"}))
}

func TestNormalizeImage(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ship:latest":                    "docker.io/library/ship:latest",
		"ship":                           "docker.io/library/ship:latest",
		"bay/ship:1":                     "docker.io/bay/ship:1",
		"registry.local:5000/ship":       "registry.local:5000/ship:latest",
		"localhost/ship:x":               "localhost/ship:x",
		"ghcr.io/a/b@sha256:abc":         "ghcr.io/a/b@sha256:abc",
		"index.docker.io/library/ship:2": "docker.io/library/ship:2",
	} {
		require.Equal(t, want, normalizeImage(in), in)
	}
	f := nodeFacts{known: true, images: []map[string]bool{{"docker.io/library/ship:latest": true}}}
	require.False(t, f.imageMissing("ship:latest"))
	require.True(t, f.imageMissing("ship:data"))
	f.images = append(f.images, nil) // a node whose list may be incomplete
	require.False(t, f.imageMissing("ship:data"))
	require.False(t, nodeFacts{}.imageMissing("ship:data"), "unknown nodes have every image")
}

// TestRunningOrFailed: each way a pod fails names Kubernetes' reason.
func TestRunningOrFailed(t *testing.T) {
	t.Parallel()
	pod := func(phase corev1.PodPhase, reason string, st corev1.ContainerState) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "bay-session-sess-1"},
			Status: corev1.PodStatus{Phase: phase, Reason: reason, PodIP: "10.0.0.9",
				ContainerStatuses: []corev1.ContainerStatus{{Name: containerName, Image: "ship:x", State: st}}},
		}
	}
	ip, done, err := runningOrFailed(pod(corev1.PodRunning, "", corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}))
	require.True(t, done)
	require.NoError(t, err)
	require.Equal(t, "10.0.0.9", ip)

	_, done, err = runningOrFailed(pod(corev1.PodPending, "", corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}))
	require.False(t, done)
	require.NoError(t, err)

	_, done, err = runningOrFailed(pod(corev1.PodPending, "", corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
		Reason: "ErrImageNeverPull", Message: `Container image "ship:x" is not present with pull policy of Never`}}))
	require.True(t, done)
	require.ErrorIs(t, err, core.ErrImageMissing)
	require.Equal(t, core.CodeInternal, core.CodeOf(err))
	require.Contains(t, err.Error(), "ErrImageNeverPull")

	_, done, err = runningOrFailed(pod(corev1.PodFailed, "", corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}))
	require.True(t, done)
	require.Equal(t, core.CodeInternal, core.CodeOf(err))
	require.Contains(t, err.Error(), "OOMKilled")
	require.Contains(t, err.Error(), "137")

	_, done, err = runningOrFailed(pod(corev1.PodFailed, "Evicted", corev1.ContainerState{}))
	require.True(t, done)
	require.Contains(t, err.Error(), "Evicted")

	_, done, err = runningOrFailed(pod(corev1.PodPending, "", corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: "bad"}}))
	require.True(t, done)
	require.Contains(t, err.Error(), "CreateContainerConfigError")
}

func TestNetworkPolicy(t *testing.T) {
	t.Parallel()
	meta := metav1.ObjectMeta{Name: "bay-session-sess-1"}
	base := policyInput{
		Blocked: append([]netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.1.0.0/16"), // nested: one except
			netip.MustParsePrefix("192.168.1.5/32"),
		}, alwaysBlocked...),
		Nodes:        []netip.Prefix{netip.MustParsePrefix("192.168.1.5/32")},
		BayPodLabels: map[string]string{"app": "bay"},
		Ports:        []int{8123},
	}
	excepts := func(r networkingv1.NetworkPolicyEgressRule) []string { return r.To[0].IPBlock.Except }

	t.Run("Open", func(t *testing.T) {
		in := base
		in.Mode = core.NetworkOpen
		p := networkPolicy(in, meta, "sess-1")
		require.Equal(t, map[string]string{core.LabelSessionID: "sess-1"}, p.Spec.PodSelector.MatchLabels)
		require.ElementsMatch(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, p.Spec.PolicyTypes)
		require.Len(t, p.Spec.Ingress, 1)
		from := p.Spec.Ingress[0].From
		require.Len(t, from, 2, "Bay's pods and the node")
		require.Equal(t, map[string]string{"app": "bay"}, from[0].PodSelector.MatchLabels)
		require.NotNil(t, from[0].NamespaceSelector, "Bay's pods in any namespace")
		require.Equal(t, "192.168.1.5/32", from[1].IPBlock.CIDR)
		require.EqualValues(t, 8123, p.Spec.Ingress[0].Ports[0].Port.IntVal)
		require.Len(t, p.Spec.Egress, 2, "DNS, then everything but the blocked ranges")
		require.Empty(t, p.Spec.Egress[0].To)
		require.Len(t, p.Spec.Egress[0].Ports, 2)
		require.Equal(t, "0.0.0.0/0", p.Spec.Egress[1].To[0].IPBlock.CIDR)
		require.Equal(t, []string{"0.0.0.0/8", "10.0.0.0/8", "192.168.1.5/32", "224.0.0.0/4", "255.255.255.255/32"}, excepts(p.Spec.Egress[1]))
		require.Len(t, p.Spec.Egress[1].To, 1, "no IPv6 in an IPv4 cluster")

		in.IPv6 = true
		p = networkPolicy(in, meta, "sess-1")
		require.Len(t, p.Spec.Egress[1].To, 2)
		require.Equal(t, "::/0", p.Spec.Egress[1].To[1].IPBlock.CIDR)
		require.Equal(t, []string{"ff00::/8"}, p.Spec.Egress[1].To[1].IPBlock.Except)

		in.Blocked = append(in.Blocked, netip.MustParsePrefix("0.0.0.0/0"))
		in.IPv6 = false
		p = networkPolicy(in, meta, "sess-1")
		require.Len(t, p.Spec.Egress, 1, "all of IPv4 blocked: DNS only")
	})
	t.Run("None", func(t *testing.T) {
		in := base
		in.Mode = core.NetworkNone
		p := networkPolicy(in, meta, "sess-1")
		require.Empty(t, p.Spec.Egress)
		require.Contains(t, p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress, "an egress policy with no rule denies all")
	})
	t.Run("Allowlist", func(t *testing.T) {
		in := base
		in.Mode = core.NetworkAllowlist
		in.Allow = []allowRule{
			{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Port: 443},
			{Prefix: netip.MustParsePrefix("10.2.3.4/32")},   // inside a blocked range: dropped
			{Prefix: netip.MustParsePrefix("10.0.0.0/7")},    // holds a blocked range: excepted
			{Prefix: netip.MustParsePrefix("2001:db8::/32")}, // IPv6 in an IPv4 cluster: dropped
		}
		p := networkPolicy(in, meta, "sess-1")
		require.Len(t, p.Spec.Egress, 2)
		require.Equal(t, "203.0.113.0/24", p.Spec.Egress[0].To[0].IPBlock.CIDR)
		require.Empty(t, excepts(p.Spec.Egress[0]))
		require.Len(t, p.Spec.Egress[0].Ports, 2, "TCP and UDP 443")
		require.Equal(t, "10.0.0.0/7", p.Spec.Egress[1].To[0].IPBlock.CIDR)
		require.Equal(t, []string{"10.0.0.0/8"}, excepts(p.Spec.Egress[1]))
		require.Empty(t, p.Spec.Egress[1].Ports)
	})
	t.Run("BayAPI", func(t *testing.T) {
		in := base
		in.Mode = core.NetworkNone
		in.BayAPIPort = 8000
		p := networkPolicy(in, meta, "sess-1")
		require.Len(t, p.Spec.Egress, 1)
		require.Len(t, p.Spec.Egress[0].To, 2, "Bay's pods and the node")
		require.EqualValues(t, 8000, p.Spec.Egress[0].Ports[0].Port.IntVal)
	})
	t.Run("NoBayPodLabelsIsNoPod", func(t *testing.T) {
		in := base
		in.BayPodLabels = nil
		p := networkPolicy(in, meta, "sess-1")
		require.Len(t, p.Spec.Ingress[0].From, 1, "the node only, never every pod")
		in.Nodes = nil
		p = networkPolicy(in, meta, "sess-1")
		require.Empty(t, p.Spec.Ingress, "no one")
	})
}
