package shipclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/shipclient"
	"github.com/bayhq/bay/core"
)

// These tests pin the error mapping of bay-api.md Appendix A against a
// scripted HTTP server; the real Ship is exercised end to end in test/.

// testToken is the runtime token of every scripted server.
const testToken = "0123456789abcdef"

// server starts h behind the token check Ship makes: a request without
// "Authorization: Bearer testToken" gets 401, so every test also proves
// that the client sends the token.
func server(t *testing.T, h http.HandlerFunc) core.Endpoint {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" && r.Header.Get("Authorization") != "Bearer "+testToken {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"detail":"missing or invalid runtime token"}`))
			return
		}
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return core.Endpoint{URL: s.URL, Token: testToken}
}

func TestClient_RuntimeToken(t *testing.T) {
	t.Parallel()
	c := shipclient.New()
	ctx := context.Background()
	meta := `{"runtime":{"name":"ship","auth":"bearer"},"capabilities":{"shell":{},"python":{"operations":["exec"]}}}`
	ep := server(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(meta)) })

	caps, err := c.Capabilities(ctx, ep)
	require.NoError(t, err)
	require.Equal(t, core.RuntimeCapabilities{"python": {"exec"}, "shell": {}}, caps)

	wrong := ep
	wrong.Token = "not-the-token"
	_, err = c.Capabilities(ctx, wrong)
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	require.EqualValues(t, 401, core.AsError(err).Details["status"])

	require.NoError(t, c.Health(ctx, ep.URL), "/health needs no token")

	meta = `{"runtime":{"name":"ship"},"capabilities":{"shell":{}}}`
	_, err = c.Capabilities(ctx, ep)
	require.Equal(t, core.CodeInternal, core.CodeOf(err), "a runtime that does not check tokens is refused")
	require.Contains(t, core.AsError(err).Message, "runtime image too old")
}

func TestClient_ErrorMapping(t *testing.T) {
	t.Parallel()
	c := shipclient.New()
	ctx := context.Background()

	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fs/read_file":
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"detail":"File not found: x"}`))
		case "/fs/download":
			w.WriteHeader(404)
		case "/fs/list_dir":
			_, _ = w.Write([]byte(`not json`))
		case "/ipython/exec":
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}
	})
	_, err := c.ReadFile(ctx, ep, "x")
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	require.Equal(t, "Ship request failed: 404", core.AsError(err).Message)
	require.Equal(t, "File not found: x", core.AsError(err).Details["detail"])

	_, err = c.Download(ctx, ep, "a/b.bin")
	require.Equal(t, core.CodeFileNotFound, core.CodeOf(err))
	require.Equal(t, "File not found: a/b.bin", core.AsError(err).Message)

	_, err = c.ListDir(ctx, ep, ".")
	require.Equal(t, core.CodeShipError, core.CodeOf(err), "an unusable 2xx body is ship_error")

	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = c.Python(tctx, ep, "1", 1, "")
	require.Equal(t, core.CodeTimeout, core.CodeOf(err), "a call past its deadline is timeout: %v", err)

	// A refused connection is marked unreachable: safe to retry elsewhere.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := core.Endpoint{URL: "http://" + ln.Addr().String(), Token: testToken}
	ln.Close()
	_, err = c.ReadFile(ctx, dead, "x")
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	var unreachable *core.ErrUnreachable
	require.True(t, errors.As(err, &unreachable))
}

func TestClient_ShellMapping(t *testing.T) {
	t.Parallel()
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"success":false,"return_code":127,"stdout":" out \n","stderr":"bash: foo: command not found","pid":1,"process_id":null,"error":null}`))
	})
	res, err := shipclient.New().Shell(context.Background(), ep, core.ShellInput{Command: "foo", Timeout: 5})
	require.NoError(t, err)
	require.False(t, res.Success)
	require.EqualValues(t, 127, *res.ExitCode)
	require.Equal(t, " out \n", res.Output)
	require.Equal(t, "bash: foo: command not found", *res.Error, "stderr becomes error when Ship's error is empty")
}

