//go:build k8s

package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// TestE2E_KubernetesDeploy runs Bay in the test cluster as an operator
// would: deploy/kubernetes applied with kubectl apply -k (through an
// overlay that renames its namespaces and cluster-wide objects, so that it
// runs beside other tests, and pulls no image), its Secret created with
// kubectl, Postgres installed by the test. Both replicas become ready; through the
// Service, with the API key, a sandbox runs Python in a pod of the sandbox
// namespace; each replica serves the same sandbox; a locker's files are
// read and written without a session (a helper pod and pods/exec); a
// request without the key is refused; deleting the sandbox removes its
// pod. The service account can do what Bay needs and nothing else that
// was checked.
func TestE2E_KubernetesDeploy(t *testing.T) {
	dbNS := needKubernetes(t) // the test's Postgres, deleted with it
	requireNodeImages(t, "bay:latest", "bay-postgres:latest", "ship:latest")
	bayNS, sandboxNS, nodesRole := dbNS+"-bay", dbNS+"-sandboxes", dbNS+":nodes"
	sa := "system:serviceaccount:" + bayNS + ":bay"
	t.Cleanup(func() {
		if t.Failed() {
			deployDiagnostics(t, bayNS, dbNS, sandboxNS)
		}
		kc := os.Getenv("BAY_TEST_K8S_KUBECONFIG")
		for _, obj := range [][]string{{"namespace", bayNS}, {"namespace", sandboxNS},
			{"clusterrolebinding", nodesRole}, {"clusterrole", nodesRole}} {
			_ = exec.Command(kubectlBin(), "--kubeconfig", kc, "delete", obj[0], obj[1], "--wait=false", "--ignore-not-found").Run() // #nosec G702 -- as in kubectl
		}
	})

	dbURL := deployPostgres(t, dbNS)
	overlay := deployOverlay(t, bayNS, sandboxNS, nodesRole)
	kubectl(t, "apply", "-k", overlay)
	// The operator's step: the Secret the Deployment reads. Its pods wait
	// for it.
	apiKey := "deploy-" + randHex(16)
	kubectl(t, "-n", bayNS, "create", "secret", "generic", "bay",
		"--from-literal=database-url="+dbURL, "--from-literal=api-key="+apiKey)
	// A bound against a hang, not the expected time (seconds here).
	kubectl(t, "-n", bayNS, "rollout", "status", "deployment/bay", "--timeout=10m")
	pods := bayPods(t, bayNS)
	require.Len(t, pods, 2, "two replicas: %v", pods)

	// The Service's ClusterIP: this host is the node, and its kube-proxy
	// routes the host's own connections to service addresses too.
	svcIP := kubectl(t, "-n", bayNS, "get", "service", "bay", "-o", "jsonpath={.spec.clusterIP}")
	svc := deployClient(t, "http://"+svcIP+":80", apiKey)
	plain := &http.Client{Timeout: 30 * time.Second}
	if !assert.Eventually(t, func() bool {
		resp, err := plain.Get(svc.URL + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 2*time.Minute, 250*time.Millisecond, "Bay answers at the Service's address %s", svcIP) {
		logServiceRouting(t, svcIP)
		t.FailNow()
	}

	t.Run("NoKeyIsUnauthorized", func(t *testing.T) {
		for _, key := range []string{"", "wrong-" + apiKey} {
			req, err := http.NewRequest(http.MethodGet, svc.URL+"/v1/sandboxes", nil)
			require.NoError(t, err)
			if key != "" {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			resp, err := plain.Do(req)
			require.NoError(t, err)
			var body json.RawMessage
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			resp.Body.Close()
			envelope(t, resp.StatusCode, resp.Header, body, http.StatusUnauthorized, "unauthorized")
		}
	})

	// A sandbox through the Service; its pod runs in the sandbox namespace.
	sb := createSandbox(t, svc, oapigen.CreateSandboxRequest{})
	res := python(t, svc, sb.Id, "print(1+2)")
	require.True(t, res.Success, "error: %v", res.Error)
	require.Equal(t, "3", res.Output)
	sbPods := strings.Fields(kubectl(t, "-n", sandboxNS, "get", "pods", "-l", "bay.sandbox_id="+sb.Id,
		"-o", `jsonpath={range .items[*]}{.metadata.name}={.status.phase}{"\n"}{end}`))
	require.Len(t, sbPods, 1)
	require.True(t, strings.HasPrefix(sbPods[0], "bay-session-") && strings.HasSuffix(sbPods[0], "=Running"), sbPods[0])
	podName := strings.TrimSuffix(sbPods[0], "=Running")
	require.Empty(t, kubectl(t, "-n", bayNS, "get", "pods", "-l", "bay.sandbox_id="+sb.Id, "-o", "name"),
		"no sandbox pod in Bay's own namespace")
	// The sandbox's policy admits Bay's pods, by exactly the labels of
	// config.yaml, and the node, whose address Bay knows because it may
	// list the nodes (the ClusterRole).
	var policy struct {
		Spec struct {
			Ingress []struct {
				From []struct {
					PodSelector *struct {
						MatchLabels map[string]string `json:"matchLabels"`
					} `json:"podSelector"`
					IPBlock *struct {
						CIDR string `json:"cidr"`
					} `json:"ipBlock"`
				} `json:"from"`
			} `json:"ingress"`
		} `json:"spec"`
	}
	require.NoError(t, json.Unmarshal([]byte(kubectl(t, "-n", sandboxNS, "get", "networkpolicy", podName, "-o", "json")), &policy))
	require.Len(t, policy.Spec.Ingress, 1)
	var admitted []any
	for _, peer := range policy.Spec.Ingress[0].From {
		switch {
		case peer.PodSelector != nil:
			admitted = append(admitted, peer.PodSelector.MatchLabels)
		case peer.IPBlock != nil:
			admitted = append(admitted, peer.IPBlock.CIDR)
		}
	}
	nodeIP := kubectl(t, "get", "nodes", "-o", `jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}`)
	require.Equal(t, []any{
		map[string]string{"app.kubernetes.io/name": "bay", "app.kubernetes.io/component": "server"},
		nodeIP + "/32",
	}, admitted)

	t.Run("EachReplicaServes", func(t *testing.T) {
		// Each replica by its pod IP, past the Service: the first sets a
		// variable in the sandbox's kernel, the second reads it.
		a := deployClient(t, "http://"+pods[0].ip+":8000", apiKey)
		b := deployClient(t, "http://"+pods[1].ip+":8000", apiKey)
		python(t, a, sb.Id, "x = 'set through "+pods[0].name+"'")
		require.Equal(t, "set through "+pods[0].name, python(t, b, sb.Id, "print(x)").Output)
		for _, p := range pods {
			c := deployClient(t, "http://"+p.ip+":8000", apiKey)
			got, err := c.C.GetSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, got.StatusCode(), "pod %s: %s", p.name, got.Body)
		}
	})

	t.Run("LockerFilesWithoutSession", func(t *testing.T) {
		// A helper pod mounts the claim and runs a script in it:
		// pods/exec in the sandbox namespace.
		lk, err := svc.C.CreateLockerWithResponse(bg, nil, oapigen.CreateLockerRequest{})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, lk.StatusCode(), "body: %s", lk.Body)
		id := lk.JSON201.Id
		w, err := svc.C.WriteLockerFileWithResponse(bg, id, oapigen.WriteFileRequest{Path: "notes.txt", Content: "kept"})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, w.StatusCode(), "body: %s", w.Body)
		r, err := svc.C.ReadLockerFileWithResponse(bg, id, oapigen.LockerReadRequest{Path: "notes.txt"})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.StatusCode(), "body: %s", r.Body)
		require.Equal(t, "kept", r.JSON200.Content)
		d, err := svc.C.DeleteLockerWithResponse(bg, id)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, d.StatusCode(), "body: %s", d.Body)
	})

	// Delete: the pod, its policy and the managed claim go.
	dl, err := svc.C.DeleteSandboxWithResponse(bg, sb.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, dl.StatusCode(), "body: %s", dl.Body)
	require.Eventually(t, func() bool {
		return kubectl(t, "-n", sandboxNS, "get", "pods,networkpolicies", "-l", "bay.sandbox_id="+sb.Id, "-o", "name") == "" &&
			kubectl(t, "-n", sandboxNS, "get", "pvc", "-o", "name", "--field-selector", "metadata.name=bay-"+*sb.LockerId) == ""
	}, 2*time.Minute, 250*time.Millisecond, "the sandbox's pod, policy and claim are deleted")

	t.Run("PodDisruptionBudget", func(t *testing.T) {
		require.Eventually(t, func() bool {
			return kubectl(t, "-n", bayNS, "get", "pdb", "bay", "-o", "jsonpath={.status.currentHealthy}/{.status.disruptionsAllowed}") == "2/1"
		}, time.Minute, 250*time.Millisecond, "two healthy replicas, one may be disrupted")
	})

	t.Run("LeastPrivilege", func(t *testing.T) {
		allowed := [][]string{
			{"create", "pods", "-n", sandboxNS},
			{"get", "pods", "-n", sandboxNS},
			{"list", "pods", "-n", sandboxNS},
			{"patch", "pods", "-n", sandboxNS},
			{"delete", "pods", "-n", sandboxNS},
			{"create", "pods", "--subresource=exec", "-n", sandboxNS},
			{"get", "pods", "--subresource=exec", "-n", sandboxNS},
			{"create", "persistentvolumeclaims", "-n", sandboxNS},
			{"delete", "persistentvolumeclaims", "-n", sandboxNS},
			{"create", "networkpolicies.networking.k8s.io", "-n", sandboxNS},
			{"update", "networkpolicies.networking.k8s.io", "-n", sandboxNS},
			{"list", "nodes"},
		}
		denied := [][]string{
			{"create", "pods", "-n", bayNS}, // its own namespace
			{"list", "pods", "-n", bayNS},
			{"create", "pods", "-n", "default"},
			{"create", "pods", "--subresource=exec", "-n", bayNS},
			{"get", "secrets", "-n", bayNS},
			{"get", "secrets", "-n", sandboxNS},
			{"list", "secrets", "--all-namespaces"},
			{"get", "configmaps", "-n", bayNS},
			{"update", "pods", "-n", sandboxNS},
			{"watch", "pods", "-n", sandboxNS},
			{"list", "persistentvolumeclaims", "-n", sandboxNS},
			{"create", "deployments.apps", "-n", sandboxNS},
			{"create", "services", "-n", sandboxNS},
			{"create", "rolebindings.rbac.authorization.k8s.io", "-n", sandboxNS},
			{"delete", "namespaces"},
			{"get", "nodes"},
			{"delete", "nodes"},
			{"patch", "nodes"},
			{"create", "persistentvolumes"},
			{"impersonate", "serviceaccounts", "-n", bayNS},
		}
		for _, q := range allowed {
			require.True(t, canI(t, sa, q...), "%s may %v", sa, q)
		}
		for _, q := range denied {
			require.False(t, canI(t, sa, q...), "%s may not %v", sa, q)
		}
	})
}

