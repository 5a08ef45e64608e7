package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Actions of the typed command set (browser.md §3.2), in the table's order.
const (
	ActNavigate    = "navigate"
	ActBack        = "back"
	ActForward     = "forward"
	ActReload      = "reload"
	ActSnapshot    = "snapshot"
	ActClick       = "click"
	ActFill        = "fill"
	ActType        = "type"
	ActPress       = "press"
	ActSelect      = "select"
	ActCheck       = "check"
	ActUncheck     = "uncheck"
	ActHover       = "hover"
	ActFocus       = "focus"
	ActScroll      = "scroll"
	ActWait        = "wait"
	ActGet         = "get"
	ActEvaluate    = "evaluate"
	ActScreenshot  = "screenshot"
	ActPDF         = "pdf"
	ActUpload      = "upload"
	ActTabList     = "tab_list"
	ActTabNew      = "tab_new"
	ActTabSelect   = "tab_select"
	ActTabClose    = "tab_close"
	ActSetViewport = "set_viewport"
)

// Actions lists every action, as /meta announces them.
var Actions = []string{
	ActNavigate, ActBack, ActForward, ActReload, ActSnapshot, ActClick, ActFill, ActType,
	ActPress, ActSelect, ActCheck, ActUncheck, ActHover, ActFocus, ActScroll, ActWait, ActGet,
	ActEvaluate, ActScreenshot, ActPDF, ActUpload, ActTabList, ActTabNew, ActTabSelect,
	ActTabClose, ActSetViewport,
}

// Values of the enumerated fields.
const (
	WaitLoad             = "load"
	WaitDOMContentLoaded = "domcontentloaded"
	WaitNetworkIdle      = "networkidle"
	WaitNone             = "none"

	GetText  = "text"
	GetHTML  = "html"
	GetValue = "value"
	GetAttr  = "attr"
	GetURL   = "url"
	GetTitle = "title"
	GetCount = "count"

	FormatPNG  = "png"
	FormatJPEG = "jpeg"
)

// Command is one parsed command: a typed command (browser.md §3.2) or a
// command string translated to one. Optional fields are pointers where
// the default is not the zero value. Fields that an action does not take
// are rejected by ParseCommand, so each action reads only its own.
type Command struct {
	Action string `json:"action"`
	// Target: Ref ("e7"; "@e7" is accepted and normalized) or Selector
	// (CSS, first match). snapshot's Selector scopes the snapshot and
	// wait's Selector is the element waited for.
	Ref      string `json:"ref,omitempty"`
	Selector string `json:"selector,omitempty"`

	URL       string `json:"url,omitempty"`
	WaitUntil string `json:"wait_until,omitempty"`

	InteractiveOnly *bool `json:"interactive_only,omitempty"`
	MaxDepth        *int  `json:"max_depth,omitempty"`

	Button     string `json:"button,omitempty"`
	ClickCount *int   `json:"click_count,omitempty"`

	Text    *string  `json:"text,omitempty"`
	DelayMS *int     `json:"delay_ms,omitempty"`
	Key     string   `json:"key,omitempty"`
	Values  []string `json:"values,omitempty"`

	Direction string `json:"direction,omitempty"`
	Amount    *int   `json:"amount,omitempty"`

	NetworkIdle bool      `json:"network_idle,omitempty"`
	Load        LoadState `json:"load,omitempty"`
	MS          *int      `json:"ms,omitempty"`
	Download    bool      `json:"download,omitempty"`

	What string `json:"what,omitempty"`
	Name string `json:"name,omitempty"`

	Expression   string `json:"expression,omitempty"`
	AwaitPromise *bool  `json:"await_promise,omitempty"`

	Path     string `json:"path,omitempty"`
	Inline   *bool  `json:"inline,omitempty"`
	FullPage bool   `json:"full_page,omitempty"`
	Format   string `json:"format,omitempty"`
	Quality  *int   `json:"quality,omitempty"`

	Paths []string `json:"paths,omitempty"`

	TabID string `json:"tab_id,omitempty"`

	Width             *int     `json:"width,omitempty"`
	Height            *int     `json:"height,omitempty"`
	DeviceScaleFactor *float64 `json:"device_scale_factor,omitempty"`

	// Dialog overrides the automatic answer to dialogs the command opens.
	Dialog *DialogPolicy `json:"dialog,omitempty"`

	// Source is what a batch result echoes as "cmd": the command string,
	// or the action of a typed command.
	Source string `json:"-"`
	// Unsupported names the verb or flag of a command string outside the
	// compatibility subset; running it fails with unsupported_command.
	Unsupported string `json:"-"`
}

