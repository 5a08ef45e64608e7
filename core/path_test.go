package core_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	ok := map[string]string{
		"file.txt": "file.txt", "a/b/c.txt": "a/b/c.txt", "./file.txt": "file.txt",
		"subdir/../file.txt": "file.txt", "a/b/../c/d": "a/c/d", "./a/./b/./c": "a/b/c",
		"a//b/": "a/b", "a/..": ".", ".": ".", ".hidden": ".hidden", "...file": "...file",
		"file..txt": "file..txt", `back\slash`: `back\slash`, "~": "~",
	}
	for in, want := range ok {
		got, err := core.NormalizePath("path", in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	bad := map[string]string{
		"../file.txt": core.PathTraversal, "./../x": core.PathTraversal, "../": core.PathTraversal,
		"a/../../b.txt": core.PathTraversal, "../../etc/passwd": core.PathTraversal,
		"/etc/passwd": core.PathAbsolute, "/workspace/file.txt": core.PathAbsolute, "//x": core.PathAbsolute,
		"": core.PathEmpty, "file\x00.txt": core.PathNullByte, "/\x00": core.PathNullByte,
	}
	for in, reason := range bad {
		_, err := core.NormalizePath("cwd", in)
		e := core.AsError(err)
		require.NotNil(t, e, in)
		require.Equal(t, core.CodeInvalidPath, e.Code)
		require.Equal(t, map[string]any{"field": "cwd", "reason": reason}, e.Details, in)
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/etc", "", "a\x00", "./.././a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := core.NormalizePath("path", p)
		if err != nil {
			require.Equal(t, core.CodeInvalidPath, core.CodeOf(err))
			return
		}
		require.NotContains(t, "/"+got+"/", "/../")
		require.False(t, len(got) > 0 && got[0] == '/')
		again, err := core.NormalizePath("path", got)
		require.NoError(t, err)
		require.Equal(t, got, again, "normalizing is idempotent")
	})
}