func TestClient_UploadStreamsFilePathFirst(t *testing.T) {
	t.Parallel()
	var got []byte
	var order []string
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		require.NoError(t, err)
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			order = append(order, p.FormName())
			b, _ := io.ReadAll(p)
			if p.FormName() == "file" {
				got = b
			}
		}
		_, _ = w.Write([]byte(`{"success":true,"message":"ok","file_path":"/workspace/x","size":` + itoa(len(got)) + `,"error":null}`))
	})
	body := bytes.Repeat([]byte{0, 1, 2, 255}, 1<<18)
	n, err := shipclient.New().Upload(context.Background(), ep, "x", bytes.NewReader(body))
	require.NoError(t, err)
	require.EqualValues(t, len(body), n)
	require.Equal(t, body, got)
	require.Equal(t, []string{"file_path", "file"}, order)
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestClient_CapabilitiesOperations(t *testing.T) {
	t.Parallel()
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/meta", r.URL.Path)
		_, _ = w.Write([]byte(`{"runtime":{"name":"ship","auth":"bearer"},"capabilities":{
			"python":{"operations":["exec","exec_stream","cancel"],"engine":"ipython","endpoints":{"exec":"/ipython/exec"}},
			"shell":{"operations":["exec","processes"]},
			"terminal":{"operations":null}}}`))
	})
	caps, err := shipclient.New().Capabilities(context.Background(), ep)
	require.NoError(t, err)
	require.Equal(t, core.RuntimeCapabilities{
		"python":   {"exec", "exec_stream", "cancel"},
		"shell":    {"exec", "processes"},
		"terminal": {},
	}, caps)
	require.Equal(t, []string{"python", "shell", "terminal"}, caps.Keys())
	require.True(t, caps.Has("python", core.OpExecStream))
	require.False(t, caps.Has("shell", core.OpExecStream))
}

// TestClient_SyncExecCarriesExecID: the sync calls name their execution
// when asked to, so that Cancel can reach it, and leave exec_id out when
// not.
func TestClient_SyncExecCarriesExecID(t *testing.T) {
	t.Parallel()
	bodies := make(chan map[string]any, 4)
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		bodies <- body
		switch r.URL.Path {
		case "/ipython/exec":
			_, _ = w.Write([]byte(`{"success":true,"execution_count":1,"output":{"text":"","images":[]},"error":null}`))
		case "/shell/exec":
			_, _ = w.Write([]byte(`{"success":true,"return_code":0,"stdout":"","stderr":"","pid":1,"process_id":null,"error":null}`))
		}
	})
	c, ctx := shipclient.New(), context.Background()
	_, err := c.Python(ctx, ep, "1", 5, "exec-0123456789ab")
	require.NoError(t, err)
	require.Equal(t, "exec-0123456789ab", (<-bodies)["exec_id"])
	_, err = c.Python(ctx, ep, "1", 5, "")
	require.NoError(t, err)
	require.NotContains(t, <-bodies, "exec_id")
	_, err = c.Shell(ctx, ep, core.ShellInput{Command: "true", Timeout: 5, ExecID: "exec-ba9876543210"})
	require.NoError(t, err)
	body := <-bodies
	require.Equal(t, "exec-ba9876543210", body["exec_id"])
	require.EqualValues(t, 5, body["timeout"])
}

// ndjson starts an answer of a streaming route and returns a function
// that writes and flushes one line.
func ndjson(w http.ResponseWriter) func(line string) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	return func(line string) {
		_, _ = io.WriteString(w, line+"\n")
		_ = rc.Flush()
	}
}

