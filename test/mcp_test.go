package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// mcpTools is the tool table of agent-reach.md §4.2 when the configured
// profiles offer python, shell and filesystem.
var mcpTools = []string{
	"annotate_execution", "cancel_execution", "create_sandbox", "delete_file", "delete_sandbox", "execute_python",
	"execute_shell", "extend_sandbox_ttl", "get_execution", "get_execution_history", "get_last_execution", "get_sandbox",
	"get_sandbox_capabilities", "list_files", "list_profiles", "list_sandboxes", "read_file", "start_execution",
	"stop_sandbox", "write_file",
}

// headerTransport adds fixed headers to every request.
type headerTransport struct{ headers map[string]string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.headers {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// mcpClient connects to b's /mcp with the given headers (X-Owner or
// Authorization).
func mcpClient(t *testing.T, b *bay, opts *sdk.ClientOptions, headers ...string) *sdk.ClientSession {
	t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	client := sdk.NewClient(&sdk.Implementation{Name: "bay-e2e", Version: "0"}, opts)
	cs, err := client.Connect(context.Background(), &sdk.StreamableClientTransport{
		Endpoint:             b.URL + "/mcp",
		HTTPClient:           &http.Client{Transport: headerTransport{h}, Timeout: 180 * time.Second},
		DisableStandaloneSSE: true,
	}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// startMCPBay starts Bay for an MCP test; its race-detector reports fail
// the test (the binary is built with -race).
func startMCPBay(t *testing.T, o bayOpts) *bay {
	t.Helper()
	b := startBay(t, o)
	t.Cleanup(func() { require.NotContains(t, b.logs.String(), "WARNING: DATA RACE") })
	return b
}

func listToolNames(t *testing.T, cs *sdk.ClientSession) []string {
	t.Helper()
	var names []string
	for tool, err := range cs.Tools(context.Background(), nil) {
		require.NoError(t, err)
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// mcpCall calls a tool and returns the result and its structured content.
func mcpCall(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) (*sdk.CallToolResult, map[string]any) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err)
	var out map[string]any
	if res.StructuredContent != nil {
		b, err := json.Marshal(res.StructuredContent)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &out))
	}
	return res, out
}

// mcpOK calls a tool that must succeed.
func mcpOK(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) (*sdk.CallToolResult, map[string]any) {
	t.Helper()
	res, out := mcpCall(t, cs, name, args)
	require.False(t, res.IsError, "%s: %s", name, textOf(res))
	return res, out
}

// mcpFails calls a tool that must fail with code.
func mcpFails(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any, code string) map[string]any {
	t.Helper()
	res, out := mcpCall(t, cs, name, args)
	require.True(t, res.IsError, "%s: %s", name, textOf(res))
	e := out["error"].(map[string]any)
	require.Equal(t, code, e["code"], "%s: %s", name, textOf(res))
	require.True(t, strings.HasPrefix(textOf(res), "bay error ["+code+"] "), textOf(res))
	return e
}

func textOf(res *sdk.CallToolResult) string {
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			return tc.Text
		}
	}
	return ""
}

func imagesOf(res *sdk.CallToolResult) [][]byte {
	var out [][]byte
	for _, c := range res.Content {
		if ic, ok := c.(*sdk.ImageContent); ok {
			out = append(out, ic.Data)
		}
	}
	return out
}

