package browser

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"

	"github.com/bayhq/bay/browser/wire"
)

// run dispatches the command to its action. It returns the text output
// and the structured result.
func (x *execution) run(ctx context.Context) (string, map[string]any, error) {
	t, err := x.inst.activeTab(ctx)
	if err != nil {
		return "", nil, err
	}
	x.t = t
	c := x.cmd
	switch c.Action {
	case wire.ActNavigate:
		return x.navigate(ctx, c.URL)
	case wire.ActBack, wire.ActForward:
		return x.history(ctx)
	case wire.ActReload:
		return x.reload(ctx)
	case wire.ActSnapshot:
		return x.snapshot(ctx)
	case wire.ActClick:
		return x.clickAction(ctx)
	case wire.ActFill:
		return x.fill(ctx)
	case wire.ActType:
		return x.typeAction(ctx)
	case wire.ActPress:
		return x.pressAction(ctx)
	case wire.ActSelect:
		return x.selectAction(ctx)
	case wire.ActCheck, wire.ActUncheck:
		return x.check(ctx, c.Action == wire.ActCheck)
	case wire.ActHover:
		return x.hover(ctx)
	case wire.ActFocus:
		return x.focus(ctx)
	case wire.ActScroll:
		return x.scroll(ctx)
	case wire.ActWait:
		return x.wait(ctx)
	case wire.ActGet:
		return x.get(ctx)
	case wire.ActEvaluate:
		return x.evaluate(ctx)
	case wire.ActScreenshot:
		return x.screenshot(ctx)
	case wire.ActPDF:
		return x.pdf(ctx)
	case wire.ActUpload:
		return x.upload(ctx)
	case wire.ActTabList, wire.ActTabNew, wire.ActTabSelect, wire.ActTabClose:
		return x.tabs(ctx)
	case wire.ActSetViewport:
		return x.setViewport(ctx)
	}
	return "", nil, fail(wire.ErrUnsupportedCommand, "unknown action %q", c.Action)
}

// lifecycleName is the lifecycle event of a wait_until value; "" waits for
// nothing.
func lifecycleName(until string) string {
	switch until {
	case wire.WaitDOMContentLoaded:
		return "DOMContentLoaded"
	case wire.WaitNetworkIdle:
		return "networkIdle"
	case wire.WaitNone:
		return ""
	}
	return "load"
}

// navigate loads a URL in the active tab and waits for wait_until.
func (x *execution) navigate(ctx context.Context, raw string) (string, map[string]any, error) {
	u, err := x.e.allowedURL(raw)
	if err != nil {
		return "", nil, err
	}
	before, _ := x.t.state()
	downloads, _ := x.e.downloadCount()
	var res page.NavigateResult
	if err := x.t.target.Call(ctx, page.CommandNavigate, page.NavigateParams{URL: u}, &res); err != nil {
		return "", nil, err
	}
	if res.ErrorText != "" {
		// A navigation that turns into a download is aborted as a page
		// load but succeeds as a download.
		if strings.Contains(res.ErrorText, "ERR_ABORTED") && x.downloadStarted(ctx, downloads) {
			return x.pageResult(ctx, "Downloaded "+u, 0)
		}
		return "", nil, fail(wire.ErrNavigationFailed, "navigation to %s failed: %s", u, res.ErrorText)
	}
	if res.LoaderID != "" && res.LoaderID != before.loaderID {
		if err := x.waitLoader(ctx, res.LoaderID, before.loaderID, x.cmd.WaitUntil); err != nil {
			return "", nil, err
		}
	}
	status, _ := x.t.docOutcome(res.LoaderID)
	return x.pageResult(ctx, "", status)
}

// downloadStarted waits briefly for a download that a navigation began.
func (x *execution) downloadStarted(ctx context.Context, before int) bool {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		x.e.mu.Lock()
		n, pending := x.e.downloads, len(x.e.pending)
		x.e.mu.Unlock()
		if n > before || pending > 0 {
			return true
		}
		if sleep(ctx, pollInterval) != nil {
			return false
		}
	}
	return false
}

// pageResult is the result of a navigation: the page's URL, title and,
// when known, the HTTP status of its document.
func (x *execution) pageResult(ctx context.Context, prefix string, status int64) (string, map[string]any, error) {
	url, title := x.t.info()
	if v, err := evalValue[[2]string](ctx, x.t, `[location.href, document.title]`); err == nil {
		url, title = v[0], v[1]
	}
	result := map[string]any{"url": url, "title": title}
	if x.cmd.Action == wire.ActNavigate {
		if status > 0 {
			result["status"] = status
		} else {
			result["status"] = nil
		}
	}
	out := fmt.Sprintf("%s %s", url, quoteName(title))
	if prefix != "" {
		out = prefix + "\n" + out
	}
	return out, result, nil
}

