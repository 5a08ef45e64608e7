package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/ship/wire"
)

// eventStream is an NDJSON answer being read: its events arrive on a
// channel, which is closed at the end of the body.
type eventStream struct {
	resp   *http.Response
	events chan map[string]any
}

// openStream posts body to a streaming route and checks the 200 and the
// media type.
func (b *bundle) openStream(t *testing.T, path string, body any) *eventStream {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, b.url+path, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp := b.do(t, req)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, wire.ContentTypeNDJSON, resp.Header.Get("Content-Type"))
	s := &eventStream{resp: resp, events: make(chan map[string]any, 1024)}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				ev = map[string]any{"type": "BAD LINE: " + sc.Text()}
			}
			s.events <- ev
		}
	}()
	return s
}

// next returns the next event.
func (s *eventStream) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		require.True(t, ok, "the stream ended early")
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event within 20 s")
		return nil
	}
}

// rest reads the events up to the end of the body, which must follow the
// end event.
func (s *eventStream) rest(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				require.NotEmpty(t, out)
				require.Equal(t, wire.EventEnd, out[len(out)-1]["type"], "the last event is end")
				return out
			}
			out = append(out, ev)
		case <-time.After(30 * time.Second):
			t.Fatal("the stream did not end within 30 s")
		}
	}
}

// streamAll runs a streamed execution to its end and returns its events.
func (b *bundle) streamAll(t *testing.T, path string, body any) []map[string]any {
	t.Helper()
	return b.openStream(t, path, body).rest(t)
}

// types lists the events' types.
func types(events []map[string]any) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev["type"].(string)
	}
	return out
}

// joined concatenates the text of the events of type typ.
func joined(events []map[string]any, typ string) string {
	var b strings.Builder
	for _, ev := range events {
		if ev["type"] == typ {
			b.WriteString(ev["text"].(string))
		}
	}
	return b.String()
}

func TestServer_ShellStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	t.Run("EventsAndEnd", func(t *testing.T) {
		events := b.streamAll(t, wire.PathShellExecStream, map[string]any{"command": "echo out; echo err >&2; exit 3"})
		start := events[0]
		require.Equal(t, "start", start["type"])
		require.Greater(t, start["pid"], 0.0)
		require.Equal(t, "out\n", joined(events, "stdout"))
		require.Equal(t, "err\n", joined(events, "stderr"))
		require.Equal(t, map[string]any{"type": "end", "success": false, "exit_code": 3.0, "error": "err"},
			events[len(events)-1], "error is stderr when Ship has none, as Bay maps the sync answer")
	})
	t.Run("Success", func(t *testing.T) {
		events := b.streamAll(t, wire.PathShellExecStream, map[string]any{"command": "printf 'a\\377b'"})
		require.Equal(t, "a\uFFFDb", joined(events, "stdout"))
		require.Equal(t, map[string]any{"type": "end", "success": true, "exit_code": 0.0}, events[len(events)-1])
	})
	t.Run("Timeout", func(t *testing.T) {
		events := b.streamAll(t, wire.PathShellExecStream, map[string]any{"command": "echo begun; sleep 30", "timeout": 1})
		require.Equal(t, []string{"start", "stdout", "end"}, types(events))
		require.Equal(t, map[string]any{"type": "end", "success": false, "exit_code": -1.0, "timed_out": true,
			"error": "Command timed out"}, events[2])
	})
	t.Run("CwdOutsideWorkspace", func(t *testing.T) {
		events := b.streamAll(t, wire.PathShellExecStream, map[string]any{"command": "pwd", "cwd": "/etc"})
		require.Equal(t, []string{"start", "end"}, types(events))
		require.NotContains(t, events[0], "pid")
		require.Equal(t, -1.0, events[1]["exit_code"])
		require.Contains(t, events[1]["error"], "403: Access denied")
	})
	t.Run("CwdAndEnv", func(t *testing.T) {
		events := b.streamAll(t, wire.PathShellExecStream, map[string]any{"command": "pwd; echo $FOO", "cwd": ".",
			"env": map[string]string{"FOO": "bar"}})
		require.Equal(t, b.ws+"\nbar\n", joined(events, "stdout"))
	})
}