// TestMCP covers agent-reach.md §4.6 on each database: the tool table, an
// agent's flow, truncation, errors and progress.
func TestMCP(t *testing.T) {
	requireImages(t, "ship:latest", "ship:data")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startMCPBay(t, bayOpts{engine: engine})
			var progressMu sync.Mutex
			var progress []*sdk.ProgressNotificationParams
			cs := mcpClient(t, b, &sdk.ClientOptions{
				ProgressNotificationHandler: func(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
					progressMu.Lock()
					progress = append(progress, req.Params)
					progressMu.Unlock()
				},
			}, "X-Owner", b.Owner)
			require.Equal(t, "bay", cs.InitializeResult().ServerInfo.Name)
			require.Contains(t, cs.InitializeResult().Instructions, "delete_sandbox")
			require.Equal(t, mcpTools, listToolNames(t, cs))

			// create → write_file → execute_python.
			_, sb := mcpOK(t, cs, "create_sandbox", map[string]any{"profile": "python-default"})
			id := sb["id"].(string)
			require.Regexp(t, `^sandbox-[0-9a-f]{12}$`, id)
			require.NotNil(t, sb["expires_at"], "mcp.default_ttl applies")
			_, w := mcpOK(t, cs, "write_file", map[string]any{"sandbox_id": id, "path": "out.txt", "content": "written by mcp"})
			require.Equal(t, "out.txt", w["path"])

			res, out := mcpOK(t, cs, "execute_python", map[string]any{"sandbox_id": id, "code": "print(6*7)", "tags": "demo,mcp"})
			require.Equal(t, "42", out["output"])
			require.Equal(t, true, out["success"])
			eid := out["execution_id"].(string)
			require.Regexp(t, execIDPattern, eid)
			require.True(t, strings.HasPrefix(textOf(res), "42\n[execution_id="+eid+" success=true time_ms="), textOf(res))

			// A traceback comes back without ANSI escapes in the text.
			res, out = mcpOK(t, cs, "execute_python", map[string]any{"sandbox_id": id, "code": "1/0"})
			require.Equal(t, false, out["success"])
			require.Contains(t, textOf(res), "ZeroDivisionError")
			require.NotContains(t, textOf(res), "\x1b[")

			// get_last_execution → annotate_execution.
			_, last := mcpOK(t, cs, "get_last_execution", map[string]any{"sandbox_id": id})
			require.Equal(t, out["execution_id"], last["id"])
			_, ann := mcpOK(t, cs, "annotate_execution", map[string]any{
				"sandbox_id": id, "execution_id": eid, "description": "the answer", "tags": "keep", "notes": "n",
			})
			require.Equal(t, "the answer", ann["description"])
			require.Equal(t, []any{"keep"}, ann["tags"])
			_, ann = mcpOK(t, cs, "annotate_execution", map[string]any{"sandbox_id": id, "execution_id": eid, "notes": nil})
			require.Nil(t, ann["notes"])
			require.Equal(t, "the answer", ann["description"], "an argument left out is kept")
			_, hist := mcpOK(t, cs, "get_execution_history", map[string]any{"sandbox_id": id, "tags": []string{"keep"}})
			require.Len(t, hist["items"], 1)

			// The file resource.
			read, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: "bay://sandboxes/" + id + "/files/out.txt"})
			require.NoError(t, err)
			require.Equal(t, "written by mcp", read.Contents[0].Text)
			require.Equal(t, "text/plain", read.Contents[0].MIMEType)
			_, err = cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: "bay://sandboxes/" + id + "/files/missing.txt"})
			var je *jsonrpc.Error
			require.True(t, errors.As(err, &je), "%v", err)
			require.EqualValues(t, -32002, je.Code)
			list, err := cs.ListResources(context.Background(), nil)
			require.NoError(t, err)
			require.Equal(t, "bay://sandboxes/"+id, list.Resources[0].URI)

			// 30 000 characters of output: cut, with the marker and the
			// record's URI, which has it whole.
			res, out = mcpOK(t, cs, "execute_python", map[string]any{"sandbox_id": id, "code": "print('x' * 30000)"})
			record := "bay://sandboxes/" + id + "/executions/" + out["execution_id"].(string)
			require.Equal(t, true, out["output_truncated"])
			require.Contains(t, out["output"], "\n…[truncated 18000 of 30000 chars; full record: "+record+"]…\n")
			require.Contains(t, textOf(res), "full record: "+record)
			require.Less(t, len(textOf(res)), 12500)
			read, err = cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: record})
			require.NoError(t, err)
			var row map[string]any
			require.NoError(t, json.Unmarshal([]byte(read.Contents[0].Text), &row))
			require.Equal(t, strings.Repeat("x", 30000), row["output"])

			// Progress: with a progress token the call streams and reports
			// its last output line.
			res, err = cs.CallTool(context.Background(), &sdk.CallToolParams{
				Name: "execute_shell", Meta: sdk.Meta{"progressToken": "p1"},
				Arguments: map[string]any{"sandbox_id": id, "command": "for i in 1 2 3; do echo step $i; sleep 1.2; done; echo done >&2"},
			})
			require.NoError(t, err)
			require.False(t, res.IsError, textOf(res))
			require.True(t, strings.HasPrefix(textOf(res), "step 1\nstep 2\nstep 3\nstderr:\ndone\n[execution_id="), textOf(res))
			// Notifications are handled beside the call's answer.
			require.Eventually(t, func() bool {
				progressMu.Lock()
				defer progressMu.Unlock()
				return len(progress) >= 2
			}, 5*time.Second, 20*time.Millisecond, "progress notifications")
			progressMu.Lock()
			require.Equal(t, "p1", progress[0].ProgressToken)
			require.True(t, strings.HasPrefix(progress[0].Message, "step "), progress[0].Message)
			progressMu.Unlock()

			// Async: start, wait, and cancel.
			_, started := mcpOK(t, cs, "start_execution", map[string]any{"sandbox_id": id, "kind": "shell", "code": "sleep 1; echo late", "timeout": 60})
			require.Equal(t, "async", started["mode"])
			_, done := mcpOK(t, cs, "get_execution", map[string]any{"sandbox_id": id, "execution_id": started["id"], "wait_seconds": 30})
			require.Equal(t, "finished", done["status"])
			require.Equal(t, "late\n", done["output"])
			_, long := mcpOK(t, cs, "start_execution", map[string]any{"sandbox_id": id, "kind": "python", "code": "import time; time.sleep(60)", "timeout": 600})
			mcpFails(t, cs, "execute_python", map[string]any{"sandbox_id": id, "code": "1"}, "conflict") // kernel busy
			// A cancel that reaches Ship before the execution does finds
			// nothing to stop: ask until it takes.
			deadline := time.Now().Add(30 * time.Second)
			for {
				if res, out := mcpCall(t, cs, "cancel_execution", map[string]any{"sandbox_id": id, "execution_id": long["id"]}); res.IsError {
					require.Equal(t, "conflict", out["error"].(map[string]any)["code"], "it ended meanwhile")
				}
				_, row := mcpOK(t, cs, "get_execution", map[string]any{"sandbox_id": id, "execution_id": long["id"], "wait_seconds": 3})
				if row["status"] != "running" {
					require.Equal(t, "cancelled", row["status"])
					break
				}
				require.True(t, time.Now().Before(deadline), "execution %s not cancelled", long["id"])
			}

			// An unknown sandbox is a tool error with the core's code.
			mcpFails(t, cs, "get_sandbox", map[string]any{"sandbox_id": "sandbox-000000000000"}, "not_found")
			mcpFails(t, cs, "get_sandbox", map[string]any{"sandbox_id": "sandbox-nope"}, "validation_error")

			// delete.
			_, del := mcpOK(t, cs, "delete_sandbox", map[string]any{"sandbox_id": id})
			require.Equal(t, true, del["deleted"])
			mcpFails(t, cs, "get_last_execution", map[string]any{"sandbox_id": id}, "not_found")

			status, _, metrics := b.raw("GET", "/metrics", nil)
			require.Equal(t, 200, status)
			require.Contains(t, string(metrics), `bay_mcp_tool_calls_total{tool="execute_python",outcome="success"} 3`)
			require.Contains(t, string(metrics), `bay_mcp_tool_calls_total{tool="get_sandbox",outcome="error"} 2`)
		})
	}
}

