package test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// TestE2E_Lockers: external lockers as a resource, direct file access
// without a runtime, the managed/external rules.
func TestE2E_Lockers(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine})
			cr, err := b.C.CreateLockerWithResponse(bg, nil, oapigen.CreateLockerRequest{SizeLimitMb: ptr(int64(512))})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, cr.StatusCode(), "body: %s", cr.Body)
			l := *cr.JSON201
			require.False(t, l.Managed)
			require.Nil(t, l.ManagedBySandboxId)
			require.EqualValues(t, 512, l.SizeLimitMb)
			require.True(t, volumeExists("bay-"+l.Id))

			// Direct writes and reads, no container.
			w, err := b.C.WriteLockerFileWithResponse(bg, l.Id, oapigen.WriteFileRequest{Path: "data/seed.txt", Content: "seed ✓\n"})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, w.StatusCode(), "body: %s", w.Body)
			r, err := b.C.ReadLockerFileWithResponse(bg, l.Id, oapigen.ReadLockerFileJSONRequestBody{Path: "data/seed.txt"})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, r.StatusCode(), "body: %s", r.Body)
			require.Equal(t, "seed ✓\n", r.JSON200.Content)
			st, h, body := b.raw("POST", "/v1/lockers/"+l.Id+"/files/read", strings.NewReader(`{"path":"nope.txt"}`), "Content-Type", "application/json")
			envelope(t, st, h, body, 404, "file_not_found")
			st, h, body = b.raw("POST", "/v1/lockers/"+l.Id+"/files/read", strings.NewReader(`{"path":"data"}`), "Content-Type", "application/json")
			envelope(t, st, h, body, 400, "validation_error")
			st, h, body = b.raw("POST", "/v1/lockers/"+l.Id+"/files/read", strings.NewReader(`{"path":"../x"}`), "Content-Type", "application/json")
			envelope(t, st, h, body, 400, "invalid_path")

			// A sandbox mounting it sees the file, as its own user.
			sb := createSandbox(t, b, oapigen.CreateSandboxRequest{LockerId: &l.Id})
			require.Equal(t, l.Id, *sb.LockerId)
			out := shell(t, b, sb.Id, "cat data/seed.txt && stat -c %U data/seed.txt data", nil)
			require.Equal(t, "seed ✓\nshipyard\nshipyard", out.Output)
			// A symlink the agent made never lets direct access out.
			shell(t, b, sb.Id, "ln -s /etc etc-link && echo 'from sandbox' > made.txt", nil)
			st, h, body = b.raw("POST", "/v1/lockers/"+l.Id+"/files/read", strings.NewReader(`{"path":"etc-link/passwd"}`), "Content-Type", "application/json")
			envelope(t, st, h, body, 400, "validation_error")
			r, err = b.C.ReadLockerFileWithResponse(bg, l.Id, oapigen.ReadLockerFileJSONRequestBody{Path: "made.txt"})
			require.NoError(t, err)
			require.Equal(t, "from sandbox\n", r.JSON200.Content)

			// Listing: external by default, managed on request.
			managed := createSandbox(t, b, oapigen.CreateSandboxRequest{})
			list, err := b.C.ListLockersWithResponse(bg, nil)
			require.NoError(t, err)
			require.Len(t, list.JSON200.Items, 1)
			require.Equal(t, l.Id, list.JSON200.Items[0].Id)
			st, _, body = b.raw("GET", "/v1/lockers?managed=true", nil)
			require.Equal(t, 200, st)
			require.Contains(t, string(body), *managed.LockerId)

			// Deletion rules.
			st, h, body = b.raw("DELETE", "/v1/lockers/"+l.Id, nil)
			d := envelope(t, st, h, body, 409, "conflict")
			require.Equal(t, []any{sb.Id}, d["active_sandbox_ids"])
			st, h, body = b.raw("DELETE", "/v1/lockers/"+*managed.LockerId, nil)
			d = envelope(t, st, h, body, 409, "conflict")
			require.Equal(t, managed.Id, d["managed_by_sandbox_id"])
			st, h, body = b.raw("DELETE", "/v1/lockers/"+l.Id, nil, "X-Owner", "someone-else")
			envelope(t, st, h, body, 404, "not_found")

			// Deleting the sandbox keeps the external locker and its bytes.
			dl, err := b.C.DeleteSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, http.StatusNoContent, dl.StatusCode())
			require.True(t, volumeExists("bay-"+l.Id))
			r, err = b.C.ReadLockerFileWithResponse(bg, l.Id, oapigen.ReadLockerFileJSONRequestBody{Path: "data/seed.txt"})
			require.NoError(t, err)
			require.Equal(t, "seed ✓\n", r.JSON200.Content)
			del, err := b.C.DeleteLockerWithResponse(bg, l.Id)
			require.NoError(t, err)
			require.Equal(t, http.StatusNoContent, del.StatusCode(), "body: %s", del.Body)
			require.False(t, volumeExists("bay-"+l.Id))
			st, h, body = b.raw("GET", "/v1/lockers/"+l.Id, nil)
			envelope(t, st, h, body, 404, "not_found")
		})
	}
}

