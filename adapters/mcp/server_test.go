package mcp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// fakeSandboxes answers from memory and records which calls reached it.
type fakeSandboxes struct {
	profiles []core.Profile
	mu       sync.Mutex
	calls    []string
	files    map[string][]byte
}

func (f *fakeSandboxes) called(name string) {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	f.mu.Unlock()
}

func (f *fakeSandboxes) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

const knownSandbox = "sandbox-0123456789ab"

func (f *fakeSandboxes) lookup(owner, id string) error {
	if id != knownSandbox || owner != "default" {
		return core.NotFound("Sandbox not found: %s", id)
	}
	return nil
}

func (f *fakeSandboxes) Create(ctx context.Context, owner string, in core.CreateSandboxInput) (*core.SandboxInfo, error) {
	f.called("Create")
	return &core.SandboxInfo{ID: knownSandbox, Status: core.StatusIdle, Profile: in.Profile, CreatedAt: time.Unix(0, 0)}, nil
}

func (f *fakeSandboxes) Get(ctx context.Context, owner, id string) (*core.SandboxInfo, error) {
	f.called("Get")
	if err := f.lookup(owner, id); err != nil {
		return nil, err
	}
	return &core.SandboxInfo{ID: id, Status: core.StatusIdle, Profile: "p", CreatedAt: time.Unix(0, 0)}, nil
}

func (f *fakeSandboxes) List(ctx context.Context, owner, cursor string, limit int, status string) (core.Page[core.SandboxInfo], error) {
	f.called("List")
	return core.Page[core.SandboxInfo]{Items: []core.SandboxInfo{{ID: knownSandbox, Status: core.StatusIdle, Profile: "p"}}}, nil
}

func (f *fakeSandboxes) ExtendTTL(ctx context.Context, owner, id string, by int64) (*core.SandboxInfo, error) {
	f.called("ExtendTTL")
	return nil, f.lookup(owner, id)
}

func (f *fakeSandboxes) Stop(ctx context.Context, owner, id string) error {
	f.called("Stop")
	return f.lookup(owner, id)
}

func (f *fakeSandboxes) Delete(ctx context.Context, owner, id string) error {
	f.called("Delete")
	return f.lookup(owner, id)
}

func (f *fakeSandboxes) Profiles() []core.Profile { return f.profiles }

func (f *fakeSandboxes) ReadFile(ctx context.Context, owner, id, path string) (string, error) {
	f.called("ReadFile")
	if err := f.lookup(owner, id); err != nil {
		return "", err
	}
	b, ok := f.files[path]
	if !ok {
		return "", core.Errorf(core.CodeFileNotFound, "File not found: %s", path)
	}
	return string(b), nil
}

func (f *fakeSandboxes) WriteFile(ctx context.Context, owner, id, path, content string) error {
	f.called("WriteFile")
	return f.lookup(owner, id)
}

func (f *fakeSandboxes) DeleteFile(ctx context.Context, owner, id, path string) error {
	f.called("DeleteFile")
	return f.lookup(owner, id)
}

func (f *fakeSandboxes) ListDir(ctx context.Context, owner, id, path string) ([]core.FileEntry, error) {
	f.called("ListDir")
	return []core.FileEntry{}, f.lookup(owner, id)
}

func (f *fakeSandboxes) Upload(ctx context.Context, owner, id, path string, body io.Reader) (*core.UploadResult, error) {
	f.called("Upload")
	if err := f.lookup(owner, id); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	return &core.UploadResult{Path: path, Size: int64(len(b))}, nil
}

func (f *fakeSandboxes) Download(ctx context.Context, owner, id, path string) (*core.Download, error) {
	f.called("Download")
	if err := f.lookup(owner, id); err != nil {
		return nil, err
	}
	b, ok := f.files[path]
	if !ok {
		return nil, core.Errorf(core.CodeFileNotFound, "File not found: %s", path)
	}
	return &core.Download{Name: path, Size: int64(len(b)), Body: io.NopCloser(strings.NewReader(string(b)))}, nil
}

func (f *fakeSandboxes) SandboxCapabilities(ctx context.Context, owner, id string, refresh bool) (*core.SandboxCapabilities, error) {
	f.called("SandboxCapabilities")
	return nil, f.lookup(owner, id)
}

