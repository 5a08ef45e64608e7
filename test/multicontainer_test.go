package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// fakeRuntimeImage is cmd/fakeship's image (images/build.sh fake): it
// serves /health and /meta and wants the runtime token; with
// FAKE_RUNTIME=browser it stands in for the browser runtime on
// $BROWSERD_PORT, which Bay sets to the container's port.
const fakeRuntimeImage = "bay-fake-runtime:latest"

// multiProfiles are the profiles of the multi-container tests: Ship owning
// the network with a browser container of the fake image (browser.md
// §1.1). In mc-hang the second is the fake in its Ship mode on 8124 while
// the profile declares 8125, so its readiness never comes; in mc-missing
// its image does not exist.
func multiProfiles() string {
	container := func(image string, port int, env string) string {
		return fmt.Sprintf(`{"name":"fake","runtime_type":"browser","image":%q,"port":%d,"env":%s,`+
			`"resources":{"memory":"128m","pids":64,"shm":"16m"},"capabilities":["browser"]}`, image, port, env)
	}
	ship := `{"name":"ship","runtime_type":"ship","image":"ship:latest","port":8123,"capabilities":["filesystem","shell","python"]}`
	profile := func(id, second string) string {
		return `{"id":"` + id + `","idle_timeout":300,"containers":[` + ship + `,` + second + `]}`
	}
	return `[
 {"id":"python-default","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"idle_timeout":300},
 ` + profile("mc", container(fakeRuntimeImage, 8124, `{"FAKE_RUNTIME":"browser"}`)) + `,
 ` + profile("mc-hang", container(fakeRuntimeImage, 8125, `{"SHIP_PORT":"8124"}`)) + `,
 ` + profile("mc-missing", container("bay-missing-image:none", 8124, `{}`)) + `
]`
}

func startMultiBay(t *testing.T, engine string) *bay {
	return startBay(t, bayOpts{engine: engine, env: []string{"BAY_PROFILES=" + multiProfiles()}})
}

// inspect returns docker inspect's view of a container.
func inspect(t *testing.T, id string) map[string]any {
	t.Helper()
	var out []map[string]any
	require.NoError(t, json.Unmarshal([]byte(run(t, "docker", "inspect", id)), &out))
	require.Len(t, out, 1)
	return out[0]
}

// sandboxContainers maps the name of each container of a sandbox (its
// bay.container label) to its inspect.
func sandboxContainers(t *testing.T, sandboxID string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, id := range containersOf(t, sandboxID) {
		c := inspect(t, id)
		labels := c["Config"].(map[string]any)["Labels"].(map[string]any)
		out[labels["bay.container"].(string)] = c
	}
	return out
}

// TestMultiContainer_Lifecycle: a sandbox of two containers sharing one
// network namespace and one Locker; Python works through Ship, the second
// container is reachable from Ship on 127.0.0.1 and wants the session's
// token; stop and delete remove both.
func TestMultiContainer_Lifecycle(t *testing.T) {
	requireImages(t, "ship:latest", fakeRuntimeImage)
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startMultiBay(t, engine)

			profiles, err := b.C.ListProfilesWithResponse(bg)
			require.NoError(t, err)
			var mc *oapigen.Profile
			for i := range profiles.JSON200.Items {
				if p := &profiles.JSON200.Items[i]; p.Id == "mc" {
					mc = p
				}
			}
			require.NotNil(t, mc)
			require.Equal(t, []string{"filesystem", "shell", "python", "browser"}, mc.Capabilities)
			require.Equal(t, "ship:latest", mc.Image)
			require.Len(t, mc.Containers, 2)
			require.Equal(t, "fake", mc.Containers[1].Name)
			require.Equal(t, "browser", mc.Containers[1].RuntimeType)
			require.Equal(t, "128m", mc.Containers[1].Resources.Memory)
			require.EqualValues(t, 64, mc.Containers[1].Resources.Pids)

			sb := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("mc")})
			res := python(t, b, sb.Id, "print(6*7)")
			require.True(t, res.Success, "error: %v", res.Error)
			require.Equal(t, "42", strings.TrimSpace(res.Output))

			cs := sandboxContainers(t, sb.Id)
			require.Len(t, cs, 2)
			ship, fake := cs["ship"], cs["fake"]
			require.NotNil(t, ship)
			require.NotNil(t, fake)
			sessionID := ship["Config"].(map[string]any)["Labels"].(map[string]any)["bay.session_id"].(string)
			require.Equal(t, "/bay-session-"+sessionID, ship["Name"])
			require.Equal(t, "/bay-session-"+sessionID+"-fake", fake["Name"])
			fl := fake["Config"].(map[string]any)["Labels"].(map[string]any)
			require.Equal(t, "browser", fl["bay.runtime_type"])
			require.Equal(t, "8124", fl["bay.runtime_port"])
			require.Equal(t, sb.Id, fl["bay.sandbox_id"])
			fhc := fake["HostConfig"].(map[string]any)
			require.Equal(t, "container:"+ship["Id"].(string), fhc["NetworkMode"], "one network namespace")
			require.Equal(t, "1000:1000", fake["Config"].(map[string]any)["User"])
			require.Equal(t, []any{"ALL"}, fhc["CapDrop"])
			require.Equal(t, true, fhc["ReadonlyRootfs"])
			require.EqualValues(t, 16<<20, fhc["ShmSize"])
			shc := ship["HostConfig"].(map[string]any)
			require.Contains(t, shc["PortBindings"], "8124/tcp", "the owner publishes the other's port")
			for _, c := range []map[string]any{ship, fake} {
				mounts := c["Mounts"].([]any)
				require.True(t, slices.ContainsFunc(mounts, func(m any) bool {
					mm := m.(map[string]any)
					return mm["Name"] == "bay-"+*sb.LockerId && mm["Destination"] == "/workspace"
				}), "one Locker: %v", mounts)
			}

			got, err := b.C.GetSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.NotNil(t, got.JSON200.Containers)
			require.Equal(t, []oapigen.SandboxContainer{
				{Name: "ship", RuntimeType: "ship", Status: "running"},
				{Name: "fake", RuntimeType: "browser", Status: "running"},
			}, *got.JSON200.Containers)

			// From Ship, the other runtime is on 127.0.0.1, and wants the
			// session's token like Ship does (browser.md §6).
			probe := python(t, b, sb.Id, `import urllib.request, urllib.error
print(urllib.request.urlopen('http://127.0.0.1:8124/health', timeout=5).status)
try:
    urllib.request.urlopen('http://127.0.0.1:8124/meta', timeout=5)
except urllib.error.HTTPError as e:
    print(e.code)`)
			require.True(t, probe.Success, "error: %v", probe.Error)
			require.Equal(t, "200\n401", strings.TrimSpace(probe.Output))

			// Stop removes both; the next call starts both again.
			stop, err := b.C.StopSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, stop.StatusCode())
			require.Empty(t, containersOf(t, sb.Id))
			python(t, b, sb.Id, "1")
			require.Len(t, containersOf(t, sb.Id), 2)

			// One container that cannot be made rolls the other back.
			failing := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("mc-missing")})
			st, hdr, body := b.raw("POST", "/v1/sandboxes/"+failing.Id+"/python/exec", strings.NewReader(`{"code":"1"}`), "Content-Type", "application/json")
			envelope(t, st, hdr, body, http.StatusInternalServerError, "internal_error")
			require.Empty(t, containersOf(t, failing.Id), "Ship's container is removed too")
			got, err = b.C.GetSandboxWithResponse(bg, failing.Id)
			require.NoError(t, err)
			require.Equal(t, oapigen.SandboxStatus("failed"), got.JSON200.Status)

			dl, err := b.C.DeleteSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, http.StatusNoContent, dl.StatusCode())
			require.Empty(t, containersOf(t, sb.Id))
			require.False(t, volumeExists("bay-"+*sb.LockerId))
		})
	}
}