func runGC(t *testing.T, b *bay, tasks ...string) oapigen.GCReport {
	t.Helper()
	req := oapigen.GCRunRequest{}
	if len(tasks) > 0 {
		req.Tasks = &tasks
	}
	resp, err := b.C.RunGCWithResponse(bg, req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode(), "body: %s", resp.Body)
	return *resp.JSON200
}

func taskResult(t *testing.T, r oapigen.GCReport, name string) oapigen.GCTaskResult {
	t.Helper()
	for _, x := range r.Results {
		if string(x.TaskName) == name {
			return x
		}
	}
	t.Fatalf("no %s in %+v", name, r)
	return oapigen.GCTaskResult{}
}

// TestE2E_GC: idle reclaim keeps files and says why; expiry deletes; a
// busy sandbox is never idle; orphan containers go; status reports.
func TestE2E_GC(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine})
			st, err := b.C.GetGCStatusWithResponse(bg)
			require.NoError(t, err)
			require.Equal(t, b.Instance, st.JSON200.InstanceId)
			require.False(t, st.JSON200.Enabled)
			require.False(t, st.JSON200.IsRunning)

			idle := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("short-idle-test")})
			_, err = b.C.WriteFileWithResponse(bg, idle.Id, oapigen.WriteFileRequest{Path: "keep.txt", Content: "kept"})
			require.NoError(t, err)
			busy := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("short-idle-test")})
			python(t, b, busy.Id, "1")
			expiring := createSandbox(t, b, oapigen.CreateSandboxRequest{Ttl: ptr(int64(1))})

			// A long call keeps its sandbox busy past the 2 s idle timeout.
			done := make(chan oapigen.PythonExecResult, 1)
			go func() {
				resp, err := b.C.ExecPythonWithResponse(bg, busy.Id, oapigen.PythonExecRequest{Code: "import time; time.sleep(5); print('done')", Timeout: ptr(30)})
				if err == nil && resp.JSON200 != nil {
					done <- *resp.JSON200
				}
				close(done)
			}()
			time.Sleep(3 * time.Second)

			rep := runGC(t, b)
			require.Equal(t, 1, taskResult(t, rep, "idle_session").CleanedCount, "the idle one, not the busy one")
			require.Equal(t, 1, taskResult(t, rep, "expired_sandbox").CleanedCount)
			require.Equal(t, 1, taskResult(t, rep, "orphan_locker").CleanedCount+boolInt(!volumeExists("bay-"+*expiring.LockerId)))
			require.Zero(t, rep.TotalErrors)
			res, ok := <-done
			require.True(t, ok, "the busy call finished")
			require.Equal(t, "done", res.Output)

			got, err := b.C.GetSandboxWithResponse(bg, idle.Id)
			require.NoError(t, err)
			require.Equal(t, oapigen.SandboxStatus("idle"), got.JSON200.Status)
			require.Equal(t, "idle", string(*got.JSON200.StopReason))
			require.Empty(t, containersOf(t, idle.Id))
			rd, err := b.C.ReadFileWithResponse(bg, idle.Id, &oapigen.ReadFileParams{Path: "keep.txt"})
			require.NoError(t, err)
			require.Equal(t, "kept", rd.JSON200.Content, "files survive idle reclaim")

			gone, err := b.C.GetSandboxWithResponse(bg, expiring.Id)
			require.NoError(t, err)
			require.Equal(t, 404, gone.StatusCode())
			require.False(t, volumeExists("bay-"+*expiring.LockerId))

			// An orphan container of this instance: its session row is gone.
			orphanSession := "sess-" + randHex(6)
			cid := strings.TrimSpace(run(t, "docker", "create", "--name", "bay-session-"+orphanSession,
				"--label", "bay.managed=true", "--label", "bay.instance_id="+b.Instance,
				"--label", "bay.session_id="+orphanSession, "--label", "bay.sandbox_id=sandbox-000000000000",
				"--label", "bay.locker_id=locker-000000000000", "--label", "bay.owner="+b.Owner, "ship:latest"))
			// And one of another instance that must never be touched.
			other := strings.TrimSpace(run(t, "docker", "create", "--name", "bay-session-sess-"+randHex(6),
				"--label", "bay.managed=true", "--label", "bay.instance_id=other-"+b.Instance,
				"--label", "bay.session_id=sess-000000000001", "--label", "bay.sandbox_id=sandbox-000000000000",
				"--label", "bay.locker_id=locker-000000000000", "--label", "bay.owner="+b.Owner, "ship:latest"))
			rep = runGC(t, b, "orphan_container")
			require.Len(t, rep.Results, 1)
			oc := rep.Results[0]
			require.Equal(t, 1, oc.CleanedCount)
			require.Equal(t, 2, oc.SkippedCount, "the two healthy sessions' containers")
			require.Error(t, exec.Command("docker", "inspect", cid).Run())
			require.NoError(t, exec.Command("docker", "inspect", other).Run())
			_ = exec.Command("docker", "rm", "-f", other).Run()
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %v: %s", name, args, out)
	return string(out)
}

