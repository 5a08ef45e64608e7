package test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// pauseProfiles: "pausing" pauses after a second of idleness and reclaims
// after 30; "pause-reclaim" reclaims after 4.
const pauseProfiles = `[
 {"id":"pausing","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"idle_pause":1,"idle_timeout":30},
 {"id":"pause-reclaim","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"idle_pause":1,"idle_timeout":4}
]`

// dockerPaused reports whether Docker has the container paused.
func dockerPaused(t *testing.T, id string) bool {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Paused}}", id).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out)) == "true"
}

// waitPaused polls the sandbox until it shows paused.
func waitPaused(t *testing.T, b *bay, id string) oapigen.Sandbox {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := b.C.GetSandboxWithResponse(bg, id)
		require.NoError(t, err)
		require.Equal(t, 200, got.StatusCode(), "body: %s", got.Body)
		if got.JSON200.Paused {
			return *got.JSON200
		}
		require.True(t, time.Now().Before(deadline), "the sandbox was never paused: %s", got.Body)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPause_ResumeKeepsTheKernel: a sandbox idle for its profile's
// idle_pause is paused in Docker, shows idle and paused, and the next call
// finds the interpreter's state; a crash of Bay while it is paused leaves
// the container paused, and the restarted Bay resumes it.
func TestPause_ResumeKeepsTheKernel(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			opts := bayOpts{engine: engine, env: []string{"BAY_PROFILES=" + pauseProfiles}}
			b := startBay(t, opts)
			opts.db, opts.instance = b.DB, b.Instance
			sb := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("pausing")})
			python(t, b, sb.Id, "x = 42")
			ids := containersOf(t, sb.Id)
			require.Len(t, ids, 1)
			cid := ids[0]

			got := waitPaused(t, b, sb.Id)
			require.Equal(t, oapigen.SandboxStatus("idle"), got.Status)
			require.Nil(t, got.StopReason, "a pause is no stop")
			require.NotNil(t, got.IdleExpiresAt, "the idle timeout still runs")
			require.Equal(t, "paused", (*got.Containers)[0].Status)
			require.True(t, dockerPaused(t, cid))

			// Resume: the same container, the kernel as it was. Every
			// round trip is timed for the log (never asserted).
			var took []time.Duration
			for i := range 5 {
				if i > 0 {
					waitPaused(t, b, sb.Id)
				}
				began := time.Now()
				out := python(t, b, sb.Id, "print(x)")
				took = append(took, time.Since(began))
				require.Equal(t, "42", out.Output)
				// A call that lands while a pause is under way may see the
				// freeze land after it; the pause then thaws at once.
				require.Eventually(t, func() bool { return !dockerPaused(t, cid) }, 10*time.Second, 20*time.Millisecond)
			}
			slices.Sort(took)
			t.Logf("resume + first python result: min %s, p50 %s, max %s", took[0], took[len(took)/2], took[len(took)-1])
			resumed, err := b.C.GetSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, oapigen.SandboxStatus("ready"), resumed.JSON200.Status)
			require.False(t, resumed.JSON200.Paused)
			require.Equal(t, []string{cid}, containersOf(t, sb.Id))
			require.GreaterOrEqual(t, b.metric("bay_sessions_paused_total"), 5.0)
			require.GreaterOrEqual(t, b.metric("bay_sessions_resumed_total"), 5.0)

			// Crash while paused: the container stays paused, the restarted
			// Bay adopts it and resumes it on the next call.
			waitPaused(t, b, sb.Id)
			require.EqualValues(t, 1, b.metric("bay_sessions_paused"))
			b.kill()
			require.True(t, dockerPaused(t, cid), "the crash leaves it paused")
			b.launch(opts)
			require.Equal(t, []string{cid}, containersOf(t, sb.Id), "not removed at start-up")
			require.True(t, dockerPaused(t, cid))
			got = waitPaused(t, b, sb.Id)
			require.Equal(t, oapigen.SandboxStatus("idle"), got.Status)
			require.Equal(t, "42", python(t, b, sb.Id, "print(x)").Output)
			require.Equal(t, []string{cid}, containersOf(t, sb.Id), "the same container")
			require.Eventually(t, func() bool { return !dockerPaused(t, cid) }, 10*time.Second, 20*time.Millisecond)

			// Stop works on a paused sandbox.
			waitPaused(t, b, sb.Id)
			stop, err := b.C.StopSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, 200, stop.StatusCode(), "body: %s", stop.Body)
			require.Empty(t, containersOf(t, sb.Id))
		})
	}
}

// TestPause_IdleTimeoutReclaimsPaused: the idle timeout still removes the
// container of a paused sandbox; the next call starts a new one.
func TestPause_IdleTimeoutReclaimsPaused(t *testing.T) {
	requireImages(t, "ship:latest")
	t.Parallel()
	b := startBay(t, bayOpts{engine: "sqlite", env: []string{
		"BAY_PROFILES=" + pauseProfiles,
		"BAY_GC__ENABLED=true", "BAY_GC__INTERVAL_SECONDS=1",
	}})
	sb := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("pause-reclaim")})
	python(t, b, sb.Id, "x = 1")
	ids := containersOf(t, sb.Id)
	require.Len(t, ids, 1)
	waitPaused(t, b, sb.Id)
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := b.C.GetSandboxWithResponse(bg, sb.Id)
		require.NoError(t, err)
		if got.JSON200.StopReason != nil && len(containersOf(t, sb.Id)) == 0 {
			require.Equal(t, "idle", string(*got.JSON200.StopReason))
			require.Equal(t, oapigen.SandboxStatus("idle"), got.JSON200.Status)
			require.False(t, got.JSON200.Paused)
			break
		}
		require.True(t, time.Now().Before(deadline), "idle GC did not reclaim the paused sandbox: %s", got.Body)
		time.Sleep(200 * time.Millisecond)
	}
	out := python(t, b, sb.Id, "print(1 + 1)")
	require.Equal(t, "2", out.Output)
	now := containersOf(t, sb.Id)
	require.Len(t, now, 1)
	require.NotEqual(t, ids[0], now[0], "a new container")
}