// waitLoader waits until the document loader reaches wait_until, or the
// document that replaced it does.
func (x *execution) waitLoader(ctx context.Context, loader, previous cdp.LoaderID, until string) error {
	name := lifecycleName(until)
	if name == "" {
		return nil
	}
	for {
		st, changed := x.t.state()
		if x.t.lifecycleSeen(loader, name) {
			return nil
		}
		if st.loaderID != loader && st.loaderID != previous && x.t.lifecycleSeen(st.loaderID, name) {
			return nil
		}
		if _, errText := x.t.docOutcome(loader); errText != "" && st.loaderID != loader {
			return fail(wire.ErrNavigationFailed, "the page did not load: %s", errText)
		}
		if err := x.alive(); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return fail(wire.ErrTimeout, "the page did not reach %q within the timeout", until)
		}
	}
}

// waitLoaded waits until the current document reaches wait_until; for a
// document restored from the back/forward cache, whose lifecycle events
// do not repeat, document.readyState decides.
func (x *execution) waitLoaded(ctx context.Context, until string) error {
	name := lifecycleName(until)
	if name == "" {
		return nil
	}
	for {
		st, changed := x.t.state()
		if x.t.lifecycleSeen(st.loaderID, name) {
			return nil
		}
		if name != "networkIdle" {
			if rs, err := evalValue[string](ctx, x.t, `document.readyState`); err == nil {
				if rs == "complete" || (name == "DOMContentLoaded" && rs == "interactive") {
					return nil
				}
			}
		} else if st.inflight == 0 && time.Since(st.lastNet) >= 500*time.Millisecond {
			return nil
		}
		if err := x.alive(); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return fail(wire.ErrTimeout, "the page did not reach %q within the timeout", until)
		}
	}
}

// waitCommit waits until the main frame commits a navigation after epoch.
func (x *execution) waitCommit(ctx context.Context, epoch int) error {
	for {
		st, changed := x.t.state()
		if st.navEpoch > epoch {
			return nil
		}
		if err := x.alive(); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fail(wire.ErrTimeout, "the navigation did not happen within the timeout")
		}
	}
}

func (x *execution) history(ctx context.Context) (string, map[string]any, error) {
	var h page.GetNavigationHistoryResult
	if err := x.t.target.Call(ctx, page.CommandGetNavigationHistory, nil, &h); err != nil {
		return "", nil, err
	}
	i := int(h.CurrentIndex) - 1
	if x.cmd.Action == wire.ActForward {
		i = int(h.CurrentIndex) + 1
	}
	if i < 0 || i >= len(h.Entries) {
		return "", nil, fail(wire.ErrNavigationFailed, "there is no page to go %s to", x.cmd.Action)
	}
	before, _ := x.t.state()
	if err := x.t.target.Call(ctx, page.CommandNavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: h.Entries[i].ID}, nil); err != nil {
		return "", nil, err
	}
	if err := x.waitCommit(ctx, before.navEpoch); err != nil {
		return "", nil, err
	}
	if err := x.waitLoaded(ctx, x.cmd.WaitUntil); err != nil {
		return "", nil, err
	}
	return x.pageResult(ctx, "", 0)
}

func (x *execution) reload(ctx context.Context) (string, map[string]any, error) {
	before, _ := x.t.state()
	if err := x.t.target.Call(ctx, page.CommandReload, page.ReloadParams{}, nil); err != nil {
		return "", nil, err
	}
	if err := x.waitCommit(ctx, before.navEpoch); err != nil {
		return "", nil, err
	}
	if err := x.waitLoaded(ctx, x.cmd.WaitUntil); err != nil {
		return "", nil, err
	}
	return x.pageResult(ctx, "", 0)
}

// settle follows up an input action: a navigation it started is waited
// for until the new page has loaded, and a download until it finished
// (both within the command's timeout).
func (x *execution) settle(ctx context.Context, before tabState, downloads int) error {
	// One round trip: the events the input caused arrive before its reply.
	_ = x.t.target.Call(ctx, runtime.CommandEvaluate, runtime.EvaluateParams{Expression: "0"}, nil)
	st, _ := x.t.state()
	if st.downloads > before.downloads {
		// The page asked for a download: it begins in the browser a
		// little later.
		x.downloadStarted(ctx, downloads)
	}
	if !st.pendingNav && st.navEpoch == before.navEpoch {
		return x.waitDownloads(ctx, downloads)
	}
	// Wait for the commit; a navigation that never commits (a download,
	// a 204) stops loading instead.
	for st.pendingNav && st.navEpoch == before.navEpoch {
		_, changed := x.t.state()
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return fail(wire.ErrTimeout, "the action started a navigation that did not finish within the timeout")
		}
		st, _ = x.t.state()
		x.e.mu.Lock()
		pendingDownload := len(x.e.pending) > 0 || x.e.downloads > downloads
		x.e.mu.Unlock()
		if pendingDownload {
			return x.waitDownloads(ctx, downloads)
		}
	}
	if st.downloads > before.downloads {
		// The navigation stopped as a download, which begins in the
		// browser a little later.
		x.downloadStarted(ctx, downloads)
	}
	if st.loaderID != before.loaderID {
		if err := x.waitLoaded(ctx, wire.WaitLoad); err != nil {
			return fail(wire.ErrTimeout, "the action started a navigation that did not finish loading within the timeout")
		}
	}
	return x.waitDownloads(ctx, downloads)
}

