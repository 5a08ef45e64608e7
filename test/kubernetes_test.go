//go:build k8s

package test

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// kubectlBin is the test cluster's kubectl: $BAY_K8S_KUBECTL (which
// scripts/k8s.sh env sets), else the one on PATH.
func kubectlBin() string {
	if bin := os.Getenv("BAY_K8S_KUBECTL"); bin != "" {
		return bin
	}
	return "kubectl"
}

// kubectl runs kubectl against the test cluster and returns its output.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(kubectlBin(), append([]string{"--kubeconfig", os.Getenv("BAY_TEST_K8S_KUBECONFIG")}, args...)...) // #nosec G702 -- the test runs kubectl, named by its environment (BAY_K8S_KUBECTL)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kubectl %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// needKubernetes returns a fresh namespace of the cluster that
// BAY_TEST_K8S_KUBECONFIG names, deleted when t ends; without one t fails:
// the k8s build tag asks for the Kubernetes lane (./task test:k8s).
func needKubernetes(t *testing.T) string {
	t.Helper()
	kc := os.Getenv("BAY_TEST_K8S_KUBECONFIG")
	if kc == "" {
		t.Fatal("BAY_TEST_K8S_KUBECONFIG is not set: scripts/k8s.sh up starts a cluster and prints its kubeconfig (./task test:k8s does it all)")
	}
	_, err := exec.LookPath(kubectlBin())
	require.NoError(t, err, "kubectl is not found: set BAY_K8S_KUBECTL (eval \"$(scripts/k8s.sh env)\")")
	ns := "bay-e2e-" + randHex(4)
	kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() {
		_ = exec.Command(kubectlBin(), "--kubeconfig", kc, "delete", "namespace", ns, "--wait=false").Run() // #nosec G702 -- as in kubectl
	})
	return ns
}

// k8sEnv is what makes a Bay run its sandboxes in namespace ns of the test
// cluster, which reaches no registry.
func k8sEnv(ns string) []string {
	return []string{
		"BAY_DRIVER__TYPE=k8s",
		"BAY_DRIVER__K8S__KUBECONFIG=" + os.Getenv("BAY_TEST_K8S_KUBECONFIG"),
		"BAY_DRIVER__K8S__NAMESPACE=" + ns,
		"BAY_DRIVER__K8S__IMAGE_PULL_POLICY=Never",
	}
}

// podsOf lists the names of a sandbox's pods.
func podsOf(t *testing.T, ns, sandboxID string) []string {
	t.Helper()
	return strings.Fields(kubectl(t, "-n", ns, "get", "pods", "-l", "bay.sandbox_id="+sandboxID, "-o", "name"))
}

// TestE2E_KubernetesAgentDay is an agent's day on the Kubernetes runtime
// (kubernetes.md), on each database: the built Bay on the host, its
// sandboxes pods of the test cluster, reached at their pod IPs. Files,
// shell, Python, stop and start (the files stay, the interpreter does
// not), direct locker access without a session, delete.
func TestE2E_KubernetesAgentDay(t *testing.T) {
	ns := needKubernetes(t)
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine, env: k8sEnv(ns)})
			sb := createSandbox(t, b, oapigen.CreateSandboxRequest{})
			require.Equal(t, oapigen.SandboxStatus("idle"), sb.Status)

			script := "def double(x):\n    return 2 * x\n\nif __name__ == '__main__':\n    print(double(21))\n"
			wr, err := b.C.WriteFileWithResponse(bg, sb.Id, oapigen.WriteFileRequest{Path: "lib/util.py", Content: script})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, wr.StatusCode(), "body: %s", wr.Body)
			pods := podsOf(t, ns, sb.Id)
			require.Equal(t, []string{"pod/bay-session-" + strings.TrimPrefix(pods[0], "pod/bay-session-")}, pods)
			require.Equal(t, "42", shell(t, b, sb.Id, "python3 lib/util.py", nil).Output)
			py := python(t, b, sb.Id, "import sys\nsys.path.insert(0, 'lib')\nimport util\nprint(util.double(4))")
			require.True(t, py.Success, "error: %v", py.Error)
			require.Equal(t, "8", py.Output)
			python(t, b, sb.Id, "x = 42")
			require.Equal(t, "84", python(t, b, sb.Id, "print(x * 2)").Output)
			require.Equal(t, "shipyard", shell(t, b, sb.Id, "whoami", nil).Output)
			require.Equal(t, "/workspace", shell(t, b, sb.Id, "pwd", nil).Output)

			// Stop: the pod goes, the claim stays; the next call starts a
			// new pod on the same claim.
			stop, err := b.C.StopSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, stop.StatusCode())
			require.Empty(t, podsOf(t, ns, sb.Id))
			rd, err := b.C.ReadFileWithResponse(bg, sb.Id, &oapigen.ReadFileParams{Path: "lib/util.py"})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, rd.StatusCode(), "body: %s", rd.Body)
			require.Equal(t, script, rd.JSON200.Content)
			gone := python(t, b, sb.Id, "print(x)")
			require.False(t, gone.Success)
			require.Contains(t, *gone.Error, "NameError")
			require.Equal(t, "42", shell(t, b, sb.Id, "python3 lib/util.py", nil).Output)

			// A locker's files without a session: a helper pod.
			lk, err := b.C.CreateLockerWithResponse(bg, nil, oapigen.CreateLockerRequest{})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, lk.StatusCode(), "body: %s", lk.Body)
			lid := lk.JSON201.Id
			lw, err := b.C.WriteLockerFileWithResponse(bg, lid, oapigen.WriteFileRequest{Path: "notes/a.txt", Content: "from the locker"})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, lw.StatusCode(), "body: %s", lw.Body)
			lr, err := b.C.ReadLockerFileWithResponse(bg, lid, oapigen.LockerReadRequest{Path: "notes/a.txt"})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, lr.StatusCode(), "body: %s", lr.Body)
			require.Equal(t, "from the locker", lr.JSON200.Content)
			lr, err = b.C.ReadLockerFileWithResponse(bg, lid, oapigen.LockerReadRequest{Path: "notes/missing.txt"})
			require.NoError(t, err)
			require.Equal(t, http.StatusNotFound, lr.StatusCode(), "body: %s", lr.Body)

			// Delete: the pod and the managed claim go.
			locker := *sb.LockerId
			dl, err := b.C.DeleteSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, http.StatusNoContent, dl.StatusCode())
			require.Empty(t, podsOf(t, ns, sb.Id))
			require.Eventually(t, func() bool {
				return kubectl(t, "-n", ns, "get", "pvc", "-o", "name", "--field-selector", "metadata.name=bay-"+locker) == ""
			}, time.Minute, 250*time.Millisecond, "the managed claim is deleted")
			st, hdr, raw := b.raw("GET", "/v1/sandboxes/"+sb.Id, nil)
			envelope(t, st, hdr, raw, http.StatusNotFound, "not_found")
		})
	}
}
