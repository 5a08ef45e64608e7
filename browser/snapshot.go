package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"

	"github.com/bayhq/bay/browser/wire"
)

// Roles of the snapshot (browser.md §3.3).
var (
	interactiveRoles = set("button", "link", "textbox", "searchbox", "checkbox", "radio", "combobox",
		"listbox", "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "switch", "slider", "spinbutton")
	landmarkRoles = set("banner", "navigation", "main", "complementary", "contentinfo", "region", "form",
		"search", "dialog", "alertdialog")
	imageRoles = set("image", "img", "graphics-document")
)

func set(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}

// maxName bounds a name or value in the snapshot.
const maxName = 300

// snapNode is a node of the snapshot result.
type snapNode struct {
	Ref      string `json:"ref,omitempty"`
	Role     string `json:"role"`
	Name     string `json:"name"`
	Value    string `json:"value,omitempty"`
	Checked  any    `json:"checked,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
	Level    int    `json:"level,omitempty"`
	Depth    int    `json:"depth"`
}

// snapshot lists the accessibility tree of the active tab: interactive
// elements (with refs) and headings, plus landmarks, named text and images
// when not interactive_only, indented by depth. An element keeps its ref
// across snapshots of one document.
func (x *execution) snapshot(ctx context.Context) (string, map[string]any, error) {
	c := x.cmd
	interactive := c.InteractiveOnly == nil || *c.InteractiveOnly
	maxDepth := -1
	if c.MaxDepth != nil {
		maxDepth = *c.MaxDepth
	}
	var scope cdp.BackendNodeID
	if c.Selector != "" {
		el, err := x.query(ctx, c.Selector)
		if err != nil {
			return "", nil, err
		}
		if el == nil {
			return "", nil, fail(wire.ErrElementNotFound, "no element matches selector %q", c.Selector)
		}
		scope = el.node
	}
	var (
		tree   accessibility.GetFullAXTreeResult
		loader cdp.LoaderID
	)
	for attempt := 0; ; attempt++ {
		before, _ := x.t.state()
		if err := x.t.target.Call(ctx, accessibility.CommandGetFullAXTree, accessibility.GetFullAXTreeParams{}, &tree); err != nil {
			return "", nil, err
		}
		after, _ := x.t.state()
		loader = after.loaderID
		// A navigation between the two reads makes the tree's document
		// uncertain: read again.
		if before.loaderID == after.loaderID || attempt == 2 {
			break
		}
	}
	nodes := make(map[accessibility.NodeID]*accessibility.Node, len(tree.Nodes))
	var roots []*accessibility.Node
	for _, n := range tree.Nodes {
		nodes[n.NodeID] = n
	}
	for _, n := range tree.Nodes {
		if scope != 0 {
			if n.BackendDOMNodeID == scope {
				roots = []*accessibility.Node{n}
				break
			}
			continue
		}
		if n.ParentID == "" || nodes[n.ParentID] == nil {
			roots = append(roots, n)
		}
	}
	if scope != 0 && len(roots) == 0 {
		return "", nil, fail(wire.ErrElementNotFound, "selector %q matches an element outside the accessibility tree", c.Selector)
	}

	url, title := x.t.info()
	if v, err := evalValue[[2]string](ctx, x.t, `[location.href, document.title]`); err == nil {
		url, title = v[0], v[1]
	}
	header := fmt.Sprintf("page %s %s", quoteName(title), url)
	w := &snapWriter{}
	w.line(header)
	x.t.mu.Lock()
	byNode := x.t.nodeRefs[loader]
	if byNode == nil {
		byNode = map[cdp.BackendNodeID]string{}
		x.t.nodeRefs[loader] = byNode
	}
	x.t.mu.Unlock()
	assign := func(id cdp.BackendNodeID) string {
		x.t.mu.Lock()
		defer x.t.mu.Unlock()
		if ref, ok := byNode[id]; ok {
			return ref
		}
		x.e.mu.Lock()
		x.e.refSeq++
		ref := "e" + strconv.Itoa(x.e.refSeq)
		x.e.mu.Unlock()
		byNode[id] = ref
		x.t.refs[ref] = refEntry{loader: loader, node: id}
		return ref
	}
	var walk func(n *accessibility.Node, depth int, underNamed bool)
	walk = func(n *accessibility.Node, depth int, underNamed bool) {
		if w.full {
			return
		}
		childDepth := depth
		role, name := axString(n.Role), axString(n.Name)
		keep := false
		if !n.Ignored {
			switch {
			case interactiveRoles[role] || role == "heading":
				keep = true
			case interactive:
			case landmarkRoles[role]:
				keep = true
			case imageRoles[role] && name != "":
				keep = true
			case role == "StaticText" && name != "" && !underNamed:
				keep, role = true, "text"
			}
		}
		if keep && maxDepth >= 0 && depth > maxDepth {
			return
		}
		if keep {
			sn := snapNode{Role: role, Name: clip(name), Depth: depth}
			if interactiveRoles[role] && n.BackendDOMNodeID != 0 {
				sn.Ref = assign(n.BackendDOMNodeID)
			}
			if v := axString(n.Value); v != "" {
				sn.Value = clip(v)
			}
			for _, p := range n.Properties {
				switch p.Name {
				case accessibility.PropertyNameChecked:
					switch v := axString(p.Value); v {
					case "true":
						sn.Checked = true
					case "false":
						sn.Checked = false
					case "mixed":
						sn.Checked = "mixed"
					}
				case accessibility.PropertyNameDisabled:
					sn.Disabled = axString(p.Value) == "true"
				case accessibility.PropertyNameLevel:
					sn.Level, _ = strconv.Atoi(axString(p.Value))
				}
			}
			if (role == "checkbox" || role == "radio" || role == "switch") && sn.Checked == nil {
				sn.Checked = false
			}
			w.node(sn)
			childDepth = depth + 1
			underNamed = underNamed || (name != "" && (interactiveRoles[role] || role == "heading" || role == "text"))
		}
		for _, id := range n.ChildIDs {
			if ch := nodes[id]; ch != nil {
				walk(ch, childDepth, underNamed)
			}
		}
	}
	for _, r := range roots {
		walk(r, 0, false)
	}
	text, listed, truncated := w.cut(x.limit)
	if truncated {
		x.truncated = true
	}
	return text, map[string]any{
		"url": url, "title": title, "text": text, "nodes": listed, "truncated": truncated,
	}, nil
}

// snapWriter builds the text and the node list, at most MaxSnapshotNodes
// nodes; ends holds where each node's line ends in the text.
type snapWriter struct {
	text  strings.Builder
	nodes []snapNode
	ends  []int
	full  bool
}

func (w *snapWriter) line(s string) bool {
	if w.text.Len() > 0 {
		w.text.WriteByte('\n')
	}
	w.text.WriteString(s)
	return true
}

// cut applies the output limit (browser.md §3.6): the text is cut at a
// UTF-8 boundary with the marker, and the nodes are those whose lines are
// whole in what is left.
func (w *snapWriter) cut(limit int) (string, []snapNode, bool) {
	text := w.text.String()
	nodes := w.nodes
	if nodes == nil {
		nodes = []snapNode{}
	}
	out, cut := wire.Truncate(text, limit)
	if !cut {
		return text, nodes, w.full
	}
	kept := wire.CutPoint(text, limit)
	n := 0
	for n < len(w.ends) && w.ends[n] <= kept {
		n++
	}
	return out, nodes[:n], true
}

func (w *snapWriter) node(n snapNode) {
	if len(w.nodes) >= wire.MaxSnapshotNodes {
		w.full = true
		return
	}
	var b strings.Builder
	b.WriteString(strings.Repeat("  ", n.Depth))
	b.WriteString("- ")
	b.WriteString(n.Role)
	if n.Name != "" || n.Role != "text" {
		b.WriteString(" " + quoteName(n.Name))
	}
	if n.Ref != "" {
		b.WriteString(" [ref=" + n.Ref + "]")
	}
	if n.Level > 0 {
		fmt.Fprintf(&b, " [level=%d]", n.Level)
	}
	if n.Checked != nil {
		fmt.Fprintf(&b, " [checked=%v]", n.Checked)
	}
	if n.Disabled {
		b.WriteString(" [disabled]")
	}
	if n.Value != "" {
		b.WriteString(" value=" + quoteName(n.Value))
	}
	w.line(b.String())
	w.nodes = append(w.nodes, n)
	w.ends = append(w.ends, w.text.Len())
}

// axString reads an accessibility value as text.
func axString(v *accessibility.Value) string {
	if v == nil || len(v.Value) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(v.Value, &s) == nil {
		return s
	}
	var f float64
	if json.Unmarshal(v.Value, &f) == nil {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	var b bool
	if json.Unmarshal(v.Value, &b) == nil {
		return strconv.FormatBool(b)
	}
	return string(v.Value)
}

func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxName {
		return s
	}
	cut := maxName
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// quoteName quotes a name for the snapshot text, keeping non-ASCII
// characters readable.
func quoteName(s string) string {
	b, _ := json.Marshal(s)
	q := string(b)
	// json escapes <, > and & for HTML; undo that for readability.
	r := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")
	return r.Replace(q)
}
