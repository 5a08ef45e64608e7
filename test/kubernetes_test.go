//go:build k8s

package test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// TestE2E_KubernetesGC: on the Kubernetes runtime, idle reclaim deletes a
// sandbox's pod and keeps its claim's files; an orphan pod of the instance
// (no session row) is deleted and another instance's is left alone.
func TestE2E_KubernetesGC(t *testing.T) {
	ns := needKubernetes(t)
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine, env: k8sEnv(ns)})
			idle := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("short-idle-test")})
			require.Equal(t, "kept", shell(t, b, idle.Id, "echo kept > keep.txt && cat keep.txt", nil).Output)
			require.Len(t, podsOf(t, ns, idle.Id), 1)

			// The idle timeout is 2 s: poll the GC until it has reclaimed
			// the sandbox, however slow the machine.
			cleaned := 0
			require.Eventually(t, func() bool {
				rep := runGC(t, b, "idle_session")
				require.Zero(t, rep.TotalErrors, "%+v", rep)
				cleaned += rep.TotalCleaned
				return cleaned > 0
			}, 2*time.Minute, 500*time.Millisecond)
			require.Equal(t, 1, cleaned)
			require.Empty(t, podsOf(t, ns, idle.Id), "idle reclaim deletes the pod")
			got, err := b.C.GetSandboxWithResponse(bg, idle.Id)
			require.NoError(t, err)
			require.Equal(t, oapigen.SandboxStatus("idle"), got.JSON200.Status)
			require.Equal(t, "idle", string(*got.JSON200.StopReason))
			rd, err := b.C.ReadFileWithResponse(bg, idle.Id, &oapigen.ReadFileParams{Path: "keep.txt"})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, rd.StatusCode(), "body: %s", rd.Body)
			require.Equal(t, "kept\n", rd.JSON200.Content, "files survive idle reclaim")

			// Two pods that look like Bay's session pods: one of this
			// instance whose session has no row, one of another instance.
			orphan := orphanPod(t, ns, b.Instance, b.Owner)
			other := orphanPod(t, ns, "other-"+b.Instance, b.Owner)
			rep := runGC(t, b, "orphan_container")
			require.Len(t, rep.Results, 1)
			require.Equal(t, 1, rep.Results[0].CleanedCount, "%+v", rep)
			require.Zero(t, rep.TotalErrors, "%+v", rep)
			require.Eventually(t, func() bool {
				return kubectl(t, "-n", ns, "get", "pods", "-o", "name", "--field-selector", "metadata.name="+orphan) == ""
			}, time.Minute, 250*time.Millisecond, "the orphan pod is deleted")
			require.Equal(t, "pod/"+other, kubectl(t, "-n", ns, "get", "pod", other, "-o", "name"), "another instance's pod stays")
			kubectl(t, "-n", ns, "delete", "pod", other, "--wait=false")
		})
	}
}

// orphanPod creates a pod labelled as a session pod of the given instance
// and owner, whose session has no row anywhere, and returns its name.
func orphanPod(t *testing.T, ns, instance, owner string) string {
	t.Helper()
	session := "sess-" + randHex(6)
	name := "bay-session-" + session
	kubectl(t, "-n", ns, "run", name, "--image=ship:latest", "--image-pull-policy=Never", "--restart=Never",
		"--labels=bay.managed=true,bay.instance_id="+instance+",bay.session_id="+session+
			",bay.sandbox_id=sandbox-000000000000,bay.locker_id=locker-000000000000,bay.owner="+owner,
		"--annotations=bay.container_token=not-a-real-token",
		"--command", "--", "sleep", "3600")
	return name
}