// TestE2E_GCTwoInstances: two Bay processes on one database run GC at the
// same time; every idle sandbox is reclaimed once, without errors.
func TestE2E_GCTwoInstances(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			a := startBay(t, bayOpts{engine: engine})
			b2 := startBay(t, bayOpts{engine: engine, db: a.DB})
			b2.Owner = a.Owner
			const n = 6
			var ids []string
			for i := range n {
				p := a
				if i%2 == 1 {
					p = b2
				}
				sb := createSandbox(t, p, oapigen.CreateSandboxRequest{Profile: ptr("short-idle-test")})
				python(t, p, sb.Id, "1")
				ids = append(ids, sb.Id)
			}
			time.Sleep(2500 * time.Millisecond)
			var wg sync.WaitGroup
			reports := make([]oapigen.GCReport, 2)
			for i, p := range []*bay{a, b2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					reports[i] = runGC(t, p, "idle_session")
				}()
			}
			wg.Wait()
			cleaned := 0
			for _, r := range reports {
				require.Zero(t, r.TotalErrors, "%+v", r)
				cleaned += r.TotalCleaned
			}
			require.Equal(t, n, cleaned, "each sandbox reclaimed exactly once")
			for _, id := range ids {
				require.Empty(t, containersOf(t, id))
			}
		})
	}
}

// TestE2E_CrashMidStart kills Bay with SIGKILL at points during session
// starts and checks that a restart reconciles: no session left starting, no
// container of the instance without a session row, no byte of the locker
// lost, and the sandbox works again.
func TestE2E_CrashMidStart(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine})
			opts := bayOpts{engine: engine, db: b.DB, instance: b.Instance}
			for i, delay := range []time.Duration{0, 20 * time.Millisecond, 60 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond} {
				ext, err := b.C.CreateLockerWithResponse(bg, nil, oapigen.CreateLockerRequest{})
				require.NoError(t, err)
				lid := ext.JSON201.Id
				payload := fmt.Sprintf("precious %d %s\n", i, randHex(8))
				w, err := b.C.WriteLockerFileWithResponse(bg, lid, oapigen.WriteFileRequest{Path: "precious.txt", Content: payload})
				require.NoError(t, err)
				require.Equal(t, 200, w.StatusCode())
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
				out := run(t, "docker", "ps", "-a", "--filter", "label=bay.instance_id="+b.Instance, "--format", "{{.Label \"bay.session_id\"}}")
				for _, sid := range strings.Fields(out) {
					require.True(t, rows[sid], "delay %v: container of session %s has a row", delay, sid)
				}
				r, err := b.C.ReadLockerFileWithResponse(bg, lid, oapigen.ReadLockerFileJSONRequestBody{Path: "precious.txt"})
				require.NoError(t, err)
				require.Equal(t, 200, r.StatusCode(), "body: %s", r.Body)
				require.Equal(t, payload, r.JSON200.Content, "delay %v: locker bytes intact", delay)
				got, err := b.C.GetSandboxWithResponse(bg, sb.Id)
				require.NoError(t, err)
				require.NotEqual(t, oapigen.SandboxStatus("starting"), got.JSON200.Status)
				res := python(t, b, sb.Id, "print(open('precious.txt').read(), end='')")
				require.Equal(t, strings.TrimSpace(payload), res.Output)
				require.Len(t, containersOf(t, sb.Id), 1, "delay %v", delay)
			}
		})
	}
}

