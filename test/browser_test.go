package test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	osexec "os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// browserProfiles are python-default and browser-python: Ship owning the
// network, the real browser runtime beside it (browser.md §1.1).
const browserProfiles = `[
 {"id":"python-default","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"idle_timeout":300},
 {"id":"browser-python","idle_timeout":300,"containers":[
  {"name":"ship","runtime_type":"ship","image":"ship:latest","port":8123,"capabilities":["filesystem","shell","python"]},
  {"name":"browser","runtime_type":"browser","image":"bay-browser:latest","port":8124,"capabilities":["browser"]}]}
]`

// formPage is served from Python and driven from the browser.
const formPage = `<!doctype html><title>Sign up</title><h1>Sign up</h1>
<label>Name <input id="name"></label>
<label><input type="checkbox" id="agree"> Agree</label>
<label>Color <select id="color"><option value="red">red</option><option value="blue">blue</option></select></label>
<button onclick="send()">Send</button>
<a href="data.csv" download>Data</a>
<p id="out"></p>
<script>
function send() {
  document.getElementById('out').textContent = 'Hello, ' + document.getElementById('name').value;
  document.cookie = 'seen=yes; max-age=3600';
  localStorage.setItem('k', 'v');
}
</script>`

// TestBrowser_AgentFlow is browser.md §7's end-to-end flow with the real
// images: Python serves a page, the browser opens it, fills and clicks
// through it, takes a screenshot into the workspace, and Python reads it.
func TestBrowser_AgentFlow(t *testing.T) {
	requireImages(t, "ship:latest", "bay-browser:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine, env: []string{"BAY_PROFILES=" + browserProfiles}})
			sb := b.newSandbox("browser-python")
			base := "/v1/sandboxes/" + sb

			// Python serves the page, detached from the exec.
			status, _, out := b.call("PUT", base+"/filesystem/files", map[string]any{"path": "site/form.html", "content": formPage})
			require.Equal(t, 200, status, "%v", out)
			status, _, out = b.call("PUT", base+"/filesystem/files", map[string]any{"path": "site/data.csv", "content": "a,b\n"})
			require.Equal(t, 200, status, "%v", out)
			res := python(t, b, sb, "import subprocess\n"+
				"subprocess.Popen(['python3', '-m', 'http.server', '18080', '--bind', '127.0.0.1', '--directory', 'site'],"+
				" start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"+
				"import time, urllib.request\n"+
				"for _ in range(100):\n"+
				"    try:\n"+
				"        urllib.request.urlopen('http://127.0.0.1:18080/form.html'); break\n"+
				"    except Exception:\n"+
				"        time.sleep(0.1)\n"+
				"print('up')")
			require.Equal(t, "up", res.Output, "error: %v", res.Error)

			exec := func(body map[string]any) map[string]any {
				t.Helper()
				status, _, out := b.call("POST", base+"/browser/exec", body)
				require.Equal(t, http.StatusOK, status, "%v", out)
				require.Equal(t, true, out["success"], "%v", out)
				return out
			}
			nav := exec(map[string]any{"command": map[string]any{"action": "navigate", "url": "http://127.0.0.1:18080/form.html"}})
			require.Equal(t, "Sign up", nav["page"].(map[string]any)["title"])

			snap := exec(map[string]any{"cmd": "snapshot -i"})
			text := snap["output"].(string)
			require.Contains(t, text, `textbox "Name"`)
			require.Contains(t, text, `button "Send"`)
			nameRef := refOf(t, text, `textbox "Name"`)
			sendRef := refOf(t, text, `button "Send"`)

			require.Contains(t, text, `checkbox "Agree"`)
			require.Contains(t, text, `combobox "Color"`)
			require.Contains(t, text, `link "Data"`)
			exec(map[string]any{"command": map[string]any{"action": "fill", "ref": nameRef, "text": "Ada"}})
			exec(map[string]any{"command": map[string]any{"action": "check", "ref": refOf(t, text, `checkbox "Agree"`)}})
			exec(map[string]any{"command": map[string]any{"action": "select", "ref": refOf(t, text, `combobox "Color"`), "values": []string{"blue"}}})
			exec(map[string]any{"cmd": "click @" + sendRef})
			got := exec(map[string]any{"command": map[string]any{"action": "get", "what": "text", "selector": "#out"}})
			require.Equal(t, "Hello, Ada", got["output"])
			got = exec(map[string]any{"command": map[string]any{"action": "get", "what": "value", "selector": "#color"}})
			require.Equal(t, "blue", got["output"])

			// A download lands in the workspace, where Python reads it.
			dl := exec(map[string]any{"command": map[string]any{"action": "click", "ref": refOf(t, text, `link "Data"`)}})
			// Each command lists the downloads that finished during it.
			downloads, _ := dl["downloads"].([]any)
			for i := 0; len(downloads) == 0 && i < 20; i++ {
				dl = exec(map[string]any{"command": map[string]any{"action": "wait", "ms": 250}})
				downloads, _ = dl["downloads"].([]any)
			}
			require.NotEmpty(t, downloads, "%v", dl)
			require.Equal(t, "downloads/data.csv", downloads[0].(map[string]any)["path"])
			require.Equal(t, "a,b", python(t, b, sb, "print(open('downloads/data.csv').read().strip())").Output)
			// The same document keeps its refs across snapshots.
			require.Equal(t, nameRef, refOf(t, exec(map[string]any{"cmd": "snapshot -i"})["output"].(string), `textbox "Name"`))

			// A screenshot lands in the workspace, where Python reads its
			// size from the IHDR; an inline one decodes to the same size.
			exec(map[string]any{"command": map[string]any{"action": "set_viewport", "width": 1280, "height": 800}})
			exec(map[string]any{"command": map[string]any{"action": "screenshot", "path": "shots/a.png"}})
			size := python(t, b, sb, "import struct\nd = open('shots/a.png','rb').read(24)\n"+
				"assert d[:8] == b'\\x89PNG\\r\\n\\x1a\\n'\nprint('%dx%d' % struct.unpack('>II', d[16:24]))")
			require.Equal(t, "1280x800", size.Output, "error: %v", size.Error)
			inline := exec(map[string]any{"command": map[string]any{"action": "screenshot"}})
			data, _ := inline["result"].(map[string]any)["data"].(string)
			raw, err := base64.StdEncoding.DecodeString(data)
			require.NoError(t, err)
			require.Greater(t, len(raw), 24)
			require.Equal(t, []byte("\x89PNG\r\n\x1a\n"), raw[:8])
			require.Equal(t, []byte{0, 0, 5, 0, 0, 0, 3, 32}, raw[16:24]) // 1280×800

			// A batch: every step reported, success when all succeed.
			status, _, batch := b.call("POST", base+"/browser/exec_batch", map[string]any{"commands": []any{
				map[string]any{"action": "reload"}, "get title",
			}, "timeout": 60})
			require.Equal(t, 200, status, "%v", batch)
			require.Equal(t, true, batch["success"], "%v", batch)
			require.EqualValues(t, 2, batch["completed_steps"])
			steps := batch["results"].([]any)
			require.Equal(t, "Sign up", steps[1].(map[string]any)["output"])

			// The capability document counts the browser container's /meta.
			status, _, caps := b.call("GET", base+"/capabilities", nil)
			require.Equal(t, 200, status, "%v", caps)
			require.Contains(t, caps["effective"], "browser")

			// A failed command is a result, not an error.
			status, _, fail := b.call("POST", base+"/browser/exec", map[string]any{"cmd": "click @e999", "timeout": 2})
			require.Equal(t, 200, status, "%v", fail)
			require.Equal(t, false, fail["success"])
			require.Equal(t, "ref_not_found", fail["error_code"])

			// Shape errors and a profile without a browser.
			status, hdr, body := b.raw("POST", base+"/browser/exec", strings.NewReader(`{"cmd":"snapshot","command":{"action":"snapshot"}}`), "Content-Type", "application/json")
			envelope(t, status, hdr, body, 422, "validation_error")
			status, hdr, body = b.raw("POST", base+"/browser/exec", strings.NewReader(`{"command":{"action":"fly"}}`), "Content-Type", "application/json")
			envelope(t, status, hdr, body, 422, "validation_error")
			plain := b.newSandbox("python-default")
			status, hdr, body = b.raw("POST", "/v1/sandboxes/"+plain+"/browser/exec", strings.NewReader(`{"cmd":"snapshot"}`), "Content-Type", "application/json")
			d := envelope(t, status, hdr, body, 400, "capability_not_supported")
			require.Equal(t, "browser", d["capability"])

			// Another owner sees nothing.
			other := startBayClientAs(b, "intruder-"+randHex(3))
			status, hdr, body = other.raw("POST", base+"/browser/exec", strings.NewReader(`{"cmd":"snapshot"}`), "Content-Type", "application/json")
			envelope(t, status, hdr, body, 404, "not_found")

			// Cookies and storage survive a stop: the profile is on the
			// Locker and the browser is closed gracefully.
			status, _, _ = b.call("POST", base+"/stop", nil)
			require.Equal(t, 200, status)
			require.Empty(t, containersOf(t, sb))
			python(t, b, sb, "import subprocess\n"+
				"subprocess.Popen(['python3', '-m', 'http.server', '18080', '--bind', '127.0.0.1', '--directory', 'site'],"+
				" start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"+
				"import time, urllib.request\n"+
				"for _ in range(100):\n"+
				"    try:\n"+
				"        urllib.request.urlopen('http://127.0.0.1:18080/form.html'); break\n"+
				"    except Exception:\n"+
				"        time.sleep(0.1)")
			exec(map[string]any{"command": map[string]any{"action": "navigate", "url": "http://127.0.0.1:18080/form.html"}})
			state := exec(map[string]any{"command": map[string]any{"action": "evaluate", "expression": "document.cookie + '|' + localStorage.getItem('k')"}})
			require.Equal(t, `"seen=yes|v"`, state["output"])

			// From inside the sandbox, code reaches the browser runtime on
			// localhost but cannot drive it: Ship's shells never see the
			// runtime token.
			probe := shell(t, b, sb, `curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:8124/exec -d '{"cmd":"get url"}'; echo; echo "token=${BAY_RUNTIME_TOKEN:-none}"`, nil)
			require.Equal(t, "401\ntoken=none", strings.TrimSpace(probe.Output))

			// Its /meta (with the token, as Bay calls it) says Chromium's
			// sandbox is on.
			browserID, err := exec2("docker", "ps", "-q", "--filter", "label=bay.sandbox_id="+sb, "--filter", "label=bay.container=browser")
			require.NoError(t, err)
			env, err := exec2("docker", "inspect", "-f", `{{range .Config.Env}}{{println .}}{{end}}`, strings.TrimSpace(browserID))
			require.NoError(t, err)
			token := ""
			for _, line := range strings.Split(env, "\n") {
				if v, ok := strings.CutPrefix(line, "BAY_RUNTIME_TOKEN="); ok {
					token = v
				}
			}
			require.NotEmpty(t, token)
			meta := shell(t, b, sb, "curl -s -H 'Authorization: Bearer "+token+"' http://127.0.0.1:8124/meta", nil)
			var m struct {
				Capabilities struct {
					Browser struct {
						ChromiumSandbox bool `json:"chromium_sandbox"`
					} `json:"browser"`
				} `json:"capabilities"`
			}
			require.NoError(t, json.Unmarshal([]byte(meta.Output), &m), meta.Output)
			require.True(t, m.Capabilities.Browser.ChromiumSandbox, meta.Output)

			// The browser runs with Chromium's own sandbox on, non-root,
			// without capabilities, on a read-only root, in Ship's network.
			ids := containersOf(t, sb)
			require.Len(t, ids, 2)
			insp, err := exec2("docker", "ps", "-q", "--filter", "label=bay.sandbox_id="+sb, "--filter", "label=bay.container=browser")
			require.NoError(t, err)
			cfg, err := exec2("docker", "inspect", "-f", "{{.HostConfig.NetworkMode}} {{.Config.User}} {{.HostConfig.CapDrop}} {{.HostConfig.ReadonlyRootfs}}", strings.TrimSpace(insp))
			require.NoError(t, err)
			require.Regexp(t, `^container:[0-9a-f]{64} 1000:1000 \[ALL\] true$`, strings.TrimSpace(cfg))

			// Delete leaves no container and no volume.
			status, _, info := b.call("GET", base, nil)
			require.Equal(t, 200, status)
			locker := info["locker_id"].(string)
			status, _, _ = b.call("DELETE", base, nil)
			require.Equal(t, 204, status)
			require.Empty(t, containersOf(t, sb))
			require.False(t, volumeExists("bay-"+locker))
		})
	}
}

// exec2 runs a command and returns its output.
func exec2(name string, args ...string) (string, error) {
	out, err := osexec.Command(name, args...).Output()
	return string(out), err
}

// refOf finds the ref of a snapshot line.
func refOf(t *testing.T, snapshot, line string) string {
	t.Helper()
	for _, l := range strings.Split(snapshot, "\n") {
		if strings.Contains(l, line) {
			_, rest, ok := strings.Cut(l, "[ref=")
			require.True(t, ok, "no ref on %q", l)
			ref, _, _ := strings.Cut(rest, "]")
			return ref
		}
	}
	t.Fatalf("%q not in snapshot:\n%s", line, snapshot)
	return ""
}