func TestClient_PythonStreamEvents(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, http.MethodPost, r.Method)
		require.Equal(t, "/ipython/exec/stream", r.URL.Path)
		var body map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		require.Equal(t, map[string]any{"code": "print(1)", "timeout": 7.0, "exec_id": "exec-0123456789ab"}, body)
		send := ndjson(w)
		send(`{"type":"start"}`)
		send(`{"type":"stdout","text":"1\n"}`)
		// The rest comes only once the client has handed the first event
		// on: events arrive as Ship sends them, not at the end.
		<-release
		send(``)
		send(`{"type":"stderr","text":"warn\n"}`)
		send(`{"type":"display_data","data":{"image/png":"iVBO","text/plain":"<Figure>"}}`)
		send(`{"type":"result","data":{"text/plain":"6"},"execution_count":3}`)
		send(`{"type":"a_later_type","text":"skipped"}`)
		send(`{"type":"error","ename":"ValueError","evalue":"boom","traceback":["Traceback","ValueError: boom"]}`)
		send(`{"type":"end","success":false,"execution_count":3,"kernel_restarted":true,"error":"Traceback\nValueError: boom"}`)
	})
	var events []core.StreamEvent
	sink := func(ev core.StreamEvent) {
		if len(events) == 0 {
			close(release)
		}
		events = append(events, ev)
	}
	end, err := shipclient.New().PythonStream(context.Background(), ep, "print(1)", 7, "exec-0123456789ab", sink)
	require.NoError(t, err)
	three := int64(3)
	require.Equal(t, []core.StreamEvent{
		{Type: "stdout", Text: "1\n"},
		{Type: "stderr", Text: "warn\n"},
		{Type: "display_data", Data: map[string]any{"image/png": "iVBO", "text/plain": "<Figure>"}},
		{Type: "result", Data: map[string]any{"text/plain": "6"}, ExecutionCount: &three},
		{Type: "error", EName: "ValueError", EValue: "boom", Traceback: []string{"Traceback", "ValueError: boom"}},
	}, events, "start and unknown types are skipped")
	msg := "Traceback\nValueError: boom"
	require.Equal(t, &core.StreamEnd{Success: false, ExecutionCount: &three, KernelRestarted: true, Error: &msg}, end)
}

func TestClient_ShellStreamEnd(t *testing.T) {
	t.Parallel()
	var shipError string
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/shell/exec/stream", r.URL.Path)
		var body map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		require.Equal(t, map[string]any{"command": "x", "cwd": "sub", "timeout": 9.0, "exec_id": "exec-1"}, body)
		send := ndjson(w)
		send(`{"type":"start","pid":42}`)
		send(`{"type":"stdout","text":"out\n"}`)
		send(`{"type":"stderr","text":" err"}`)
		send(`{"type":"stderr","text":"or \n"}`)
		send(`{"type":"end","success":false,"exit_code":3` + shipError + `}`)
	})
	c := shipclient.New()
	cwd := "sub"
	in := core.ShellInput{Command: "x", Cwd: &cwd, Timeout: 9, ExecID: "exec-1"}
	var texts []string
	end, err := c.ShellStream(context.Background(), ep, in, func(ev core.StreamEvent) { texts = append(texts, ev.Type+":"+ev.Text) })
	require.NoError(t, err)
	require.Equal(t, []string{"stdout:out\n", "stderr: err", "stderr:or \n"}, texts)
	require.False(t, end.Success)
	require.EqualValues(t, 3, *end.ExitCode)
	require.Nil(t, end.ExecutionCount)
	require.Equal(t, "error", *end.Error, "without Ship's error, the error is the stderr, trimmed, as for Shell")

	shipError = `,"error":"Command timed out","timed_out":true`
	end, err = c.ShellStream(context.Background(), ep, in, nil)
	require.NoError(t, err, "a nil sink drops the events")
	require.True(t, end.TimedOut)
	require.Equal(t, "Command timed out", *end.Error, "Ship's error comes first")
}

