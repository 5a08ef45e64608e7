package kernel

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// Event types, named as on Ship's stream (agent-reach.md §2.3).
const (
	EventStdout      = "stdout"
	EventStderr      = "stderr"
	EventDisplayData = "display_data"
	EventResult      = "result"
	EventError       = "error"
)

// Event is one output of an execution, in the order the kernel published
// it. Which fields are set depends on Type: Text for stdout and stderr,
// Data for display_data and result (plus ExecutionCount for result),
// EName, EValue and Traceback for error.
type Event struct {
	Type string
	Text string
	// Data is the MIME bundle of display_data and result.
	Data map[string]any
	// Update marks a display_data that came from update_display_data.
	Update         bool
	ExecutionCount *int
	EName          string
	EValue         string
	Traceback      []string
}

// Sink receives the events of one execution as they arrive. It runs on
// the goroutine that reads the kernel's messages, so it should not block
// for long.
type Sink func(Event)

// displayMIMETypes are the MIME types a streamed bundle keeps.
var displayMIMETypes = []string{
	"text/plain", "text/html", "text/markdown",
	"image/png", "image/jpeg", "image/svg+xml",
	"application/json",
}

// DisplayMIMETypes returns the MIME types streamed display_data and
// result events keep; the others are dropped.
func DisplayMIMETypes() []string { return slices.Clone(displayMIMETypes) }

// DefaultMaxEventBytes bounds one streamed event (Config.MaxEventBytes).
const DefaultMaxEventBytes = 8 << 20

// decodeEvent turns an iopub message of an execution into an Event; ok is
// false for message types that carry no output (status, execute_input,
// clear_output, comm messages…).
func decodeEvent(m *Message) (ev Event, ok bool) {
	switch m.Header.MsgType {
	case "stream":
		var c struct {
			Name string `json:"name"`
			Text string `json:"text"`
		}
		_ = json.Unmarshal(m.Content, &c)
		ev = Event{Type: EventStdout, Text: c.Text}
		if c.Name == "stderr" {
			ev.Type = EventStderr
		}
		return ev, true
	case "display_data", "update_display_data", "execute_result":
		var c struct {
			Data           map[string]any `json:"data"`
			ExecutionCount *int           `json:"execution_count"`
		}
		_ = json.Unmarshal(m.Content, &c)
		if m.Header.MsgType == "execute_result" {
			return Event{Type: EventResult, Data: c.Data, ExecutionCount: c.ExecutionCount}, true
		}
		return Event{Type: EventDisplayData, Data: c.Data, Update: m.Header.MsgType == "update_display_data"}, true
	case "error":
		var c struct {
			EName     string   `json:"ename"`
			EValue    string   `json:"evalue"`
			Traceback []string `json:"traceback"`
		}
		_ = json.Unmarshal(m.Content, &c)
		return Event{Type: EventError, EName: c.EName, EValue: c.EValue, Traceback: c.Traceback}, true
	}
	return Event{}, false
}

// isIdle reports whether m is the status message that ends a request.
func isIdle(m *Message) bool {
	if m.Header.MsgType != "status" {
		return false
	}
	var c struct {
		ExecutionState string `json:"execution_state"`
	}
	_ = json.Unmarshal(m.Content, &c)
	return c.ExecutionState == "idle"
}

// errorText is the error an exception reports: its traceback, or
// "EName: EValue" when the kernel sent none.
func errorText(ev Event) string {
	if len(ev.Traceback) > 0 {
		return strings.Join(ev.Traceback, "\n")
	}
	return ev.EName + ": " + ev.EValue
}

// collector folds events into the output of the sync answer
// (spec/ship.md §6): stream text and text/plain concatenated, PNGs in
// arrival order.
type collector struct {
	text   strings.Builder
	images []string
}

// add is the accumulating Sink of a sync execution.
func (c *collector) add(ev Event) {
	switch ev.Type {
	case EventStdout, EventStderr:
		c.text.WriteString(ev.Text)
	case EventResult, EventDisplayData:
		if ev.Update {
			return
		}
		png, hasPNG := ev.Data["image/png"].(string)
		if hasPNG {
			c.images = append(c.images, stripSpace(png))
		}
		// A display_data that carries a PNG keeps only the image (its
		// text/plain is a "<Figure …>" placeholder); execute_result keeps both.
		if plain, ok := ev.Data["text/plain"].(string); ok && (ev.Type == EventResult || !hasPNG) {
			c.text.WriteString(plain)
		}
	}
}

// stripSpace removes the line breaks base64 payloads may carry.
func stripSpace(s string) string { return strings.Join(strings.Fields(s), "") }

// streamFilter prepares events for a stream (agent-reach.md §2.3): MIME
// bundles keep the display types only, a bundle whose JSON is over max
// bytes is replaced by a placeholder, and text over max bytes is split.
type streamFilter struct {
	max  int
	sink Sink
}

// emit passes ev, filtered, to the sink. A bundle with no displayable
// type left is dropped.
func (f streamFilter) emit(ev Event) {
	switch ev.Type {
	case EventStdout, EventStderr:
		for _, part := range splitText(ev.Text, f.max) {
			ev.Text = part
			f.sink(ev)
		}
	case EventDisplayData, EventResult:
		data := filterBundle(ev.Data)
		if len(data) == 0 {
			return
		}
		if n := jsonSize(data); n > f.max {
			data = omitted(data, n)
		}
		ev.Data = data
		f.sink(ev)
	default:
		f.sink(ev)
	}
}

// filterBundle keeps the displayable MIME types of data; base64 images
// lose their line breaks.
func filterBundle(data map[string]any) map[string]any {
	out := make(map[string]any, len(data))
	for _, t := range displayMIMETypes {
		v, ok := data[t]
		if !ok {
			continue
		}
		if s, isString := v.(string); isString && (t == "image/png" || t == "image/jpeg") {
			v = stripSpace(s)
		}
		out[t] = v
	}
	return out
}

// omitted is the placeholder of a bundle of n bytes too big to stream.
func omitted(data map[string]any, n int) map[string]any {
	types := make([]string, 0, len(data))
	for t := range data {
		types = append(types, t)
	}
	slices.Sort(types)
	return map[string]any{"omitted": true, "bytes": n, "mime_types": types}
}

// jsonSize is the length of v encoded as JSON.
func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}

// splitText cuts s into pieces of at most max bytes, on rune boundaries.
func splitText(s string, max int) []string {
	if len(s) <= max || max < utf8.UTFMax {
		return []string{s}
	}
	var parts []string
	for len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		parts = append(parts, s[:cut])
		s = s[cut:]
	}
	return append(parts, s)
}
