package browser

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"

	"github.com/bayhq/bay/browser/wire"
)

// element is a resolved target: its backend node (stable for the life of
// the DOM node) and a JavaScript handle in the command's object group.
type element struct {
	node cdp.BackendNodeID
	obj  runtime.RemoteObjectID
	// what names it in messages: `ref e3`, `selector "#name"`.
	what string
}

// elemState is what stateJS reports about an element.
type elemState struct {
	Connected bool   `json:"connected"`
	Visible   bool   `json:"visible"`
	Enabled   bool   `json:"enabled"`
	Editable  bool   `json:"editable"`
	Tag       string `json:"tag"`
	Type      string `json:"type"`
	Checked   *bool  `json:"checked"`
}

const stateJS = `function() {
	const el = this;
	if (!el.isConnected) return {connected: false};
	if (el.nodeType !== 1) return {connected: true, visible: false, enabled: true};
	const r = el.getBoundingClientRect();
	const s = getComputedStyle(el);
	const visible = r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
	const disabled = el.disabled === true || !!el.closest('fieldset[disabled] *:not(legend *)') ||
		el.getAttribute('aria-disabled') === 'true';
	const tag = el.tagName.toLowerCase();
	const type = (el.getAttribute('type') || '').toLowerCase();
	const textInput = (tag === 'input' && !['checkbox','radio','button','submit','reset','file','image','hidden','range','color'].includes(type)) || tag === 'textarea';
	const editable = el.isContentEditable || (textInput && !el.readOnly);
	let checked = null;
	if (tag === 'input' && (type === 'checkbox' || type === 'radio')) checked = el.checked;
	else if (el.hasAttribute('aria-checked')) checked = el.getAttribute('aria-checked') === 'true';
	return {connected: true, visible, enabled: !disabled, editable, tag, type, checked};
}`

// need says what an action needs of its target before it acts.
type need struct {
	visible, enabled, editable bool
}

func (s *elemState) lacks(n need) string {
	switch {
	case !s.Connected:
		return "no longer in the page"
	case n.visible && !s.Visible:
		return "not visible"
	case n.enabled && !s.Enabled:
		return "disabled"
	case n.editable && !s.Editable:
		return "not editable (fill takes an input, a textarea or a contenteditable element; use select for a <select>, check for a checkbox)"
	}
	return ""
}

// pollInterval is how often the auto-wait looks again.
const pollInterval = 50 * time.Millisecond

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// transient reports whether a browser error may go away on retry: the
// page navigated under the call, or its context is being replaced.
func transient(err error) bool {
	var pe *cdproto.Error
	return errors.As(err, &pe)
}

// target resolves the command's target and waits, up to the command's
// timeout, until it exists and meets n (browser.md §3.2: auto-wait).
func (x *execution) target(ctx context.Context, n need) (*element, *elemState, error) {
	var (
		found bool
		last  string
	)
	for {
		el, err := x.find(ctx)
		var ce *cmdError
		switch {
		case errors.As(err, &ce):
			return nil, nil, err
		case err != nil && !transient(err) && ctx.Err() == nil:
			return nil, nil, err
		case el != nil:
			found = true
			st, err := x.stateOf(ctx, el)
			if err == nil {
				if last = st.lacks(n); last == "" {
					return el, st, nil
				}
				if !st.Connected && x.cmd.Ref != "" {
					return nil, nil, fail(wire.ErrStaleRef, "the element of ref %s is no longer in the page: take a new snapshot", x.cmd.Ref)
				}
			}
		}
		if err := x.alive(); err != nil {
			return nil, nil, err
		}
		if sleep(ctx, pollInterval) != nil {
			if !found {
				return nil, nil, fail(wire.ErrElementNotFound, "no element matches %s", x.targetName())
			}
			return nil, nil, fail(wire.ErrNotInteractable, "%s is %s", x.targetName(), last)
		}
	}
}

// alive fails when the tab or its renderer is gone.
func (x *execution) alive() error {
	if x.t.isClosed() {
		return fail(wire.ErrNavigationFailed, "the tab closed")
	}
	if x.t.crashedNow() {
		return fail(wire.ErrBrowserCrashed, "the page's renderer crashed: navigate again or open a new tab")
	}
	return nil
}

func (x *execution) targetName() string {
	if x.cmd.Ref != "" {
		return "ref " + x.cmd.Ref
	}
	return "selector " + strconv.Quote(x.cmd.Selector)
}

