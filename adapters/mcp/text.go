package mcp

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bayhq/bay/core"
)

// ansiPattern matches terminal escape sequences: CSI (colours, cursor
// moves), OSC (titles, hyperlinks) and the two-byte escapes.
var ansiPattern = regexp.MustCompile(`\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]`)

// StripANSI removes terminal escape sequences, which tracebacks and
// coloured command output carry and a model only reads as noise.
func StripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	return ansiPattern.ReplaceAllString(s, "")
}

// RecordURI is the resource of an execution's whole record.
func RecordURI(sandboxID, executionID string) string {
	return "bay://sandboxes/" + sandboxID + "/executions/" + executionID
}

// recordHint is the truncation marker's pointer to an execution's record.
func recordHint(sandboxID, executionID string) string {
	return "full record: " + RecordURI(sandboxID, executionID)
}

// fileHint is the truncation marker's pointer for a file's content.
const fileHint = "use read_file with encoding=base64 or download_file"

// Truncate bounds s to max runes (agent-reach.md §4.4): a longer s keeps its
// first quarter and last three quarters of max around the line
// "…[truncated N of M chars; <hint>]…", N the runes left out and M the
// runes of s. It reports whether s was cut.
func Truncate(s string, max int, hint string) (string, bool) {
	m := utf8.RuneCountInString(s)
	if max <= 0 || m <= max {
		return s, false
	}
	head := max / 4
	tail := max - head
	var b strings.Builder
	i := 0
	for pos := range s {
		if i == head {
			b.WriteString(s[:pos])
			break
		}
		i++
	}
	fmt.Fprintf(&b, "\n…[truncated %d of %d chars; %s]…\n", m-max, m, hint)
	// The tail starts tail runes before the end.
	end := len(s)
	for n := 0; n < tail; n++ {
		_, size := utf8.DecodeLastRuneInString(s[:end])
		end -= size
	}
	b.WriteString(s[end:])
	return b.String(), true
}

// keeper accumulates streamed text and keeps only what Truncate would show:
// the first quarter of max runes, the last three quarters, and the count.
// It also tracks the last line, for progress messages.
type keeper struct {
	max       int
	head      strings.Builder
	headRunes int
	tail      []rune
	total     int
	line      []rune // the line being written
	lastLine  string // the last complete (or current) non-empty line
	lineLimit int
}

func newKeeper(max int) *keeper { return &keeper{max: max, lineLimit: 200} }

// WriteString adds text.
func (k *keeper) WriteString(s string) {
	for _, r := range s {
		k.total++
		if k.headRunes < k.max/4 {
			k.head.WriteRune(r)
			k.headRunes++
		} else {
			k.tail = append(k.tail, r)
			keep := k.max - k.max/4
			if len(k.tail) > 2*keep+1024 {
				k.tail = append(k.tail[:0], k.tail[len(k.tail)-keep:]...)
			}
		}
		if r == '\n' {
			k.endLine()
			continue
		}
		if len(k.line) < 4*k.lineLimit {
			k.line = append(k.line, r)
		}
	}
	if t := strings.TrimSpace(string(k.line)); t != "" {
		k.lastLine = t
	}
}

// endLine remembers the line just ended if it holds anything.
func (k *keeper) endLine() {
	if t := strings.TrimSpace(string(k.line)); t != "" {
		k.lastLine = t
	}
	k.line = k.line[:0]
}

// Len is the number of runes written.
func (k *keeper) Len() int { return k.total }

// LastLine returns the last non-empty line, ANSI escapes stripped, cut to
// 200 runes.
func (k *keeper) LastLine() string {
	s := StripANSI(k.lastLine)
	if utf8.RuneCountInString(s) > k.lineLimit {
		s = string([]rune(s)[:k.lineLimit])
	}
	return s
}

// Result returns the text as Truncate would bound it.
func (k *keeper) Result(hint string) (string, bool) {
	keep := k.max - k.max/4
	if k.total <= k.max {
		return k.head.String() + string(k.tail), false
	}
	tail := k.tail
	if len(tail) > keep {
		tail = tail[len(tail)-keep:]
	}
	return k.head.String() + fmt.Sprintf("\n…[truncated %d of %d chars; %s]…\n", k.total-k.max, k.total, hint) + string(tail), true
}

// maxDetailChars bounds the details JSON in an error's text.
const maxDetailChars = 1000

// toolError is the structured content of a failed tool call.
type toolError struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code      core.Code      `json:"code"`
	Message   string         `json:"message"`
	Details   map[string]any `json:"details"`
	RequestID string         `json:"request_id"`
}

// bayError turns any error into the core error a client may see: other
// errors, and internal ones, become internal_error without internals.
func bayError(err error) *core.Error {
	ce := core.AsError(err)
	if ce == nil || ce.Code == core.CodeInternal {
		return core.Errorf(core.CodeInternal, "An internal error occurred")
	}
	return ce
}

// ErrorResult renders err as a tool result (agent-reach.md §4.4):
// isError, the text "bay error [<code>] <message>" plus the details JSON
// cut to 1000 characters, and structuredContent {"error": {code, message,
// details, request_id}}.
func ErrorResult(err error, requestID string) *sdk.CallToolResult {
	return errorResult(bayError(err), requestID)
}

// errorResult renders ce as it is (its message is fit to show).
func errorResult(ce *core.Error, requestID string) *sdk.CallToolResult {
	details := map[string]any{}
	for k, v := range ce.Details {
		details[k] = v
	}
	// Core field errors name a REST body field; here it is an argument.
	if loc, ok := details["loc"].([]any); ok && len(loc) > 0 && loc[0] == "body" {
		loc = append([]any{"arguments"}, loc[1:]...)
		details["loc"] = loc
	}
	text := fmt.Sprintf("bay error [%s] %s", ce.Code, ce.Message)
	if len(details) > 0 {
		if b, err := marshalJSON(details); err == nil {
			d := string(b)
			if utf8.RuneCountInString(d) > maxDetailChars {
				d = string([]rune(d)[:maxDetailChars]) + "…"
			}
			text += "\ndetails: " + d
		}
	}
	return &sdk.CallToolResult{
		IsError:           true,
		Content:           []sdk.Content{&sdk.TextContent{Text: text}},
		StructuredContent: toolError{Error: errorBody{Code: ce.Code, Message: ce.Message, Details: details, RequestID: requestID}},
	}
}

// jsonResult is a result whose text block is the structured content as
// JSON.
func jsonResult(v any) *sdk.CallToolResult {
	b, err := marshalJSON(v)
	if err != nil {
		b = []byte(`{}`)
	}
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: string(b)}}, StructuredContent: v}
}

// marshalJSON encodes v without HTML escaping and without a final newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// newRequestID returns a random UUIDv4 for a request that came without one.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
