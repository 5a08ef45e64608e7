package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The extra keys the SDK's live tests use: one without the sandboxes scope
// (403 forbidden) and one for an owner allowed a single locker (429
// quota_exceeded). The JSON body limit is lowered so that a 413 answer
// arrives while the request is still small enough for the client to read
// it (with a large body the server closes the connection mid-request).
const (
	sdkKey        = "k"
	sdkScopedKey  = "k-sdk-scoped"
	sdkQuotaKey   = "k-sdk-quota"
	sdkMaxBody    = 262144
	sdkPytestTime = 15 * time.Minute
)

// sdkPython is a python3 (≥ 3.10) that imports httpx and pytest: the one
// on PATH, else the system's (a pyenv or venv python3 on PATH may lack the
// Debian packages scripts/test-deps.sh installs).
func sdkPython(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		check := exec.Command(path, "-c", "import sys, httpx, pytest; sys.exit(sys.version_info < (3, 10))")
		check.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
		if out, err := check.CombinedOutput(); err == nil {
			return path
		} else {
			tried = append(tried, fmt.Sprintf("%s: %s", path, strings.TrimSpace(tail(string(out), 200))))
		}
	}
	need(t, false, "no python3 >= 3.10 with httpx and pytest (scripts/test-deps.sh installs python3-httpx "+
		"and python3-pytest); tried: "+strings.Join(tried, "; "))
	return ""
}

// pyLitter lists the caches Python and pytest leave in a tree.
func pyLitter(t *testing.T, root string) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "__pycache__" || d.Name() == ".pytest_cache") {
			found[path] = true
			return filepath.SkipDir
		}
		return nil
	})
	require.NoError(t, err)
	return found
}

// TestPythonSDK runs the Python SDK's test suite (sdk/python/tests: the unit
// tests, and the live ones since BAY_URL is set) against the real Bay with an
// API key, on each database.
func TestPythonSDK(t *testing.T) {
	py := sdkPython(t)
	requireImages(t, "ship:latest")
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	sdkDir := filepath.Join(root, "sdk", "python")
	_, err = os.Stat(filepath.Join(sdkDir, "tests"))
	require.NoError(t, err, "the SDK's tests are missing")
	before := pyLitter(t, sdkDir)

	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			keys, err := json.Marshal([]map[string]any{
				{"key": sdkScopedKey, "owner": "sdk-scoped", "scopes": []string{"lockers"}},
				{"key": sdkQuotaKey, "owner": "sdk-quota"},
			})
			require.NoError(t, err)
			b := startBay(t, bayOpts{engine: engine, apiKey: sdkKey, env: []string{
				"BAY_SECURITY__API_KEYS=" + string(keys),
				`BAY_QUOTAS__OWNERS={"sdk-quota":{"max_lockers":1}}`,
				fmt.Sprintf("BAY_SERVER__MAX_BODY_BYTES=%d", sdkMaxBody),
				"BAY_LOCKER__ENFORCE_SIZE_LIMITS=off",
			}})
			// Runs before Bay stops (cleanups run last first): what a failed
			// test left behind belongs to owners the harness does not sweep.
			t.Cleanup(func() {
				for _, key := range []string{sdkKey, sdkQuotaKey} {
					sdkSweep(t, b, key)
				}
			})

			ctx, cancel := context.WithTimeout(context.Background(), sdkPytestTime)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
				"sdk/python/tests")
			cmd.Dir = root
			cmd.WaitDelay = 10 * time.Second
			cmd.Env = append(os.Environ(),
				"BAY_URL="+b.URL,
				"BAY_API_KEY="+sdkKey,
				"BAY_ENDPOINT=", "BAY_TOKEN=", "BAY_TIMEOUT=", "BAY_MAX_RETRIES=",
				"BAY_TEST_SCOPED_KEY="+sdkScopedKey,
				"BAY_TEST_QUOTA_KEY="+sdkQuotaKey,
				fmt.Sprintf("BAY_TEST_MAX_BODY_BYTES=%d", sdkMaxBody),
				"PYTHONDONTWRITEBYTECODE=1",
				"PYTHONUNBUFFERED=1",
			)
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("pytest did not finish within %s:\n%s", sdkPytestTime, out)
			}
			if err != nil {
				t.Fatalf("pytest failed (%v):\n%s", err, out)
			}
			t.Logf("pytest (%s):\n%s", engine, tail(string(out), 4000))
			require.Contains(t, string(out), " passed")
			// Every live test has what it needs here: a skip is a gap.
			if strict() && strings.Contains(string(out), " skipped") {
				t.Fatalf("pytest skipped tests, and BAY_TEST_STRICT forbids skipping:\n%s", out)
			}
		})
	}

	t.Cleanup(func() {
		// No cache may be left in the tree by this run.
		for dir := range pyLitter(t, sdkDir) {
			if !before[dir] {
				t.Errorf("the SDK's tests left %s behind", dir)
				_ = os.RemoveAll(dir)
			}
		}
	})
}

// sdkSweep deletes every sandbox and locker the key's owner still has.
func sdkSweep(t *testing.T, b *bay, key string) {
	t.Helper()
	client := &http.Client{Timeout: 60 * time.Second}
	do := func(method, path string) (int, []byte) {
		req, err := http.NewRequest(method, b.URL+path, nil)
		if err != nil {
			return 0, nil
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	ids := func(path string) []string {
		var all []string
		cursor := ""
		for range 100 {
			p := path + "limit=200"
			if cursor != "" {
				p += "&cursor=" + url.QueryEscape(cursor)
			}
			status, body := do("GET", p)
			if status != http.StatusOK {
				return all
			}
			var page struct {
				Items []struct {
					ID string `json:"id"`
				} `json:"items"`
				NextCursor *string `json:"next_cursor"`
			}
			if json.Unmarshal(body, &page) != nil {
				return all
			}
			for _, it := range page.Items {
				all = append(all, it.ID)
			}
			if page.NextCursor == nil || *page.NextCursor == "" {
				return all
			}
			cursor = *page.NextCursor
		}
		return all
	}
	left := 0
	for _, id := range ids("/v1/sandboxes?") {
		left++
		do("DELETE", "/v1/sandboxes/"+id)
	}
	for _, id := range ids("/v1/lockers?managed=false&") {
		left++
		do("DELETE", "/v1/lockers/"+id)
	}
	if left > 0 && !t.Failed() {
		t.Errorf("the SDK's tests left %d sandboxes or lockers behind", left)
	}
}