// find resolves the target once: an element, nil when a selector matches
// nothing yet, or an error.
func (x *execution) find(ctx context.Context) (*element, error) {
	if x.cmd.Ref != "" {
		return x.findRef(ctx, x.cmd.Ref)
	}
	return x.query(ctx, x.cmd.Selector)
}

func (x *execution) findRef(ctx context.Context, ref string) (*element, error) {
	t := x.t
	t.mu.Lock()
	entry, ok := t.refs[ref]
	loader := t.loaderID
	t.mu.Unlock()
	if !ok {
		for _, o := range x.inst.openTabs() {
			if o != t && o.hasRef(ref) {
				return nil, fail(wire.ErrRefNotFound, "ref %s belongs to tab %s: select it with tab_select, or take a new snapshot here", ref, o.id)
			}
		}
		return nil, fail(wire.ErrRefNotFound, "unknown ref %s: take a new snapshot", ref)
	}
	if entry.loader != loader {
		return nil, fail(wire.ErrStaleRef, "ref %s belongs to a page that is no longer loaded (the tab navigated): take a new snapshot", ref)
	}
	var res dom.ResolveNodeResult
	if err := t.target.Call(ctx, dom.CommandResolveNode, dom.ResolveNodeParams{BackendNodeID: entry.node, ObjectGroup: objectGroup}, &res); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fail(wire.ErrStaleRef, "the element of ref %s is no longer in the page: take a new snapshot", ref)
	}
	return &element{node: entry.node, obj: res.Object.ObjectID, what: "ref " + ref}, nil
}

func (t *tab) hasRef(ref string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.refs[ref]
	return ok
}