// DialogPolicy answers the dialogs a command opens: Accept (alert and
// beforeunload are accepted and confirm and prompt dismissed by default)
// and PromptText for a prompt.
type DialogPolicy struct {
	Accept     *bool   `json:"accept,omitempty"`
	PromptText *string `json:"prompt_text,omitempty"`
}

// LoadState is wait's load condition: "load" (also from JSON true),
// "domcontentloaded" or "networkidle".
type LoadState string

// UnmarshalJSON accepts a state name or true.
func (l *LoadState) UnmarshalJSON(b []byte) error {
	switch s := string(bytes.TrimSpace(b)); s {
	case "true":
		*l = WaitLoad
		return nil
	case "false", "null":
		*l = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[string]()}
	}
	*l = LoadState(s)
	return nil
}

// HasTarget reports whether the command names an element.
func (c *Command) HasTarget() bool { return c.Ref != "" || c.Selector != "" }

// InlineWanted reports whether a screenshot returns its data inline: when
// asked, and by default when it has no path.
func (c *Command) InlineWanted() bool {
	if c.Inline != nil {
		return *c.Inline
	}
	return c.Path == ""
}

// Invalid is a request that fails validation: a 422 validation_error, or
// with Reason set a 400 invalid_path (lifecycle.md §11). Loc locates the
// field, e.g. ["commands", 2, "path"].
type Invalid struct {
	Loc    []any
	Msg    string
	Reason string
}

func (e *Invalid) Error() string { return e.Field() + ": " + e.Msg }

// Field is Loc as one string: "commands[2].path".
func (e *Invalid) Field() string {
	var b strings.Builder
	for i, l := range e.Loc {
		switch v := l.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

// IsPath reports whether the failure is an invalid_path.
func (e *Invalid) IsPath() bool { return e.Reason != "" }

func invalid(loc []any, format string, args ...any) *Invalid {
	return &Invalid{Loc: slices.Clone(loc), Msg: fmt.Sprintf(format, args...)}
}

func at(loc []any, more ...any) []any { return append(slices.Clone(loc), more...) }

// target says whether an action takes an element.
type target int

const (
	noTarget target = iota
	optionalTarget
	requiredTarget
)

type actionSpec struct {
	target   target
	fields   []string
	required []string
}

var specs = map[string]actionSpec{
	ActNavigate:    {fields: []string{"url", "wait_until"}, required: []string{"url"}},
	ActBack:        {fields: []string{"wait_until"}},
	ActForward:     {fields: []string{"wait_until"}},
	ActReload:      {fields: []string{"wait_until"}},
	ActSnapshot:    {fields: []string{"interactive_only", "selector", "max_depth"}},
	ActClick:       {target: requiredTarget, fields: []string{"button", "click_count"}},
	ActFill:        {target: requiredTarget, fields: []string{"text"}, required: []string{"text"}},
	ActType:        {target: optionalTarget, fields: []string{"text", "delay_ms"}, required: []string{"text"}},
	ActPress:       {target: optionalTarget, fields: []string{"key"}, required: []string{"key"}},
	ActSelect:      {target: requiredTarget, fields: []string{"values"}, required: []string{"values"}},
	ActCheck:       {target: requiredTarget},
	ActUncheck:     {target: requiredTarget},
	ActHover:       {target: requiredTarget},
	ActFocus:       {target: requiredTarget},
	ActScroll:      {target: optionalTarget, fields: []string{"direction", "amount"}},
	ActWait:        {fields: []string{"selector", "text", "url", "network_idle", "load", "ms", "download"}},
	ActGet:         {target: optionalTarget, fields: []string{"what", "name"}, required: []string{"what"}},
	ActEvaluate:    {fields: []string{"expression", "await_promise"}, required: []string{"expression"}},
	ActScreenshot:  {target: optionalTarget, fields: []string{"path", "inline", "full_page", "format", "quality"}},
	ActPDF:         {fields: []string{"path"}, required: []string{"path"}},
	ActUpload:      {target: requiredTarget, fields: []string{"paths"}, required: []string{"paths"}},
	ActTabList:     {},
	ActTabNew:      {fields: []string{"url"}},
	ActTabSelect:   {fields: []string{"tab_id"}, required: []string{"tab_id"}},
	ActTabClose:    {fields: []string{"tab_id"}},
	ActSetViewport: {fields: []string{"width", "height", "device_scale_factor"}, required: []string{"width", "height"}},
}

// commonFields are taken by every action.
var commonFields = []string{"action", "dialog"}

// ParseItem parses one command of a request: a JSON object is a typed
// command, a JSON string a command string. loc locates it in the request
// (["command"], ["commands", 2]).
func ParseItem(raw json.RawMessage, loc []any) (Command, *Invalid) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Command{}, invalid(loc, "invalid JSON string: %v", err)
		}
		return ParseCmdLine(s, loc)
	}
	return ParseCommand(raw, loc)
}

