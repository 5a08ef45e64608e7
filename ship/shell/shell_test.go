package shell

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitWords(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		`echo hello`:              {"echo", "hello"},
		`  a   b  `:               {"a", "b"},
		`printf '%s x' "a \"b\""`: {"printf", "%s x", `a "b"`},
		`a\ b c`:                  {"a b", "c"},
		`x''y ""`:                 {"xy", ""},
		``:                        nil,
	}
	for in, want := range cases {
		got, err := SplitWords(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{`'open`, `"open`} {
		_, err := SplitWords(bad)
		require.Error(t, err, bad)
	}
}