// TestE2E_KubernetesCrashMidStart kills Bay with SIGKILL at points during
// a pod's start and checks that a restart reconciles: no session left
// starting, no pod of the instance without a session row, the claim's
// bytes intact, and the sandbox works again on exactly one pod.
func TestE2E_KubernetesCrashMidStart(t *testing.T) {
	ns := needKubernetes(t)
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine, env: k8sEnv(ns)})
			opts := bayOpts{engine: engine, db: b.DB, instance: b.Instance, env: k8sEnv(ns)}
			// A pod starts in about 2 s: the kills land before the pod is
			// created, while it is gated, scheduled, starting, and ready.
			for i, delay := range []time.Duration{0, 100 * time.Millisecond, 400 * time.Millisecond, time.Second, 2500 * time.Millisecond} {
				ext, err := b.C.CreateLockerWithResponse(bg, nil, oapigen.CreateLockerRequest{})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, ext.StatusCode(), "body: %s", ext.Body)
				lid := ext.JSON201.Id
				payload := fmt.Sprintf("precious %d %s\n", i, randHex(8))
				w, err := b.C.WriteLockerFileWithResponse(bg, lid, oapigen.WriteFileRequest{Path: "precious.txt", Content: payload})
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, w.StatusCode(), "body: %s", w.Body)
				sb := createSandbox(t, b, oapigen.CreateSandboxRequest{LockerId: &lid})

				go func() {
					_, _ = b.C.ExecPythonWithResponse(bg, sb.Id, oapigen.PythonExecRequest{Code: "print(1)"})
				}()
				time.Sleep(delay)
				b.kill()
				b.launch(opts)

				stuck := queryStrings(t, engine, b.DB, "SELECT id FROM sessions WHERE observed_state = 'starting'")
				require.Empty(t, stuck, "delay %v: no session left starting", delay)
				rows := map[string]bool{}
				for _, id := range queryStrings(t, engine, b.DB, "SELECT id FROM sessions") {
					rows[id] = true
				}
				for _, sid := range livePods(t, ns, "bay.instance_id="+b.Instance+",!bay.locker_io", `{.metadata.labels.bay\.session_id}`) {
					require.True(t, rows[sid], "delay %v: pod of session %s has a row", delay, sid)
				}
				r, err := b.C.ReadLockerFileWithResponse(bg, lid, oapigen.ReadLockerFileJSONRequestBody{Path: "precious.txt"})
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, r.StatusCode(), "body: %s", r.Body)
				require.Equal(t, payload, r.JSON200.Content, "delay %v: claim bytes intact", delay)
				got, err := b.C.GetSandboxWithResponse(bg, sb.Id)
				require.NoError(t, err)
				require.NotEqual(t, oapigen.SandboxStatus("starting"), got.JSON200.Status)
				res := python(t, b, sb.Id, "print(open('precious.txt').read(), end='')")
				require.Equal(t, strings.TrimSpace(payload), res.Output)
				require.Len(t, livePodsOf(t, ns, sb.Id), 1, "delay %v", delay)
			}
		})
	}
}

// livePodsOf lists the names of a sandbox's pods that are not being
// deleted.
func livePodsOf(t *testing.T, ns, sandboxID string) []string {
	t.Helper()
	return livePods(t, ns, "bay.sandbox_id="+sandboxID, "{.metadata.name}")
}

// livePods prints field (a jsonpath) of each pod that selector selects
// and that is not being deleted.
func livePods(t *testing.T, ns, selector, field string) []string {
	t.Helper()
	out := kubectl(t, "-n", ns, "get", "pods", "-l", selector,
		"-o", `jsonpath={range .items[*]}`+field+` {.metadata.deletionTimestamp}{"\n"}{end}`)
	var live []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 1 {
			live = append(live, f[0])
		}
	}
	return live
}

// TestE2E_KubernetesTwoInstances: two Bay processes on one database
// serve one sandbox. Their concurrent first calls start one pod, and both
// reach the same kernel; a stop through one is seen by the other, and the
// next call through it starts the sandbox again.
func TestE2E_KubernetesTwoInstances(t *testing.T) {
	ns := needKubernetes(t)
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			twoInstances(t, ns, engine)
		})
	}
}

// twoInstances is TestE2E_KubernetesTwoInstances on one engine.
func twoInstances(t *testing.T, ns, engine string) {
	a := startBay(t, bayOpts{engine: engine, env: k8sEnv(ns)})
	b := startBay(t, bayOpts{engine: engine, db: a.DB, env: k8sEnv(ns)})
	b.Owner = a.Owner
	sb := createSandbox(t, a, oapigen.CreateSandboxRequest{})

	var wg sync.WaitGroup
	results := make([]oapigen.PythonExecResult, 2)
	for i, p := range []*bay{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := p.C.ExecPythonWithResponse(bg, sb.Id, oapigen.PythonExecRequest{Code: "import os\nprint(os.getpid())"})
			if assert.NoError(t, err) && assert.Equal(t, http.StatusOK, resp.StatusCode(), "body: %s", resp.Body) {
				results[i] = *resp.JSON200
			}
		}()
	}
	wg.Wait()
	require.True(t, results[0].Success && results[1].Success, "%+v", results)
	require.Equal(t, results[0].Output, results[1].Output, "one kernel behind both instances")
	require.Len(t, livePodsOf(t, ns, sb.Id), 1, "one pod for concurrent first calls")

	python(t, a, sb.Id, "x = 'set through a'")
	require.Equal(t, "set through a", python(t, b, sb.Id, "print(x)").Output)

	stop, err := b.C.StopSandboxWithResponse(bg, sb.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, stop.StatusCode(), "body: %s", stop.Body)
	require.Empty(t, livePodsOf(t, ns, sb.Id))
	got, err := a.C.GetSandboxWithResponse(bg, sb.Id)
	require.NoError(t, err)
	require.Equal(t, oapigen.SandboxStatus("idle"), got.JSON200.Status)
	again := python(t, a, sb.Id, "print(x)")
	require.False(t, again.Success, "a new pod, a new kernel")
	require.Len(t, livePodsOf(t, ns, sb.Id), 1)
}