// ParseCommand parses and validates a typed command: a JSON object with a
// known action and only the fields that action takes.
func ParseCommand(raw json.RawMessage, loc []any) (Command, *Invalid) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Command{}, invalid(loc, "a command is a JSON object with an action, or a command string")
	}
	var action string
	rawAction, ok := fields["action"]
	if !ok {
		return Command{}, invalid(at(loc, "action"), "field required")
	}
	if err := json.Unmarshal(rawAction, &action); err != nil {
		return Command{}, invalid(at(loc, "action"), "must be a string")
	}
	spec, ok := specs[action]
	if !ok {
		return Command{}, invalid(at(loc, "action"), "unknown action %q (one of %s)", action, strings.Join(Actions, ", "))
	}
	allowed := slices.Concat(commonFields, spec.fields)
	if spec.target != noTarget {
		allowed = append(allowed, "ref", "selector")
	}
	for _, k := range sortedKeys(fields) {
		if !slices.Contains(allowed, k) {
			return Command{}, invalid(at(loc, k), "%s does not take %q", action, k)
		}
	}
	for _, k := range spec.required {
		if v, ok := fields[k]; !ok || string(bytes.TrimSpace(v)) == "null" {
			return Command{}, invalid(at(loc, k), "field required for %s", action)
		}
	}
	var c Command
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Command{}, invalid(at(loc, splitField(te.Field)...), "must be a %s", jsonType(te.Type.String()))
		}
		return Command{}, invalid(loc, "%v", err)
	}
	c.Source = action
	if err := c.Validate(loc); err != nil {
		return Command{}, err
	}
	return c, nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func splitField(f string) []any {
	var out []any
	for _, p := range strings.Split(f, ".") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// jsonType names a Go type of the Command struct the way a client sees it.
func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "list"
	case strings.Contains(goType, "int"):
		return "integer"
	case strings.Contains(goType, "float"):
		return "number"
	case strings.Contains(goType, "bool"):
		return "boolean"
	case strings.Contains(goType, "string"), strings.Contains(goType, "LoadState"):
		return "string"
	}
	return "object"
}

// refPattern is a ref after normalization.
var refPattern = regexp.MustCompile(`^e[1-9][0-9]{0,8}$`)

// NormalizeRef turns "@e7" and "e7" into "e7"; ok is false for anything
// that is not a ref.
func NormalizeRef(s string) (string, bool) {
	s = strings.TrimPrefix(s, "@")
	return s, refPattern.MatchString(s)
}

// tabPattern is a tab id.
var tabPattern = regexp.MustCompile(`^t[1-9][0-9]{0,8}$`)