// TestMCP_Plot: a plot on the data image comes back as an image block.
func TestMCP_Plot(t *testing.T) {
	requireImages(t, "ship:data")
	t.Parallel()
	b := startMCPBay(t, bayOpts{engine: "sqlite"})
	cs := mcpClient(t, b, nil, "X-Owner", b.Owner)
	_, sb := mcpOK(t, cs, "create_sandbox", map[string]any{"profile": "python-data"})
	id := sb["id"].(string)
	res, out := mcpOK(t, cs, "execute_python", map[string]any{"sandbox_id": id,
		"code": "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()"})
	require.Equal(t, true, out["success"], textOf(res))
	require.EqualValues(t, 1, out["image_count"])
	imgs := imagesOf(res)
	require.Len(t, imgs, 1)
	require.Equal(t, []byte("\x89PNG\r\n\x1a\n"), imgs[0][:8])
	// The record keeps it too, and get_execution shows it as an image.
	res, _ = mcpOK(t, cs, "get_execution", map[string]any{"sandbox_id": id, "execution_id": out["execution_id"]})
	require.Len(t, imagesOf(res), 1)
	mcpOK(t, cs, "delete_sandbox", map[string]any{"sandbox_id": id})
}

// TestMCP_PythonOnly: a configuration without shell or filesystem has no
// shell or file tools.
func TestMCP_PythonOnly(t *testing.T) {
	t.Parallel()
	b := startMCPBay(t, bayOpts{engine: "sqlite", env: []string{
		`BAY_PROFILES=[{"id":"python-default","image":"ship:latest","runtime_port":8123,"capabilities":["python"],"idle_timeout":300}]`,
	}})
	cs := mcpClient(t, b, nil, "X-Owner", b.Owner)
	got := listToolNames(t, cs)
	var want []string
	for _, name := range mcpTools {
		switch name {
		case "execute_shell", "read_file", "write_file", "list_files", "delete_file":
		default:
			want = append(want, name)
		}
	}
	require.Equal(t, want, got)
}