func TestServer_ShellCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	t.Run("Stream", func(t *testing.T) {
		s := b.openStream(t, wire.PathShellExecStream, map[string]any{"command": "echo go; sleep 60", "exec_id": "exec-sh-stream"})
		require.Equal(t, "start", s.next(t)["type"])
		require.Equal(t, "go\n", s.next(t)["text"])

		code, out := b.post(t, wire.PathShellExecStream, map[string]any{"command": "true", "exec_id": "exec-sh-stream"})
		require.Equal(t, http.StatusConflict, code, "an exec_id in use")
		require.Contains(t, out["detail"], "exec-sh-stream")

		code, out = b.post(t, wire.ExecCancelPath("exec-sh-stream"), nil)
		require.Equal(t, 200, code)
		require.Equal(t, map[string]any{"cancelled": true}, out)
		events := s.rest(t)
		require.Equal(t, map[string]any{"type": "end", "success": false, "exit_code": -1.0, "cancelled": true,
			"error": "Command cancelled"}, events[len(events)-1])
		code, _ = b.post(t, wire.ExecCancelPath("exec-sh-stream"), nil)
		require.Equal(t, 404, code, "a finished execution cannot be cancelled")
	})
	t.Run("Sync", func(t *testing.T) {
		done := make(chan map[string]any, 1)
		go func() {
			_, out := b.post(t, wire.PathShellExec, map[string]any{"command": "sleep 60", "exec_id": "exec-sh-sync"})
			done <- out
		}()
		require.Eventually(t, func() bool {
			code, _ := b.post(t, wire.ExecCancelPath("exec-sh-sync"), nil)
			return code == 200
		}, 10*time.Second, 20*time.Millisecond)
		out := <-done
		require.Equal(t, false, out["success"])
		require.Equal(t, -1.0, out["return_code"])
		require.Equal(t, true, out["cancelled"])
	})
}

func TestServer_StreamValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for path, field := range map[string]string{wire.PathPythonExecStream: "code", wire.PathShellExecStream: "command"} {
		code, out := b.post(t, path, map[string]any{})
		require.Equal(t, 422, code, path)
		require.Equal(t, []any{"body", field}, out["detail"].([]any)[0].(map[string]any)["loc"], path)

		code, out = b.post(t, path, map[string]any{field: 5})
		require.Equal(t, 422, code, path)
		require.Equal(t, []any{"body", field}, out["detail"].([]any)[0].(map[string]any)["loc"], path)

		code, _ = b.post(t, path, `{"`+field+`":`)
		require.Equal(t, 422, code, path)
	}
	for _, path := range []string{wire.PathPythonExecStream, wire.PathShellExecStream, wire.PathPythonExec, wire.PathShellExec} {
		for _, id := range []string{"a/b", "with space", strings.Repeat("x", 129)} {
			code, out := b.post(t, path, map[string]any{"code": "1", "command": "true", "exec_id": id})
			require.Equal(t, 422, code, "%s %q", path, id)
			require.Equal(t, []any{"body", "exec_id"}, out["detail"].([]any)[0].(map[string]any)["loc"])
		}
	}
}

func TestServer_CancelUnknown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, out := b.post(t, wire.ExecCancelPath("exec-000000000000"), nil)
	require.Equal(t, 404, code)
	require.Equal(t, "Execution not found: exec-000000000000", out["detail"])
	code, out = b.call(t, "GET", wire.ExecCancelPath("exec-000000000000"), nil)
	require.Equal(t, 405, code)
	require.Equal(t, "Method Not Allowed", out["detail"])
	code, _ = b.call(t, "GET", "/exec/x/y/cancel", nil)
	require.Equal(t, 404, code)
}

