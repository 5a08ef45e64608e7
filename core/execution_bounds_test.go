package core

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestBoundOutput_KeepsHeadAndTailAroundMarker(t *testing.T) {
	t.Parallel()
	const max = 64 << 10
	// 200 KB of three-byte characters, so a byte cut would split one.
	s := strings.Repeat("€", 200_000/3) + "end"
	got, cut, size := boundOutput(s, max)
	require.True(t, cut)
	require.Equal(t, int64(len(s)), size)
	require.True(t, utf8.ValidString(got))
	head, rest, ok := strings.Cut(got, "\n…[bay: ")
	require.True(t, ok)
	require.LessOrEqual(t, len(head), 16<<10)
	require.Greater(t, len(head), 16<<10-3)
	marker, tail, ok := strings.Cut(rest, " bytes omitted]…\n")
	require.True(t, ok)
	require.LessOrEqual(t, len(tail), 48<<10)
	require.Greater(t, len(tail), 48<<10-3)
	require.True(t, strings.HasSuffix(tail, "end"))
	require.Equal(t, strconv.Itoa(len(s)-len(head)-len(tail)), marker)
}

func TestTextBound_StreamedEqualsWhole(t *testing.T) {
	t.Parallel()
	var whole strings.Builder
	b := newTextBound(1000, true)
	b.WriteString("  \n")
	for i := range 500 {
		line := strings.Repeat("x", i%7) + "é\n"
		whole.WriteString(line)
		b.WriteString(line)
	}
	b.WriteString("\n\n  ")
	got, cut, size := b.Result()
	want := strings.TrimSpace(whole.String())
	require.True(t, cut)
	require.Equal(t, int64(len(want)), size)
	require.True(t, utf8.ValidString(got))
	require.True(t, strings.HasPrefix(want, strings.SplitN(got, "\n…[bay:", 2)[0]))
	require.True(t, strings.HasSuffix(want, got[strings.LastIndex(got, "]…\n")+len("]…\n"):]))
}

func TestTextBound_ShortTextIsWhole(t *testing.T) {
	t.Parallel()
	b := newTextBound(64, true)
	for _, p := range []string{"\n ", "a", "b  ", "   ", "c\n\n"} {
		b.WriteString(p)
	}
	got, cut, size := b.Result()
	require.Equal(t, "ab     c", got)
	require.False(t, cut)
	require.Equal(t, int64(len(got)), size)

	b = newTextBound(64, true)
	b.WriteString("  \n\t ")
	got, cut, size = b.Result()
	require.Equal(t, "", got)
	require.False(t, cut)
	require.Zero(t, size)
}

func TestBoundError_KeepsTail(t *testing.T) {
	t.Parallel()
	e := strings.Repeat("frame\n", 5000) + "ZeroDivisionError: division by zero"
	got, cut := boundError(&e, 16<<10)
	require.True(t, cut)
	require.True(t, strings.HasPrefix(*got, "…[bay: "))
	require.True(t, strings.HasSuffix(*got, "ZeroDivisionError: division by zero"))
	short := "x"
	got, cut = boundError(&short, 16)
	require.False(t, cut)
	require.Equal(t, "x", *got)
}

func TestBoundCodeAndImages(t *testing.T) {
	t.Parallel()
	code, cut, n := boundCode("ab€", 4)
	require.Equal(t, "ab", code)
	require.True(t, cut)
	require.Equal(t, int64(5), n)
	img := strings.Repeat("A", 400) // 300 decoded bytes
	kept, cut := boundImages([]string{img, img, img}, 700)
	require.Len(t, kept, 2)
	require.True(t, cut)
}

func TestNormalizeTags(t *testing.T) {
	t.Parallel()
	got, err := NormalizeTags([]string{" b ", "a", "", "b", "release:1"})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "release:1"}, got)
	_, err = NormalizeTags([]string{"has space"})
	require.Equal(t, CodeValidation, CodeOf(err))
	many := make([]string, 17)
	for i := range many {
		many[i] = "t" + strconv.Itoa(i)
	}
	_, err = NormalizeTags(many)
	require.Equal(t, CodeValidation, CodeOf(err))
}