// requireNodeImages fails t unless the cluster's node lists every image
// (the test cluster reaches no registry).
func requireNodeImages(t *testing.T, images ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, name := range strings.Fields(strings.NewReplacer(`"`, " ", ",", " ", "[", " ", "]", " ").Replace(
		kubectl(t, "get", "nodes", "-o", "jsonpath={.items[*].status.images[*].names}"))) {
		have[name] = true
	}
	for _, img := range images {
		require.True(t, have["docker.io/library/"+img], "the cluster's node lacks %s: build it (images/build.sh) and load it (scripts/k8s.sh load %s)", img, img)
	}
}

// deployPostgres runs Postgres (bay-postgres:latest, data in an emptyDir)
// in namespace ns, waits until it accepts connections and returns Bay's
// database URL for it. The URL names the Service's ClusterIP: the test
// cluster runs no DNS.
func deployPostgres(t *testing.T, ns string) string {
	t.Helper()
	password := randHex(12)
	manifest := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: postgres, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: postgres}}
  template:
    metadata: {labels: {app: postgres}}
    spec:
      enableServiceLinks: false
      containers:
        - name: postgres
          image: bay-postgres:latest
          imagePullPolicy: Never
          env:
            - {name: POSTGRES_USER, value: bay}
            - {name: POSTGRES_PASSWORD, value: %[2]s}
            - {name: POSTGRES_DB, value: bay}
          ports: [{containerPort: 5432}]
          readinessProbe:
            tcpSocket: {port: 5432}
            periodSeconds: 1
          volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
      volumes: [{name: data, emptyDir: {}}]