// fakeExecutions runs python by echoing and records calls.
type fakeExecutions struct {
	sb     *fakeSandboxes
	output string
}

func (f *fakeExecutions) Exec(ctx context.Context, owner, id string, in core.ExecInput) (*core.ExecOutcome, error) {
	f.sb.called("Exec")
	if err := f.sb.lookup(owner, id); err != nil {
		return nil, err
	}
	ms, count := int64(12), int64(1)
	e := &core.Execution{ID: "exec-00000000000a", SandboxID: id, Kind: in.Kind, ExecutionTimeMs: &ms}
	if in.Kind == core.ExecShell {
		code := int64(2)
		errText := "\x1b[31mboom\x1b[0m"
		return &core.ExecOutcome{Execution: e, Shell: &core.ShellResult{Output: f.output, Error: &errText, ExitCode: &code}}, nil
	}
	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG fake"))
	return &core.ExecOutcome{Execution: e, Python: &core.PythonResult{
		Success: true, Output: f.output, ExecutionCount: &count,
		Data: map[string]any{"images": []any{map[string]any{"image/png": png}}},
	}}, nil
}

func (f *fakeExecutions) Start(ctx context.Context, owner, id string, mode core.ExecutionMode, in core.ExecInput) (*core.Run, error) {
	f.sb.called("Start")
	return nil, f.sb.lookup(owner, id)
}

func (f *fakeExecutions) List(ctx context.Context, owner, id string, fl core.ExecutionFilter) ([]core.Execution, *core.ExecutionCursor, error) {
	f.sb.called("ExecList")
	return nil, nil, f.sb.lookup(owner, id)
}

func (f *fakeExecutions) Get(ctx context.Context, owner, id, execID string, wait time.Duration) (*core.Execution, error) {
	f.sb.called("ExecGet")
	if err := f.sb.lookup(owner, id); err != nil {
		return nil, err
	}
	return nil, core.NotFound("Execution not found: %s", execID)
}

func (f *fakeExecutions) Last(ctx context.Context, owner, id string, kind core.ExecutionKind) (*core.Execution, error) {
	f.sb.called("Last")
	return nil, f.sb.lookup(owner, id)
}

func (f *fakeExecutions) Annotate(ctx context.Context, owner, id, execID string, p core.ExecutionPatch) (*core.Execution, error) {
	f.sb.called("Annotate")
	return nil, f.sb.lookup(owner, id)
}

func (f *fakeExecutions) Cancel(ctx context.Context, owner, id, execID string) (*core.Execution, error) {
	f.sb.called("Cancel")
	return nil, f.sb.lookup(owner, id)
}

type countingMetrics struct {
	mu    sync.Mutex
	calls map[string]int
}

func (m *countingMetrics) MCPToolCall(tool, outcome string) {
	m.mu.Lock()
	m.calls[tool+"/"+outcome]++
	m.mu.Unlock()
}

var allCaps = []string{core.CapabilityFilesystem, core.CapabilityShell, core.CapabilityPython}

