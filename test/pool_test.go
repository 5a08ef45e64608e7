package test

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// poolProfiles has a profile keeping a warm pool of size and the default
// profile without one.
func poolProfiles(size int) string {
	return fmt.Sprintf(`[
 {"id":"python-default","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"idle_timeout":300},
 {"id":"pooled","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"idle_timeout":300,"warm_pool":{"size":%d}}
]`, size)
}

// poolContainers lists the ids of the pooled profile's containers of an
// instance, claimed or not.
func poolContainers(t *testing.T, instance string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=bay.instance_id="+instance,
		"--filter", "label=bay.profile_id=pooled").Output()
	require.NoError(t, err)
	return strings.Fields(string(out))
}

// label reads one label of a container; "" when it is gone.
func label(t *testing.T, id, key string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", `{{index .Config.Labels "`+key+`"}}`, id).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// metric reads one series of Bay's /metrics; -1 when it is absent.
func (b *bay) metric(series string) float64 {
	b.t.Helper()
	resp, err := http.Get(b.URL + "/metrics")
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(b.t, err)
	return v
}

// waitPool waits until the pooled profile has n ready entries.
func (b *bay) waitPool(n int) {
	b.t.Helper()
	deadline := time.Now().Add(180 * time.Second)
	for b.metric(`bay_pool_size{profile="pooled"}`) != float64(n) {
		if time.Now().After(deadline) {
			b.t.Fatalf("the pool did not reach %d ready entries; bay_pool_size=%v", n, b.metric(`bay_pool_size{profile="pooled"}`))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// removePoolVolumes removes, when t ends, the volumes of the pool
// containers seen: unclaimed entries' volumes have no owner, so the
// harness's clean-up by owner misses them.
func removePoolVolumes(t *testing.T) func(ids []string) {
	var (
		mu      sync.Mutex
		lockers []string
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range lockers {
			_ = exec.Command("docker", "volume", "rm", "-f", "bay-"+l).Run()
		}
	})
	return func(ids []string) {
		for _, id := range ids {
			l := label(t, id, "bay.locker_id")
			if l == "" {
				continue
			}
			mu.Lock()
			lockers = append(lockers, l)
			mu.Unlock()
		}
	}
}

func TestWarmPool(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			track := removePoolVolumes(t)
			b := startBay(t, bayOpts{engine: engine, env: []string{"BAY_PROFILES=" + poolProfiles(2)}})
			b.waitPool(2)
			warm := poolContainers(t, b.Instance)
			require.Len(t, warm, 2, "one container per entry")
			track(warm)
			for _, id := range warm {
				require.Empty(t, label(t, id, "bay.owner"), "an unclaimed entry belongs to no owner")
			}

			// Orphan-container GC leaves the pool alone: its containers'
			// sessions have no rows until a claim.
			status, _, rep := b.call("POST", "/v1/admin/gc/run", map[string]any{"tasks": []string{"orphan_container"}})
			require.Equal(t, http.StatusOK, status, "%v", rep)
			require.ElementsMatch(t, warm, poolContainers(t, b.Instance), "GC removed a pool container: %v", rep)

			// A create is served from the pool: the sandbox is ready at once,
			// on one of the warm containers, with the kernel's count fresh.
			sb := b.newSandbox("pooled")
			_, _, info := b.call("GET", "/v1/sandboxes/"+sb, nil)
			require.Equal(t, "ready", info["status"], "%v", info)
			mine := containersOf(t, sb)
			require.Len(t, mine, 1)
			require.Contains(t, warm, mine[0], "the sandbox runs on a warm container")
			status, _, out := b.call("POST", "/v1/sandboxes/"+sb+"/python/exec", map[string]any{"code": "x = 6 * 7\nprint(x)"})
			require.Equal(t, http.StatusOK, status, "%v", out)
			require.Equal(t, "42", strings.TrimSpace(out["output"].(string)), "%v", out)
			require.EqualValues(t, 1, out["data"].(map[string]any)["execution_count"], "the warm-up left no trace in the kernel's count")
			require.Equal(t, float64(1), b.metric(`bay_pool_claims_total{profile="pooled",result="hit"}`))
			lockerA := info["locker_id"].(string)
			status, _, _ = b.call("GET", "/v1/lockers/"+lockerA, nil)
			require.Equal(t, http.StatusOK, status, "the claimed locker is the owner's")
			status, _, out = b.call("PUT", "/v1/sandboxes/"+sb+"/filesystem/files", map[string]any{"path": "secret.txt", "content": "owner A"})
			require.Equal(t, http.StatusOK, status, "%v", out)

			// The pool refills after the claim, with a new container.
			b.waitPool(2)
			refilled := poolContainers(t, b.Instance)
			track(refilled)
			require.Len(t, refilled, 3, "two ready entries and the claimed sandbox")

			// Another owner never sees anything of the first: not its
			// locker, not its files, not its container.
			other := *b
			other.Owner = "owner-" + randHex(4)
			t.Cleanup(func() { cleanupDocker(b.Instance, other.Owner) })
			status, _, _ = other.call("GET", "/v1/lockers/"+lockerA, nil)
			require.Equal(t, http.StatusNotFound, status)
			sb2 := other.newSandbox("pooled")
			claimed := containersOf(t, sb2)
			require.NotContains(t, mine, containersOf(t, sb2)[0])
			_, _, info2 := other.call("GET", "/v1/sandboxes/"+sb2, nil)
			require.NotEqual(t, lockerA, info2["locker_id"])
			status, _, out = other.call("POST", "/v1/sandboxes/"+sb2+"/shell/exec", map[string]any{"command": "ls -A /workspace; cat /workspace/secret.txt"})
			require.Equal(t, http.StatusOK, status, "%v", out)
			require.NotContains(t, fmt.Sprint(out["output"]), "owner A")

			// Deleting a pooled sandbox removes its container and locker: a
			// volume is never handed out twice.
			status, _, _ = b.call("DELETE", "/v1/sandboxes/"+sb, nil)
			require.Equal(t, http.StatusNoContent, status)
			require.Empty(t, containersOf(t, sb))
			require.False(t, volumeExists("bay-"+lockerA), "the claimed locker's volume is gone with its sandbox")

			// Creates beyond the pool fall back to the lazy path and work.
			b.waitPool(2)
			var ids []string
			for range 3 {
				ids = append(ids, b.newSandbox("pooled"))
			}
			require.GreaterOrEqual(t, b.metric(`bay_pool_claims_total{profile="pooled",result="miss"}`), float64(1))
			for _, id := range ids {
				status, _, out := b.call("POST", "/v1/sandboxes/"+id+"/python/exec", map[string]any{"code": "print('ok')"})
				require.Equal(t, http.StatusOK, status, "%v", out)
				claimed = append(claimed, containersOf(t, id)...)
			}
			// An external locker is never served from the pool.
			status, _, l := b.call("POST", "/v1/lockers", map[string]any{})
			require.Equal(t, http.StatusCreated, status, "%v", l)
			ext := b.newSandbox("pooled", "locker_id", l["id"].(string))
			_, _, info = b.call("GET", "/v1/sandboxes/"+ext, nil)
			require.Equal(t, "idle", info["status"], "no runtime until the first call")
			track(poolContainers(t, b.Instance))

			// Pool size follows the configuration: a restart with none drains
			// the entries, their containers and volumes.
			b.waitPool(2)
			var entries, volumes []string
			for _, id := range poolContainers(t, b.Instance) {
				if !slices.Contains(claimed, id) {
					entries = append(entries, id)
					volumes = append(volumes, "bay-"+label(t, id, "bay.locker_id"))
				}
			}
			require.Len(t, entries, 2)
			b.stop()
			b.launch(bayOpts{engine: engine, db: b.DB, instance: b.Instance, env: []string{"BAY_PROFILES=" + poolProfiles(0)}})
			require.Eventually(t, func() bool {
				left := 0
				for _, id := range poolContainers(t, b.Instance) {
					if slices.Contains(entries, id) {
						left++
					}
				}
				return left == 0
			}, 60*time.Second, 100*time.Millisecond, "the drained entries' containers are removed")
			for _, v := range volumes {
				require.Eventually(t, func() bool { return !volumeExists(v) }, 30*time.Second, 100*time.Millisecond,
					"the drained entry's volume %s is removed", v)
			}
			for _, id := range claimed {
				require.Contains(t, poolContainers(t, b.Instance), id, "a claimed sandbox's container is not the pool's to drain")
			}
		})
	}
}

