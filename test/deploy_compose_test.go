package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// dockerSocket is the daemon's socket that deploy/compose mounts into
// Bay's container.
const dockerSocket = "/var/run/docker.sock"

// TestE2E_DeployCompose runs deploy/compose as an operator would: the
// images bay:latest and bay-postgres:latest, `docker-compose up -d` with
// the settings in the environment, under a project, API key, host port,
// sandbox network and instance id of its own. Bay, non-root, on Postgres,
// in a container, becomes ready; a request without the key is refused;
// a locker's files are written and read without a session (Docker helper
// containers, from inside Bay's container); a sandbox on that locker runs
// Python and reads and writes files; from inside it, neither Postgres nor
// Bay can be reached. `docker-compose down -v` and a sweep of the
// sandboxes' containers and volumes end it, also when it fails.
func TestE2E_DeployCompose(t *testing.T) {
	t.Parallel()
	requireImages(t, "ship:latest", "bay:latest", "bay-postgres:latest")
	st := newComposeStack(t)

	// compose starts Bay once Postgres is healthy; Bay then migrates. A
	// bound against a hang, not the expected time (about 5 s here).
	st.compose(5*time.Minute, "up", "-d")
	st.waitReady(3 * time.Minute)
	b := st.client()

	t.Run("NoKeyIsUnauthorized", func(t *testing.T) {
		for _, key := range []string{"", "wrong-" + st.apiKey} {
			req, err := http.NewRequest(http.MethodGet, st.url+"/v1/sandboxes", nil)
			require.NoError(t, err)
			if key != "" {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			envelope(t, resp.StatusCode, resp.Header, body, http.StatusUnauthorized, "unauthorized")
		}
	})

	t.Run("BayRunsAsItsUserWithTheSocketsGroup", func(t *testing.T) {
		var info []struct {
			Config     struct{ User string }
			HostConfig struct{ GroupAdd []string }
		}
		require.NoError(t, json.Unmarshal([]byte(st.docker("inspect", st.containerOf("bay"))), &info))
		require.Len(t, info, 1)
		require.Equal(t, "65532:65532", info[0].Config.User)
		require.Equal(t, []string{st.gid}, info[0].HostConfig.GroupAdd)
	})

	// A locker's files without a session: Bay creates a helper container
	// through the mounted socket and uses Docker's archive API.
	lk, err := b.C.CreateLockerWithResponse(bg, nil, oapigen.CreateLockerRequest{})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, lk.StatusCode(), "body: %s", lk.Body)
	locker := lk.JSON201.Id
	st.lockers = append(st.lockers, locker)
	st.writeLockerFile(b, locker, "notes.txt", "written without a session")

	sb := createSandbox(t, b, oapigen.CreateSandboxRequest{LockerId: &locker})
	res := python(t, b, sb.Id, "print(1+2)")
	require.True(t, res.Success, "error: %v", res.Error)
	require.Equal(t, "3", res.Output)
	require.Equal(t, "written without a session", python(t, b, sb.Id, "print(open('/workspace/notes.txt').read())").Output)

	w, err := b.C.WriteFileWithResponse(bg, sb.Id, oapigen.WriteFileRequest{Path: "out/result.txt", Content: "from the API"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, w.StatusCode(), "body: %s", w.Body)
	r, err := b.C.ReadFileWithResponse(bg, sb.Id, &oapigen.ReadFileParams{Path: "out/result.txt"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.StatusCode(), "body: %s", r.Body)
	require.Equal(t, "from the API", r.JSON200.Content)
	require.Equal(t, "from the API", python(t, b, sb.Id, "print(open('/workspace/out/result.txt').read())").Output)

	t.Run("SandboxReachesNeitherPostgresNorBayNorAnotherSandbox", func(t *testing.T) {
		// The control: a listener in the sandbox answers the same probe.
		pgIPs := st.addresses("postgres")
		bayIPs := st.addresses("bay")
		require.NotEmpty(t, pgIPs)
		require.NotEmpty(t, bayIPs)
		// Another sandbox, running, on the same network: its runtime port.
		other := createSandbox(t, b, oapigen.CreateSandboxRequest{})
		require.Equal(t, "2", python(t, b, other.Id, "print(1+1)").Output)
		ids := containersOf(t, other.Id)
		require.Len(t, ids, 1)
		otherIPs := strings.Fields(st.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", ids[0]))
		require.NotEmpty(t, otherIPs)
		targets := [][2]string{{"control", "127.0.0.1:CONTROL"}, {"postgres-name", "postgres:5432"}, {"bay-name", "bay:8000"}}
		for _, ip := range otherIPs {
			targets = append(targets, [2]string{"sandbox-" + ip, ip + ":8123"})
		}
		for _, ip := range pgIPs {
			targets = append(targets, [2]string{"postgres-" + ip, ip + ":5432"})
		}
		for _, ip := range bayIPs {
			targets = append(targets, [2]string{"bay-" + ip, ip + ":8000"})
		}
		got := probeFromSandbox(t, b, sb.Id, targets)
		t.Logf("from the sandbox: %v", got)
		require.Equal(t, "open", got["control"], "the probe itself works: %v", got)
		for _, tg := range targets[1:] {
			require.NotEqual(t, "open", got[tg[0]], "%s (%s) is reachable from the sandbox: %v", tg[0], tg[1], got)
		}
		// Not even resolved: the sandboxes' network does not hold Postgres.
		require.Equal(t, "gaierror", got["postgres-name"], "%v", got)
	})

	// Stopped: the locker's files are read through a helper again.
	stop, err := b.C.StopSandboxWithResponse(bg, sb.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, stop.StatusCode(), "body: %s", stop.Body)
	require.Equal(t, "from the API", st.readLockerFile(b, locker, "out/result.txt"))

	dl, err := b.C.DeleteSandboxWithResponse(bg, sb.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, dl.StatusCode(), "body: %s", dl.Body)
	require.Empty(t, containersOf(t, sb.Id))
	dlk, err := b.C.DeleteLockerWithResponse(bg, locker)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, dlk.StatusCode(), "body: %s", dlk.Body)
	require.False(t, volumeExists("bay-"+locker))
}

// composeStack is one deploy/compose project of a test.
type composeStack struct {
	t       *testing.T
	cli     []string // docker-compose, or docker compose
	file    string
	project string
	env     []string
	apiKey  string
	gid     string
	url     string
	// lockers are the lockers the test made; their volumes are swept
	// at the end.
	lockers []string
}

// newComposeStack picks the project's settings and registers its
// removal: Bay's sandbox containers, then the project (containers,
// networks, Postgres's volume), then the lockers' volumes.
func newComposeStack(t *testing.T) *composeStack {
	t.Helper()
	var cli []string
	if p, err := exec.LookPath("docker-compose"); err == nil {
		cli = []string{p}
	} else if exec.Command("docker", "compose", "version").Run() == nil {
		cli = []string{"docker", "compose"}
	}
	need(t, cli != nil, "neither docker-compose nor the docker compose plugin is installed")
	fi, err := os.Stat(dockerSocket)
	need(t, err == nil, "no Docker socket at "+dockerSocket+" to mount into Bay's container")
	sys, ok := fi.Sys().(*syscall.Stat_t)
	require.True(t, ok)
	file, err := filepath.Abs(filepath.Join("..", "deploy", "compose", "docker-compose.yml"))
	require.NoError(t, err)

	port := freePort(t)
	project := "baycompose" + randHex(4)
	st := &composeStack{
		t: t, cli: cli, file: file, project: project,
		apiKey: "compose-" + randHex(16),
		gid:    strconv.FormatUint(uint64(sys.Gid), 10),
		url:    fmt.Sprintf("http://127.0.0.1:%d", port),
	}
	// Every setting the file reads, so that a .env beside it (an
	// operator's) changes nothing here.
	st.env = append(os.Environ(),
		"BAY_API_KEY="+st.apiKey,
		"POSTGRES_PASSWORD="+randHex(12),
		"DOCKER_GID="+st.gid,
		fmt.Sprintf("BAY_PUBLISH=127.0.0.1:%d", port),
		"BAY_SANDBOX_NETWORK="+project+"-sandboxes",
		"BAY_INSTANCE_ID="+project,
		"DOCKER_SOCKET="+dockerSocket,
	)
	t.Cleanup(st.remove)
	return st
}

// run runs the compose CLI on the project and returns its combined output.
func (st *composeStack) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args = append(append(slices.Clone(st.cli[1:]), "-p", st.project, "-f", st.file), args...)
	cmd := exec.CommandContext(ctx, st.cli[0], args...)
	cmd.Env = st.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// compose runs the compose CLI and fails the test if it fails.
func (st *composeStack) compose(timeout time.Duration, args ...string) string {
	st.t.Helper()
	out, err := st.run(timeout, args...)
	require.NoError(st.t, err, "%s %s: %s", strings.Join(st.cli, " "), strings.Join(args, " "), out)
	return out
}

// docker runs the docker CLI and fails the test if it fails.
func (st *composeStack) docker(args ...string) string {
	st.t.Helper()
	out, err := exec.Command("docker", args...).Output()
	require.NoError(st.t, err, "docker %s", strings.Join(args, " "))
	return strings.TrimSpace(string(out))
}

// containerOf returns the id of the project's container of service.
func (st *composeStack) containerOf(service string) string {
	st.t.Helper()
	id := strings.TrimSpace(st.compose(time.Minute, "ps", "-q", service))
	require.NotEmpty(st.t, id, "no container of service %s", service)
	return id
}

// addresses returns service's container's addresses on every network.
func (st *composeStack) addresses(service string) []string {
	st.t.Helper()
	return strings.Fields(st.docker("inspect", "-f",
		"{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", st.containerOf(service)))
}

// waitReady polls Bay's /ready on the published port until it answers
// 200: migrated, started, database and Docker answering.
func (st *composeStack) waitReady(within time.Duration) {
	st.t.Helper()
	deadline := time.Now().Add(within)
	last := "no answer"
	for {
		resp, err := http.Get(st.url + "/ready")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			st.t.Fatalf("Bay at %s not ready within %s: %s", st.url, within, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// client is a client of the stack's Bay that sends the API key.
func (st *composeStack) client() *bay {
	st.t.Helper()
	key := st.apiKey
	c, err := oapigen.NewClientWithResponses(st.url,
		oapigen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+key)
			return nil
		}),
		oapigen.WithHTTPClient(&http.Client{Timeout: 180 * time.Second}))
	require.NoError(st.t, err)
	return &bay{t: st.t, URL: st.url, C: c}
}

func (st *composeStack) writeLockerFile(b *bay, locker, path, content string) {
	st.t.Helper()
	w, err := b.C.WriteLockerFileWithResponse(bg, locker, oapigen.WriteFileRequest{Path: path, Content: content})
	require.NoError(st.t, err)
	require.Equal(st.t, http.StatusOK, w.StatusCode(), "body: %s", w.Body)
}

func (st *composeStack) readLockerFile(b *bay, locker, path string) string {
	st.t.Helper()
	r, err := b.C.ReadLockerFileWithResponse(bg, locker, oapigen.LockerReadRequest{Path: path})
	require.NoError(st.t, err)
	require.Equal(st.t, http.StatusOK, r.StatusCode(), "body: %s", r.Body)
	return r.JSON200.Content
}

// remove takes the project down and sweeps what Bay made: on failure it
// first logs the project's state and logs.
func (st *composeStack) remove() {
	t := st.t
	if t.Failed() {
		ps, _ := st.run(time.Minute, "ps")
		logs, _ := st.run(time.Minute, "logs", "--no-color", "--tail", "200")
		t.Logf("compose ps:\n%s\ncompose logs:\n%s", ps, tail(logs, 12000))
	}
	// Lockers the test did not see (a sandbox's managed one), while Bay
	// still answers.
	if resp, err := st.client().C.ListLockersWithResponse(bg, nil); err == nil && resp.JSON200 != nil {
		for _, l := range resp.JSON200.Items {
			st.lockers = append(st.lockers, l.Id)
		}
	}
	// The sandboxes' containers first: the sandbox network is not removed
	// while they are attached.
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=bay.instance_id="+st.project).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
	if out, err := st.run(5*time.Minute, "down", "-v", "--remove-orphans", "--timeout", "30"); err != nil {
		t.Errorf("compose down: %v: %s", err, out)
	}
	for _, l := range st.lockers {
		_ = exec.Command("docker", "volume", "rm", "-f", "bay-"+l, "bay-"+l+"-disk").Run()
	}
}

// probeFromSandbox opens a TCP connection from inside the sandbox to each
// target (name, host:port; the port CONTROL is a listener the probe opens
// in the sandbox) and returns, by name, "open" or the error's type.
func probeFromSandbox(t *testing.T, b *bay, sandboxID string, targets [][2]string) map[string]string {
	t.Helper()
	list, err := json.Marshal(targets)
	require.NoError(t, err)
	code := `import json, socket
control = socket.socket()
control.bind(("127.0.0.1", 0))
control.listen()
def probe(addr):
    host, port = addr.rsplit(":", 1)
    port = control.getsockname()[1] if port == "CONTROL" else int(port)
    try:
        socket.create_connection((host, port), timeout=5).close()
        return "open"
    except Exception as e:
        return type(e).__name__
print(json.dumps({name: probe(addr) for name, addr in json.loads(` + strconv.Quote(string(list)) + `)}))
`
	res := python(t, b, sandboxID, code)
	require.True(t, res.Success, "error: %v", res.Error)
	got := map[string]string{}
	require.NoError(t, json.Unmarshal([]byte(res.Output), &got), "output: %s", res.Output)
	return got
}
