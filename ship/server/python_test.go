package server

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/ship/kernel"
)

func requireKernel(t *testing.T) {
	t.Helper()
	if p := kernel.FindPython(); !kernel.HasIPyKernel(p) {
		skipf(t, "python3 with ipykernel not found (%s; set SHIP_PYTHON or apt-get install python3-ipykernel)", p)
	}
}

func TestServer_Python(t *testing.T) {
	t.Parallel()
	requireKernel(t)
	b := setup(t)
	exec := func(t *testing.T, req map[string]any) map[string]any {
		t.Helper()
		code, out := b.post(t, "/ipython/exec", req)
		require.Equal(t, 200, code, out)
		return out
	}
	_, st := b.call(t, "GET", "/ipython/kernel/status", nil)
	require.Equal(t, "not_started", st["status"])
	require.Equal(t, false, st["has_kernel"])

	t.Run("ResultShape", func(t *testing.T) {
		out := exec(t, map[string]any{"code": "x = 42\nprint(x * 2)"})
		require.Equal(t, true, out["success"])
		require.Equal(t, map[string]any{"text": "84", "images": []any{}}, out["output"])
		require.Nil(t, out["error"])
		require.NotNil(t, out["execution_count"])
		require.Equal(t, false, out["kernel_restarted"])
		out = exec(t, map[string]any{"code": "import json\nprint(json.dumps({'a': [1, '<b>']}))"})
		require.Equal(t, `{"a": [1, "<b>"]}`, out["output"].(map[string]any)["text"])
	})
	t.Run("Error", func(t *testing.T) {
		out := exec(t, map[string]any{"code": "import nonexistent_mod_xyz"})
		require.Equal(t, false, out["success"])
		require.Contains(t, out["error"], "ModuleNotFoundError")
	})
	t.Run("SilentHasNoCount", func(t *testing.T) {
		out := exec(t, map[string]any{"code": "z = 1", "silent": true})
		require.Nil(t, out["execution_count"])
	})
	t.Run("Timeout", func(t *testing.T) {
		out := exec(t, map[string]any{"code": "import time\ntime.sleep(30)", "timeout": 1})
		require.Equal(t, false, out["success"])
		require.Equal(t, "Code execution timed out after 1 seconds", out["error"])
		out = exec(t, map[string]any{"code": "print(x)"})
		require.Equal(t, "42", out["output"].(map[string]any)["text"])
	})
	t.Run("ConcurrentRequestsDoNotMix", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, out := b.post(t, "/ipython/exec", map[string]any{"code": "print('n', " + string(rune('0'+i)) + ")"})
				require.Equal(t, 200, code)
				require.Equal(t, "n "+string(rune('0'+i)), out["output"].(map[string]any)["text"])
			}()
		}
		wg.Wait()
	})
	t.Run("CrashReportsRestart", func(t *testing.T) {
		out := exec(t, map[string]any{"code": "import os; os._exit(1)"})
		require.Equal(t, false, out["success"])
		out = exec(t, map[string]any{"code": "print(x)"})
		require.Equal(t, true, out["kernel_restarted"])
		require.Contains(t, out["error"], "NameError")
	})
	t.Run("KernelEndpoints", func(t *testing.T) {
		_, st := b.call(t, "GET", "/ipython/kernel/status", nil)
		require.Equal(t, "alive", st["status"])
		code, out := b.post(t, "/ipython/kernel/restart", nil)
		require.Equal(t, 200, code)
		require.Equal(t, "Kernel restarted successfully", out["message"])
		code, _ = b.call(t, "DELETE", "/ipython/kernel", nil)
		require.Equal(t, 200, code)
		code, out = b.call(t, "DELETE", "/ipython/kernel", nil)
		require.Equal(t, 404, code)
		require.Equal(t, "Kernel not found", out["detail"])
		out = exec(t, map[string]any{"code": "print('back')"})
		require.Equal(t, "back", out["output"].(map[string]any)["text"])
	})
}

func TestServer_PythonStartFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.kernel = kernel.NewManager(kernel.Config{Python: "/nonexistent/python3", Workspace: b.ws, StateDir: t.TempDir(), Identity: b.srv.cfg.Identity})
	code, out := b.post(t, "/ipython/exec", map[string]any{"code": "1"})
	require.Equal(t, 500, code)
	require.Contains(t, out["detail"], "Failed to execute code")
}
