package browser

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/browserclient"
	"github.com/bayhq/bay/browser/wire"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
)

// TestConformance runs Bay's browser suite, through Bay's client, against
// browserd with the host's Chromium.
func TestConformance(t *testing.T) {
	r := startRuntime(t, "")
	client := browserclient.New()
	t.Cleanup(client.Close)
	conformance.RunBrowser(t, conformance.BrowserHarness{
		New: func(t *testing.T) (core.Browser, core.Endpoint) {
			return client, core.Endpoint{URL: r.srv.URL, Token: testToken}
		},
	})
}

// TestActions drives every action against pages served on 127.0.0.1
// (browser.md §7). The subtests share one Chromium and run in order.
func TestActions(t *testing.T) {
	r := startRuntime(t, "")
	web := site(t)
	open := func(t *testing.T, path string) map[string]any {
		t.Helper()
		return ok(t, r.do(t, fmt.Sprintf(`{"command":{"action":"navigate","url":%q}}`, web.URL+path)))
	}
	refs := func(t *testing.T) map[string]string {
		t.Helper()
		res := ok(t, r.do(t, `{"command":{"action":"snapshot"}}`))
		out := map[string]string{}
		for _, n := range res["nodes"].([]any) {
			node := n.(map[string]any)
			if ref, has := node["ref"].(string); has {
				out[node["role"].(string)+" "+node["name"].(string)] = ref
			}
		}
		return out
	}
	text := func(t *testing.T, sel string) string {
		t.Helper()
		return r.do(t, fmt.Sprintf(`{"command":{"action":"get","what":"text","selector":%q}}`, sel)).Output
	}

	t.Run("Navigate/StatusAndTitle", func(t *testing.T) {
		res := open(t, "/form.html")
		require.EqualValues(t, 200, res["status"])
		require.Equal(t, "Sign up", res["title"])
		res = open(t, "/missing")
		require.EqualValues(t, 404, res["status"], "an error status is a page, not a failure")
	})

	t.Run("Navigate/Failures", func(t *testing.T) {
		failedWith(t, r.do(t, `{"command":{"action":"navigate","url":"http://127.0.0.1:1/"}}`), wire.ErrNavigationFailed)
		for _, u := range []string{"chrome://version", "javascript:alert(1)", "file:///etc/passwd", "view-source:http://x/", "devtools://devtools"} {
			failedWith(t, r.do(t, fmt.Sprintf(`{"command":{"action":"navigate","url":%q}}`, u)), wire.ErrURLNotAllowed)
		}
		require.NoError(t, os.WriteFile(filepath.Join(r.workspace, "local.html"), []byte("<title>Local</title>"), 0o600))
		res := ok(t, r.do(t, `{"command":{"action":"navigate","url":"file:///workspace/local.html"}}`))
		require.Equal(t, "Local", res["title"])
		failedWith(t, r.do(t, `{"cmd":"open file:///workspace/../etc/passwd"}`), wire.ErrURLNotAllowed)
		require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(r.workspace, "escape.html")))
		failedWith(t, r.do(t, `{"cmd":"open file:///workspace/escape.html"}`), wire.ErrURLNotAllowed)
	})

	t.Run("Snapshot/RefsStableThenStale", func(t *testing.T) {
		open(t, "/form.html")
		first := refs(t)
		require.Contains(t, first, "textbox Name")
		require.Contains(t, first, "checkbox Agree")
		require.Contains(t, first, "combobox Color")
		require.Contains(t, first, "button Send")
		require.Contains(t, first, "link Next page")
		ok(t, r.do(t, `{"command":{"action":"evaluate","expression":"document.body.insertAdjacentHTML('afterbegin', '<button>Extra</button>')"}}`))
		second := refs(t)
		for k, v := range first {
			require.Equal(t, v, second[k], "%s keeps its ref when the page changes", k)
		}
		require.NotContains(t, first, "button Extra")
		require.Contains(t, second, "button Extra")
		ok(t, r.do(t, fmt.Sprintf(`{"command":{"action":"click","ref":%q}}`, first["link Next page"])))
		res := r.do(t, `{"cmd":"get title"}`)
		require.Equal(t, "Two", res.Output, "the click followed the link")
		failedWith(t, r.do(t, fmt.Sprintf(`{"command":{"action":"click","ref":%q}}`, first["button Send"])), wire.ErrStaleRef)
		failedWith(t, r.do(t, `{"command":{"action":"click","ref":"e99999"}}`), wire.ErrRefNotFound)
		// An element removed from the document.
		open(t, "/form.html")
		now := refs(t)
		ok(t, r.do(t, `{"command":{"action":"evaluate","expression":"document.getElementById('send').remove()"}}`))
		failedWith(t, r.do(t, fmt.Sprintf(`{"command":{"action":"click","ref":%q}, "timeout": 2}`, now["button Send"])), wire.ErrStaleRef)
	})

	t.Run("Snapshot/FullTreeAndScope", func(t *testing.T) {
		open(t, "/form.html")
		res := ok(t, r.do(t, `{"command":{"action":"snapshot","interactive_only":false}}`))
		txt := res["text"].(string)
		require.Contains(t, txt, `- heading "Sign up" [level=1]`)
		require.Contains(t, txt, "- form")
		require.Contains(t, txt, `  - textbox "Name" [ref=`, "children of the form are indented")
		scoped := ok(t, r.do(t, `{"cmd":"snapshot -s form"}`))
		require.NotContains(t, scoped["text"], "Next page", "the scope leaves out what is outside the form")
		require.Contains(t, scoped["text"], "Send")
	})

	t.Run("Form/FillCheckSelectClick", func(t *testing.T) {
		open(t, "/form.html")
		ids := refs(t)
		res := ok(t, r.do(t, fmt.Sprintf(`{"command":{"action":"fill","ref":%q,"text":"Ada"}}`, ids["textbox Name"])))
		require.Equal(t, "Ada", res["value"])
		res = ok(t, r.do(t, fmt.Sprintf(`{"cmd":"fill %s \"Ada Lovelace\""}`, ids["textbox Name"])))
		require.Equal(t, "Ada Lovelace", res["value"], "fill replaces the value")
		res = ok(t, r.do(t, `{"command":{"action":"fill","selector":"#name","text":""}}`))
		require.Equal(t, "", res["value"])
		ok(t, r.do(t, `{"command":{"action":"fill","selector":"#name","text":"Ada"}}`))
		res = ok(t, r.do(t, fmt.Sprintf(`{"command":{"action":"check","ref":%q}}`, ids["checkbox Agree"])))
		require.Equal(t, true, res["checked"])
		res = ok(t, r.do(t, `{"command":{"action":"uncheck","selector":"#agree"}}`))
		require.Equal(t, false, res["checked"])
		res = ok(t, r.do(t, fmt.Sprintf(`{"command":{"action":"select","ref":%q,"values":["Blue"]}}`, ids["combobox Color"])))
		require.Equal(t, []any{"blue"}, res["selected"], "an option is chosen by label or value")
		failedWith(t, r.do(t, `{"command":{"action":"select","selector":"#color","values":["green"]}}`), wire.ErrInvalidArgument)
		ok(t, r.do(t, fmt.Sprintf(`{"command":{"action":"click","ref":%q}}`, ids["button Send"])))
		require.Equal(t, "Hello, Ada", text(t, "#out"))
		ok(t, r.do(t, `{"command":{"action":"fill","selector":"#notes","text":"line 1\nline 2 ✓"}}`))
		require.Equal(t, "line 1\nline 2 ✓", r.do(t, `{"cmd":"get value #notes"}`).Output)
		failedWith(t, r.do(t, `{"command":{"action":"fill","selector":"#color","text":"x"},"timeout":1}`), wire.ErrNotInteractable)
		failedWith(t, r.do(t, `{"command":{"action":"click","selector":"#off"},"timeout":1}`), wire.ErrNotInteractable)
		failedWith(t, r.do(t, `{"command":{"action":"click","selector":"#nope"},"timeout":1}`), wire.ErrElementNotFound)
		failedWith(t, r.do(t, `{"command":{"action":"click","selector":"##bad"},"timeout":1}`), wire.ErrInvalidArgument)
	})

	t.Run("AutoWait", func(t *testing.T) {
		open(t, "/dynamic.html")
		start := time.Now()
		ok(t, r.do(t, `{"command":{"action":"click","selector":"#late"},"timeout":5}`))
		ok(t, r.do(t, `{"command":{"action":"click","selector":"#new"},"timeout":5}`))
		require.Less(t, time.Since(start), 4*time.Second)
		require.Equal(t, "Two", r.do(t, `{"cmd":"get title"}`).Output)
		open(t, "/covered.html")
		res := r.do(t, `{"command":{"action":"click","selector":"#under"},"timeout":1}`)
		failedWith(t, res, wire.ErrNotInteractable)
		require.Contains(t, *res.Error, "covered by")
	})

	t.Run("Dialogs", func(t *testing.T) {
		open(t, "/dialogs.html")
		res := ok2(t, r.do(t, `{"command":{"action":"click","selector":"#alert"}}`))
		require.Len(t, res.Dialogs, 1)
		require.Equal(t, wire.Dialog{Type: "alert", Message: "hello", URL: web.URL + "/dialogs.html", Accepted: true}, res.Dialogs[0])
		res = ok2(t, r.do(t, `{"command":{"action":"click","selector":"#confirm"}}`))
		require.False(t, res.Dialogs[0].Accepted, "a confirm is dismissed by default")
		require.Equal(t, "false", text(t, "#out"))
		ok(t, r.do(t, `{"command":{"action":"click","selector":"#confirm","dialog":{"accept":true}}}`))
		require.Equal(t, "true", text(t, "#out"))
		res = ok2(t, r.do(t, `{"command":{"action":"click","selector":"#prompt","dialog":{"accept":true,"prompt_text":"Ada"}}}`))
		require.Equal(t, "Ada", *res.Dialogs[0].PromptText)
		require.Equal(t, "Ada", text(t, "#out"))
	})

	t.Run("Tabs/PopupsBecomeTabs", func(t *testing.T) {
		open(t, "/popup.html")
		ok(t, r.do(t, `{"command":{"action":"click","selector":"#pop"}}`))
		var tabs []any
		require.Eventually(t, func() bool {
			tabs = ok(t, r.do(t, `{"command":{"action":"tab_list"}}`))["tabs"].([]any)
			return len(tabs) == 2
		}, 5*time.Second, 50*time.Millisecond, "the window the page opened is a tab")
		second := tabs[1].(map[string]any)
		require.Equal(t, false, second["active"], "a popup does not take the focus")
		require.Equal(t, web.URL+"/two.html", second["url"])
		res := r.do(t, fmt.Sprintf(`{"cmd":"tab %s"}`, second["tab_id"]))
		ok(t, res)
		require.Equal(t, second["tab_id"], res.Page.TabID)
		require.Equal(t, "Two", r.do(t, `{"cmd":"get title"}`).Output)
		ok(t, r.do(t, `{"command":{"action":"tab_close"}}`))
		res = r.do(t, `{"command":{"action":"tab_new","url":"data:text/html,<title>New</title>"}}`)
		ok(t, res)
		require.Equal(t, "New", res.Page.Title)
		failedWith(t, r.do(t, `{"command":{"action":"tab_select","tab_id":"t999"}}`), wire.ErrInvalidArgument)
		for _, tb := range ok(t, r.do(t, `{"cmd":"tab list"}`))["tabs"].([]any) {
			if id := tb.(map[string]any)["tab_id"].(string); tb.(map[string]any)["active"] == false {
				ok(t, r.do(t, fmt.Sprintf(`{"command":{"action":"tab_close","tab_id":%q}}`, id)))
			}
		}
		require.Len(t, ok(t, r.do(t, `{"cmd":"tab"}`))["tabs"], 1)
	})

	t.Run("Downloads", func(t *testing.T) {
		open(t, "/form.html")
		res := r.do(t, `{"command":{"action":"click","selector":"#dl"}}`)
		ok(t, res)
		require.Len(t, res.Downloads, 1)
		require.Equal(t, "downloads/data.csv", res.Downloads[0].Path)
		require.EqualValues(t, 8, res.Downloads[0].Size)
		require.Equal(t, "completed", res.Downloads[0].State)
		b, err := os.ReadFile(filepath.Join(r.workspace, "downloads", "data.csv"))
		require.NoError(t, err)
		require.Equal(t, "a,b\n1,2\n", string(b))
		// A download that starts later: wait {download} waits for it, and
		// Chromium names the second copy "data (1).csv".
		ok(t, r.do(t, `{"command":{"action":"evaluate","expression":"setTimeout(() => document.getElementById('dl').click(), 300)"}}`))
		res = r.do(t, `{"command":{"action":"wait","download":true},"timeout":10}`)
		ok(t, res)
		require.Len(t, res.Downloads, 1)
		require.Equal(t, "downloads/data (1).csv", res.Downloads[0].Path)
	})

	t.Run("ScreenshotAndPDF", func(t *testing.T) {
		open(t, "/form.html")
		ok(t, r.do(t, `{"command":{"action":"set_viewport","width":1280,"height":800}}`))
		res := ok(t, r.do(t, `{"command":{"action":"screenshot","path":"/workspace/shots/a.png"}}`))
		require.Equal(t, "shots/a.png", res["path"])
		require.EqualValues(t, 1280, res["width"])
		require.EqualValues(t, 800, res["height"])
		require.NotContains(t, res, "data", "a screenshot with a path is not inline unless asked")
		raw, err := os.ReadFile(filepath.Join(r.workspace, "shots", "a.png"))
		require.NoError(t, err)
		require.Equal(t, "\x89PNG\r\n\x1a\n", string(raw[:8]))
		inline := ok(t, r.do(t, `{"command":{"action":"screenshot"}}`))
		data, err := base64.StdEncoding.DecodeString(inline["data"].(string))
		require.NoError(t, err)
		w, h, err := imageSize(data)
		require.NoError(t, err)
		require.Equal(t, [2]int{1280, 800}, [2]int{w, h})
		el := ok(t, r.do(t, `{"command":{"action":"screenshot","selector":"#send","format":"jpeg","quality":50}}`))
		require.Less(t, el["width"].(float64), 200.0, "an element's screenshot is the element")
		open(t, "/long.html")
		full := ok(t, r.do(t, `{"cmd":"screenshot --full shots/full.png"}`))
		require.Greater(t, full["height"].(float64), 4000.0)
		pdf := ok(t, r.do(t, `{"cmd":"pdf out/page.pdf"}`))
		require.Equal(t, "out/page.pdf", pdf["path"])
		raw, err = os.ReadFile(filepath.Join(r.workspace, "out", "page.pdf"))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(raw), "%PDF"))
		require.NoError(t, os.Symlink("/tmp", filepath.Join(r.workspace, "tmplink")))
		failedWith(t, r.do(t, `{"cmd":"screenshot tmplink/x.png"}`), wire.ErrInvalidArgument)
	})

	t.Run("KeysAndTyping", func(t *testing.T) {
		open(t, "/keys.html")
		ok(t, r.do(t, `{"command":{"action":"type","selector":"#k","text":"ab"}}`))
		ok(t, r.do(t, `{"command":{"action":"press","key":"Control+a"}}`))
		ok(t, r.do(t, `{"command":{"action":"type","text":"Z"}}`))
		require.Equal(t, "Z", r.do(t, `{"cmd":"get value #k"}`).Output, "Control+a selected all")
		ok(t, r.do(t, `{"cmd":"press Enter"}`))
		ok(t, r.do(t, `{"command":{"action":"press","key":"ArrowLeft","selector":"#k"}}`))
		require.Equal(t, "a b Control a Z Enter ArrowLeft", strings.TrimSpace(text(t, "#log")))
		failedWith(t, r.do(t, `{"command":{"action":"press","key":"Hyperdrive"}}`), wire.ErrInvalidArgument)
	})

	t.Run("ScrollHoverFocus", func(t *testing.T) {
		open(t, "/long.html")
		res := ok(t, r.do(t, `{"command":{"action":"scroll","direction":"down","amount":700}}`))
		require.EqualValues(t, 700, res["y"])
		res = ok(t, r.do(t, `{"cmd":"scroll up 200"}`))
		require.EqualValues(t, 500, res["y"])
		res = ok(t, r.do(t, `{"cmd":"scrollintoview #far"}`))
		require.Greater(t, res["y"].(float64), 4000.0)
		ok(t, r.do(t, `{"command":{"action":"hover","selector":"#far"}}`))
		ok(t, r.do(t, `{"command":{"action":"focus","selector":"#far"}}`))
		require.Equal(t, "far", r.do(t, `{"command":{"action":"evaluate","expression":"document.activeElement.id"}}`).Output[1:4])
	})

	t.Run("GetAndEvaluate", func(t *testing.T) {
		open(t, "/form.html")
		require.Equal(t, "2", r.do(t, `{"cmd":"get count button"}`).Output)
		require.Equal(t, "/two.html", r.do(t, `{"cmd":"get attr #next href"}`).Output)
		require.Equal(t, "Sign up", r.do(t, `{"cmd":"get title"}`).Output)
		require.Equal(t, web.URL+"/form.html", r.do(t, `{"cmd":"get url"}`).Output)
		require.Equal(t, "<h1>Sign up</h1>", r.do(t, `{"cmd":"get html h1"}`).Output)
		require.Contains(t, r.do(t, `{"cmd":"get text"}`).Output, "Sign up")
		failedWith(t, r.do(t, `{"cmd":"get value h1"}`), wire.ErrInvalidArgument)
		res := ok(t, r.do(t, `{"command":{"action":"evaluate","expression":"({a: 1, b: [true, null], s: document.title})"}}`))
		require.Equal(t, map[string]any{"a": 1.0, "b": []any{true, nil}, "s": "Sign up"}, res["value"])
		res = ok(t, r.do(t, `{"command":{"action":"evaluate","expression":"new Promise(r => setTimeout(() => r(42), 50))"}}`))
		require.EqualValues(t, 42, res["value"])
		require.Equal(t, "undefined", r.do(t, `{"cmd":"eval undefined"}`).Output)
		require.Equal(t, `"NaN"`, r.do(t, `{"cmd":"eval NaN"}`).Output)
		failedWith(t, r.do(t, `{"cmd":"eval throw new TypeError('nope')"}`), wire.ErrJSException)
		failedWith(t, r.do(t, `{"command":{"action":"evaluate","expression":"Promise.reject(new Error('later'))"}}`), wire.ErrJSException)
	})

	t.Run("Upload", func(t *testing.T) {
		require.NoError(t, os.MkdirAll(filepath.Join(r.workspace, "files"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(r.workspace, "files", "a.txt"), []byte("hello"), 0o600))
		open(t, "/upload.html")
		ok(t, r.do(t, `{"cmd":"upload #f files/a.txt"}`))
		require.Equal(t, "a.txt:5", text(t, "#names"))
		require.NoError(t, os.Symlink("/etc/hostname", filepath.Join(r.workspace, "files", "host")))
		failedWith(t, r.do(t, `{"cmd":"upload #f files/host"}`), wire.ErrInvalidArgument)
		failedWith(t, r.do(t, `{"cmd":"upload #f files/none.txt"}`), wire.ErrInvalidArgument)
	})

	t.Run("History", func(t *testing.T) {
		open(t, "/form.html")
		open(t, "/two.html")
		require.Equal(t, "Sign up", ok(t, r.do(t, `{"cmd":"back"}`))["title"])
		require.Equal(t, "Two", ok(t, r.do(t, `{"cmd":"forward"}`))["title"])
		require.Equal(t, "Two", ok(t, r.do(t, `{"command":{"action":"reload","wait_until":"domcontentloaded"}}`))["title"])
		failedWith(t, r.do(t, `{"cmd":"forward"}`), wire.ErrNavigationFailed)
	})

	t.Run("Waits", func(t *testing.T) {
		open(t, "/dynamic.html")
		ok(t, r.do(t, `{"cmd":"wait #new"}`))
		ok(t, r.do(t, `{"command":{"action":"wait","text":"New"}}`))
		ok(t, r.do(t, fmt.Sprintf(`{"command":{"action":"wait","url":%q}}`, web.URL+"/dyn*.html")))
		ok(t, r.do(t, `{"cmd":"wait --load networkidle"}`))
		res := ok(t, r.do(t, `{"cmd":"wait 120"}`))
		require.GreaterOrEqual(t, res["waited_ms"].(float64), 120.0)
		failedWith(t, r.do(t, `{"command":{"action":"wait","selector":"#never"},"timeout":1}`), wire.ErrTimeout)
		res2 := r.do(t, `{"command":{"action":"navigate","url":"`+web.URL+`/slow.html","wait_until":"load"},"timeout":1}`)
		failedWith(t, res2, wire.ErrTimeout)
		require.Equal(t, wire.ExitTimeout, res2.ExitCode)
		ok(t, r.do(t, `{"command":{"action":"navigate","url":"`+web.URL+`/slow.html","wait_until":"domcontentloaded"},"timeout":2}`))
	})

	t.Run("Limits", func(t *testing.T) {
		open(t, "/form.html")
		res := r.do(t, `{"command":{"action":"get","what":"html"},"max_output_bytes":100}`)
		ok(t, res)
		require.LessOrEqual(t, strings.Index(res.Output, "\n[... truncated "), 100)
		require.Equal(t, true, res.Result.(map[string]any)["truncated"])
		res = r.do(t, `{"command":{"action":"snapshot"},"max_output_bytes":120}`)
		m := ok(t, res)
		require.Equal(t, true, m["truncated"])
		for _, n := range m["nodes"].([]any) {
			if ref, has := n.(map[string]any)["ref"]; has {
				require.Contains(t, res.Output, fmt.Sprint(ref), "a node listed is in the cut text")
			}
		}
	})

	t.Run("Batch", func(t *testing.T) {
		var out wire.BatchResponse
		status := r.post(t, wire.PathExecBatch, fmt.Sprintf(`{"commands":[{"action":"navigate","url":%q},"snapshot -i","fill #name Ada","click #send","get text #out"]}`, web.URL+"/form.html"), &out)
		require.Equal(t, http.StatusOK, status)
		require.True(t, out.Success, "%+v", out)
		require.Equal(t, 5, out.CompletedSteps)
		require.Equal(t, "Hello, Ada", out.Results[4].Output)
		require.Equal(t, "Hello, Ada", out.Results[4].Stdout)
		require.Equal(t, "get text #out", out.Results[4].Cmd)
	})

	t.Run("Validation", func(t *testing.T) {
		var e wire.Error
		require.Equal(t, http.StatusUnprocessableEntity, r.post(t, wire.PathExec, `{"command":{"action":"fly"}}`, &e))
		require.Equal(t, http.StatusUnprocessableEntity, r.post(t, wire.PathExec, `{"command":{"action":"get","what":"url"},"cmd":"get url"}`, &e))
		require.Equal(t, http.StatusUnprocessableEntity, r.post(t, wire.PathExec, `{"cmd":"get url","timeout":301}`, &e))
		require.Equal(t, http.StatusUnprocessableEntity, r.post(t, wire.PathExec, `{"cmd":"get url","extra":1}`, &e))
		require.Equal(t, http.StatusBadRequest, r.post(t, wire.PathExec, `{"cmd":"screenshot ../x.png"}`, &e))
		require.Equal(t, http.StatusUnprocessableEntity, r.post(t, wire.PathExecBatch, `{"commands":[]}`, &e))
	})
}