// Validate checks the fields of c that its action takes, normalizing refs
// and paths in place. ParseCommand and ParseCmdLine call it; loc locates
// the command.
func (c *Command) Validate(loc []any) *Invalid {
	if c.Unsupported != "" {
		return nil
	}
	spec, ok := specs[c.Action]
	if !ok {
		return invalid(at(loc, "action"), "unknown action %q", c.Action)
	}
	// The target.
	if spec.target != noTarget {
		if c.Ref != "" && c.Selector != "" {
			return invalid(loc, "give ref or selector, not both")
		}
		if spec.target == requiredTarget && !c.HasTarget() {
			return invalid(at(loc, "ref"), "%s needs a target: ref or selector", c.Action)
		}
		if c.Ref != "" {
			ref, ok := NormalizeRef(c.Ref)
			if !ok {
				return invalid(at(loc, "ref"), "%q is not a ref (e1, e2, … from a snapshot)", c.Ref)
			}
			c.Ref = ref
		}
	}
	if c.Selector != "" && strings.TrimSpace(c.Selector) == "" {
		return invalid(at(loc, "selector"), "must not be blank")
	}
	if c.Dialog != nil && c.Dialog.PromptText != nil && len(*c.Dialog.PromptText) > maxTextField {
		return invalid(at(loc, "dialog", "prompt_text"), "longer than %d bytes", maxTextField)
	}
	inRange := func(field string, v *int, lo, hi int) *Invalid {
		if v != nil && (*v < lo || *v > hi) {
			return invalid(at(loc, field), "must be between %d and %d", lo, hi)
		}
		return nil
	}
	oneOf := func(field, v string, allowed ...string) *Invalid {
		if v != "" && !slices.Contains(allowed, v) {
			return invalid(at(loc, field), "must be one of %s", strings.Join(allowed, ", "))
		}
		return nil
	}
	path := func(field string, p *string) *Invalid {
		n, err := NormalizePath(p2s(at(loc, field)), *p)
		if err != nil {
			err.Loc = at(loc, field)
			return err
		}
		*p = n
		return nil
	}
	switch c.Action {
	case ActNavigate, ActTabNew:
		if c.Action == ActNavigate && strings.TrimSpace(c.URL) == "" {
			return invalid(at(loc, "url"), "must not be empty")
		}
		if len(c.URL) > maxURL {
			return invalid(at(loc, "url"), "longer than %d bytes", maxURL)
		}
		return oneOf("wait_until", c.WaitUntil, WaitLoad, WaitDOMContentLoaded, WaitNetworkIdle, WaitNone)
	case ActBack, ActForward, ActReload:
		return oneOf("wait_until", c.WaitUntil, WaitLoad, WaitDOMContentLoaded, WaitNetworkIdle, WaitNone)
	case ActSnapshot:
		return inRange("max_depth", c.MaxDepth, 0, 1000)
	case ActClick:
		if err := oneOf("button", c.Button, "left", "right", "middle"); err != nil {
			return err
		}
		return inRange("click_count", c.ClickCount, 1, 3)
	case ActFill, ActType:
		if c.Text == nil {
			return invalid(at(loc, "text"), "field required for %s", c.Action)
		}
		if len(*c.Text) > maxTextField {
			return invalid(at(loc, "text"), "longer than %d bytes", maxTextField)
		}
		if c.Action == ActType && len(*c.Text) > maxTypedText {
			return invalid(at(loc, "text"), "type sends one key event per character: at most %d bytes (fill has no such limit)", maxTypedText)
		}
		return inRange("delay_ms", c.DelayMS, 0, 1000)
	case ActPress:
		if strings.TrimSpace(c.Key) == "" {
			return invalid(at(loc, "key"), "must not be empty")
		}
	case ActSelect:
		if len(c.Values) == 0 || len(c.Values) > 100 {
			return invalid(at(loc, "values"), "must hold 1 to 100 values")
		}
	case ActScroll:
		if c.HasTarget() && (c.Direction != "" || c.Amount != nil) {
			return invalid(loc, "scroll takes a direction (and amount) or a target, not both")
		}
		if err := oneOf("direction", c.Direction, "up", "down", "left", "right"); err != nil {
			return err
		}
		return inRange("amount", c.Amount, 1, 100000)
	case ActWait:
		n := 0
		for _, set := range []bool{c.Selector != "", c.Text != nil, c.URL != "", c.NetworkIdle, c.Load != "", c.MS != nil, c.Download} {
			if set {
				n++
			}
		}
		if n != 1 {
			return invalid(loc, "wait takes exactly one of selector, text, url, network_idle, load, ms, download")
		}
		if c.Text != nil && *c.Text == "" {
			return invalid(at(loc, "text"), "must not be empty")
		}
		if err := oneOf("load", string(c.Load), WaitLoad, WaitDOMContentLoaded, WaitNetworkIdle); err != nil {
			return err
		}
		return inRange("ms", c.MS, 0, MaxBatchTimeout*1000)
	case ActGet:
		if err := oneOf("what", c.What, GetText, GetHTML, GetValue, GetAttr, GetURL, GetTitle, GetCount); err != nil {
			return err
		}
		switch c.What {
		case GetURL, GetTitle:
			if c.HasTarget() {
				return invalid(loc, "get %s takes no target", c.What)
			}
		case GetValue, GetAttr, GetCount:
			if !c.HasTarget() {
				return invalid(at(loc, "selector"), "get %s needs a target: ref or selector", c.What)
			}
		}
		if c.What == GetAttr && c.Name == "" {
			return invalid(at(loc, "name"), "get attr needs the attribute's name")
		}
		if c.What != GetAttr && c.Name != "" {
			return invalid(at(loc, "name"), "only get attr takes a name")
		}
	case ActEvaluate:
		if strings.TrimSpace(c.Expression) == "" {
			return invalid(at(loc, "expression"), "must not be empty")
		}
		if len(c.Expression) > maxTextField {
			return invalid(at(loc, "expression"), "longer than %d bytes", maxTextField)
		}
	case ActScreenshot:
		if err := oneOf("format", c.Format, FormatPNG, FormatJPEG); err != nil {
			return err
		}
		if c.Quality != nil && c.Format != FormatJPEG {
			return invalid(at(loc, "quality"), "only a jpeg has a quality")
		}
		if err := inRange("quality", c.Quality, 0, 100); err != nil {
			return err
		}
		if c.FullPage && c.HasTarget() {
			return invalid(at(loc, "full_page"), "a screenshot of an element cannot be full_page")
		}
		if c.Path != "" {
			if err := path("path", &c.Path); err != nil {
				return err
			}
		}
		if !c.InlineWanted() && c.Path == "" {
			return invalid(at(loc, "path"), "a screenshot with inline false needs a path")
		}
	case ActPDF:
		return path("path", &c.Path)
	case ActUpload:
		if len(c.Paths) == 0 || len(c.Paths) > 100 {
			return invalid(at(loc, "paths"), "must hold 1 to 100 paths")
		}
		for i := range c.Paths {
			n, err := NormalizePath(p2s(at(loc, "paths", i)), c.Paths[i])
			if err != nil {
				err.Loc = at(loc, "paths", i)
				return err
			}
			c.Paths[i] = n
		}
	case ActTabSelect, ActTabClose:
		if c.TabID == "" && c.Action == ActTabSelect {
			return invalid(at(loc, "tab_id"), "must not be empty")
		}
		if c.TabID != "" && !tabPattern.MatchString(c.TabID) {
			return invalid(at(loc, "tab_id"), "%q is not a tab id (t1, t2, … from tab_list)", c.TabID)
		}
	case ActSetViewport:
		if err := inRange("width", c.Width, 100, 10000); err != nil {
			return err
		}
		if err := inRange("height", c.Height, 100, 10000); err != nil {
			return err
		}
		if f := c.DeviceScaleFactor; f != nil && (math.IsNaN(*f) || *f < 0.25 || *f > 5) {
			return invalid(at(loc, "device_scale_factor"), "must be between 0.25 and 5")
		}
	}
	return nil
}