func TestClient_StreamBigLines(t *testing.T) {
	t.Parallel()
	// A PNG of 12 MiB is 16 MiB of base64: the largest event Ship sends.
	big := strings.Repeat("A", 16<<20)
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		send := ndjson(w)
		send(`{"type":"start"}`)
		switch r.URL.Path {
		case "/ipython/exec/stream":
			send(`{"type":"display_data","data":{"image/png":"` + big + `"}}`)
			send(`{"type":"stdout","text":"after"}`)
			send(`{"type":"end","success":true,"execution_count":1}`)
		case "/shell/exec/stream":
			send(`{"type":"stdout","text":"` + big + big + `"}`)
			send(`{"type":"end","success":true,"exit_code":0}`)
		}
	})
	c := shipclient.New()
	var events []core.StreamEvent
	end, err := c.PythonStream(context.Background(), ep, "plot()", 30, "", func(ev core.StreamEvent) { events = append(events, ev) })
	require.NoError(t, err)
	require.True(t, end.Success)
	require.Len(t, events, 2)
	require.Len(t, events[0].Data["image/png"], len(big))
	require.Equal(t, "after", events[1].Text)

	called := false
	_, err = c.ShellStream(context.Background(), ep, core.ShellInput{Command: "yes", Timeout: 30}, func(core.StreamEvent) { called = true })
	require.Equal(t, core.CodeShipError, core.CodeOf(err), "a line over the bound fails cleanly: %v", err)
	require.Contains(t, err.Error(), "longer than")
	require.False(t, called)
}

func TestClient_StreamBroken(t *testing.T) {
	t.Parallel()
	answers := map[string][]string{
		"no-end":          {`{"type":"start"}`, `{"type":"stdout","text":"1"}`},
		"malformed":       {`{"type":"start"}`, `{"type":"stdout","text":`},
		"not-json":        {`{"type":"start"}`, `Traceback (most recent call last):`},
		"no-type":         {`{"text":"x"}`},
		"end-no-success":  {`{"type":"end","exit_code":0}`},
		"empty":           {},
		"cut-mid-line":    {`{"type":"start"}`, `{"type":"stdout","te`},
		"server-gone-mid": nil,
	}
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		// The endpoint of each case is the server's URL and the case's
		// name: /<case>/ipython/exec/stream.
		name := strings.Split(r.URL.Path, "/")[1]
		send := ndjson(w)
		switch name {
		case "cut-mid-line":
			send(answers[name][0])
			_, _ = io.WriteString(w, answers[name][1])
			_ = http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler)
		case "server-gone-mid":
			send(`{"type":"start"}`)
			panic(http.ErrAbortHandler)
		}
		for _, l := range answers[name] {
			send(l)
		}
	})
	c := shipclient.New()
	for name := range answers {
		caseEp := core.Endpoint{URL: ep.URL + "/" + name, Token: ep.Token}
		_, err := c.PythonStream(context.Background(), caseEp, "1", 5, "", nil)
		require.Equal(t, core.CodeShipError, core.CodeOf(err), "%s: %v", name, err)
		var unreachable *core.ErrUnreachable
		require.False(t, errors.As(err, &unreachable), "%s: the request reached Ship: not safe to retry", name)
	}
}

