package server

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/ship/kernel"
	"github.com/bayhq/bay/ship/wire"
)

// fakeHost writes the files /capabilities reads into a temp dir: cgroup
// limits, os-release, a process status with NoNewPrivs nnp, and (when
// inventory is not empty) an inventory.
func fakeHost(t *testing.T, nnp, inventory string) HostFiles {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	h := HostFiles{
		Inventory:  filepath.Join(dir, "inventory.json"),
		CgroupDir:  filepath.Join(dir, "cgroup"),
		ProcStatus: write("status", "Name:\tship\nNoNewPrivs:\t"+nnp+"\nSeccomp:\t2\n"),
		OSRelease:  write("os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"),
		Sudo:       write("sudo", ""),
	}
	write("cgroup/memory.max", "1073741824\n")
	write("cgroup/cpu.max", "150000 100000\n")
	write("cgroup/pids.max", "max\n")
	if inventory != "" {
		write("inventory.json", inventory)
	}
	return h
}

// rawGet returns the body of an authorized GET.
func (b *bundle) rawGet(t *testing.T, path string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.url+path, nil)
	require.NoError(t, err)
	resp := b.do(t, req)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return raw
}

const testInventory = `{"python": {"version": "3.11.2", "ipykernel": "6.17.0"},
 "packages": {"numpy": "1.24.2", "ipykernel": "6.17.0"}, "tools": {"git": "2.39.5", "curl": "7.88.1"}}`

func TestServer_Capabilities(t *testing.T) {
	t.Parallel()
	host := fakeHost(t, "1", testInventory)
	b := setupWith(t, func(c *Config) {
		c.Host = host
		c.Image = "ship:data"
	})
	_, doc := b.call(t, "GET", wire.PathCapabilities, nil)
	_, meta := b.call(t, "GET", wire.PathMeta, nil)

	t.Run("KeysAndOperationsEqualMeta", func(t *testing.T) {
		caps := doc["capabilities"].(map[string]any)
		metaCaps := meta["capabilities"].(map[string]any)
		require.Len(t, caps, len(metaCaps))
		for key, mc := range metaCaps {
			require.Contains(t, caps, key)
			require.Equal(t, mc.(map[string]any)["operations"], caps[key].(map[string]any)["operations"], key)
		}
		require.Equal(t, []any{"exec", "exec_stream", "cancel"}, caps["python"].(map[string]any)["operations"])
		require.Equal(t, []any{"exec", "exec_stream", "cancel", "processes"}, caps["shell"].(map[string]any)["operations"])
	})
	t.Run("Document", func(t *testing.T) {
		require.Equal(t, "v1", doc["api_version"])
		require.Equal(t, map[string]any{"name": "ship", "version": "1.2.3-test", "image": "ship:data", "image_digest": nil}, doc["runtime"])
		require.Equal(t, map[string]any{"id": "debian", "version_id": "12"}, doc["os"])
		user := doc["user"].(map[string]any)
		require.Equal(t, b.ws, user["home"])
		require.Equal(t, float64(os.Getuid()), user["uid"])
		require.NotEmpty(t, user["name"])
		require.Equal(t, false, user["sudo"], "no-new-privileges is on")
		require.Equal(t, map[string]any{"mount_path": b.ws}, doc["workspace"])
		require.Equal(t, map[string]any{"memory_bytes": 1073741824.0, "cpus": 1.5, "pids": nil}, doc["limits"])

		caps := doc["capabilities"].(map[string]any)
		py := caps["python"].(map[string]any)
		require.Equal(t, "3.11.2", py["version"])
		require.Equal(t, "ipykernel", py["engine"])
		require.Equal(t, "6.17.0", py["engine_version"])
		require.Equal(t, map[string]any{"numpy": "1.24.2", "ipykernel": "6.17.0"}, py["packages"])
		require.Len(t, py["display_mime_types"], len(kernel.DisplayMIMETypes()))
		sh := caps["shell"].(map[string]any)
		require.Equal(t, "/bin/bash", sh["shell"])
		require.Equal(t, map[string]any{"git": "2.39.5", "curl": "7.88.1"}, sh["tools"])
		term := caps["terminal"].(map[string]any)
		require.Equal(t, map[string]any{"operations": []any{"ws"}, "protocol": "websocket", "resize": true,
			"term": "xterm-256color"}, term)
	})
	t.Run("ConstantAndCheap", func(t *testing.T) {
		first := b.rawGet(t, wire.PathCapabilities)
		// The files changing later does not change the answer.
		require.NoError(t, os.WriteFile(filepath.Join(host.CgroupDir, "pids.max"), []byte("64\n"), 0o644))
		require.Equal(t, first, b.rawGet(t, wire.PathCapabilities))
		require.Equal(t, kernel.StatusNotStarted, b.srv.Kernel().Status(), "/capabilities never touches the kernel")
	})
}