---
apiVersion: v1
kind: Service
metadata: {name: postgres, namespace: %[1]s}
spec:
  selector: {app: postgres}
  ports: [{port: 5432}]
`, ns, password)
	path := filepath.Join(t.TempDir(), "postgres.yaml")
	require.NoError(t, os.WriteFile(path, []byte(manifest), 0o600))
	kubectl(t, "apply", "-f", path)
	kubectl(t, "-n", ns, "rollout", "status", "deployment/postgres", "--timeout=5m")
	ip := kubectl(t, "-n", ns, "get", "service", "postgres", "-o", "jsonpath={.spec.clusterIP}")
	return fmt.Sprintf("postgresql://bay:%s@%s:5432/bay?sslmode=disable", password, ip)
}

// deployOverlay writes a kustomization over deploy/kubernetes into a
// temporary directory and returns it. It changes only what must differ
// for a test beside others, and what the test cluster lacks: the two
// namespaces (in Bay's configuration file too), the cluster-wide role's
// name, and Bay's image pull policy (no registry: Never).
func deployOverlay(t *testing.T, bayNS, sandboxNS, nodesRole string) string {
	t.Helper()
	base, err := filepath.Abs(filepath.Join("..", "deploy", "kubernetes"))
	require.NoError(t, err)
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, base) // kustomize takes no absolute path
	require.NoError(t, err)

	// Bay's configuration file names the sandbox namespace: the overlay
	// has its own copy, which replaces the base's in the ConfigMap.
	raw, err := os.ReadFile(filepath.Join(base, "config.yaml"))
	require.NoError(t, err)
	config := string(raw)
	require.Equal(t, 1, strings.Count(config, "namespace: bay-sandboxes\n"), "config.yaml: %s", config)
	config = strings.Replace(config, "namespace: bay-sandboxes\n", "namespace: "+sandboxNS+"\n", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(config), 0o600))

	type op struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value string `json:"value"`
	}
	type target struct {
		Kind      string `json:"kind,omitempty"`
		Name      string `json:"name,omitempty"`
		Namespace string `json:"namespace,omitempty"`
	}
	type patch struct {
		Target target `json:"target"`
		Patch  string `json:"patch"`
	}
	replace := func(tg target, ops ...op) patch {
		for i := range ops {
			ops[i].Op = "replace"
		}
		b, err := json.Marshal(ops)
		require.NoError(t, err)
		return patch{Target: tg, Patch: string(b)}
	}
	// Patches see the objects as the base names them.
	kustomization := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  []string{rel},
		"configMapGenerator": []map[string]any{
			{"name": "bay-config", "namespace": "bay", "behavior": "merge", "files": []string{"config.yaml"}},
		},
		"patches": []patch{
			replace(target{Kind: "Namespace", Name: "bay"}, op{Path: "/metadata/name", Value: bayNS}),
			replace(target{Kind: "Namespace", Name: "bay-sandboxes"}, op{Path: "/metadata/name", Value: sandboxNS}),
			replace(target{Namespace: "bay"}, op{Path: "/metadata/namespace", Value: bayNS}),
			replace(target{Namespace: "bay-sandboxes"}, op{Path: "/metadata/namespace", Value: sandboxNS}),
			replace(target{Kind: "RoleBinding|ClusterRoleBinding"}, op{Path: "/subjects/0/namespace", Value: bayNS}),
			replace(target{Kind: "ClusterRole|ClusterRoleBinding"}, op{Path: "/metadata/name", Value: nodesRole}),
			replace(target{Kind: "ClusterRoleBinding"}, op{Path: "/roleRef/name", Value: nodesRole}),
			replace(target{Kind: "Deployment", Name: "bay"},
				op{Path: "/spec/template/spec/containers/0/imagePullPolicy", Value: "Never"}),
		},
	}
	b, err := json.MarshalIndent(kustomization, "", "  ") // JSON is YAML
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), b, 0o600))
	return dir
}

// deployPod is one of Bay's pods.
type deployPod struct{ name, ip string }

// bayPods lists Bay's ready pods in ns.
func bayPods(t *testing.T, ns string) []deployPod {
	t.Helper()
	out := kubectl(t, "-n", ns, "get", "pods", "-l", "app.kubernetes.io/name=bay,app.kubernetes.io/component=server",
		"-o", `jsonpath={range .items[*]}{.metadata.name}|{.status.podIP}|{.status.conditions[?(@.type=="Ready")].status}|{.metadata.deletionTimestamp}{"\n"}{end}`)
	var pods []deployPod
	for _, line := range strings.Split(out, "\n") {
		// (A jsonpath filter on a missing deletionTimestamp matches nothing.)
		if f := strings.Split(line, "|"); len(f) == 4 && f[2] == "True" && f[3] == "" {
			pods = append(pods, deployPod{name: f[0], ip: f[1]})
		}
	}
	return pods
}

// deployClient is a client of the Bay at url that sends the API key.
func deployClient(t *testing.T, url, apiKey string) *bay {
	t.Helper()
	c, err := oapigen.NewClientWithResponses(url,
		oapigen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+apiKey)
			return nil
		}),
		oapigen.WithHTTPClient(&http.Client{Timeout: 180 * time.Second}))
	require.NoError(t, err)
	return &bay{t: t, URL: url, C: c}
}

// canI asks the API server whether user may do what args say
// (kubectl auth can-i VERB RESOURCE ...).
func canI(t *testing.T, user string, args ...string) bool {
	t.Helper()
	args = append([]string{"--kubeconfig", os.Getenv("BAY_TEST_K8S_KUBECONFIG"), "auth", "can-i", "--as", user}, args...)
	cmd := exec.Command(kubectlBin(), args...) // #nosec G702 -- as in kubectl
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, _ := cmd.Output() // "no" exits 1
	answer := strings.TrimSpace(string(out))
	require.Contains(t, []string{"yes", "no"}, answer, "kubectl %s: %s", strings.Join(args, " "), stderr.String())
	return answer == "yes"
}

// deployDiagnostics logs what Bay's namespace and the others hold, and
// Bay's logs.
func deployDiagnostics(t *testing.T, bayNS string, others ...string) {
	kc := os.Getenv("BAY_TEST_K8S_KUBECONFIG")
	run := func(args ...string) string {
		out, _ := exec.Command(kubectlBin(), append([]string{"--kubeconfig", kc}, args...)...).CombinedOutput() // #nosec G702 -- as in kubectl
		return string(out)
	}
	for _, ns := range append([]string{bayNS}, others...) {
		t.Logf("namespace %s:\n%s\n%s", ns, run("-n", ns, "get", "all,pvc,networkpolicies,events", "-o", "wide"),
			tail(run("-n", ns, "describe", "pods"), 6000))
	}
	t.Logf("bay logs:\n%s", tail(run("-n", bayNS, "logs", "-l", "app.kubernetes.io/name=bay", "--prefix", "--tail", "200"), 12000))
}

// logServiceRouting logs what routes the node's connections to a Service
// address: the NAT rules kube-proxy wrote for it and the end of
// kube-proxy's log (scripts/k8s.sh keeps it under $BAY_K8S_DIR/log).
func logServiceRouting(t *testing.T, svcIP string) {
	t.Helper()
	out, err := exec.Command("iptables-save", "-t", "nat").CombinedOutput()
	var rules []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, svcIP) {
			rules = append(rules, line)
		}
	}
	t.Logf("iptables nat rules naming %s (err %v):\n%s", svcIP, err, strings.Join(rules, "\n"))
	dir := os.Getenv("BAY_K8S_DIR")
	if dir == "" {
		dir = "/var/lib/bay-k8s"
	}
	data, err := os.ReadFile(filepath.Join(dir, "log", "kube-proxy.log"))
	t.Logf("kube-proxy log (err %v):\n%s", err, tail(string(data), 6000))
}
