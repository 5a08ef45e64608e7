package mcp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

func TestTruncate(t *testing.T) {
	t.Parallel()
	s, cut := Truncate("short", 100, "hint")
	require.False(t, cut)
	require.Equal(t, "short", s)

	// 30 000 runes, multi-byte ones included, bounded to 12 000: the first
	// quarter, the marker, the last three quarters.
	in := strings.Repeat("é", 10000) + strings.Repeat("x", 10000) + strings.Repeat("ü", 10000)
	out, cut := Truncate(in, 12000, recordHint("sandbox-0123456789ab", "exec-0123456789ab"))
	require.True(t, cut)
	require.True(t, utf8.ValidString(out))
	marker := "\n…[truncated 18000 of 30000 chars; full record: bay://sandboxes/sandbox-0123456789ab/executions/exec-0123456789ab]…\n"
	head, tail, ok := strings.Cut(out, marker)
	require.True(t, ok, out[:200])
	require.Equal(t, strings.Repeat("é", 3000), head)
	require.Equal(t, strings.Repeat("ü", 9000), tail)

	out, cut = Truncate(strings.Repeat("a", 13), 12, fileHint)
	require.True(t, cut)
	require.Equal(t, "aaa\n…[truncated 1 of 13 chars; use read_file with encoding=base64 or download_file]…\naaaaaaaaa", out)
}

func TestKeeperMatchesTruncate(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 5, 99, 100, 101, 1000, 5000} {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%c", 'a'+rune(i%26))
			if i%37 == 0 {
				b.WriteString("é\n")
			}
		}
		text := b.String()
		k := newKeeper(100)
		// Written in uneven chunks, as a stream arrives.
		for rest := text; rest != ""; {
			n := min(len(rest), 7)
			for n < len(rest) && !utf8.RuneStart(rest[n]) {
				n++
			}
			k.WriteString(rest[:n])
			rest = rest[n:]
		}
		want, wantCut := Truncate(text, 100, "h")
		got, gotCut := k.Result("h")
		require.Equal(t, wantCut, gotCut, n)
		require.Equal(t, want, got, n)
	}
}

func TestKeeperLastLine(t *testing.T) {
	t.Parallel()
	k := newKeeper(100)
	k.WriteString("epoch 1\nepoch 2\n")
	require.Equal(t, "epoch 2", k.LastLine())
	k.WriteString("\x1b[32mloss 0.5")
	require.Equal(t, "loss 0.5", k.LastLine())
	k.WriteString("\n\n")
	require.Equal(t, "loss 0.5", k.LastLine())
	k.WriteString(strings.Repeat("z", 500))
	require.Equal(t, strings.Repeat("z", 200), k.LastLine())
}

func TestStripANSI(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":                                   "plain",
		"\x1b[0;31mZeroDivisionError\x1b[0m: x":   "ZeroDivisionError: x",
		"\x1b[1;32m----> 2\x1b[39m 1/0":           "----> 2 1/0",
		"\x1b]8;;http://x\x07link\x1b]8;;\x07 ok": "link ok",
		"a\x1b[2Kb\x1b[?25lc":                     "abc",
		"keep é ü \t tabs":                        "keep é ü \t tabs",
	} {
		require.Equal(t, want, StripANSI(in), "%q", in)
	}
}

func TestErrorResult(t *testing.T) {
	t.Parallel()
	err := core.NotFound("Sandbox not found: sandbox-000000000000")
	res := ErrorResult(err, "req-1")
	require.True(t, res.IsError)
	require.Equal(t, "bay error [not_found] Sandbox not found: sandbox-000000000000", res.Content[0].(*sdk.TextContent).Text)
	te := res.StructuredContent.(toolError)
	require.Equal(t, core.CodeNotFound, te.Error.Code)
	require.Equal(t, "req-1", te.Error.RequestID)
	require.NotNil(t, te.Error.Details)

	// Details follow the message, cut to 1000 characters; a core field
	// error names the argument.
	long := core.Invalid("bad").WithDetails(map[string]any{"loc": []any{"body", "tags"}, "blob": strings.Repeat("x", 5000)})
	res = ErrorResult(long, "req-2")
	text := res.Content[0].(*sdk.TextContent).Text
	first, details, ok := strings.Cut(text, "\ndetails: ")
	require.True(t, ok)
	require.Equal(t, "bay error [validation_error] bad", first)
	require.Equal(t, 1001, utf8.RuneCountInString(details)) // 1000 + "…"
	require.Equal(t, []any{"arguments", "tags"}, res.StructuredContent.(toolError).Error.Details["loc"])

	// Internals never show.
	res = ErrorResult(errors.New("pq: connection refused to 10.0.0.5"), "req-3")
	require.Equal(t, "bay error [internal_error] An internal error occurred", res.Content[0].(*sdk.TextContent).Text)
	res = ErrorResult(core.Wrap(errors.New("secret"), core.CodeInternal, "boom: secret"), "req-4")
	require.NotContains(t, res.Content[0].(*sdk.TextContent).Text, "secret")
}

func TestIDValidation(t *testing.T) {
	t.Parallel()
	require.NoError(t, CheckSandboxID("sandbox_id", "sandbox-0123456789ab"))
	require.NoError(t, CheckExecutionID("execution_id", "exec-0123456789ab"))
	for _, bad := range []string{"", "sandbox-0123456789AB", "sandbox-0123456789a", "sandbox-0123456789abc", "../sandbox-0123456789ab",
		"exec-0123456789ab", "sandbox-0123456789ab/files"} {
		err := CheckSandboxID("sandbox_id", bad)
		require.Error(t, err, bad)
		ce := core.AsError(err)
		require.Equal(t, core.CodeValidation, ce.Code)
		require.Equal(t, []any{"arguments", "sandbox_id"}, ce.Details["loc"])
	}
	for _, bad := range []string{"exec-", "exec-0123456789abc", "EXEC-0123456789ab", "sandbox-0123456789ab"} {
		require.Error(t, CheckExecutionID("execution_id", bad), bad)
	}
}

func TestTagList(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string][]string{
		`{"tags": "a,b , c"}`:    {"a", "b ", " c"},
		`{"tags": ["x", "y"]}`:   {"x", "y"},
		`{"tags": null}`:         nil,
		`{"other": 1}`:           nil,
		`{"tags": ""}`:           nil,
		`{"tags": ["only one"]}`: {"only one"},
	} {
		a, err := parseArgs([]byte(raw))
		require.NoError(t, err)
		var in struct {
			Tags tagList `json:"tags"`
		}
		require.NoError(t, a.decode(&in), raw)
		require.Equal(t, tagList(want), in.Tags, raw)
	}
	a, err := parseArgs([]byte(`{"tags": 3}`))
	require.NoError(t, err)
	var in struct {
		Tags tagList `json:"tags"`
	}
	err = a.decode(&in)
	require.Equal(t, core.CodeValidation, core.CodeOf(err))
	require.Equal(t, []any{"arguments", "tags"}, core.AsError(err).Details["loc"])
}