func TestServer_CapabilitiesWithoutInventory(t *testing.T) {
	t.Parallel()
	host := fakeHost(t, "0", "")
	host.CgroupDir = filepath.Join(t.TempDir(), "none")
	b := setupWith(t, func(c *Config) { c.Host = host })
	_, doc := b.call(t, "GET", wire.PathCapabilities, nil)
	caps := doc["capabilities"].(map[string]any)
	py := caps["python"].(map[string]any)
	for _, k := range []string{"version", "engine_version", "packages"} {
		require.NotContains(t, py, k, "no inventory, no %s", k)
	}
	require.Equal(t, "ipykernel", py["engine"])
	require.NotContains(t, caps["shell"], "tools")
	require.Equal(t, map[string]any{"memory_bytes": nil, "cpus": nil, "pids": nil}, doc["limits"])
	require.Equal(t, true, doc["user"].(map[string]any)["sudo"], "no-new-privileges off and sudo installed")
}

func TestCanSudo(t *testing.T) {
	t.Parallel()
	on := fakeHost(t, "0", "")
	require.True(t, canSudo(on))
	require.False(t, canSudo(fakeHost(t, "1", "")))
	noBinary := on
	noBinary.Sudo = filepath.Join(t.TempDir(), "sudo")
	require.False(t, canSudo(noBinary), "sudo not installed")
	noStatus := on
	noStatus.ProcStatus = filepath.Join(t.TempDir(), "status")
	require.False(t, canSudo(noStatus))
}

func TestReadLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{"memory.max": "max\n", "cpu.max": "max 100000\n", "pids.max": "256\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	l := readLimits(dir)
	require.Nil(t, l.MemoryBytes)
	require.Nil(t, l.CPUs)
	require.Equal(t, int64(256), *l.PIDs)
}

func TestReadLimits_CgroupV1(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"memory/memory.limit_in_bytes": "1073741824\n", "cpu/cpu.cfs_quota_us": "50000\n",
		"cpu/cpu.cfs_period_us": "100000\n", "pids/pids.max": "max\n",
	} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	l := readLimits(dir)
	require.Equal(t, int64(1<<30), *l.MemoryBytes)
	require.Equal(t, 0.5, *l.CPUs)
	require.Nil(t, l.PIDs)

	// No limits: v1's huge memory value and a quota of -1.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "memory/memory.limit_in_bytes"), []byte("9223372036854771712\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cpu/cpu.cfs_quota_us"), []byte("-1\n"), 0o644))
	l = readLimits(dir)
	require.Nil(t, l.MemoryBytes)
	require.Nil(t, l.CPUs)
}

func TestServer_MetaOperations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, meta := b.call(t, "GET", wire.PathMeta, nil)
	caps := meta["capabilities"].(map[string]any)
	py := caps["python"].(map[string]any)
	require.Equal(t, []any{"exec", "exec_stream", "cancel"}, py["operations"])
	require.Equal(t, "ipython", py["engine"])
	require.Equal(t, map[string]any{"exec": "/ipython/exec", "exec_stream": "/ipython/exec/stream",
		"cancel": "/exec/{exec_id}/cancel"}, py["endpoints"])
	sh := caps["shell"].(map[string]any)
	require.Equal(t, []any{"exec", "exec_stream", "cancel", "processes"}, sh["operations"])
	require.Equal(t, "/shell/exec/stream", sh["endpoints"].(map[string]any)["exec_stream"])
	// Every operation names a route the server serves.
	for _, c := range capabilityTable {
		for _, op := range c.operations {
			require.True(t, b.srv.paths[op.path], "%s.%s: %s is not routed", c.key, op.name, op.path)
		}
	}
}