// TestMCP_Auth: /mcp authenticates as the API does.
func TestMCP_Auth(t *testing.T) {
	t.Parallel()
	b := startMCPBay(t, bayOpts{engine: "sqlite", apiKey: "mcp-key"})
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	post := func(headers ...string) (int, http.Header, []byte) {
		return b.raw("POST", "/mcp", strings.NewReader(body), append([]string{
			"Content-Type", "application/json", "Accept", "application/json, text/event-stream",
		}, headers...)...)
	}
	status, hdr, data := post()
	envelope(t, status, hdr, data, 401, "unauthorized")
	require.Equal(t, `Bearer realm="bay"`, hdr.Get("WWW-Authenticate"))
	status, hdr, data = post("Authorization", "Bearer wrong")
	envelope(t, status, hdr, data, 401, "unauthorized")
	status, hdr, data = b.raw("GET", "/mcp", nil, "Authorization", "Bearer mcp-key")
	envelope(t, status, hdr, data, 405, "method_not_allowed")
	status, hdr, data = b.raw("DELETE", "/mcp", nil, "Authorization", "Bearer mcp-key")
	envelope(t, status, hdr, data, 405, "method_not_allowed")
	status, _, data = post("Authorization", "Bearer mcp-key")
	require.Equal(t, 200, status, "%s", data)
	require.Contains(t, string(data), `"name":"execute_python"`)

	cs := mcpClient(t, b, nil, "Authorization", "Bearer mcp-key")
	require.Equal(t, mcpTools, listToolNames(t, cs))
}

// TestMCP_OwnerIsolation: two X-Owners see nothing of each other.
func TestMCP_OwnerIsolation(t *testing.T) {
	requireImages(t, "ship:latest")
	t.Parallel()
	b := startMCPBay(t, bayOpts{engine: "sqlite"})
	alice := mcpClient(t, b, nil, "X-Owner", b.Owner)
	mallory := mcpClient(t, b, nil, "X-Owner", "mallory-"+randHex(4))
	_, sb := mcpOK(t, alice, "create_sandbox", nil)
	id := sb["id"].(string)
	mcpOK(t, alice, "write_file", map[string]any{"sandbox_id": id, "path": "secret.txt", "content": "alice's"})
	_, out := mcpOK(t, alice, "execute_shell", map[string]any{"sandbox_id": id, "command": "echo hi"})
	eid := out["execution_id"].(string)

	for _, call := range []struct {
		tool string
		args map[string]any
	}{
		{"get_sandbox", map[string]any{"sandbox_id": id}},
		{"read_file", map[string]any{"sandbox_id": id, "path": "secret.txt"}},
		{"execute_python", map[string]any{"sandbox_id": id, "code": "1"}},
		{"get_execution", map[string]any{"sandbox_id": id, "execution_id": eid}},
		{"annotate_execution", map[string]any{"sandbox_id": id, "execution_id": eid, "notes": "mine"}},
		{"delete_sandbox", map[string]any{"sandbox_id": id}},
	} {
		mcpFails(t, mallory, call.tool, call.args, "not_found")
	}
	_, list := mcpOK(t, mallory, "list_sandboxes", nil)
	require.Empty(t, list["items"])
	res, err := mallory.ListResources(context.Background(), nil)
	require.NoError(t, err)
	require.Empty(t, res.Resources)
	for _, uri := range []string{"bay://sandboxes/" + id + "/files/secret.txt", "bay://sandboxes/" + id + "/executions/" + eid, "bay://sandboxes/" + id} {
		_, err = mallory.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: uri})
		var je *jsonrpc.Error
		require.True(t, errors.As(err, &je), "%v", err)
		require.EqualValues(t, -32002, je.Code, uri)
	}
	_, got := mcpOK(t, alice, "read_file", map[string]any{"sandbox_id": id, "path": "secret.txt"})
	require.Equal(t, "alice's", got["content"])
	mcpOK(t, alice, "delete_sandbox", map[string]any{"sandbox_id": id})

	// A locker's file, read straight from its volume, by its owner only.
	status, _, locker := b.call("POST", "/v1/lockers", map[string]any{})
	require.Equal(t, 201, status, "%v", locker)
	lid := locker["id"].(string)
	status, _, _ = b.call("POST", "/v1/lockers/"+lid+"/files/write", map[string]any{"path": "notes/a.md", "content": "# kept"})
	require.Equal(t, 200, status)
	read, err := alice.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: "bay://lockers/" + lid + "/files/notes/a.md"})
	require.NoError(t, err)
	require.Equal(t, "# kept", read.Contents[0].Text)
	require.Equal(t, "text/markdown", read.Contents[0].MIMEType)
	for _, c := range []*sdk.ClientSession{alice, mallory} {
		uri := "bay://lockers/" + lid + "/files/notes/b.md"
		if c == mallory {
			uri = "bay://lockers/" + lid + "/files/notes/a.md"
		}
		_, err = c.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: uri})
		var je *jsonrpc.Error
		require.True(t, errors.As(err, &je), "%v", err)
		require.EqualValues(t, -32002, je.Code, uri)
	}
	status, _, _ = b.call("DELETE", "/v1/lockers/"+lid, nil)
	require.Equal(t, 204, status)
}