// connect starts a Server over in-memory transports and returns a client
// session on it.
func connect(t *testing.T, o Options) *sdk.ClientSession {
	t.Helper()
	srv := New(o)
	st, ct := sdk.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := srv.MCP().Connect(ctx, st, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ss.Close() })
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "0"}, nil).Connect(ctx, ct, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func newFakes(caps ...[]string) (*fakeSandboxes, *fakeExecutions) {
	sb := &fakeSandboxes{files: map[string][]byte{}}
	for i, c := range caps {
		sb.profiles = append(sb.profiles, core.Profile{ID: "p" + string(rune('0'+i)), Capabilities: c})
	}
	return sb, &fakeExecutions{sb: sb}
}

func toolNames(t *testing.T, cs *sdk.ClientSession) []string {
	t.Helper()
	var names []string
	for tool, err := range cs.Tools(context.Background(), nil) {
		require.NoError(t, err)
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

var fullTable = []string{
	"annotate_execution", "cancel_execution", "create_sandbox", "delete_file", "delete_sandbox", "execute_python",
	"execute_shell", "extend_sandbox_ttl", "get_execution", "get_execution_history", "get_last_execution", "get_sandbox",
	"get_sandbox_capabilities", "list_files", "list_profiles", "list_sandboxes", "read_file", "start_execution",
	"stop_sandbox", "write_file",
}

func TestToolGating(t *testing.T) {
	t.Parallel()
	sb, ex := newFakes(allCaps)
	require.Equal(t, fullTable, toolNames(t, connect(t, Options{Sandboxes: sb, Executions: ex})))

	// Python only: no shell tool, no file tools; the execution tools stay.
	sb, ex = newFakes([]string{core.CapabilityPython})
	got := toolNames(t, connect(t, Options{Sandboxes: sb, Executions: ex}))
	require.NotContains(t, got, "execute_shell")
	require.NotContains(t, got, "read_file")
	require.Contains(t, got, "execute_python")
	require.Contains(t, got, "get_execution")

	// Two profiles together offer the union.
	sb, ex = newFakes([]string{core.CapabilityPython}, []string{core.CapabilityShell, core.CapabilityFilesystem})
	require.Equal(t, fullTable, toolNames(t, connect(t, Options{Sandboxes: sb, Executions: ex})))

	// No execution capability at all: none of the execution tools.
	sb, ex = newFakes([]string{core.CapabilityFilesystem})
	got = toolNames(t, connect(t, Options{Sandboxes: sb, Executions: ex}))
	for _, name := range []string{"execute_python", "execute_shell", "start_execution", "get_execution", "annotate_execution"} {
		require.NotContains(t, got, name)
	}
	require.Contains(t, got, "write_file")
}

func TestToolAnnotationsAndSchemas(t *testing.T) {
	t.Parallel()
	sb, ex := newFakes(allCaps)
	cs := connect(t, Options{Sandboxes: sb, Executions: ex})
	tools := map[string]*sdk.Tool{}
	for tool, err := range cs.Tools(context.Background(), nil) {
		require.NoError(t, err)
		tools[tool.Name] = tool
	}
	for _, name := range []string{"list_profiles", "list_sandboxes", "get_sandbox", "get_execution", "get_execution_history",
		"get_last_execution", "read_file", "list_files", "get_sandbox_capabilities"} {
		require.True(t, tools[name].Annotations.ReadOnlyHint, name)
	}
	for _, name := range []string{"delete_sandbox", "delete_file"} {
		require.True(t, *tools[name].Annotations.DestructiveHint, name)
	}
	in := tools["execute_python"].InputSchema.(map[string]any)
	require.ElementsMatch(t, []any{"sandbox_id", "code"}, in["required"])
	props := in["properties"].(map[string]any)
	require.Equal(t, "^sandbox-[0-9a-f]{12}$", props["sandbox_id"].(map[string]any)["pattern"])
	timeout := props["timeout"].(map[string]any)
	require.Equal(t, "integer", timeout["type"])
	require.EqualValues(t, 1, timeout["minimum"])
	require.EqualValues(t, 300, timeout["maximum"])
	require.EqualValues(t, 30, timeout["default"])
	require.Equal(t, "array", props["tags"].(map[string]any)["type"])
	require.Nil(t, in["additionalProperties"], "unknown arguments are ignored")
	require.NotNil(t, tools["execute_python"].OutputSchema)
}

func callTool(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) *sdk.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err)
	return res
}

func errorOf(t *testing.T, res *sdk.CallToolResult) map[string]any {
	t.Helper()
	require.True(t, res.IsError, "%+v", res.Content)
	b, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	var out struct {
		Error map[string]any `json:"error"`
	}
	require.NoError(t, json.Unmarshal(b, &out))
	return out.Error
}

func TestToolErrors(t *testing.T) {
	t.Parallel()
	sb, ex := newFakes(allCaps)
	metrics := &countingMetrics{calls: map[string]int{}}
	cs := connect(t, Options{Sandboxes: sb, Executions: ex, Metrics: metrics})

	// An unknown sandbox is a tool error with the core's code.
	e := errorOf(t, callTool(t, cs, "get_sandbox", map[string]any{"sandbox_id": "sandbox-000000000000"}))
	require.Equal(t, "not_found", e["code"])
	require.NotEmpty(t, e["request_id"])

	// Malformed ids are refused before any lookup.
	before := len(sb.Calls())
	for _, call := range []struct {
		tool string
		args map[string]any
	}{
		{"get_sandbox", map[string]any{"sandbox_id": "../etc"}},
		{"get_sandbox", map[string]any{}},
		{"execute_python", map[string]any{"sandbox_id": "sandbox-XYZ", "code": "1"}},
		{"execute_python", map[string]any{"sandbox_id": knownSandbox}},
		{"execute_python", map[string]any{"sandbox_id": knownSandbox, "code": "1", "timeout": 301}},
		{"execute_python", map[string]any{"sandbox_id": knownSandbox, "code": "1", "timeout": "soon"}},
		{"get_execution", map[string]any{"sandbox_id": knownSandbox, "execution_id": "exec-1"}},
		{"get_execution", map[string]any{"sandbox_id": knownSandbox, "execution_id": "exec-0123456789ab", "wait_seconds": 61}},
		{"read_file", map[string]any{"sandbox_id": knownSandbox, "path": "x", "encoding": "hex"}},
		{"start_execution", map[string]any{"sandbox_id": knownSandbox, "kind": "ruby", "code": "1"}},
		{"create_sandbox", map[string]any{"locker_id": "locker-nope"}},
	} {
		e := errorOf(t, callTool(t, cs, call.tool, call.args))
		require.Equal(t, "validation_error", e["code"], "%s %v", call.tool, call.args)
	}
	require.Len(t, sb.Calls(), before, "no lookup for a refused call: %v", sb.Calls()[before:])

	// write_file's limit applies after base64 decoding.
	cs2 := connect(t, Options{Sandboxes: sb, Executions: ex, MaxWriteBytes: 10})
	e = errorOf(t, callTool(t, cs2, "write_file", map[string]any{
		"sandbox_id": knownSandbox, "path": "a.bin", "encoding": "base64",
		"content": base64.StdEncoding.EncodeToString([]byte("0123456789A")),
	}))
	require.Equal(t, "payload_too_large", e["code"])
	res := callTool(t, cs2, "write_file", map[string]any{
		"sandbox_id": knownSandbox, "path": "a.bin", "encoding": "base64",
		"content": base64.StdEncoding.EncodeToString([]byte("0123456789")),
	})
	require.False(t, res.IsError)
	require.EqualValues(t, 10, res.StructuredContent.(map[string]any)["bytes"])

	// base64 read_file is bounded by max_resource_bytes.
	sb.files["big.bin"] = make([]byte, 100)
	cs3 := connect(t, Options{Sandboxes: sb, Executions: ex, MaxResourceBytes: 99})
	e = errorOf(t, callTool(t, cs3, "read_file", map[string]any{"sandbox_id": knownSandbox, "path": "big.bin", "encoding": "base64"}))
	require.Equal(t, "payload_too_large", e["code"])

	metrics.mu.Lock()
	require.Equal(t, 3, metrics.calls["get_sandbox/error"])
	require.Zero(t, metrics.calls["get_sandbox/success"])
	metrics.mu.Unlock()
}

func TestScopes(t *testing.T) {
	t.Parallel()
	sb, ex := newFakes(allCaps)
	cs := connect(t, Options{Sandboxes: sb, Executions: ex,
		Authenticate: func(*http.Request) (string, []string, error) { return "default", []string{"lockers"}, nil }})
	e := errorOf(t, callTool(t, cs, "get_sandbox", map[string]any{"sandbox_id": knownSandbox}))
	require.Equal(t, "forbidden", e["code"])
	// list_profiles is public, as GET /v1/profiles is.
	require.False(t, callTool(t, cs, "list_profiles", nil).IsError)

	cs = connect(t, Options{Sandboxes: sb, Executions: ex,
		Authenticate: func(*http.Request) (string, []string, error) {
			return "", nil, core.Errorf(core.CodeUnauthorized, "Authentication required")
		}})
	require.Equal(t, "unauthorized", errorOf(t, callTool(t, cs, "list_sandboxes", nil))["code"])
}

func TestExecuteResults(t *testing.T) {
	t.Parallel()
	sb, ex := newFakes(allCaps)
	ex.output = strings.Repeat("x", 30000)
	cs := connect(t, Options{Sandboxes: sb, Executions: ex})

	res := callTool(t, cs, "execute_python", map[string]any{"sandbox_id": knownSandbox, "code": "print('x'*30000)", "tags": "a,b"})
	require.False(t, res.IsError)
	out := res.StructuredContent.(map[string]any)
	require.Equal(t, true, out["output_truncated"])
	require.Contains(t, out["output"], "…[truncated 18000 of 30000 chars; full record: bay://sandboxes/"+knownSandbox+"/executions/exec-00000000000a]…")
	require.Equal(t, "exec-00000000000a", out["execution_id"])
	require.EqualValues(t, 1, out["image_count"])
	text := res.Content[0].(*sdk.TextContent).Text
	require.True(t, strings.HasSuffix(text, "\n[execution_id=exec-00000000000a success=true time_ms=12]"), text[len(text)-100:])
	img := res.Content[1].(*sdk.ImageContent)
	require.Equal(t, "image/png", img.MIMEType)
	require.Equal(t, []byte("\x89PNG fake"), img.Data)

	ex.output = "out\n"
	res = callTool(t, cs, "execute_shell", map[string]any{"sandbox_id": knownSandbox, "command": "x", "include_code": true})
	text = res.Content[0].(*sdk.TextContent).Text
	require.Equal(t, "out\nstderr:\nboom\n[execution_id=exec-00000000000a success=false exit_code=2 time_ms=12]", text)
	out = res.StructuredContent.(map[string]any)
	require.Equal(t, "\x1b[31mboom\x1b[0m", out["error"], "structured content keeps the raw text")
	require.Equal(t, "x", out["command"])
}

func TestResources(t *testing.T) {
	t.Parallel()
	sb, ex := newFakes(allCaps)
	sb.files["notes/a.txt"] = []byte("hello")
	sb.files["b.bin"] = []byte{0xff, 0x00, 0xfe}
	cs := connect(t, Options{Sandboxes: sb, Executions: ex, MaxResourceBytes: 4})
	ctx := context.Background()

	var templates []string
	for rt, err := range cs.ResourceTemplates(ctx, nil) {
		require.NoError(t, err)
		templates = append(templates, rt.URITemplate)
	}
	require.ElementsMatch(t, []string{templateSandboxFile, templateLockerFile, templateExecution}, templates)

	list, err := cs.ListResources(ctx, nil)
	require.NoError(t, err)
	require.Len(t, list.Resources, 1)
	require.Equal(t, "bay://sandboxes/"+knownSandbox, list.Resources[0].URI)

	read, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "bay://sandboxes/" + knownSandbox + "/files/b.bin"})
	require.NoError(t, err)
	require.Equal(t, []byte{0xff, 0x00, 0xfe}, read.Contents[0].Blob)
	require.Equal(t, "application/octet-stream", read.Contents[0].MIMEType)

	_, err = cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "bay://sandboxes/" + knownSandbox + "/files/notes/a.txt"})
	var je *jsonrpc.Error
	require.True(t, errors.As(err, &je), "%v", err)
	require.EqualValues(t, -32602, je.Code, "over the size limit")
	require.Contains(t, je.Message, "4 bytes")

	for _, uri := range []string{
		"bay://sandboxes/" + knownSandbox + "/files/missing.txt",
		"bay://sandboxes/sandbox-000000000000/files/a.txt",
		"bay://sandboxes/" + knownSandbox + "/executions/exec-0123456789ab",
	} {
		_, err = cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri})
		require.True(t, errors.As(err, &je), "%v", err)
		require.EqualValues(t, -32002, je.Code, uri)
	}

	cs = connect(t, Options{Sandboxes: sb, Executions: ex})
	read, err = cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "bay://sandboxes/" + knownSandbox + "/files/notes/a.txt"})
	require.NoError(t, err)
	require.Equal(t, "hello", read.Contents[0].Text)
	require.Equal(t, "text/plain", read.Contents[0].MIMEType)
	read, err = cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "bay://sandboxes/" + knownSandbox})
	require.NoError(t, err)
	require.Contains(t, read.Contents[0].Text, `"id":"`+knownSandbox+`"`)
}

func TestMimeType(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]string{
		"a.txt": "text/plain", "dir/plot.PNG": "image/png", "data.csv": "text/csv", "noext": "application/octet-stream",
		"x.py": "text/x-python",
	} {
		require.Equal(t, want, mimeType(p), p)
	}
}
