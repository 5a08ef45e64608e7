package containertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// getJSON decodes the answer of an authorized GET.
func (s *ship) getJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	resp := s.get(t, path)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// TestImages_Capabilities checks GET /capabilities against the images:
// the inventory build.sh writes (numpy only in ship:data), the container's
// limits and the sudo rule (agent-reach.md §6.1).
func TestImages_Capabilities(t *testing.T) {
	t.Parallel()
	for image, numpy := range map[string]bool{"ship:latest": false, "ship:data": true} {
		t.Run(image, func(t *testing.T) {
			t.Parallel()
			s := start(t, image, "", "--cpus", "1.5", "--security-opt", "no-new-privileges")
			doc := s.getJSON(t, "/capabilities")
			meta := s.getJSON(t, "/meta")
			caps := doc["capabilities"].(map[string]any)
			for key, c := range meta["capabilities"].(map[string]any) {
				require.Equal(t, c.(map[string]any)["operations"], caps[key].(map[string]any)["operations"], key)
			}
			require.Len(t, caps, len(meta["capabilities"].(map[string]any)))

			py := caps["python"].(map[string]any)
			require.True(t, strings.HasPrefix(py["version"].(string), "3."), "%v", py["version"])
			require.NotEmpty(t, py["engine_version"])
			packages := py["packages"].(map[string]any)
			require.Contains(t, packages, "ipykernel")
			if numpy {
				require.Contains(t, packages, "numpy")
			} else {
				require.NotContains(t, packages, "numpy")
			}
			tools := caps["shell"].(map[string]any)["tools"].(map[string]any)
			require.Contains(t, tools, "git")
			require.Contains(t, tools, "curl")

			require.Equal(t, map[string]any{"name": "shipyard", "uid": 1000.0, "home": "/workspace", "sudo": false}, doc["user"])
			require.Equal(t, "debian", doc["os"].(map[string]any)["id"])
			require.Equal(t, map[string]any{"memory_bytes": float64(1 << 30), "cpus": 1.5, "pids": 256.0}, doc["limits"])
			require.Equal(t, image, doc["runtime"].(map[string]any)["image"])
		})
	}
	t.Run("SudoWithoutNoNewPrivileges", func(t *testing.T) {
		t.Parallel()
		s := start(t, "ship:latest", "")
		require.Equal(t, true, s.getJSON(t, "/capabilities")["user"].(map[string]any)["sudo"])
	})
}

// TestShip_StreamArrivesLive checks that streamed output crosses the
// container's network as it is printed, not at the end.
func TestShip_StreamArrivesLive(t *testing.T) {
	t.Parallel()
	s := start(t, "ship:latest", "")
	for path, body := range map[string]map[string]any{
		"/ipython/exec/stream": {"code": "import time\nfor i in range(3):\n    print(i, flush=True); time.sleep(1)"},
		"/shell/exec/stream":   {"command": "for i in 0 1 2; do echo $i; sleep 1; done"},
	} {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(raw))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp := s.do(t, req)
		require.Equal(t, 200, resp.StatusCode, path)
		require.Equal(t, "application/x-ndjson", resp.Header.Get("Content-Type"))
		var stdoutAt []time.Time
		var last map[string]any
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var ev map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &ev))
			if ev["type"] == "stdout" {
				stdoutAt = append(stdoutAt, time.Now())
			}
			last = ev
		}
		resp.Body.Close()
		require.Len(t, stdoutAt, 3, path)
		require.Greater(t, stdoutAt[2].Sub(stdoutAt[0]), 1500*time.Millisecond, "%s: prints arrive ~1 s apart", path)
		require.Equal(t, "end", last["type"])
		require.Equal(t, true, last["success"])
	}
}