// TestMultiContainer_OrphanGC: a leftover second container of a session
// whose row is gone is an orphan like any other.
func TestMultiContainer_OrphanGC(t *testing.T) {
	requireImages(t, "ship:latest", fakeRuntimeImage)
	t.Parallel()
	b := startMultiBay(t, "sqlite")
	orphanSession := "sess-" + randHex(6)
	cid := strings.TrimSpace(run(t, "docker", "create", "--name", "bay-session-"+orphanSession+"-fake",
		"--label", "bay.managed=true", "--label", "bay.instance_id="+b.Instance,
		"--label", "bay.session_id="+orphanSession, "--label", "bay.sandbox_id=sandbox-000000000000",
		"--label", "bay.locker_id=locker-000000000000", "--label", "bay.owner="+b.Owner,
		"--label", "bay.container=fake", "--label", "bay.runtime_type=browser", fakeRuntimeImage))
	// A running two-container session is left alone.
	sb := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("mc")})
	python(t, b, sb.Id, "1")
	rep := runGC(t, b, "orphan_container")
	oc := taskResult(t, rep, "orphan_container")
	require.Equal(t, 1, oc.CleanedCount)
	require.Equal(t, 2, oc.SkippedCount, "the live session's two containers")
	require.Error(t, exec.Command("docker", "inspect", cid).Run())
	require.Len(t, containersOf(t, sb.Id), 2)
}

// TestMultiContainer_CrashMidStart: Bay killed while the containers of a
// session wait for readiness; the restarted Bay removes both and fails the
// session.
func TestMultiContainer_CrashMidStart(t *testing.T) {
	requireImages(t, "ship:latest", fakeRuntimeImage)
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startMultiBay(t, engine)
			sb := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("mc-hang")})
			go func() {
				_, _ = b.C.ExecPythonWithResponse(bg, sb.Id, oapigen.PythonExecRequest{Code: "print(1)"})
			}()
			require.Eventually(t, func() bool {
				out, err := exec.Command("docker", "ps", "-q", "--filter", "label=bay.sandbox_id="+sb.Id, "--filter", "status=running").Output()
				return err == nil && len(strings.Fields(string(out))) == 2
			}, 60*time.Second, 50*time.Millisecond, "both containers run, waiting for readiness")
			require.NotEmpty(t, queryStrings(t, engine, b.DB, "SELECT id FROM sessions WHERE observed_state = 'starting'"))
			b.kill()
			require.Len(t, containersOf(t, sb.Id), 2, "the crash leaves both")

			b.launch(bayOpts{engine: engine, db: b.DB, instance: b.Instance, env: []string{"BAY_PROFILES=" + multiProfiles()}})
			require.Empty(t, containersOf(t, sb.Id), "reconcile removed both")
			require.Empty(t, queryStrings(t, engine, b.DB, "SELECT id FROM sessions WHERE observed_state = 'starting'"))
			require.Empty(t, queryStrings(t, engine, b.DB, "SELECT session_id FROM session_containers"), "no container rows of a failed start")
			got, err := b.C.GetSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, oapigen.SandboxStatus("failed"), got.JSON200.Status)
			require.Equal(t, "error", string(*got.JSON200.StopReason))
		})
	}
}
