package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDocs loads /docs in a headless Chromium, driven over the DevTools
// protocol (--remote-debugging-pipe), and checks what a person sees: Swagger
// UI's operation list with the Markdown of the spec rendered as HTML, no
// Content-Security-Policy violation, nothing fetched from anywhere but Bay,
// and a try-it-out call authorized with the bearer key.
func TestDocs(t *testing.T) {
	bin := chromiumBinary()
	need(t, bin != "", "Chromium (chromium-headless-shell or chromium) is not installed: scripts/test-deps.sh installs it")
	const apiKey = "docs-test-key"
	b := startBay(t, bayOpts{engine: "sqlite", apiKey: apiKey})

	// A hang guard, not the expected time: the whole test takes seconds,
	// and tens of seconds on a loaded 2-core machine.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	br := startChromium(t, ctx, bin)
	page := br.open(t, ctx, b.URL+"/docs")

	// The operation list, once Swagger UI has fetched /openapi.json and
	// rendered it.
	page.waitFor(t, ctx, "the operation list", `[...document.querySelectorAll(".opblock .opblock-summary-path")]
		.some(e => e.getAttribute("data-path") === "/v1/sandboxes")`)
	var seen struct {
		Description string   // the spec's info.description, as rendered
		Create      string   // the collapsed createSandbox operation
		Paths       []string // of the operations listed
		Authorize   bool     // the button of the security schemes
	}
	require.NoError(t, json.Unmarshal(page.eval(t, ctx, `({
		description: document.querySelector(".information-container .info .description").innerHTML,
		create: document.querySelector("#operations-sandboxes-createSandbox").outerHTML,
		paths: [...document.querySelectorAll(".opblock .opblock-summary-path")].map(e => e.getAttribute("data-path")),
		authorize: !!document.querySelector(".auth-wrapper .btn.authorize"),
	})`), &seen))
	require.Contains(t, seen.Paths, "/v1/sandboxes")
	require.Contains(t, seen.Paths, "/v1/sandboxes/{sandbox_id}/python/exec")
	require.Contains(t, seen.Paths, "/v1/lockers")
	require.Contains(t, seen.Create, "opblock-post")
	require.Contains(t, seen.Create, `data-path="/v1/sandboxes"`)
	require.Contains(t, seen.Create, "Create a sandbox")
	require.Contains(t, seen.Create, ">createSandbox<")
	// The description's Markdown, as HTML.
	require.Contains(t, seen.Description, "<strong>Request IDs.</strong>")
	require.Contains(t, seen.Description, "<code>X-Request-Id</code>")
	require.NotContains(t, seen.Description, "**Request IDs.**")
	require.NotContains(t, seen.Description, "`X-Request-Id`")
	require.True(t, seen.Authorize, "the Authorize button")

	// Try it out: authorize with the bearer key, then list the sandboxes.
	// This Bay accepts only the key, so a 200 means the key was sent.
	page.eval(t, ctx, `document.querySelector(".auth-wrapper .btn.authorize").click()`)
	page.waitFor(t, ctx, "the Authorize dialog", `!!document.querySelector(".modal-ux input[aria-label='auth-bearer-value']")`)
	page.eval(t, ctx, fmt.Sprintf(`(() => {
		const input = document.querySelector(".modal-ux input[aria-label='auth-bearer-value']");
		Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(input, %q);
		input.dispatchEvent(new Event("input", {bubbles: true}));
		input.closest("form").querySelector("button.authorize[type=submit]").click();
	})()`, apiKey))
	page.waitFor(t, ctx, "the key to be accepted", `!!document.querySelector(".modal-ux button[aria-label='Remove authorization']")`)
	page.eval(t, ctx, `document.querySelector(".modal-ux .btn-done, .modal-ux .close-modal").click()`)
	page.waitFor(t, ctx, "the Authorize dialog to close", `!document.querySelector(".modal-ux") &&
		!!document.querySelector(".auth-wrapper .btn.authorize.locked")`)

	const op = "#operations-sandboxes-listSandboxes"
	page.eval(t, ctx, `document.querySelector("`+op+` .opblock-summary-control").click()`)
	page.waitFor(t, ctx, "the Try it out button", `!!document.querySelector("`+op+` .try-out__btn")`)
	// An operation's description, as HTML too.
	opDescription := page.text(t, ctx, `document.querySelector("`+op+` .opblock-description-wrapper").innerHTML`)
	require.Contains(t, opDescription, "<code>status</code>")
	require.NotContains(t, opDescription, "`status`")
	page.eval(t, ctx, `document.querySelector("`+op+` .try-out__btn").click()`)
	page.waitFor(t, ctx, "the Execute button", `!!document.querySelector("`+op+` .btn.execute")`)
	page.eval(t, ctx, `document.querySelector("`+op+` .btn.execute").click()`)
	page.waitFor(t, ctx, "the response", `!!document.querySelector("`+op+` .live-responses-table tbody .response-col_status")`)
	status := page.text(t, ctx, `document.querySelector("`+op+` .live-responses-table tbody .response-col_status").textContent.trim()`)
	answer := page.text(t, ctx, `document.querySelector("`+op+` .live-responses-table").textContent`)
	require.Equal(t, "200", status, answer)
	require.Contains(t, answer, `"items"`)
	require.Contains(t, page.text(t, ctx, `document.querySelector("`+op+` .curl-command, `+op+` .curl").textContent`),
		"Authorization: Bearer "+apiKey)

	// Nothing was refused by the page's CSP, nothing failed, and nothing
	// came from anywhere but Bay.
	var report struct {
		Violations, Errors, Resources []string
	}
	raw := page.eval(t, ctx, `({violations: window.__docsTest.violations, errors: window.__docsTest.errors,
		resources: performance.getEntriesByType("resource").map(e => e.name)})`)
	require.NoError(t, json.Unmarshal(raw, &report))
	require.Empty(t, report.Violations, "Content-Security-Policy violations")
	require.Empty(t, report.Errors, "script errors")
	require.NotEmpty(t, report.Resources)
	for _, u := range report.Resources {
		require.True(t, strings.HasPrefix(u, b.URL+"/"), "the page fetched %s", u)
	}
}