func TestClient_StreamStatusAndTransport(t *testing.T) {
	t.Parallel()
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"detail":"Failed to execute code: kernel died"}`))
	})
	c, ctx := shipclient.New(), context.Background()
	called := false
	sink := func(core.StreamEvent) { called = true }

	_, err := c.PythonStream(ctx, ep, "1", 5, "", sink)
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	require.Equal(t, "Ship request failed: 500", core.AsError(err).Message)
	require.EqualValues(t, 500, core.AsError(err).Details["status"])
	require.Equal(t, "Failed to execute code: kernel died", core.AsError(err).Details["detail"])

	wrong := core.Endpoint{URL: ep.URL, Token: "not-the-token"}
	_, err = c.ShellStream(ctx, wrong, core.ShellInput{Command: "true", Timeout: 5}, sink)
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	require.EqualValues(t, 401, core.AsError(err).Details["status"])
	require.False(t, called, "no event before the stream")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := core.Endpoint{URL: "http://" + ln.Addr().String(), Token: testToken}
	ln.Close()
	_, err = c.PythonStream(ctx, dead, "1", 5, "", sink)
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	var unreachable *core.ErrUnreachable
	require.True(t, errors.As(err, &unreachable), "a refused stream never reached Ship: %v", err)
}

func TestClient_StreamDeadlines(t *testing.T) {
	t.Parallel()
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		send := ndjson(w)
		send(`{"type":"start"}`)
		if strings.HasPrefix(r.URL.Path, "/slow/") {
			// Silent for longer than a short inactivity limit would allow,
			// but within the execution's timeout: healthy.
			time.Sleep(1500 * time.Millisecond)
			send(`{"type":"end","success":true,"exit_code":0}`)
			return
		}
		<-r.Context().Done()
	})
	c := shipclient.New()

	slow := core.Endpoint{URL: ep.URL + "/slow", Token: ep.Token}
	end, err := c.ShellStream(context.Background(), slow, core.ShellInput{Command: "sleep 1.5", Timeout: 2}, nil)
	require.NoError(t, err)
	require.True(t, end.Success)

	start := time.Now()
	tctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = c.ShellStream(tctx, ep, core.ShellInput{Command: "sleep 60", Timeout: 60}, nil)
	require.Equal(t, core.CodeTimeout, core.CodeOf(err), "the caller's deadline is a timeout: %v", err)
	require.Less(t, time.Since(start), 5*time.Second)

	// Past timeout + margin (1 + 5 s) a stream that never ends is cut.
	start = time.Now()
	_, err = c.PythonStream(context.Background(), ep, "while True: pass", 1, "", nil)
	require.Equal(t, core.CodeTimeout, core.CodeOf(err), "%v", err)
	require.Equal(t, "Ship request timed out: /ipython/exec/stream", core.AsError(err).Message)
	require.GreaterOrEqual(t, time.Since(start), 6*time.Second)

	ctx, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	_, err = c.PythonStream(ctx, ep, "1", 5, "", nil)
	require.Equal(t, core.CodeShipError, core.CodeOf(err), "a cancelled call is not a timeout: %v", err)
}

func TestClient_Cancel(t *testing.T) {
	t.Parallel()
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, http.MethodPost, r.Method)
		switch r.URL.Path {
		case "/exec/exec-running/cancel":
			_, _ = w.Write([]byte(`{"cancelled":true}`))
		case "/exec/exec-broken/cancel":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"detail":"boom"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"detail":"Execution not found"}`))
		}
	})
	c, ctx := shipclient.New(), context.Background()
	require.NoError(t, c.Cancel(ctx, ep, "exec-running"))
	err := c.Cancel(ctx, ep, "exec-gone")
	require.Equal(t, core.CodeNotFound, core.CodeOf(err), "%v", err)
	require.Equal(t, "exec-gone", core.AsError(err).Details["execution_id"])
	require.Equal(t, core.CodeNotFound, core.CodeOf(c.Cancel(ctx, ep, "")), "no id names no execution")
	err = c.Cancel(ctx, ep, "exec-broken")
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	require.EqualValues(t, 500, core.AsError(err).Details["status"])
	err = c.Cancel(ctx, core.Endpoint{URL: ep.URL, Token: "wrong"}, "exec-running")
	require.Equal(t, core.CodeShipError, core.CodeOf(err), "401 is not not_found")
	require.EqualValues(t, 401, core.AsError(err).Details["status"])
}

func TestClient_RuntimeInfo(t *testing.T) {
	t.Parallel()
	const doc = `{"api_version":"v1","runtime":{"name":"ship","image_digest":null},
		"limits":{"memory_bytes":1073741824,"cpus":1.0,"pids":null},
		"capabilities":{"python":{"operations":["exec","exec_stream","cancel"],"packages":{"numpy":"1.24.2"}}}}`
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, http.MethodGet, r.Method)
		_, _ = w.Write([]byte(doc))
	})
	old := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"detail":"Not Found"}`))
	})
	null := server(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`null`)) })
	c, ctx := shipclient.New(), context.Background()
	info, err := c.RuntimeInfo(ctx, ep)
	require.NoError(t, err)
	want := map[string]any{}
	require.NoError(t, json.Unmarshal([]byte(doc), &want))
	require.Equal(t, want, info)

	_, err = c.RuntimeInfo(ctx, old)
	require.Equal(t, core.CodeNotFound, core.CodeOf(err), "an older image without /capabilities: %v", err)

	_, err = c.RuntimeInfo(ctx, null)
	require.Equal(t, core.CodeShipError, core.CodeOf(err), "a document that is not an object")
}