func TestServer_PythonStream(t *testing.T) {
	t.Parallel()
	requireKernel(t)
	b := setup(t)
	t.Run("EventsAndEnd", func(t *testing.T) {
		events := b.streamAll(t, wire.PathPythonExecStream, map[string]any{"code": "print('a')\n6*7"})
		require.Equal(t, []string{"start", "stdout", "result", "end"}, types(events))
		require.Equal(t, map[string]any{"type": "start"}, events[0])
		require.Equal(t, "a\n", events[1]["text"])
		count := events[2]["execution_count"]
		require.Equal(t, map[string]any{"type": "result", "execution_count": count, "data": map[string]any{"text/plain": "42"}}, events[2])
		require.Equal(t, map[string]any{"type": "end", "success": true, "execution_count": count}, events[3])
	})
	t.Run("ErrorIsTheSyncError", func(t *testing.T) {
		events := b.streamAll(t, wire.PathPythonExecStream, map[string]any{"code": "print('before')\n1/0"})
		require.Equal(t, []string{"start", "stdout", "error", "end"}, types(events))
		require.Equal(t, "ZeroDivisionError", events[2]["ename"])
		require.Equal(t, "division by zero", events[2]["evalue"])
		var tb []string
		for _, l := range events[2]["traceback"].([]any) {
			tb = append(tb, l.(string))
		}
		end := events[3]
		require.Equal(t, false, end["success"])
		require.Equal(t, strings.Join(tb, "\n"), end["error"])
	})
	t.Run("DisplayPNG", func(t *testing.T) {
		png := "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
		events := b.streamAll(t, wire.PathPythonExecStream, map[string]any{"code": "from IPython.display import display, Image, HTML\n" +
			"import base64\ndisplay(Image(data=base64.b64decode('" + png + "')))\ndisplay(HTML('<b>x</b>'))"})
		require.Equal(t, []string{"start", "display_data", "display_data", "end"}, types(events))
		require.Equal(t, png, events[1]["data"].(map[string]any)["image/png"])
		require.Equal(t, "<b>x</b>", events[2]["data"].(map[string]any)["text/html"])
	})
	t.Run("UpdateDisplayIsMarked", func(t *testing.T) {
		code := "from IPython.display import display\nh = display('first', display_id=True)\nh.update('second')"
		events := b.streamAll(t, wire.PathPythonExecStream, map[string]any{"code": code})
		require.Equal(t, []string{"start", "display_data", "display_data", "end"}, types(events))
		require.NotContains(t, events[1], "update")
		require.Equal(t, true, events[2]["update"])
		require.Equal(t, "'second'", events[2]["data"].(map[string]any)["text/plain"])
		_, out := b.post(t, wire.PathPythonExec, map[string]any{"code": code})
		require.Equal(t, "'first'", out["output"].(map[string]any)["text"], "the sync output leaves updates out")
	})
	t.Run("Timeout", func(t *testing.T) {
		events := b.streamAll(t, wire.PathPythonExecStream, map[string]any{"code": "import time\ntime.sleep(30)", "timeout": 1})
		end := events[len(events)-1]
		require.Equal(t, true, end["timed_out"])
		require.Equal(t, "Code execution timed out after 1 seconds", end["error"])
	})
	t.Run("CancelRunningAndQueued", func(t *testing.T) {
		_, out := b.post(t, wire.PathPythonExec, map[string]any{"code": "kept = 11"})
		require.Equal(t, true, out["success"])
		s := b.openStream(t, wire.PathPythonExecStream, map[string]any{"exec_id": "exec-py-run",
			"code": "import time\nprint('go', flush=True)\ntime.sleep(60)", "timeout": 120})
		require.Equal(t, "start", s.next(t)["type"])
		require.Equal(t, "go\n", s.next(t)["text"])

		// A sync execution with an id waits behind the running one.
		queued := make(chan map[string]any, 1)
		go func() {
			_, out := b.post(t, wire.PathPythonExec, map[string]any{"code": "kept = 0", "exec_id": "exec-py-queued"})
			queued <- out
		}()
		require.Eventually(t, func() bool {
			code, _ := b.post(t, wire.ExecCancelPath("exec-py-queued"), nil)
			return code == 200
		}, 10*time.Second, 20*time.Millisecond)
		out = <-queued
		require.Equal(t, false, out["success"])
		require.Equal(t, true, out["cancelled"])
		require.Contains(t, out["error"], "KeyboardInterrupt")

		code, _ := b.post(t, wire.ExecCancelPath("exec-py-run"), nil)
		require.Equal(t, 200, code)
		events := s.rest(t)
		end := events[len(events)-1]
		require.Equal(t, true, end["cancelled"])
		require.Equal(t, false, end["success"])
		require.Contains(t, end["error"], "KeyboardInterrupt")
		require.Equal(t, "error", events[len(events)-2]["type"], "the interrupted cell's traceback")

		_, out = b.post(t, wire.PathPythonExec, map[string]any{"code": "print(kept)"})
		require.Equal(t, "11", out["output"].(map[string]any)["text"], "state kept; the queued cell never ran")
		require.Equal(t, false, out["kernel_restarted"])
	})
}

func TestServer_PythonStreamStartFailure(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(c *Config) { c.Python = "/nonexistent/python3" })
	events := b.streamAll(t, wire.PathPythonExecStream, map[string]any{"code": "1"})
	require.Equal(t, []string{"start", "end"}, types(events))
	require.Equal(t, false, events[1]["success"])
	require.Contains(t, events[1]["error"], "Failed to execute code")
}