// ok2 wants success and returns the whole result.
func ok2(t testing.TB, res wire.Result) wire.Result {
	t.Helper()
	ok(t, res)
	return res
}

// TestAuth checks the runtime token: every route but GET /health needs it.
func TestAuth(t *testing.T) {
	r := startRuntime(t, "")
	for _, path := range []string{"/meta", "/exec", "/exec_batch", "/nope", "/health?x"} {
		for _, auth := range []string{"", "Bearer wrong", "Basic " + testToken, testToken} {
			method := http.MethodPost
			if path == "/meta" || path == "/nope" {
				method = http.MethodGet
			}
			req, _ := http.NewRequest(method, r.srv.URL+path, strings.NewReader(`{"cmd":"get url"}`))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			if path == "/health?x" && method == http.MethodPost {
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				continue
			}
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s %s %q", method, path, auth)
		}
	}
	resp, err := http.Get(r.srv.URL + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestCrashRecovery kills Chromium: the command in flight gets
// browser_crashed, /health is 503 until Chromium is back, and the next
// command works (browser.md §5.1).
func TestCrashRecovery(t *testing.T) {
	r := startRuntime(t, "")
	ok(t, r.do(t, `{"command":{"action":"navigate","url":"data:text/html,<button>Go</button>"}}`))
	ok(t, r.do(t, `{"cmd":"snapshot -i"}`))
	pid := r.eng.ChromiumPID()
	require.NotZero(t, pid)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}()
	res := r.do(t, `{"command":{"action":"wait","ms":5000}}`)
	failedWith(t, res, wire.ErrBrowserCrashed)
	resp, err := http.Get(r.srv.URL + wire.PathHealth)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "/health is 503 while Chromium restarts")
	res = r.do(t, `{"command":{"action":"navigate","url":"data:text/html,<title>Again</title><button>Go</button>"}}`)
	require.Equal(t, "Again", ok(t, res)["title"], "the next command works")
	require.NotEqual(t, pid, r.eng.ChromiumPID())
	failedWith(t, r.do(t, `{"command":{"action":"click","ref":"e1"}}`), wire.ErrRefNotFound)
}