// query returns the first element a CSS selector matches, nil if none.
func (x *execution) query(ctx context.Context, sel string) (*element, error) {
	var res runtime.EvaluateResult
	err := x.t.target.Call(ctx, runtime.CommandEvaluate, runtime.EvaluateParams{
		Expression: "document.querySelector(" + jsString(sel) + ")", ObjectGroup: objectGroup,
	}, &res)
	if err != nil {
		return nil, err
	}
	if res.ExceptionDetails != nil {
		return nil, fail(wire.ErrInvalidArgument, "invalid CSS selector %q: %s", sel, exceptionText(res.ExceptionDetails))
	}
	if res.Result == nil || res.Result.ObjectID == "" {
		return nil, nil
	}
	var desc dom.DescribeNodeResult
	if err := x.t.target.Call(ctx, dom.CommandDescribeNode, dom.DescribeNodeParams{ObjectID: res.Result.ObjectID}, &desc); err != nil {
		return nil, err
	}
	return &element{node: desc.Node.BackendNodeID, obj: res.Result.ObjectID, what: "selector " + strconv.Quote(sel)}, nil
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (x *execution) stateOf(ctx context.Context, el *element) (*elemState, error) {
	var st elemState
	if err := x.callOn(ctx, el.obj, stateJS, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// callOn calls a JavaScript function with this = obj and decodes its
// JSON result into out (nil ignores it). args are JSON values or
// runtime.RemoteObjectID handles.
func (x *execution) callOn(ctx context.Context, obj runtime.RemoteObjectID, fn string, out any, args ...any) error {
	var cargs []*runtime.CallArgument
	for _, a := range args {
		if id, ok := a.(runtime.RemoteObjectID); ok {
			cargs = append(cargs, &runtime.CallArgument{ObjectID: id})
			continue
		}
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		cargs = append(cargs, &runtime.CallArgument{Value: b})
	}
	byValue, gesture := true, true
	var res runtime.CallFunctionOnResult
	if err := x.t.target.Call(ctx, runtime.CommandCallFunctionOn, runtime.CallFunctionOnParams{
		FunctionDeclaration: fn, ObjectID: obj, Arguments: cargs, ReturnByValue: &byValue, UserGesture: &gesture,
	}, &res); err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fail(wire.ErrJSException, "%s", exceptionText(res.ExceptionDetails))
	}
	if out == nil || res.Result == nil || len(res.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(res.Result.Value, out)
}

// point is a place in the viewport, in CSS pixels.
type point struct{ x, y float64 }

// clickable scrolls el into view and returns the centre of its first
// content quad, checking that el (or something inside it) is what a click
// there hits: an overlay over it makes the action wait and then fail.
func (x *execution) clickable(ctx context.Context, el *element) (point, string, error) {
	t := x.t.target
	if err := t.Call(ctx, dom.CommandScrollIntoViewIfNeeded, dom.ScrollIntoViewIfNeededParams{BackendNodeID: el.node}, nil); err != nil {
		return point{}, "", err
	}
	var quads dom.GetContentQuadsResult
	if err := t.Call(ctx, dom.CommandGetContentQuads, dom.GetContentQuadsParams{BackendNodeID: el.node}, &quads); err != nil {
		return point{}, "", err
	}
	var p point
	found := false
	for _, q := range quads.Quads {
		if len(q) != 8 || quadArea(q) < 1 {
			continue
		}
		p = point{(q[0] + q[2] + q[4] + q[6]) / 4, (q[1] + q[3] + q[5] + q[7]) / 4}
		found = true
		break
	}
	if !found {
		return point{}, "it has no visible area", nil
	}
	var hit dom.GetNodeForLocationResult
	ua := true
	if err := t.Call(ctx, dom.CommandGetNodeForLocation, dom.GetNodeForLocationParams{
		X: int64(math.Floor(p.x)), Y: int64(math.Floor(p.y)), IncludeUserAgentShadowDOM: &ua,
	}, &hit); err != nil {
		// Outside the viewport or no node: let the click decide.
		return p, "", nil //nolint:nilerr // a failed hit test is no reason to refuse the click
	}
	if hit.BackendNodeID == el.node {
		return p, "", nil
	}
	var res dom.ResolveNodeResult
	if err := t.Call(ctx, dom.CommandResolveNode, dom.ResolveNodeParams{BackendNodeID: hit.BackendNodeID, ObjectGroup: objectGroup}, &res); err != nil {
		return p, "", nil //nolint:nilerr // as above
	}
	var inside bool
	if err := x.callOn(ctx, el.obj, `function(o) { for (let n = o; n; n = n.parentNode || n.host) if (n === this) return true; return false; }`, &inside, res.Object.ObjectID); err != nil {
		return p, "", nil //nolint:nilerr // as above
	}
	if inside {
		return p, "", nil
	}
	var what string
	_ = x.callOn(ctx, res.Object.ObjectID, `function() { return this.nodeType === 1 ? this.outerHTML.slice(0, 120) : this.nodeName; }`, &what)
	return p, "covered by " + what, nil
}

func quadArea(q []float64) float64 {
	a := 0.0
	for i := 0; i < 4; i++ {
		j := (i + 1) % 4
		a += q[2*i]*q[2*j+1] - q[2*j]*q[2*i+1]
	}
	return math.Abs(a) / 2
}

// pointer waits until el can be clicked and returns where.
func (x *execution) pointer(ctx context.Context, el *element) (point, error) {
	last := "not clickable"
	for {
		p, blocked, err := x.clickable(ctx, el)
		switch {
		case ctx.Err() != nil:
		case err != nil && !transient(err):
			return point{}, err
		case err == nil && blocked == "":
			return p, nil
		case blocked != "":
			last = blocked
		}
		if sleep(ctx, pollInterval) != nil {
			return point{}, fail(wire.ErrNotInteractable, "%s is %s", el.what, last)
		}
	}
}

// mouse sends a mouse event.
func (x *execution) mouse(ctx context.Context, typ input.DispatchMouseEventType, p point, button input.MouseButton, clicks int64) error {
	params := input.DispatchMouseEventParams{Type: typ, X: p.x, Y: p.y, Button: button, ClickCount: clicks}
	if typ == input.DispatchMouseEventTypeMousePressed {
		params.Buttons = buttonMask(button)
	}
	return x.t.target.Call(ctx, input.CommandDispatchMouseEvent, params, nil)
}

func buttonMask(b input.MouseButton) int64 {
	switch b {
	case input.MouseButtonLeft:
		return 1
	case input.MouseButtonRight:
		return 2
	case input.MouseButtonMiddle:
		return 4
	}
	return 0
}

// click moves the mouse to p and presses and releases the button, count
// times in a row (a double click is two clicks, the second with count 2).
func (x *execution) click(ctx context.Context, p point, button input.MouseButton, count int) error {
	if err := x.mouse(ctx, input.DispatchMouseEventTypeMouseMoved, p, input.MouseButtonNone, 0); err != nil {
		return err
	}
	for i := 1; i <= count; i++ {
		if err := x.mouse(ctx, input.DispatchMouseEventTypeMousePressed, p, button, int64(i)); err != nil {
			return err
		}
		if err := x.mouse(ctx, input.DispatchMouseEventTypeMouseReleased, p, button, int64(i)); err != nil {
			return err
		}
	}
	return nil
}