// running reports whether a container runs.
func running(id string) bool {
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", id).Output()
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

func TestWarmPoolCrashRecovery(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			track := removePoolVolumes(t)
			opts := bayOpts{engine: engine, env: []string{"BAY_PROFILES=" + poolProfiles(2)}}
			b := startBay(t, opts)
			opts.db, opts.instance = b.DB, b.Instance

			// Killed while filling: the entry's container exists, its
			// kernel is not warm yet.
			require.Eventually(t, func() bool { return len(poolContainers(t, b.Instance)) > 0 }, 60*time.Second, 5*time.Millisecond)
			b.kill()
			leftovers := poolContainers(t, b.Instance)
			track(leftovers)
			b.launch(opts)
			b.waitPool(2)
			now := poolContainers(t, b.Instance)
			track(now)
			require.Len(t, now, 2, "the fill the crash interrupted was dropped, not left beside the new entries")
			for _, id := range leftovers {
				if !slices.Contains(now, id) {
					require.False(t, running(id), "a leftover container of the crashed fill is removed")
				}
			}

			// A ready entry whose container died while Bay was down is
			// dropped and refilled, never handed out.
			dead := now[0]
			b.kill()
			require.NoError(t, exec.Command("docker", "rm", "-f", dead).Run())
			b.launch(opts)
			b.waitPool(2)
			now = poolContainers(t, b.Instance)
			track(now)
			require.NotContains(t, now, dead)
			require.Len(t, now, 2)

			// One that dies while Bay runs is found at the claim.
			require.NoError(t, exec.Command("docker", "rm", "-f", now[0]).Run())
			for range 2 {
				sb := b.newSandbox("pooled")
				status, _, out := b.call("POST", "/v1/sandboxes/"+sb+"/python/exec", map[string]any{"code": "print('alive')"})
				require.Equal(t, http.StatusOK, status, "%v", out)
				require.Equal(t, "alive", strings.TrimSpace(out["output"].(string)))
				require.NotContains(t, containersOf(t, sb), now[0])
			}
			b.waitPool(2)
			track(poolContainers(t, b.Instance))
		})
	}
}

