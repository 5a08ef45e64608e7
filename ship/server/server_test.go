package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/ship/kernel"
	"github.com/bayhq/bay/ship/runas"
)

type bundle struct {
	url   string
	ws    string // canonical workspace root
	token string // the runtime token the server expects
	srv   *Server
}

// setup starts a Server on a temp workspace as the current user.
func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with cfg adjusted by tweak (when not nil) before the
// server is built.
func setupWith(t *testing.T, tweak func(*Config)) *bundle {
	t.Helper()
	ws, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	token := hex.EncodeToString(randomBytes(t, 32))
	cfg := Config{
		Workspace: ws,
		Token:     token,
		Version:   "1.2.3-test",
		Python:    kernel.FindPython(),
		StateDir:  t.TempDir(),
		Identity:  runas.Current(ws),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := New(cfg)
	require.NoError(t, err)
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return &bundle{url: ts.URL, ws: ws, token: token, srv: s}
}

// do sends req with the runtime token, as Bay does.
func (b *bundle) do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

// authHeader is the header a WebSocket dial needs.
func (b *bundle) authHeader() http.Header {
	return http.Header{"Authorization": {"Bearer " + b.token}}
}

// call sends a JSON request and decodes the JSON answer into a map.
func (b *bundle) call(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp := b.do(t, req)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, out
}

func (b *bundle) post(t *testing.T, path string, body any) (int, map[string]any) {
	t.Helper()
	return b.call(t, http.MethodPost, path, body)
}

func TestServer_Basics(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("Health", func(t *testing.T) {
		code, out := b.call(t, "GET", "/health", nil)
		require.Equal(t, 200, code)
		require.Equal(t, "healthy", out["status"])
		require.Equal(t, kernel.StatusNotStarted, b.srv.Kernel().Status(), "/health must not start the kernel")
	})
	t.Run("Root", func(t *testing.T) {
		_, out := b.call(t, "GET", "/", nil)
		require.Contains(t, out["message"], "Ship API is running")
	})
	t.Run("Stat", func(t *testing.T) {
		_, out := b.call(t, "GET", "/stat", nil)
		require.Equal(t, "ship", out["service"])
		require.Equal(t, "1.2.3-test", out["version"])
	})
	t.Run("Meta", func(t *testing.T) {
		code, out := b.call(t, "GET", "/meta", nil)
		require.Equal(t, 200, code)
		rt := out["runtime"].(map[string]any)
		require.Equal(t, "ship", rt["name"])
		require.Equal(t, "1.2.3-test", rt["version"])
		require.Equal(t, "v1", rt["api_version"])
		require.Equal(t, "bearer", rt["auth"], "Bay refuses runtimes that do not announce the token check")
		build := rt["build"].(map[string]any)
		require.Equal(t, "ship:default", build["image"])
		require.Nil(t, build["git_sha"])
		require.Equal(t, b.ws, out["workspace"].(map[string]any)["mount_path"])
		caps := out["capabilities"].(map[string]any)
		for _, k := range []string{"filesystem", "shell", "python", "terminal"} {
			require.Contains(t, caps, k)
		}
		fsCap := caps["filesystem"].(map[string]any)["endpoints"].(map[string]any)
		require.Equal(t, "/fs/upload", fsCap["upload"])
	})
	t.Run("UnknownPathIs404JSON", func(t *testing.T) {
		code, out := b.call(t, "GET", "/nope", nil)
		require.Equal(t, 404, code)
		require.Equal(t, "Not Found", out["detail"])
	})
	t.Run("WrongMethodIs405JSON", func(t *testing.T) {
		code, out := b.call(t, "POST", "/health", nil)
		require.Equal(t, 405, code)
		require.Equal(t, "Method Not Allowed", out["detail"])
	})
	t.Run("NoHTMLEscaping", func(t *testing.T) {
		req, err := http.NewRequest("POST", b.url+"/shell/exec", strings.NewReader(`{"command":"echo '<a>&'"}`))
		require.NoError(t, err)
		resp := b.do(t, req)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Contains(t, string(raw), `"stdout":"<a>&"`)
	})
}

func TestServer_Validation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	detail := func(out map[string]any) map[string]any {
		items := out["detail"].([]any)
		require.NotEmpty(t, items)
		item := items[0].(map[string]any)
		require.Contains(t, item, "msg")
		require.Contains(t, item, "type")
		return item
	}
	t.Run("MissingField", func(t *testing.T) {
		for path, field := range map[string]string{
			"/ipython/exec": "code", "/shell/exec": "command", "/fs/read_file": "path",
			"/fs/write_file": "path", "/fs/delete_file": "path", "/fs/edit_file": "path",
		} {
			code, out := b.post(t, path, map[string]any{})
			require.Equal(t, 422, code, path)
			require.Equal(t, []any{"body", field}, detail(out)["loc"], path)
		}
	})
	t.Run("NullRequiredField", func(t *testing.T) {
		code, out := b.post(t, "/shell/exec", `{"command": null}`)
		require.Equal(t, 422, code)
		require.Equal(t, "missing", detail(out)["type"])
	})
	t.Run("WrongType", func(t *testing.T) {
		code, out := b.post(t, "/shell/exec", `{"command": 5}`)
		require.Equal(t, 422, code)
		require.Equal(t, []any{"body", "command"}, detail(out)["loc"])
	})
	t.Run("InvalidJSON", func(t *testing.T) {
		code, out := b.post(t, "/fs/read_file", `{"path":`)
		require.Equal(t, 422, code)
		require.Equal(t, []any{"body"}, detail(out)["loc"])
	})
	t.Run("DownloadMissingQuery", func(t *testing.T) {
		code, out := b.call(t, "GET", "/fs/download", nil)
		require.Equal(t, 422, code)
		require.Equal(t, []any{"query", "file_path"}, detail(out)["loc"])
	})
	t.Run("UploadNotMultipart", func(t *testing.T) {
		code, _ := b.post(t, "/fs/upload", `{}`)
		require.Equal(t, 422, code)
	})
}