// bayMCP starts `bay mcp` against b and returns a client session on it.
func bayMCP(t *testing.T, b *bay, opts *sdk.ClientOptions, env ...string) *sdk.ClientSession {
	t.Helper()
	cmd := exec.Command(bayBin, "mcp")
	cmd.Env = append(os.Environ(), "BAY_URL="+b.URL, "BAY_OWNER="+b.Owner)
	cmd.Env = append(cmd.Env, env...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	client := sdk.NewClient(&sdk.Implementation{Name: "bay-e2e", Version: "0"}, opts)
	cs, err := client.Connect(context.Background(), &sdk.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err, "stderr: %s", stderr.String())
	t.Cleanup(func() {
		_ = cs.Close()
		require.NotContains(t, stderr.String(), "WARNING: DATA RACE")
		if t.Failed() {
			t.Logf("bay mcp stderr:\n%s", tail(stderr.String(), 4000))
		}
	})
	return cs
}

// TestMCP_Stdio covers `bay mcp`: the same tools plus the local two, a
// binary round trip through the local file tools, and the local root.
func TestMCP_Stdio(t *testing.T) {
	requireImages(t, "ship:latest")
	t.Parallel()
	b := startMCPBay(t, bayOpts{engine: "sqlite"})
	root := t.TempDir()
	progress := make(chan *sdk.ProgressNotificationParams, 16)
	cs := bayMCP(t, b, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
			select {
			case progress <- req.Params:
			default:
			}
		},
	}, "BAY_MCP_LOCAL_ROOT="+root)
	require.Equal(t, "bay", cs.InitializeResult().ServerInfo.Name)
	want := append(slices.Clone(mcpTools), "download_file", "upload_file")
	slices.Sort(want)
	require.Equal(t, want, listToolNames(t, cs))
	var templates []string
	for rt, err := range cs.ResourceTemplates(context.Background(), nil) {
		require.NoError(t, err)
		templates = append(templates, rt.URITemplate)
	}
	require.ElementsMatch(t, []string{"bay://sandboxes/{sandbox_id}/files/{+path}", "bay://lockers/{locker_id}/files/{+path}",
		"bay://sandboxes/{sandbox_id}/executions/{execution_id}"}, templates)

	_, sb := mcpOK(t, cs, "create_sandbox", nil)
	id := sb["id"].(string)

	// 3 MiB of random bytes, up and down again, byte for byte.
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	require.NoError(t, os.WriteFile(filepath.Join(root, "blob.bin"), data, 0o600))
	_, up := mcpOK(t, cs, "upload_file", map[string]any{"sandbox_id": id, "local_path": "blob.bin", "sandbox_path": "in/blob.bin"})
	require.EqualValues(t, len(data), up["bytes"])
	require.Equal(t, "in/blob.bin", up["sandbox_path"])
	_, down := mcpOK(t, cs, "download_file", map[string]any{"sandbox_id": id, "sandbox_path": "in/blob.bin", "local_path": "back/blob.bin"})
	require.EqualValues(t, len(data), down["bytes"])
	got, err := os.ReadFile(filepath.Join(root, "back", "blob.bin"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got), "the round trip changed the bytes")
	// No temporary file is left beside the target.
	entries, err := os.ReadDir(filepath.Join(root, "back"))
	require.NoError(t, err)
	require.Len(t, entries, 1)

	// An existing target is kept unless overwrite is true.
	mcpFails(t, cs, "download_file", map[string]any{"sandbox_id": id, "sandbox_path": "in/blob.bin", "local_path": "back/blob.bin"}, "conflict")
	mcpOK(t, cs, "download_file", map[string]any{"sandbox_id": id, "sandbox_path": "in/blob.bin", "local_path": "back/blob.bin", "overwrite": true})

	// Paths outside BAY_MCP_LOCAL_ROOT are refused, symbolic links included.
	outside := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(outside, []byte("private"), 0o600))
	mcpFails(t, cs, "upload_file", map[string]any{"sandbox_id": id, "local_path": outside}, "invalid_path")
	mcpFails(t, cs, "upload_file", map[string]any{"sandbox_id": id, "local_path": "../" + filepath.Base(filepath.Dir(outside)) + "/secret"}, "invalid_path")
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "link")))
	mcpFails(t, cs, "upload_file", map[string]any{"sandbox_id": id, "local_path": "link"}, "invalid_path")
	mcpFails(t, cs, "download_file", map[string]any{"sandbox_id": id, "sandbox_path": "in/blob.bin", "local_path": outside + ".copy"}, "invalid_path")
	_, err = os.Stat(outside + ".copy")
	require.True(t, os.IsNotExist(err))

	// Remote calls go through the proxy unchanged, errors included.
	_, out := mcpOK(t, cs, "execute_shell", map[string]any{"sandbox_id": id, "command": "sha256sum in/blob.bin | cut -c1-8"})
	require.Len(t, strings.TrimSpace(out["output"].(string)), 8)
	mcpFails(t, cs, "get_sandbox", map[string]any{"sandbox_id": "sandbox-000000000000"}, "not_found")
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{
		Name: "execute_python", Meta: sdk.Meta{"progressToken": 7},
		Arguments: map[string]any{"sandbox_id": id, "code": "import time\nfor i in range(3):\n    print('tick', i, flush=True); time.sleep(1.2)"},
	})
	require.NoError(t, err)
	require.False(t, res.IsError, textOf(res))
	select {
	case p := <-progress:
		require.EqualValues(t, 7, p.ProgressToken)
		require.True(t, strings.HasPrefix(p.Message, "tick "), p.Message)
	case <-time.After(5 * time.Second):
		t.Fatal("no progress notification came through the proxy")
	}
	read, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: "bay://sandboxes/" + id + "/files/in/"})
	require.NoError(t, err)
	require.Contains(t, read.Contents[0].Text, "blob.bin")
	_, err = cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: "bay://sandboxes/" + id + "/files/in/blob.bin"})
	var je *jsonrpc.Error
	require.True(t, errors.As(err, &je), "%v", err)
	require.EqualValues(t, -32602, je.Code, "3 MiB is over mcp.max_resource_bytes")
	mcpOK(t, cs, "delete_sandbox", map[string]any{"sandbox_id": id})
}

// TestMCP_StdioUnreachable: `bay mcp` gives up after 3 tries in 5 s.
func TestMCP_StdioUnreachable(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	cmd := exec.Command(bayBin, "mcp", "--url", "http://127.0.0.1:"+strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "BAY_URL=http://ignored.invalid")
	var stderr, stdout bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &stdout
	start := time.Now()
	err := cmd.Run()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v", err)
	require.Equal(t, 1, exit.ExitCode())
	require.Less(t, time.Since(start), 8*time.Second)
	require.Contains(t, stderr.String(), "unreachable")
	require.Empty(t, stdout.String(), "stdout is the protocol only")
}