func TestWarmPoolTwoInstances(t *testing.T) {
	requireImages(t, "ship:latest")
	if len(engines(t)) < 2 {
		return
	}
	track := removePoolVolumes(t)
	env := []string{"BAY_PROFILES=" + poolProfiles(3)}
	a := startBay(t, bayOpts{engine: "postgres", env: env})
	c := startBay(t, bayOpts{engine: "postgres", db: a.DB, env: env})
	c.Owner = a.Owner
	a.waitPool(3)
	all := func() []string { return append(poolContainers(t, a.Instance), poolContainers(t, c.Instance)...) }
	// Both instances refill one pool: it is never filled twice over.
	time.Sleep(2 * time.Second)
	require.Len(t, all(), 3, "two instances keep one pool of 3")
	track(all())

	// Creates through both instances at once: no entry is handed out twice.
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids []string
	)
	for i := range 6 {
		via := a
		if i%2 == 1 {
			via = c
		}
		wg.Go(func() {
			status, _, out := via.call("POST", "/v1/sandboxes", map[string]any{"profile": "pooled"})
			if status != http.StatusCreated {
				t.Errorf("create: %d %v", status, out)
				return
			}
			mu.Lock()
			ids = append(ids, out["id"].(string))
			mu.Unlock()
		})
	}
	wg.Wait()
	require.Len(t, ids, 6)
	hits := a.metric(`bay_pool_claims_total{profile="pooled",result="hit"}`) + c.metric(`bay_pool_claims_total{profile="pooled",result="hit"}`)
	require.LessOrEqual(t, hits, float64(3))
	require.GreaterOrEqual(t, hits, float64(1))
	seen := map[string]string{}
	for _, id := range ids {
		status, _, out := a.call("POST", "/v1/sandboxes/"+id+"/python/exec", map[string]any{"code": "import os; print(os.environ['BAY_SANDBOX_ID'])"})
		require.Equal(t, http.StatusOK, status, "%v", out)
		require.Equal(t, id, strings.TrimSpace(out["output"].(string)), "each sandbox runs on its own runtime")
		for _, cid := range containersOf(t, id) {
			require.Empty(t, seen[cid], "container %s serves %s and %s", cid, seen[cid], id)
			seen[cid] = id
		}
	}
	a.waitPool(3)
	track(all())
}
