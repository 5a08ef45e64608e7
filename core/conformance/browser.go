package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// BrowserHarness describes the core.Browser under test: browserclient
// against browserd (a real Chromium on the host or in the image) or
// against cmd/fakeship's browser mode, or core/fake's in-memory Browser.
type BrowserHarness struct {
	// New returns the Browser and the endpoint, with its runtime token, of
	// a browser runtime. The suite's tests run one after the other and may
	// share one runtime: a browser has one active tab.
	New func(t *testing.T) (core.Browser, core.Endpoint)
}

// BrowserTestPage is the page the suite drives, and BrowserTestSnapshot
// what an interactive snapshot of it lists (role and name): a heading, a
// textbox and a button. The fakes answer every snapshot with these nodes,
// whatever the page, so that the suite holds them and Chromium to one
// contract.
const BrowserTestPage = `data:text/html,<title>Conformance</title><h1>Fake%20page</h1><input%20aria-label=Name><button>Go</button>`

// BrowserTestSnapshot lists the nodes of BrowserTestPage's snapshot.
var BrowserTestSnapshot = [][2]string{{"heading", "Fake page"}, {"textbox", "Name"}, {"button", "Go"}}

// RunBrowser tests a core.Browser against its port and the parts of the
// browser runtime's contract (browser.md §2, §3) that Bay relies on: the
// runtime token, /meta's browser capability, Check's verdicts, the shapes
// of results and failures, refs that stay stable across snapshots of one
// document, timeouts as results, and a batch's budget and stop_on_error.
//
// The fakes navigate nowhere: they remember the URL, answer a snapshot
// with BrowserTestSnapshot, a screenshot with a 1×1 PNG, and run wait
// {ms} as a sleep, so the suite uses those shapes only.
func RunBrowser(t *testing.T, h BrowserHarness) {
	type fixture struct {
		ctx context.Context
		b   core.Browser
		ep  core.Endpoint
	}
	newFixture := func(t *testing.T) *fixture {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		t.Cleanup(cancel)
		b, ep := h.New(t)
		return &fixture{ctx: ctx, b: b, ep: ep}
	}
	typed := func(fields map[string]any) core.BrowserCommand { return core.BrowserCommand{Fields: fields} }
	exec := func(t *testing.T, f *fixture, c core.BrowserCommand, timeout int) *core.BrowserResult {
		t.Helper()
		in := core.BrowserExecInput{Command: c, Timeout: timeout}
		require.NoError(t, f.b.Check(in), "the suite sends valid commands")
		res, err := f.b.Exec(f.ctx, f.ep, in)
		require.NoError(t, err)
		require.NotNil(t, res)
		return res
	}
	ok := func(t *testing.T, res *core.BrowserResult) {
		t.Helper()
		msg := ""
		if res.Error != nil {
			msg = *res.Error
		}
		require.True(t, res.Success, "command failed: %s %s", res.ErrorCode, msg)
		require.Nil(t, res.Error)
		require.Empty(t, res.ErrorCode)
		require.Equal(t, 0, res.ExitCode)
		require.NotNil(t, res.Result, "result is an object")
		require.NotNil(t, res.Downloads, "downloads is a list")
		require.NotNil(t, res.Dialogs, "dialogs is a list")
	}
	failed := func(t *testing.T, res *core.BrowserResult, code string, exit int) {
		t.Helper()
		require.False(t, res.Success)
		require.Equal(t, code, res.ErrorCode)
		require.Equal(t, exit, res.ExitCode)
		require.NotNil(t, res.Error)
		require.NotEmpty(t, *res.Error, "a failure says why")
	}
	openPage := func(t *testing.T, f *fixture) {
		t.Helper()
		res := exec(t, f, typed(map[string]any{"action": "navigate", "url": BrowserTestPage}), 30)
		ok(t, res)
		require.NotNil(t, res.Page)
		require.Equal(t, BrowserTestPage, res.Page.URL)
		require.Regexp(t, `^t[1-9][0-9]*$`, res.Page.TabID)
	}
	refPattern := regexp.MustCompile(`^e[1-9][0-9]*$`)
	snapshot := func(t *testing.T, f *fixture) map[string]string {
		t.Helper()
		res := exec(t, f, typed(map[string]any{"action": "snapshot"}), 30)
		ok(t, res)
		nodes, isList := res.Result["nodes"].([]any)
		require.True(t, isList, "result.nodes is a list: %v", res.Result)
		require.Contains(t, res.Result, "truncated")
		refs := map[string]string{}
		var listed [][2]string
		for _, n := range nodes {
			node, isObj := n.(map[string]any)
			require.True(t, isObj)
			role, _ := node["role"].(string)
			name, _ := node["name"].(string)
			listed = append(listed, [2]string{role, name})
			if ref, has := node["ref"].(string); has {
				require.Regexp(t, refPattern, ref)
				require.Contains(t, res.Output, "[ref="+ref+"]", "the text lists the ref")
				refs[role+" "+name] = ref
			}
		}
		require.Equal(t, BrowserTestSnapshot, listed)
		require.Contains(t, refs, "button Go", "interactive nodes have refs")
		require.Contains(t, refs, "textbox Name")
		require.NotContains(t, refs, "heading Fake page", "headings have no ref")
		return refs
	}

	t.Run("Health/OpenWithoutToken", func(t *testing.T) {
		f := newFixture(t)
		require.NoError(t, f.b.Health(f.ctx, f.ep.URL))
	})

	t.Run("Auth/EveryCallButHealthWantsTheToken", func(t *testing.T) {
		f := newFixture(t)
		for _, token := range []string{"", "not-" + f.ep.Token} {
			ep := core.Endpoint{URL: f.ep.URL, Token: token}
			calls := map[string]func() error{
				"Capabilities": func() error { _, err := f.b.Capabilities(f.ctx, ep); return err },
				"Info":         func() error { _, err := f.b.Info(f.ctx, ep); return err },
				"Exec": func() error {
					_, err := f.b.Exec(f.ctx, ep, core.BrowserExecInput{Command: core.BrowserCommand{Cmd: "get url"}, Timeout: 5})
					return err
				},
				"ExecBatch": func() error {
					_, err := f.b.ExecBatch(f.ctx, ep, core.BrowserBatchInput{Commands: []core.BrowserCommand{{Cmd: "get url"}}, Timeout: 5})
					return err
				},
			}
			for name, call := range calls {
				requireShipStatus(t, 401, call(), "%s with token %q", name, token)
			}
		}
	})

	t.Run("Capabilities/BrowserDeclared", func(t *testing.T) {
		f := newFixture(t)
		caps, err := f.b.Capabilities(f.ctx, f.ep)
		require.NoError(t, err, "a runtime declares runtime.auth \"bearer\" in /meta")
		require.Equal(t, []string{core.CapabilityBrowser}, caps.Keys(), "a browser runtime serves the browser capability only")
		require.True(t, caps.Has(core.CapabilityBrowser, core.OpBrowserExec))
		require.True(t, caps.Has(core.CapabilityBrowser, core.OpBrowserExecBatch))
		info, err := f.b.Info(f.ctx, f.ep)
		require.NoError(t, err)
		require.NotEmpty(t, info.Engine)
		require.Contains(t, []string{"persistent", "ephemeral"}, info.Profile)
		for _, a := range []string{"navigate", "snapshot", "click", "fill", "screenshot", "evaluate", "tab_list"} {
			require.Contains(t, info.Actions, a)
		}
		again, err := f.b.Capabilities(f.ctx, f.ep)
		require.NoError(t, err)
		require.Equal(t, caps, again, "/meta is constant for the life of the runtime")
	})

	t.Run("Check/RefusesBeforeAnyCall", func(t *testing.T) {
		f := newFixture(t)
		cmd := func(s string) core.BrowserCommand { return core.BrowserCommand{Cmd: s} }
		shot := func(path string) core.BrowserCommand {
			return typed(map[string]any{"action": "screenshot", "path": path})
		}
		for name, tc := range map[string]struct {
			in     core.BrowserExecInput
			code   core.Code
			field  string
			reason string
		}{
			"NoCommand":        {in: core.BrowserExecInput{}, code: core.CodeValidation},
			"UnknownAction":    {in: core.BrowserExecInput{Command: typed(map[string]any{"action": "teleport"})}, code: core.CodeValidation, field: "command.action"},
			"TimeoutTooLong":   {in: core.BrowserExecInput{Command: cmd("get url"), Timeout: core.BrowserMaxTimeout + 1}, code: core.CodeValidation, field: "timeout"},
			"TimeoutNegative":  {in: core.BrowserExecInput{Command: cmd("get url"), Timeout: -1}, code: core.CodeValidation, field: "timeout"},
			"RefAndSelector":   {in: core.BrowserExecInput{Command: typed(map[string]any{"action": "click", "ref": "e1", "selector": "#a"})}, code: core.CodeValidation},
			"TargetMissing":    {in: core.BrowserExecInput{Command: typed(map[string]any{"action": "click"})}, code: core.CodeValidation},
			"PathEscapes":      {in: core.BrowserExecInput{Command: shot("../x.png")}, code: core.CodeInvalidPath, field: "command.path", reason: core.PathTraversal},
			"PathAbsolute":     {in: core.BrowserExecInput{Command: shot("/etc/x.png")}, code: core.CodeInvalidPath, field: "command.path", reason: core.PathAbsolute},
			"StringPathEscape": {in: core.BrowserExecInput{Command: cmd("pdf ../../out.pdf")}, code: core.CodeInvalidPath, reason: core.PathTraversal},
		} {
			err := f.b.Check(tc.in)
			require.Error(t, err, name)
			e := core.AsError(err)
			require.NotNil(t, e, name)
			require.Equal(t, tc.code, e.Code, "%s: %v", name, err)
			if tc.field != "" {
				require.Equal(t, tc.field, e.Details["field"], name)
			}
			if tc.reason != "" {
				require.Equal(t, tc.reason, e.Details["reason"], name)
			}
		}
		for _, in := range []core.BrowserExecInput{
			{Command: typed(map[string]any{"action": "navigate", "url": BrowserTestPage})},
			{Command: cmd("snapshot -i"), Timeout: core.BrowserMaxTimeout},
			{Command: shot("/workspace/shots/a.png")},
			{Command: cmd("cookies")}, // upstream's: the runtime answers unsupported_command
		} {
			require.NoError(t, f.b.Check(in), "%+v", in.Command)
		}
		var many []core.BrowserCommand
		for range core.BrowserMaxBatchSteps + 1 {
			many = append(many, cmd("get url"))
		}
		for name, tc := range map[string]struct {
			in    core.BrowserBatchInput
			code  core.Code
			field string
		}{
			"Empty":        {in: core.BrowserBatchInput{}, code: core.CodeValidation},
			"TooMany":      {in: core.BrowserBatchInput{Commands: many}, code: core.CodeValidation},
			"TimeoutLong":  {in: core.BrowserBatchInput{Commands: many[:1], Timeout: core.BrowserMaxBatchTimeout + 1}, code: core.CodeValidation},
			"StepPath":     {in: core.BrowserBatchInput{Commands: []core.BrowserCommand{cmd("get url"), shot("/etc/x.png")}}, code: core.CodeInvalidPath, field: "commands[1].path"},
			"StepUnknown":  {in: core.BrowserBatchInput{Commands: []core.BrowserCommand{typed(map[string]any{"action": "nope"})}}, code: core.CodeValidation, field: "commands[0].action"},
			"StepNoTarget": {in: core.BrowserBatchInput{Commands: []core.BrowserCommand{cmd("get url"), typed(map[string]any{"action": "fill", "text": "x"})}}, code: core.CodeValidation},
		} {
			err := f.b.CheckBatch(tc.in)
			require.Error(t, err, name)
			require.Equal(t, tc.code, core.CodeOf(err), "%s: %v", name, err)
			if tc.field != "" {
				require.Equal(t, tc.field, core.AsError(err).Details["field"], name)
			}
		}
		require.NoError(t, f.b.CheckBatch(core.BrowserBatchInput{Commands: many[:core.BrowserMaxBatchSteps], Timeout: core.BrowserMaxBatchTimeout}))
	})

	t.Run("Exec/NavigateThenGetURL", func(t *testing.T) {
		f := newFixture(t)
		openPage(t, f)
		res := exec(t, f, typed(map[string]any{"action": "get", "what": "url"}), 10)
		ok(t, res)
		require.Equal(t, BrowserTestPage, res.Output)
		require.Equal(t, BrowserTestPage, res.Result["value"])
		res = exec(t, f, core.BrowserCommand{Cmd: "get url"}, 10)
		ok(t, res)
		require.Equal(t, BrowserTestPage, res.Output, "the command string form does the same")
	})

	t.Run("Exec/RefsStableAcrossSnapshots", func(t *testing.T) {
		f := newFixture(t)
		openPage(t, f)
		first := snapshot(t, f)
		second := snapshot(t, f)
		require.Equal(t, first, second, "an element keeps its ref across snapshots of one document")
		res := exec(t, f, typed(map[string]any{"action": "click", "ref": "@" + first["button Go"]}), 10)
		ok(t, res)
		res = exec(t, f, core.BrowserCommand{Cmd: "fill " + first["textbox Name"] + " Ada"}, 10)
		ok(t, res)
	})

	t.Run("Exec/UnknownRef", func(t *testing.T) {
		f := newFixture(t)
		openPage(t, f)
		snapshot(t, f)
		res := exec(t, f, typed(map[string]any{"action": "click", "ref": "e999999"}), 5)
		failed(t, res, core.BrowserRefNotFound, 1)
	})

	t.Run("Exec/ScreenshotInline", func(t *testing.T) {
		f := newFixture(t)
		openPage(t, f)
		res := exec(t, f, typed(map[string]any{"action": "screenshot"}), 30)
		ok(t, res)
		data, isString := res.Result["data"].(string)
		require.True(t, isString, "an inline screenshot carries its data: %v", res.Result)
		raw, err := base64.StdEncoding.DecodeString(data)
		require.NoError(t, err)
		img, err := png.DecodeConfig(bytes.NewReader(raw))
		require.NoError(t, err, "the data is a PNG")
		require.EqualValues(t, img.Width, res.Result["width"])
		require.EqualValues(t, img.Height, res.Result["height"])
		require.EqualValues(t, len(raw), res.Result["bytes"])
	})

	t.Run("Exec/UnsupportedCommand", func(t *testing.T) {
		f := newFixture(t)
		for _, c := range []string{"cookies", "open --json https://example.com", "storage local"} {
			res := exec(t, f, core.BrowserCommand{Cmd: c}, 5)
			failed(t, res, core.BrowserUnsupportedCommand, 1)
		}
	})

	t.Run("Exec/TimeoutIsAResult", func(t *testing.T) {
		f := newFixture(t)
		start := time.Now()
		res := exec(t, f, typed(map[string]any{"action": "wait", "ms": 4000}), 1)
		failed(t, res, core.BrowserTimeout, -1)
		require.Less(t, time.Since(start), 3500*time.Millisecond, "the command stops at its timeout")
		res = exec(t, f, typed(map[string]any{"action": "wait", "ms": 50}), 5)
		ok(t, res)
		require.Contains(t, res.Result, "waited_ms")
	})

	t.Run("Batch/StopOnError", func(t *testing.T) {
		f := newFixture(t)
		res, err := f.b.ExecBatch(f.ctx, f.ep, core.BrowserBatchInput{Commands: []core.BrowserCommand{
			typed(map[string]any{"action": "navigate", "url": BrowserTestPage}),
			{Cmd: "cookies"},
			{Cmd: "get url"},
		}, Timeout: 30})
		require.NoError(t, err)
		require.False(t, res.Success)
		require.Equal(t, 3, res.TotalSteps)
		require.Equal(t, 2, res.CompletedSteps, "the failed step ran; the one after it did not")
		require.Len(t, res.Steps, 2)
		require.Equal(t, 0, res.Steps[0].Index)
		require.Equal(t, "navigate", res.Steps[0].Cmd, "a typed step echoes its action")
		require.True(t, res.Steps[0].Success)
		require.Equal(t, "cookies", res.Steps[1].Cmd, "a string step echoes the string")
		require.Equal(t, core.BrowserUnsupportedCommand, res.Steps[1].ErrorCode)
	})

	t.Run("Batch/ContinueOnError", func(t *testing.T) {
		f := newFixture(t)
		stop := false
		res, err := f.b.ExecBatch(f.ctx, f.ep, core.BrowserBatchInput{Commands: []core.BrowserCommand{
			typed(map[string]any{"action": "navigate", "url": BrowserTestPage}),
			{Cmd: "cookies"},
			{Cmd: "get url"},
		}, Timeout: 30, StopOnError: &stop})
		require.NoError(t, err)
		require.False(t, res.Success, "a failed step fails the batch")
		require.Equal(t, 3, res.CompletedSteps)
		require.True(t, res.Steps[2].Success)
		require.Equal(t, BrowserTestPage, res.Steps[2].Output)
	})

	t.Run("Batch/OneBudget", func(t *testing.T) {
		f := newFixture(t)
		stop := false
		wait := typed(map[string]any{"action": "wait", "ms": 1500})
		start := time.Now()
		res, err := f.b.ExecBatch(f.ctx, f.ep, core.BrowserBatchInput{
			Commands: []core.BrowserCommand{wait, wait, wait}, Timeout: 2, StopOnError: &stop,
		})
		require.NoError(t, err)
		require.Less(t, time.Since(start), 4*time.Second, "the budget is the batch's, not each step's")
		require.False(t, res.Success)
		require.Equal(t, 2, res.CompletedSteps, "a step with no time left does not run")
		require.True(t, res.Steps[0].Success)
		require.Equal(t, core.BrowserTimeout, res.Steps[1].ErrorCode)
		require.Equal(t, -1, res.Steps[1].ExitCode)
	})

	t.Run("Exec/OutputLimit", func(t *testing.T) {
		f := newFixture(t)
		openPage(t, f)
		in := core.BrowserExecInput{Command: core.BrowserCommand{Cmd: "snapshot"}, MaxOutputBytes: 20}
		require.NoError(t, f.b.Check(in))
		res, err := f.b.Exec(f.ctx, f.ep, in)
		require.NoError(t, err)
		ok(t, res)
		require.True(t, strings.Contains(res.Output, "[... truncated "), "the marker ends a cut output: %q", res.Output)
		require.Equal(t, true, res.Result["truncated"])
	})
}
