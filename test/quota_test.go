package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestE2E_KeysAndQuotas: scoped keys on both engines, and per-owner limits
// that hold when two Bay instances share one database.
func TestE2E_KeysAndQuotas(t *testing.T) {
	t.Parallel()
	requireImages(t, "ship:latest")
	keys := `[{"key":"alice-key","owner":"alice","scopes":["sandboxes"]},{"key":"ops-key","owner":"ops","scopes":["admin","lockers"]}]`
	env := []string{
		"BAY_SECURITY__API_KEYS=" + keys,
		"BAY_SECURITY__ALLOW_ANONYMOUS=false",
		"BAY_QUOTAS__MAX_SANDBOXES=5",
		"BAY_QUOTAS__MAX_RUNNING_SESSIONS=1",
	}
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			first := startBay(t, bayOpts{engine: engine, env: env})
			second := startBay(t, bayOpts{engine: engine, db: first.DB, env: env})
			call := func(b *bay, method, path, key string) (int, map[string]any) {
				req, err := http.NewRequest(method, b.URL+path, strings.NewReader("{}"))
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				var body map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&body); err != io.EOF { // 204 has no body
					require.NoError(t, err)
				}
				return resp.StatusCode, body
			}

			// Scopes: each key reaches what it holds and gets 403 elsewhere.
			for _, c := range []struct {
				key, method, path string
				status            int
				scope             string
			}{
				{"alice-key", "GET", "/v1/sandboxes", 200, ""},
				{"alice-key", "GET", "/v1/lockers", 403, "lockers"},
				{"alice-key", "POST", "/v1/admin/gc/run", 403, "admin"},
				{"ops-key", "GET", "/v1/admin/gc/status", 200, ""},
				{"ops-key", "GET", "/v1/lockers", 200, ""},
				{"ops-key", "POST", "/v1/sandboxes", 403, "sandboxes"},
				{"nobody", "GET", "/v1/sandboxes", 401, ""},
			} {
				status, body := call(first, c.method, c.path, c.key)
				require.Equal(t, c.status, status, "%s %s with %s: %v", c.method, c.path, c.key, body)
				if c.scope != "" {
					e := body["error"].(map[string]any)
					require.Equal(t, "forbidden", e["code"])
					require.Equal(t, c.scope, e["details"].(map[string]any)["scope"])
				}
			}

			// 20 concurrent creates across two instances, limit 5: exactly 5.
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				statuses = map[int]int{}
				ids      []string
			)
			for i := range 20 {
				b := first
				if i%2 == 1 {
					b = second
				}
				wg.Go(func() {
					status, body := call(b, "POST", "/v1/sandboxes", "alice-key")
					mu.Lock()
					defer mu.Unlock()
					statuses[status]++
					switch status {
					case http.StatusCreated:
						ids = append(ids, body["id"].(string))
					case http.StatusTooManyRequests:
						e := body["error"].(map[string]any)
						require.Equal(t, "quota_exceeded", e["code"])
						require.Equal(t, map[string]any{"limit": "max_sandboxes", "max": float64(5), "current": float64(5)}, e["details"])
					}
				})
			}
			wg.Wait()
			require.Equal(t, map[int]int{http.StatusCreated: 5, http.StatusTooManyRequests: 15}, statuses)
			status, body := call(second, "GET", "/v1/sandboxes", "alice-key")
			require.Equal(t, 200, status)
			require.Len(t, body["items"], 5)

			// One running session at a time, whichever instance starts it.
			status, body = call(first, "POST", "/v1/sandboxes/"+ids[0]+"/keepalive", "alice-key")
			require.Equal(t, 200, status, "%v", body)
			run := func(b *bay, id string) (int, map[string]any) {
				req, err := http.NewRequest("POST", b.URL+"/v1/sandboxes/"+id+"/python/exec", strings.NewReader(`{"code":"print(6*7)"}`))
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer alice-key")
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				var out map[string]any
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
				return resp.StatusCode, out
			}
			status, body = run(first, ids[0])
			require.Equal(t, 200, status, "%v", body)
			require.Equal(t, "42", body["output"])
			status, body = run(second, ids[1])
			require.Equal(t, http.StatusTooManyRequests, status, "%v", body)
			require.Equal(t, "max_running_sessions", body["error"].(map[string]any)["details"].(map[string]any)["limit"])
			status, _ = call(second, "POST", "/v1/sandboxes/"+ids[0]+"/stop", "alice-key")
			require.Equal(t, 200, status)
			status, body = run(second, ids[1])
			require.Equal(t, 200, status, "stopping frees the slot: %v", body)

			// Deleting frees a sandbox slot.
			status, _ = call(first, "DELETE", "/v1/sandboxes/"+ids[0], "alice-key")
			require.Equal(t, 204, status, fmt.Sprint(ids))
			status, body = call(second, "POST", "/v1/sandboxes", "alice-key")
			require.Equal(t, http.StatusCreated, status, "%v", body)
		})
	}
}