func TestServer_Shell(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := func(t *testing.T, req map[string]any) map[string]any {
		t.Helper()
		code, out := b.post(t, "/shell/exec", req)
		require.Equal(t, 200, code)
		return out
	}
	t.Run("StdoutAndStderrSeparate", func(t *testing.T) {
		out := run(t, map[string]any{"command": "echo -e 'a\\nb'; echo oops >&2"})
		require.Equal(t, true, out["success"])
		require.Equal(t, 0.0, out["return_code"])
		require.Equal(t, "a\nb", out["stdout"])
		require.Equal(t, "oops", out["stderr"])
		require.NotNil(t, out["pid"])
	})
	t.Run("ExitCodes", func(t *testing.T) {
		for cmd, want := range map[string]float64{"exit 42": 42, "echo hello | grep xyz": 1, "no_such_command_xyz": 127} {
			out := run(t, map[string]any{"command": cmd})
			require.Equal(t, false, out["success"], cmd)
			require.Equal(t, want, out["return_code"], cmd)
		}
	})
	t.Run("HomeAndCwd", func(t *testing.T) {
		out := run(t, map[string]any{"command": "echo $HOME; pwd"})
		require.Equal(t, b.ws+"\n"+b.ws, out["stdout"])
		require.NoError(t, os.MkdirAll(filepath.Join(b.ws, "a/b/c"), 0o755))
		out = run(t, map[string]any{"command": "pwd", "cwd": "a/b/c"})
		require.Equal(t, filepath.Join(b.ws, "a/b/c"), out["stdout"])
	})
	t.Run("CwdOutsideRefused", func(t *testing.T) {
		for _, cwd := range []string{"/etc", "../..", "/"} {
			out := run(t, map[string]any{"command": "pwd", "cwd": cwd})
			require.Equal(t, false, out["success"])
			require.Equal(t, -1.0, out["return_code"])
			require.Contains(t, out["error"], "403: Access denied")
		}
	})
	t.Run("MissingCwdFailsLikeCd", func(t *testing.T) {
		out := run(t, map[string]any{"command": "pwd", "cwd": "does/not/exist"})
		require.Equal(t, 1.0, out["return_code"])
		require.Contains(t, out["stderr"], "No such file or directory")
	})
	t.Run("Env", func(t *testing.T) {
		out := run(t, map[string]any{"command": "echo $FOO-$USER", "env": map[string]string{"FOO": "bar"}})
		require.True(t, strings.HasPrefix(out["stdout"].(string), "bar-"))
	})
	t.Run("TimeoutKillsProcessGroup", func(t *testing.T) {
		start := time.Now()
		out := run(t, map[string]any{"command": "sleep 30 & echo started; sleep 30", "timeout": 1})
		require.Less(t, time.Since(start), 10*time.Second)
		require.Equal(t, false, out["success"])
		require.Equal(t, -1.0, out["return_code"])
		require.Equal(t, "Command timed out", out["error"])
		require.Equal(t, "started", out["stdout"])
	})
	t.Run("BackgroundGrandchildDoesNotHold", func(t *testing.T) {
		start := time.Now()
		out := run(t, map[string]any{"command": "sleep 20 & echo quick"})
		require.Less(t, time.Since(start), 10*time.Second)
		require.Equal(t, "quick", out["stdout"])
	})
	t.Run("DirectExec", func(t *testing.T) {
		out := run(t, map[string]any{"command": `printf '%s|%s' "a b" 'c d'`, "shell": false})
		require.Equal(t, "a b|c d", out["stdout"])
		out = run(t, map[string]any{"command": "/no/such/binary", "shell": false})
		require.Equal(t, -1.0, out["return_code"])
		require.NotEmpty(t, out["error"])
	})
	t.Run("InvalidUTF8Replaced", func(t *testing.T) {
		out := run(t, map[string]any{"command": `printf 'a\377b'`})
		require.Equal(t, true, out["success"])
		require.Equal(t, "a\uFFFDb", out["stdout"])
	})
	t.Run("BackgroundJobs", func(t *testing.T) {
		out := run(t, map[string]any{"command": "exit 3", "background": true})
		require.Equal(t, true, out["success"])
		require.Equal(t, 0.0, out["return_code"])
		id := out["process_id"].(string)
		require.Len(t, id, 8)
		require.Eventually(t, func() bool {
			_, procs := b.call(t, "GET", "/shell/processes", nil)
			for _, p := range procs["processes"].([]any) {
				p := p.(map[string]any)
				if p["process_id"] == id {
					return p["status"] == "failed" && p["command"] == "exit 3"
				}
			}
			return false
		}, 10*time.Second, 20*time.Millisecond)
	})
}