// waitDownloads waits, up to 5 s of the timeout, for the downloads that
// began during the command to finish, so that the answer lists them.
func (x *execution) waitDownloads(ctx context.Context, _ int) error {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		x.e.mu.Lock()
		pending := len(x.e.pending)
		x.e.mu.Unlock()
		if pending == 0 {
			return nil
		}
		_, seen := x.e.downloadCount()
		select {
		case <-seen:
		case <-time.After(pollInterval):
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

func (x *execution) clickAction(ctx context.Context) (string, map[string]any, error) {
	el, _, err := x.target(ctx, need{visible: true, enabled: true})
	if err != nil {
		return "", nil, err
	}
	p, err := x.pointer(ctx, el)
	if err != nil {
		return "", nil, err
	}
	button := input.MouseButtonLeft
	if x.cmd.Button != "" {
		button = input.MouseButton(x.cmd.Button)
	}
	count := 1
	if x.cmd.ClickCount != nil {
		count = *x.cmd.ClickCount
	}
	before, _ := x.t.state()
	downloads, _ := x.e.downloadCount()
	if err := x.click(ctx, p, button, count); err != nil {
		return "", nil, err
	}
	if err := x.settle(ctx, before, downloads); err != nil {
		return "", nil, err
	}
	return "", map[string]any{}, nil
}

// editKind selects an element's text for replacement: "text" for inputs
// and text areas, "editable" for contenteditable, "set" for inputs whose
// value cannot be typed (date, time, color, range), "" otherwise.
const selectAllJS = `function() {
	const el = this;
	const tag = el.tagName.toLowerCase();
	const type = (el.getAttribute('type') || '').toLowerCase();
	if (tag === 'input' && ['date','time','datetime-local','month','week','color','range'].includes(type)) return 'set';
	if (tag === 'input' || tag === 'textarea') { el.focus(); el.select(); return 'text'; }
	if (el.isContentEditable) {
		el.focus();
		const r = document.createRange(); r.selectNodeContents(el);
		const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
		return 'editable';
	}
	return '';
}`

const setValueJS = `function(v) {
	const proto = Object.getPrototypeOf(this);
	const desc = Object.getOwnPropertyDescriptor(proto, 'value');
	if (desc && desc.set) desc.set.call(this, v); else this.value = v;
	this.dispatchEvent(new Event('input', {bubbles: true}));
	this.dispatchEvent(new Event('change', {bubbles: true}));
}`

const valueJS = `function() { return this.isContentEditable && !('value' in this) ? this.innerText : String(this.value ?? ''); }`

func (x *execution) fill(ctx context.Context) (string, map[string]any, error) {
	el, _, err := x.target(ctx, need{visible: true, enabled: true, editable: true})
	if err != nil {
		return "", nil, err
	}
	text := *x.cmd.Text
	if err := x.t.target.Call(ctx, dom.CommandFocus, dom.FocusParams{BackendNodeID: el.node}, nil); err != nil {
		return "", nil, err
	}
	var kind string
	if err := x.callOn(ctx, el.obj, selectAllJS, &kind); err != nil {
		return "", nil, err
	}
	switch kind {
	case "set":
		if err := x.callOn(ctx, el.obj, setValueJS, nil, text); err != nil {
			return "", nil, err
		}
	case "text", "editable":
		if text == "" {
			c, _ := parseKey("Delete")
			if err := x.press(ctx, c); err != nil {
				return "", nil, err
			}
		} else if err := x.t.target.Call(ctx, input.CommandInsertText, input.InsertTextParams{Text: text}, nil); err != nil {
			return "", nil, err
		}
	default:
		return "", nil, fail(wire.ErrNotInteractable, "%s is not editable", el.what)
	}
	var value string
	if err := x.callOn(ctx, el.obj, valueJS, &value); err != nil {
		return "", nil, err
	}
	value = x.clipText(value)
	return "", map[string]any{"value": value}, nil
}

func (x *execution) typeAction(ctx context.Context) (string, map[string]any, error) {
	if x.cmd.HasTarget() {
		el, _, err := x.target(ctx, need{visible: true, enabled: true})
		if err != nil {
			return "", nil, err
		}
		if err := x.t.target.Call(ctx, dom.CommandFocus, dom.FocusParams{BackendNodeID: el.node}, nil); err != nil {
			return "", nil, err
		}
	}
	delay := time.Duration(0)
	if x.cmd.DelayMS != nil {
		delay = time.Duration(*x.cmd.DelayMS) * time.Millisecond
	}
	before, _ := x.t.state()
	downloads, _ := x.e.downloadCount()
	if err := x.typeText(ctx, *x.cmd.Text, delay); err != nil {
		return "", nil, err
	}
	if err := x.settle(ctx, before, downloads); err != nil {
		return "", nil, err
	}
	return "", map[string]any{}, nil
}

func (x *execution) pressAction(ctx context.Context) (string, map[string]any, error) {
	c, err := parseKey(x.cmd.Key)
	if err != nil {
		return "", nil, keyError(err)
	}
	if x.cmd.HasTarget() {
		el, _, err := x.target(ctx, need{visible: true, enabled: true})
		if err != nil {
			return "", nil, err
		}
		if err := x.t.target.Call(ctx, dom.CommandFocus, dom.FocusParams{BackendNodeID: el.node}, nil); err != nil {
			return "", nil, err
		}
	}
	before, _ := x.t.state()
	downloads, _ := x.e.downloadCount()
	if err := x.press(ctx, c); err != nil {
		return "", nil, err
	}
	if err := x.settle(ctx, before, downloads); err != nil {
		return "", nil, err
	}
	return "", map[string]any{}, nil
}

const selectJS = `function(values) {
	if (!(this instanceof HTMLSelectElement)) return {error: 'is not a <select> element'};
	const opts = Array.from(this.options);
	const chosen = [];
	for (const v of values) {
		const o = opts.find(o => o.value === v) || opts.find(o => o.label === v || o.text.trim() === v);
		if (!o) return {error: 'has no option ' + JSON.stringify(v) + ' (options: ' + JSON.stringify(opts.map(o => o.value)) + ')'};
		if (o.disabled) return {error: 'has option ' + JSON.stringify(v) + ' disabled'};
		if (!chosen.includes(o)) chosen.push(o);
		if (!this.multiple) break;
	}
	for (const o of opts) o.selected = chosen.includes(o);
	this.dispatchEvent(new Event('input', {bubbles: true}));
	this.dispatchEvent(new Event('change', {bubbles: true}));
	return {selected: chosen.map(o => o.value)};
}`

func (x *execution) selectAction(ctx context.Context) (string, map[string]any, error) {
	el, _, err := x.target(ctx, need{enabled: true})
	if err != nil {
		return "", nil, err
	}
	var res struct {
		Error    string   `json:"error"`
		Selected []string `json:"selected"`
	}
	if err := x.callOn(ctx, el.obj, selectJS, &res, x.cmd.Values); err != nil {
		return "", nil, err
	}
	if res.Error != "" {
		return "", nil, fail(wire.ErrInvalidArgument, "%s %s", el.what, res.Error)
	}
	return strings.Join(res.Selected, "\n"), map[string]any{"selected": res.Selected}, nil
}

const labelJS = `function() {
	const l = this.labels && this.labels[0];
	if (!l) return false;
	const r = l.getBoundingClientRect();
	return r.width > 0 && r.height > 0;
}`

func (x *execution) check(ctx context.Context, want bool) (string, map[string]any, error) {
	el, st, err := x.target(ctx, need{enabled: true})
	if err != nil {
		return "", nil, err
	}
	if st.Checked == nil {
		return "", nil, fail(wire.ErrNotInteractable, "%s is not a checkbox, radio button or switch", el.what)
	}
	if *st.Checked == want {
		return "", map[string]any{"checked": want}, nil
	}
	if !want && st.Type == "radio" {
		return "", nil, fail(wire.ErrInvalidArgument, "%s is a radio button: check another one instead", el.what)
	}
	// A real click where one is possible: on the element, or on its label
	// when a styled checkbox hides the input; else the DOM's click().
	target := el
	if !st.Visible {
		var hasLabel bool
		_ = x.callOn(ctx, el.obj, labelJS, &hasLabel)
		target = nil
		if hasLabel {
			var lab runtime.CallFunctionOnResult
			if err := x.t.target.Call(ctx, runtime.CommandCallFunctionOn, runtime.CallFunctionOnParams{
				FunctionDeclaration: `function() { return this.labels[0]; }`, ObjectID: el.obj,
			}, &lab); err == nil && lab.Result != nil && lab.Result.ObjectID != "" {
				var desc dom.DescribeNodeResult
				if err := x.t.target.Call(ctx, dom.CommandDescribeNode, dom.DescribeNodeParams{ObjectID: lab.Result.ObjectID}, &desc); err == nil {
					target = &element{node: desc.Node.BackendNodeID, obj: lab.Result.ObjectID, what: "the label of " + el.what}
				}
			}
		}
	}
	before, _ := x.t.state()
	downloads, _ := x.e.downloadCount()
	if target != nil {
		p, err := x.pointer(ctx, target)
		if err != nil {
			return "", nil, err
		}
		if err := x.click(ctx, p, input.MouseButtonLeft, 1); err != nil {
			return "", nil, err
		}
	} else if err := x.callOn(ctx, el.obj, `function() { this.click(); }`, nil); err != nil {
		return "", nil, err
	}
	if err := x.settle(ctx, before, downloads); err != nil {
		return "", nil, err
	}
	after, err := x.stateOf(ctx, el)
	if err != nil {
		return "", nil, err
	}
	if after.Checked == nil || *after.Checked != want {
		return "", nil, fail(wire.ErrNotInteractable, "clicking %s did not change its state", el.what)
	}
	return "", map[string]any{"checked": want}, nil
}

func (x *execution) hover(ctx context.Context) (string, map[string]any, error) {
	el, _, err := x.target(ctx, need{visible: true})
	if err != nil {
		return "", nil, err
	}
	p, err := x.pointer(ctx, el)
	if err != nil {
		return "", nil, err
	}
	if err := x.mouse(ctx, input.DispatchMouseEventTypeMouseMoved, p, input.MouseButtonNone, 0); err != nil {
		return "", nil, err
	}
	return "", map[string]any{}, nil
}

func (x *execution) focus(ctx context.Context) (string, map[string]any, error) {
	el, _, err := x.target(ctx, need{})
	if err != nil {
		return "", nil, err
	}
	if err := x.t.target.Call(ctx, dom.CommandFocus, dom.FocusParams{BackendNodeID: el.node}, nil); err != nil {
		return "", nil, fail(wire.ErrNotInteractable, "%s cannot take the focus", el.what)
	}
	return "", map[string]any{}, nil
}

const scrollPosJS = `[Math.round(window.scrollX), Math.round(window.scrollY)]`

func (x *execution) scroll(ctx context.Context) (string, map[string]any, error) {
	if x.cmd.HasTarget() {
		el, _, err := x.target(ctx, need{})
		if err != nil {
			return "", nil, err
		}
		if err := x.callOn(ctx, el.obj, `function() { this.scrollIntoView({block: 'center', inline: 'nearest', behavior: 'instant'}); }`, nil); err != nil {
			return "", nil, err
		}
	} else {
		amount := 600
		if x.cmd.Amount != nil {
			amount = *x.cmd.Amount
		}
		dx, dy := 0, amount
		switch x.cmd.Direction {
		case "up":
			dy = -amount
		case "left":
			dx, dy = -amount, 0
		case "right":
			dx, dy = amount, 0
		}
		expr := fmt.Sprintf(`window.scrollBy({left: %d, top: %d, behavior: 'instant'})`, dx, dy)
		if _, err := evalAny(ctx, x.t, expr, false); err != nil {
			return "", nil, err
		}
	}
	pos, err := evalValue[[2]float64](ctx, x.t, scrollPosJS)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("%d,%d", int(pos[0]), int(pos[1])), map[string]any{"x": int(pos[0]), "y": int(pos[1])}, nil
}

// globRegexp turns a URL glob (* any run of characters, ? one) into a
// regular expression matching the whole URL.
func globRegexp(glob string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

const visibleJS = `(sel => { const el = document.querySelector(sel); if (!el) return false;
	const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
	return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; })`

func (x *execution) wait(ctx context.Context) (string, map[string]any, error) {
	start := time.Now()
	done := func() (string, map[string]any, error) {
		ms := time.Since(start).Milliseconds()
		return strconv.FormatInt(ms, 10), map[string]any{"waited_ms": ms}, nil
	}
	c := x.cmd
	timeout := func(what string) error { return fail(wire.ErrTimeout, "%s did not happen within the timeout", what) }
	switch {
	case c.MS != nil:
		if sleep(ctx, time.Duration(*c.MS)*time.Millisecond) != nil {
			return "", nil, timeout(fmt.Sprintf("the wait of %d ms", *c.MS))
		}
		return done()
	case c.Download:
		n, seen := x.e.downloadCount()
		for {
			select {
			case <-seen:
			case <-ctx.Done():
				return "", nil, timeout("a download")
			}
			if m, next := x.e.downloadCount(); m > n {
				return done()
			} else {
				seen = next
			}
		}
	case c.NetworkIdle, c.Load != "":
		until := string(c.Load)
		if c.NetworkIdle {
			until = wire.WaitNetworkIdle
		}
		if err := x.waitLoaded(ctx, until); err != nil {
			return "", nil, err
		}
		return done()
	}
	var (
		cond func() (bool, error)
		what string
	)
	switch {
	case c.Selector != "":
		what = "selector " + strconv.Quote(c.Selector) + " visible"
		expr := visibleJS + "(" + jsString(c.Selector) + ")"
		cond = func() (bool, error) {
			v, err := evalValue[bool](ctx, x.t, expr)
			if err != nil && !transient(err) {
				var ce *cmdError
				if asCmd(err, &ce) {
					return false, fail(wire.ErrInvalidArgument, "invalid CSS selector %q: %s", c.Selector, ce.msg)
				}
			}
			return v, nil
		}
	case c.Text != nil:
		what = "text " + strconv.Quote(*c.Text)
		expr := "(document.body ? document.body.innerText : '').includes(" + jsString(*c.Text) + ")"
		cond = func() (bool, error) { v, _ := evalValue[bool](ctx, x.t, expr); return v, nil }
	case c.URL != "":
		what = "URL " + strconv.Quote(c.URL)
		re := globRegexp(c.URL)
		cond = func() (bool, error) {
			st, _ := x.t.state()
			return re.MatchString(st.url), nil
		}
	}
	for {
		ok, err := cond()
		if err != nil {
			return "", nil, err
		}
		if ok {
			return done()
		}
		if err := x.alive(); err != nil {
			return "", nil, err
		}
		_, changed := x.t.state()
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return "", nil, timeout(what)
		}
	}
}

func asCmd(err error, ce **cmdError) bool {
	c, ok := err.(*cmdError)
	if ok {
		*ce = c
	}
	return ok
}

const getJS = `function(what, name) {
	switch (what) {
	case 'text': return this.innerText ?? this.textContent ?? '';
	case 'html': return this.outerHTML;
	case 'value': return 'value' in this ? String(this.value ?? '') : null;
	case 'attr': return this.getAttribute(name);
	}
}`

func (x *execution) get(ctx context.Context) (string, map[string]any, error) {
	c := x.cmd
	var value any
	switch c.What {
	case wire.GetURL, wire.GetTitle:
		v, err := evalValue[[2]string](ctx, x.t, `[location.href, document.title]`)
		if err != nil {
			return "", nil, err
		}
		value = v[0]
		if c.What == wire.GetTitle {
			value = v[1]
		}
	case wire.GetCount:
		if c.Ref != "" {
			if _, _, err := x.target(ctx, need{}); err != nil {
				return "", nil, err
			}
			value = 1
			break
		}
		n, err := evalValue[int](ctx, x.t, "document.querySelectorAll("+jsString(c.Selector)+").length")
		if err != nil {
			var ce *cmdError
			if asCmd(err, &ce) {
				return "", nil, fail(wire.ErrInvalidArgument, "invalid CSS selector %q: %s", c.Selector, ce.msg)
			}
			return "", nil, err
		}
		value = n
	default:
		if !c.HasTarget() {
			expr := `document.body ? document.body.innerText : ''`
			if c.What == wire.GetHTML {
				expr = `document.documentElement ? document.documentElement.outerHTML : ''`
			}
			v, err := evalValue[string](ctx, x.t, expr)
			if err != nil {
				return "", nil, err
			}
			value = v
			break
		}
		el, _, err := x.target(ctx, need{})
		if err != nil {
			return "", nil, err
		}
		var v *string
		if err := x.callOn(ctx, el.obj, getJS, &v, c.What, c.Name); err != nil {
			return "", nil, err
		}
		if v == nil && c.What == wire.GetValue {
			return "", nil, fail(wire.ErrInvalidArgument, "%s has no value (it is not a form field)", el.what)
		}
		if v != nil {
			value = *v
		}
	}
	out := ""
	switch v := value.(type) {
	case string:
		value = x.clipText(v)
		out = value.(string)
	case nil:
		out = "null"
	default:
		out = fmt.Sprint(v)
	}
	return out, map[string]any{"value": value}, nil
}

// clipText applies the output limit to a text in a result.
func (x *execution) clipText(s string) string {
	out, cut := wire.Truncate(s, x.limit)
	if cut {
		x.truncated = true
	}
	return out
}

// evalAny evaluates an expression and returns its JSON value.
func evalAny(ctx context.Context, t *tab, expr string, await bool) (*runtime.RemoteObject, error) {
	gesture, repl := true, true
	var res runtime.EvaluateResult
	params := runtime.EvaluateParams{Expression: expr, UserGesture: &gesture, ObjectGroup: objectGroup, ReplMode: &repl}
	if await {
		params.AwaitPromise = &await
	}
	if err := t.target.Call(ctx, runtime.CommandEvaluate, params, &res); err != nil {
		return nil, err
	}
	if res.ExceptionDetails != nil {
		return nil, fail(wire.ErrJSException, "%s", exceptionText(res.ExceptionDetails))
	}
	// In REPL mode the completion value of an expression that is a
	// promise is that promise: settle it too.
	if await && res.Result != nil && res.Result.Subtype == runtime.RemoteObjectSubtypePromise && res.Result.ObjectID != "" {
		var settled runtime.AwaitPromiseResult
		if err := t.target.Call(ctx, runtime.CommandAwaitPromise, runtime.AwaitPromiseParams{PromiseObjectID: res.Result.ObjectID}, &settled); err != nil {
			return nil, err
		}
		if settled.ExceptionDetails != nil {
			return nil, fail(wire.ErrJSException, "%s", exceptionText(settled.ExceptionDetails))
		}
		return settled.Result, nil
	}
	return res.Result, nil
}

const toJSONJS = `function() {
	try { const s = JSON.stringify(this); return s === undefined ? null : JSON.parse(s); }
	catch (e) { return String(this); }
}`

func (x *execution) evaluate(ctx context.Context) (string, map[string]any, error) {
	await := x.cmd.AwaitPromise == nil || *x.cmd.AwaitPromise
	obj, err := evalAny(ctx, x.t, x.cmd.Expression, await)
	if err != nil {
		return "", nil, err
	}
	var raw []byte
	switch {
	case obj == nil || obj.Type == runtime.RemoteObjectTypeUndefined:
		return "undefined", map[string]any{"value": nil}, nil
	case obj.UnserializableValue != "":
		raw, _ = json.Marshal(string(obj.UnserializableValue))
	case obj.Subtype == runtime.RemoteObjectSubtypeNode:
		raw, _ = json.Marshal(obj.Description)
	case obj.ObjectID != "":
		var v json.RawMessage
		if err := x.callOn(ctx, obj.ObjectID, toJSONJS, &v); err != nil {
			return "", nil, err
		}
		raw = v
	default:
		raw = obj.Value
	}
	if len(raw) == 0 {
		raw = []byte("null")
	}
	out, cut := wire.Truncate(string(raw), x.limit)
	var value any
	if cut {
		x.truncated = true
		value = out
	} else if err := json.Unmarshal(raw, &value); err != nil {
		value = string(raw)
	}
	return out, map[string]any{"value": value}, nil
}

func (x *execution) screenshot(ctx context.Context) (string, map[string]any, error) {
	c := x.cmd
	params := page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng, FromSurface: ptr(true)}
	if c.Format == wire.FormatJPEG {
		params.Format = page.CaptureScreenshotFormatJpeg
		q := int64(80)
		if c.Quality != nil {
			q = int64(*c.Quality)
		}
		params.Quality = &q
	}
	switch {
	case c.HasTarget():
		el, _, err := x.target(ctx, need{visible: true})
		if err != nil {
			return "", nil, err
		}
		if err := x.t.target.Call(ctx, dom.CommandScrollIntoViewIfNeeded, dom.ScrollIntoViewIfNeededParams{BackendNodeID: el.node}, nil); err != nil {
			return "", nil, err
		}
		var clip page.Viewport
		if err := x.callOn(ctx, el.obj, `function() { const e = this.getBoundingClientRect(), d = this.ownerDocument.documentElement.getBoundingClientRect();
			return {x: e.left - d.left, y: e.top - d.top, width: e.width, height: e.height}; }`, &clip); err != nil {
			return "", nil, err
		}
		rx, ry := math.Round(clip.X), math.Round(clip.Y)
		clip.Width, clip.Height = math.Round(clip.Width+clip.X-rx), math.Round(clip.Height+clip.Y-ry)
		clip.X, clip.Y, clip.Scale = rx, ry, 1
		params.Clip, params.CaptureBeyondViewport = &clip, ptr(true)
	case c.FullPage:
		var m page.GetLayoutMetricsResult
		if err := x.t.target.Call(ctx, page.CommandGetLayoutMetrics, nil, &m); err != nil {
			return "", nil, err
		}
		if m.CSSContentSize != nil {
			params.Clip = &page.Viewport{Width: math.Ceil(m.CSSContentSize.Width), Height: math.Ceil(m.CSSContentSize.Height), Scale: 1}
			params.CaptureBeyondViewport = ptr(true)
		}
	}
	var res page.CaptureScreenshotResult
	if err := x.t.target.Call(ctx, page.CommandCaptureScreenshot, params, &res); err != nil {
		return "", nil, err
	}
	w, h, err := imageSize(res.Data)
	if err != nil {
		return "", nil, err
	}
	result := map[string]any{"width": w, "height": h, "bytes": len(res.Data), "format": string(params.Format)}
	out := ""
	if c.Path != "" {
		p, err := x.e.writeFile(c.Path, res.Data)
		if err != nil {
			return "", nil, err
		}
		result["path"] = p
		out = p
	}
	if c.InlineWanted() {
		if len(res.Data) > wire.MaxInlineImageBytes {
			return "", nil, fail(wire.ErrOutputTooLarge, "the screenshot is %d bytes, more than the %d an answer may carry: give a path", len(res.Data), wire.MaxInlineImageBytes)
		}
		result["data"] = base64.StdEncoding.EncodeToString(res.Data)
		result["mime_type"] = "image/" + string(params.Format)
	}
	if out == "" {
		out = fmt.Sprintf("screenshot %dx%d %s, %d bytes", w, h, params.Format, len(res.Data))
	}
	return out, result, nil
}

func ptr[T any](v T) *T { return &v }

func (x *execution) pdf(ctx context.Context) (string, map[string]any, error) {
	var res page.PrintToPDFResult
	if err := x.t.target.Call(ctx, page.CommandPrintToPDF, page.PrintToPDFParams{PrintBackground: ptr(true)}, &res); err != nil {
		return "", nil, err
	}
	p, err := x.e.writeFile(x.cmd.Path, res.Data)
	if err != nil {
		return "", nil, err
	}
	return p, map[string]any{"path": p, "bytes": len(res.Data)}, nil
}

const fileInputJS = `function() { return {file: this instanceof HTMLInputElement && this.type === 'file', multiple: !!this.multiple}; }`

func (x *execution) upload(ctx context.Context) (string, map[string]any, error) {
	el, _, err := x.target(ctx, need{enabled: true})
	if err != nil {
		return "", nil, err
	}
	var kind struct{ File, Multiple bool }
	if err := x.callOn(ctx, el.obj, fileInputJS, &kind); err != nil {
		return "", nil, err
	}
	if !kind.File {
		return "", nil, fail(wire.ErrNotInteractable, "%s is not a file input", el.what)
	}
	if len(x.cmd.Paths) > 1 && !kind.Multiple {
		return "", nil, fail(wire.ErrInvalidArgument, "%s takes one file, not %d", el.what, len(x.cmd.Paths))
	}
	var files []string
	for _, p := range x.cmd.Paths {
		abs, err := x.e.uploadFile(p)
		if err != nil {
			return "", nil, err
		}
		files = append(files, abs)
	}
	if err := x.t.target.Call(ctx, dom.CommandSetFileInputFiles, dom.SetFileInputFilesParams{Files: files, BackendNodeID: el.node}, nil); err != nil {
		return "", nil, err
	}
	return strings.Join(x.cmd.Paths, "\n"), map[string]any{"files": x.cmd.Paths}, nil
}

func (x *execution) tabs(ctx context.Context) (string, map[string]any, error) {
	c := x.cmd
	switch c.Action {
	case wire.ActTabNew:
		url := ""
		if c.URL != "" {
			u, err := x.e.allowedURL(c.URL)
			if err != nil {
				return "", nil, err
			}
			url = u
		}
		t, err := x.inst.openTab(ctx, true)
		if err != nil {
			var ce *cmdError
			if !asCmd(err, &ce) && len(x.inst.openTabs()) >= maxTabs {
				return "", nil, fail(wire.ErrInvalidArgument, "%v", err)
			}
			return "", nil, err
		}
		x.t = t
		if url != "" {
			if _, _, err := x.navigate(ctx, url); err != nil {
				return "", nil, err
			}
		}
	case wire.ActTabSelect:
		t := x.inst.tabByID(c.TabID)
		if t == nil {
			return "", nil, fail(wire.ErrInvalidArgument, "no tab %s (tab_list lists them)", c.TabID)
		}
		x.inst.setActive(t)
		x.t = t
		_ = x.inst.browser.Call(ctx, target.CommandActivateTarget, target.ActivateTargetParams{TargetID: t.targetID}, nil)
	case wire.ActTabClose:
		t := x.t
		if c.TabID != "" {
			if t = x.inst.tabByID(c.TabID); t == nil {
				return "", nil, fail(wire.ErrInvalidArgument, "no tab %s (tab_list lists them)", c.TabID)
			}
		}
		if err := x.inst.closeTab(ctx, t); err != nil {
			return "", nil, err
		}
		if len(x.inst.openTabs()) == 0 {
			if _, err := x.inst.openTab(ctx, true); err != nil {
				return "", nil, err
			}
		}
		x.t, _ = x.inst.activeTab(ctx)
	}
	return x.tabList(ctx)
}

// tabList lists the tabs: {tabs: [{tab_id, url, title, active}]}.
func (x *execution) tabList(ctx context.Context) (string, map[string]any, error) {
	var lines []string
	tabs := []map[string]any{}
	for _, t := range x.inst.openTabs() {
		url, title := t.info()
		if v, err := evalValue[[2]string](ctx, t, `[location.href, document.title]`); err == nil {
			url, title = v[0], v[1]
		}
		active := x.inst.isActive(t)
		tabs = append(tabs, map[string]any{"tab_id": t.id, "url": url, "title": title, "active": active})
		mark := " "
		if active {
			mark = "*"
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %s", mark, t.id, url, quoteName(title)))
	}
	return strings.Join(lines, "\n"), map[string]any{"tabs": tabs}, nil
}

func (x *execution) setViewport(ctx context.Context) (string, map[string]any, error) {
	vp := viewport{width: *x.cmd.Width, height: *x.cmd.Height, scale: 1}
	if x.cmd.DeviceScaleFactor != nil {
		vp.scale = *x.cmd.DeviceScaleFactor
	}
	x.e.mu.Lock()
	x.e.viewport = vp
	x.e.mu.Unlock()
	for _, t := range x.inst.openTabs() {
		if err := t.applyViewport(ctx, vp); err != nil {
			return "", nil, err
		}
	}
	return fmt.Sprintf("%dx%d", vp.width, vp.height), map[string]any{
		"width": vp.width, "height": vp.height, "device_scale_factor": vp.scale,
	}, nil
}