// TestGracefulStopKeepsProfile: cookies and localStorage survive a stop
// and start on the same workspace (browser.md §3.7).
func TestGracefulStopKeepsProfile(t *testing.T) {
	web := site(t)
	ws := t.TempDir()
	r := startRuntime(t, ws)
	ok(t, r.do(t, fmt.Sprintf(`{"command":{"action":"navigate","url":%q}}`, web.URL+"/state.html")))
	start := time.Now()
	r.stop(t)
	require.Less(t, time.Since(start), 5*time.Second)
	again := startRuntime(t, ws)
	ok(t, again.do(t, fmt.Sprintf(`{"command":{"action":"navigate","url":%q}}`, web.URL+"/form.html")))
	require.Contains(t, again.do(t, `{"cmd":"eval document.cookie"}`).Output, "who=ada")
	ls := again.do(t, `{"cmd":"eval \"localStorage.getItem('k')\""}`)
	require.Equal(t, `"v"`, ls.Output, "error: %s", derefStr(ls.Error))
}

// TestProfileLock: a second browser on the same Locker gets a temporary
// profile and says so.
func TestProfileLock(t *testing.T) {
	ws := t.TempDir()
	first := startRuntime(t, ws)
	second := startRuntime(t, ws)
	require.Equal(t, wire.ProfilePersistent, first.eng.Status().Profile)
	require.Equal(t, wire.ProfileEphemeral, second.eng.Status().Profile)
}