// chromiumBinary finds a headless Chromium: Debian's chromium-headless-shell
// (scripts/test-deps.sh) or a full chromium.
func chromiumBinary() string {
	for _, name := range []string{"chromium-headless-shell", "chromium", "/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// docsTestProbe runs in the page before its own scripts (DevTools scripts
// are not subject to the page's CSP): it records CSP violations and script
// errors.
const docsTestProbe = `window.__docsTest = {violations: [], errors: []};
document.addEventListener("securitypolicyviolation", e =>
	window.__docsTest.violations.push(e.effectiveDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber));
window.addEventListener("error", e => window.__docsTest.errors.push(String(e.message)));`

// browser is a headless Chromium driven over --remote-debugging-pipe: one
// JSON message per NUL-terminated frame on fds 3 (to it) and 4 (from it).
type browser struct {
	cmd    *exec.Cmd
	to     io.WriteCloser
	stderr *syncBuffer

	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpReply
	closed  chan struct{} // the pipe from Chromium ended
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func startChromium(t *testing.T, ctx context.Context, bin string) *browser {
	t.Helper()
	profile, err := os.MkdirTemp("", "bay-docs-chromium-")
	require.NoError(t, err)
	toR, toW, err := os.Pipe()
	require.NoError(t, err)
	fromR, fromW, err := os.Pipe()
	require.NoError(t, err)
	cmd := exec.Command(bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--remote-debugging-pipe", "--user-data-dir="+profile,
		"--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		// No network but Bay's: every other host name fails to resolve.
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"about:blank")
	br := &browser{cmd: cmd, to: toW, stderr: &syncBuffer{}, pending: map[int]chan cdpReply{}, closed: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = br.stderr, br.stderr
	cmd.ExtraFiles = []*os.File{toR, fromW} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	_ = toR.Close()
	_ = fromW.Close()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	go br.read(fromR)
	t.Cleanup(func() {
		// Ask it to quit, then end its process group (renderers included).
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = br.call(closeCtx, "", "Browser.close", nil)
		cancel()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		_ = toW.Close()
		_ = fromR.Close()
		if err := os.RemoveAll(profile); err != nil {
			time.Sleep(200 * time.Millisecond)
			_ = os.RemoveAll(profile)
		}
		if t.Failed() {
			t.Logf("chromium output:\n%s", tail(br.stderr.String(), 4000))
		}
	})
	// The first answer says the browser is up.
	_, err = br.call(ctx, "", "Browser.getVersion", nil)
	require.NoError(t, err, "chromium did not answer: %s", tail(br.stderr.String(), 2000))
	return br
}

func (br *browser) read(r io.Reader) {
	defer close(br.closed)
	in := bufio.NewReader(r)
	for {
		frame, err := in.ReadBytes(0)
		if err != nil {
			return
		}
		var msg struct {
			ID int `json:"id"`
			cdpReply
		}
		if json.Unmarshal(bytes.TrimSuffix(frame, []byte{0}), &msg) != nil || msg.ID == 0 {
			continue // an event: the test polls instead
		}
		br.mu.Lock()
		ch := br.pending[msg.ID]
		delete(br.pending, msg.ID)
		br.mu.Unlock()
		if ch != nil {
			ch <- msg.cdpReply
		}
	}
}

// call sends one command (to the browser, or to a page's session) and
// waits for its answer.
func (br *browser) call(ctx context.Context, session, method string, params any) (json.RawMessage, error) {
	br.mu.Lock()
	br.nextID++
	id := br.nextID
	ch := make(chan cdpReply, 1)
	br.pending[id] = ch
	br.mu.Unlock()
	defer func() {
		br.mu.Lock()
		delete(br.pending, id)
		br.mu.Unlock()
	}()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	frame, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := br.to.Write(append(frame, 0)); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case reply := <-ch:
		if reply.Error != nil {
			return nil, fmt.Errorf("%s: %s (%d)", method, reply.Error.Message, reply.Error.Code)
		}
		return reply.Result, nil
	case <-br.closed:
		return nil, fmt.Errorf("%s: chromium closed the pipe", method)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// page is one tab, attached to with a flat session.
type page struct {
	br      *browser
	session string
}

// open opens url in a new tab with the test probe installed.
func (br *browser) open(t *testing.T, ctx context.Context, url string) *page {
	t.Helper()
	res, err := br.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"})
	require.NoError(t, err)
	var target struct {
		TargetID string `json:"targetId"`
	}
	require.NoError(t, json.Unmarshal(res, &target))
	res, err = br.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true})
	require.NoError(t, err)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	require.NoError(t, json.Unmarshal(res, &attached))
	p := &page{br: br, session: attached.SessionID}
	for _, c := range []struct {
		method string
		params any
	}{
		{"Page.enable", nil},
		{"Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": docsTestProbe}},
		{"Page.navigate", map[string]any{"url": url}},
	} {
		_, err := br.call(ctx, p.session, c.method, c.params)
		require.NoError(t, err)
	}
	return p
}

// eval evaluates a JavaScript expression in the page and returns its value
// as JSON.
func (p *page) eval(t *testing.T, ctx context.Context, expr string) json.RawMessage {
	t.Helper()
	v, err := p.evaluate(ctx, expr)
	require.NoError(t, err)
	return v
}

func (p *page) evaluate(ctx context.Context, expr string) (json.RawMessage, error) {
	res, err := p.br.call(ctx, p.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	if err != nil {
		return nil, err
	}
	var out struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &out); err != nil {
		return nil, err
	}
	if e := out.ExceptionDetails; e != nil {
		return nil, fmt.Errorf("%s: %s %s", expr, e.Text, e.Exception.Description)
	}
	return out.Result.Value, nil
}

func (p *page) text(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	var s string
	require.NoError(t, json.Unmarshal(p.eval(t, ctx, expr), &s), expr)
	return s
}

// waitFor polls cond, a JavaScript expression, until it is true: the page
// renders as fast as the machine lets it, so the test waits on the DOM, not
// on a fixed time.
func (p *page) waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	var last error
	for {
		v, err := p.evaluate(ctx, "!!("+cond+")")
		if err == nil && string(v) == "true" {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			shortCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			dom, _ := p.evaluate(shortCtx, "document.body ? document.body.innerText.slice(0, 2000) : ''")
			cancel()
			t.Fatalf("waiting for %s: %v (last error: %v); the page shows:\n%s", what, ctx.Err(), last, dom)
		case <-p.br.closed:
			t.Fatalf("waiting for %s: chromium closed the pipe", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