func TestServer_Terminal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(b.url, "http", "ws", 1)+"/term/ws?cols=100&rows=30",
		&websocket.DialOptions{HTTPHeader: b.authHeader()})
	require.NoError(t, err)
	defer conn.CloseNow()
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(`{"type":"resize","cols":120,"rows":40}`)))
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte("stty size; echo MARK$((40+2))\n")))
	var seen strings.Builder
	for !strings.Contains(seen.String(), "MARK42") {
		_, data, err := conn.Read(ctx)
		require.NoError(t, err, seen.String())
		seen.Write(data)
	}
	require.Contains(t, seen.String(), "40 120")
	require.NoError(t, conn.Write(ctx, websocket.MessageBinary, []byte("exit\n")))
	for {
		_, _, err := conn.Read(ctx)
		if err != nil {
			require.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err), err)
			break
		}
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// upload sends a multipart upload; pathFirst puts file_path before file.
func (b *bundle) upload(t *testing.T, target string, data io.Reader, pathFirst bool) (int, map[string]any) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		if pathFirst {
			_ = mw.WriteField("file_path", target)
		}
		fw, err := mw.CreateFormFile("file", "ignored.bin")
		if err == nil {
			_, err = io.Copy(fw, data)
		}
		if err == nil && !pathFirst {
			err = mw.WriteField("file_path", target)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest("POST", b.url+"/fs/upload", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp := b.do(t, req)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func (b *bundle) download(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", b.url+"/fs/download?file_path="+path, nil)
	require.NoError(t, err)
	resp := b.do(t, req)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, raw
}