// p2s is the field name of an Invalid's location.
func p2s(loc []any) string { return (&Invalid{Loc: loc}).Field() }

// Field bounds.
const (
	maxTextField = 1 << 20
	maxTypedText = 16 << 10
	maxURL       = 64 << 10
)

// Requests of the routes (browser.md §3.1). Bay forwards them after its
// own validation with the same grammar; browserd validates them again.

// ExecRequest is the body of POST /exec: one command, typed (Command) or a
// string (Cmd).
type ExecRequest struct {
	Command        json.RawMessage `json:"command,omitempty"`
	Cmd            *string         `json:"cmd,omitempty"`
	Timeout        *int            `json:"timeout,omitempty"`
	MaxOutputBytes *int            `json:"max_output_bytes,omitempty"`
}

// BatchRequest is the body of POST /exec_batch: ordered commands, each a
// typed command or a string.
type BatchRequest struct {
	Commands       []json.RawMessage `json:"commands"`
	Timeout        *int              `json:"timeout,omitempty"`
	StopOnError    *bool             `json:"stop_on_error,omitempty"`
	MaxOutputBytes *int              `json:"max_output_bytes,omitempty"`
}

// Exec is a parsed ExecRequest with its defaults applied.
type Exec struct {
	Command        Command
	TimeoutSeconds int
	MaxOutputBytes int
}