// TestStopRefusesWork: after Stop, /exec answers 503 and /health is not
// ready.
func TestStopRefusesWork(t *testing.T) {
	r := startRuntime(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.eng.Stop(ctx)
	var e wire.Error
	require.Equal(t, http.StatusServiceUnavailable, r.post(t, wire.PathExec, `{"cmd":"get url"}`, &e))
	resp, err := http.Get(r.srv.URL + wire.PathHealth)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

// TestUnwritableWorkspaceFails: /health answers 503 failed with the
// reason, which ends Bay's readiness wait.
func TestUnwritableWorkspaceFails(t *testing.T) {
	needChromium(t)
	cfg := Config{Workspace: "/proc/nonexistent/ws", TmpDir: t.TempDir(), Token: testToken}
	eng := NewEngine(cfg)
	srv, err := NewServer(cfg, eng)
	require.NoError(t, err)
	eng.Start()
	hs := httptestServer(t, srv)
	require.Eventually(t, func() bool { return eng.Status().State == wire.StatusFailed }, 10*time.Second, 20*time.Millisecond)
	resp, err := http.Get(hs + wire.PathHealth)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	var h wire.Health
	require.NoError(t, jsonDecode(resp, &h))
	require.Equal(t, wire.StatusFailed, h.Status)
	require.Contains(t, h.Error, "not writable")
}