// queryStrings runs a read-only query on Bay's database from the outside.
func queryStrings(t *testing.T, engine, url, query string) []string {
	t.Helper()
	var db *sql.DB
	var err error
	if engine == "sqlite" {
		db, err = sql.Open("sqlite3", "file:"+strings.TrimPrefix(url, "sqlite:///")+"?mode=ro&_busy_timeout=5000")
	} else {
		db, err = sql.Open("pgx", url)
	}
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(query)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestE2E_Observability: Prometheus metrics after real traffic, and one
// JSON access log line per request with the request's identity.
func TestE2E_Observability(t *testing.T) {
	requireImages(t, "ship:latest")
	t.Parallel()
	b := startBay(t, bayOpts{engine: "sqlite"})
	sb := createSandbox(t, b, oapigen.CreateSandboxRequest{})
	python(t, b, sb.Id, "1")
	st, _, _ := b.raw("GET", "/v1/sandboxes/"+sb.Id, nil, "X-Request-Id", "trace-observability-1")
	require.Equal(t, 200, st)
	runGC(t, b)

	resp, err := http.Get(b.URL + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	m := string(body)
	for _, want := range []string{
		`bay_http_requests_total{route="POST /v1/sandboxes",status="201"} 1`,
		`bay_http_requests_total{route="GET /v1/sandboxes/{sandbox_id}",status="200"} 1`,
		`bay_http_request_duration_seconds_bucket{route="POST /v1/sandboxes/{sandbox_id}/python/exec",le="+Inf"} 1`,
		`bay_sandboxes{status="ready"} 1`,
		`bay_session_starts_total{outcome="success"} 1`,
		`bay_session_start_duration_seconds_count{outcome="success"} 1`,
		`bay_gc_runs_total 1`,
		`bay_gc_cleaned_total{task="idle_session"} 0`,
	} {
		require.Contains(t, m, want)
	}

	var line map[string]any
	for _, l := range strings.Split(b.logs.String(), "\n") {
		if strings.Contains(l, "trace-observability-1") {
			require.NoError(t, json.Unmarshal([]byte(l), &line), "a JSON log line: %s", l)
		}
	}
	require.NotNil(t, line, "an access log line carries the request id")
	require.Equal(t, "trace-observability-1", line["request_id"])
	require.Equal(t, sb.Id, line["sandbox_id"])
	require.Equal(t, b.Owner, line["owner"])
	require.Equal(t, "GET /v1/sandboxes/{sandbox_id}", line["route"])
	require.EqualValues(t, 200, line["status"])
	require.Contains(t, line, "duration_ms")
}

// TestE2E_GCScheduler: with gc.enabled the loop reclaims idle compute by
// itself, every interval, after a start-up cycle.
func TestE2E_GCScheduler(t *testing.T) {
	requireImages(t, "ship:latest")
	t.Parallel()
	b := startBay(t, bayOpts{engine: "sqlite", env: []string{
		"BAY_GC__ENABLED=true", "BAY_GC__RUN_ON_STARTUP=true", "BAY_GC__INTERVAL_SECONDS=1",
	}})
	st, err := b.C.GetGCStatusWithResponse(bg)
	require.NoError(t, err)
	require.True(t, st.JSON200.Enabled)
	require.Equal(t, 1, st.JSON200.IntervalSeconds)
	sb := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("short-idle-test")})
	python(t, b, sb.Id, "1")
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := b.C.GetSandboxWithResponse(bg, sb.Id)
		require.NoError(t, err)
		// The sandbox is released first, then its container removed.
		if got.JSON200.StopReason != nil && len(containersOf(t, sb.Id)) == 0 {
			require.Equal(t, "idle", string(*got.JSON200.StopReason))
			require.Equal(t, oapigen.SandboxStatus("idle"), got.JSON200.Status)
			break
		}
		require.True(t, time.Now().Before(deadline), "the scheduler did not reclaim the idle sandbox")
		time.Sleep(200 * time.Millisecond)
	}
	resp, err := http.Get(b.URL + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(body), `bay_gc_cleaned_total{task="idle_session"} 1`)
	require.NotContains(t, string(body), "bay_gc_runs_total 0")
}
