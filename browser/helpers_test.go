package browser

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/browser/wire"
	"github.com/bayhq/bay/internal/testenv"
)

const testToken = "0123456789abcdef0123456789abcdef"

// needChromium skips (or fails under BAY_TEST_STRICT) without a Chromium.
func needChromium(t testing.TB) string {
	t.Helper()
	p, err := FindChromium(os.Getenv(EnvChromium))
	if err != nil {
		testenv.Skipf(t, "no Chromium on this machine (apt-get install chromium-headless-shell): %v", err)
	}
	return p
}

// testRuntime is browserd in-process: an Engine behind its Server.
type testRuntime struct {
	eng       *Engine
	srv       *httptest.Server
	workspace string
}

// startRuntime starts an engine on workspace (a new directory if empty)
// and waits until it is ready.
func startRuntime(t testing.TB, workspace string, tweak ...func(*Config)) *testRuntime {
	t.Helper()
	needChromium(t)
	if workspace == "" {
		workspace = t.TempDir()
	}
	cfg := Config{
		Workspace: workspace, TmpDir: filepath.Join(t.TempDir(), "browser"), Token: testToken,
		PersistProfile: true, Width: 1280, Height: 800, Sandbox: SandboxAuto, Version: "test",
	}
	for _, f := range tweak {
		f(&cfg)
	}
	eng := NewEngine(cfg)
	srv, err := NewServer(cfg, eng)
	require.NoError(t, err)
	eng.Start()
	hs := httptest.NewServer(srv)
	r := &testRuntime{eng: eng, srv: hs, workspace: workspace}
	t.Cleanup(func() { r.stop(t) })
	r.waitReady(t)
	return r
}

func (r *testRuntime) stop(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.eng.Stop(ctx)
	r.srv.Close()
}

func (r *testRuntime) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(r.srv.URL + wire.PathHealth)
		if err == nil {
			var h wire.Health
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			require.NotEqual(t, wire.StatusFailed, h.Status, "browserd failed: %s", h.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("browserd not ready within 60 s")
}

// do runs one command through the HTTP API.
func (r *testRuntime) do(t testing.TB, body string) wire.Result {
	t.Helper()
	var res wire.Result
	status := r.post(t, wire.PathExec, body, &res)
	require.Equal(t, http.StatusOK, status, "POST /exec %s", body)
	return res
}

func (r *testRuntime) post(t testing.TB, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	return resp.StatusCode
}

// ok wants a successful command and returns its result object.
func ok(t testing.TB, res wire.Result) map[string]any {
	t.Helper()
	if !res.Success {
		code, msg := "", ""
		if res.ErrorCode != nil {
			code = *res.ErrorCode
		}
		if res.Error != nil {
			msg = *res.Error
		}
		t.Fatalf("command failed: %s: %s", code, msg)
	}
	m, _ := res.Result.(map[string]any)
	return m
}

// failedWith wants a failed command with code.
func failedWith(t testing.TB, res wire.Result, code string) {
	t.Helper()
	require.False(t, res.Success, "want %s, got success: %s", code, res.Output)
	require.NotNil(t, res.ErrorCode)
	require.Equal(t, code, *res.ErrorCode, "error: %v", derefStr(res.Error))
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// site serves test pages on 127.0.0.1.
func site(t testing.TB) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	page := func(path, html string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(html))
		})
	}
	page("/form.html", formHTML)
	page("/two.html", `<!doctype html><title>Two</title><h2>Second page</h2><a href="/form.html">back</a>`)
	page("/popup.html", `<!doctype html><title>Opener</title><a id="pop" href="/two.html" target="_blank">Open two</a>
		<button id="win" onclick="window.open('/two.html')">Window</button>`)
	page("/dialogs.html", `<!doctype html><title>Dialogs</title><p id="out"></p>
		<button id="alert" onclick="alert('hello')">Alert</button>
		<button id="confirm" onclick="document.getElementById('out').textContent = String(confirm('sure?'))">Confirm</button>
		<button id="prompt" onclick="document.getElementById('out').textContent = String(prompt('name?', 'def'))">Prompt</button>`)
	page("/dynamic.html", `<!doctype html><title>Dynamic</title><div id="box"></div>
		<button id="late" disabled>Late</button>
		<script>setTimeout(() => { document.getElementById('box').innerHTML = '<a id="new" href="/two.html">New</a>'; }, 300);
		setTimeout(() => { document.getElementById('late').disabled = false; }, 300);</script>`)
	page("/covered.html", `<!doctype html><title>Covered</title><button id="under" onclick="this.textContent='hit'">Under</button>
		<div style="position:fixed;inset:0;background:rgba(0,0,0,.1)"></div>`)
	page("/long.html", `<!doctype html><title>Long</title><div style="height:5000px">tall</div><button id="far">Far</button>`)
	page("/upload.html", `<!doctype html><title>Upload</title><input type="file" id="f" multiple>
		<p id="names"></p><script>document.getElementById('f').onchange = e => { document.getElementById('names').textContent = [...e.target.files].map(f => f.name + ':' + f.size).join(','); };</script>`)
	page("/keys.html", `<!doctype html><title>Keys</title><input id="k"><p id="log"></p>
		<script>document.getElementById('k').addEventListener('keydown', e => { document.getElementById('log').textContent += e.key + ' '; });</script>`)
	page("/state.html", `<!doctype html><title>State</title><script>
		document.cookie = 'who=ada; max-age=3600'; localStorage.setItem('k', 'v');</script>`)
	page("/slow.html", `<!doctype html><title>Slow</title><img src="/slow-image">`)
	mux.HandleFunc("/slow-image", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/data.csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("Content-Disposition", `attachment; filename="data.csv"`)
		_, _ = w.Write([]byte("a,b\n1,2\n"))
	})
	mux.HandleFunc("/missing", http.NotFound)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

const formHTML = `<!doctype html><html><head><title>Sign up</title></head><body>
<h1>Sign up</h1>
<form onsubmit="event.preventDefault()">
<label>Name <input id="name" name="name"></label>
<label><input type="checkbox" id="agree"> Agree</label>
<label>Color <select id="color"><option value="red">Red</option><option value="blue">Blue</option></select></label>
<label>Notes <textarea id="notes"></textarea></label>
<button id="send" type="button" onclick="document.getElementById('out').textContent='Hello, '+document.getElementById('name').value">Send</button>
<button id="off" disabled>Off</button>
</form>
<p id="out"></p>
<a id="dl" href="/data.csv">Download data</a>
<a id="next" href="/two.html">Next page</a>
</body></html>`

func httptestServer(t testing.TB, h http.Handler) string {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