// Batch is a parsed BatchRequest with its defaults applied.
type Batch struct {
	Commands       []Command
	TimeoutSeconds int
	StopOnError    bool
	MaxOutputBytes int
}

// Parse validates r and applies the defaults.
func (r ExecRequest) Parse() (Exec, *Invalid) {
	hasCommand := len(bytes.TrimSpace(r.Command)) > 0 && string(bytes.TrimSpace(r.Command)) != "null"
	switch {
	case hasCommand && r.Cmd != nil:
		return Exec{}, invalid([]any{"command"}, "give command or cmd, not both")
	case !hasCommand && r.Cmd == nil:
		return Exec{}, invalid([]any{"command"}, "field required: command (typed) or cmd (string)")
	}
	e := Exec{TimeoutSeconds: DefaultTimeout, MaxOutputBytes: DefaultMaxOutputBytes}
	if err := intField("timeout", r.Timeout, 1, MaxTimeout, &e.TimeoutSeconds); err != nil {
		return Exec{}, err
	}
	if err := intField("max_output_bytes", r.MaxOutputBytes, 1, MaxOutputBytesLimit, &e.MaxOutputBytes); err != nil {
		return Exec{}, err
	}
	var err *Invalid
	if r.Cmd != nil {
		e.Command, err = ParseCmdLine(*r.Cmd, []any{"cmd"})
	} else {
		e.Command, err = ParseCommand(r.Command, []any{"command"})
	}
	if err != nil {
		return Exec{}, err
	}
	return e, nil
}

// Parse validates r and applies the defaults (stop_on_error true).
func (r BatchRequest) Parse() (Batch, *Invalid) {
	b := Batch{TimeoutSeconds: DefaultBatchTimeout, StopOnError: true, MaxOutputBytes: DefaultMaxOutputBytes}
	if len(r.Commands) == 0 || len(r.Commands) > MaxBatchSteps {
		return Batch{}, invalid([]any{"commands"}, "must hold 1 to %d commands", MaxBatchSteps)
	}
	if err := intField("timeout", r.Timeout, 1, MaxBatchTimeout, &b.TimeoutSeconds); err != nil {
		return Batch{}, err
	}
	if err := intField("max_output_bytes", r.MaxOutputBytes, 1, MaxOutputBytesLimit, &b.MaxOutputBytes); err != nil {
		return Batch{}, err
	}
	if r.StopOnError != nil {
		b.StopOnError = *r.StopOnError
	}
	for i, raw := range r.Commands {
		c, err := ParseItem(raw, []any{"commands", i})
		if err != nil {
			return Batch{}, err
		}
		b.Commands = append(b.Commands, c)
	}
	return b, nil
}

func intField(name string, v *int, lo, hi int, dst *int) *Invalid {
	if v == nil {
		return nil
	}
	if *v < lo || *v > hi {
		return invalid([]any{name}, "must be between %d and %d", lo, hi)
	}
	*dst = *v
	return nil
}

// Limits (browser.md §3.1, §3.6).
const (
	DefaultTimeout        = 30
	MaxTimeout            = 300
	DefaultBatchTimeout   = 60
	MaxBatchTimeout       = 600
	MaxBatchSteps         = 50
	DefaultMaxOutputBytes = 256 << 10
	MaxOutputBytesLimit   = 1 << 20
	MaxInlineImageBytes   = 8 << 20
	MaxBatchResponseBytes = 16 << 20
	MaxSnapshotNodes      = 2000
	MaxTabs               = 10
)
