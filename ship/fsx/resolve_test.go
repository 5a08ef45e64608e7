package fsx

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoot_Resolve(t *testing.T) {
	t.Parallel()
	root, err := NewRoot(t.TempDir())
	require.NoError(t, err)
	ws := root.Dir
	outside := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(ws, "d/e"), 0o755))
	require.NoError(t, os.Symlink("d/e", filepath.Join(ws, "in")))
	require.NoError(t, os.Symlink(outside, filepath.Join(ws, "out")))
	require.NoError(t, os.Symlink("loop", filepath.Join(ws, "loop")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "nofile"), filepath.Join(ws, "dangling")))
	require.NoError(t, os.Symlink("../../..", filepath.Join(ws, "d/e/up")))

	ok := map[string]string{
		"":             ws,
		".":            ws,
		"a.txt":        filepath.Join(ws, "a.txt"),
		"new/dir/f":    filepath.Join(ws, "new/dir/f"),
		"d/../d/e":     filepath.Join(ws, "d/e"),
		"in/x":         filepath.Join(ws, "d/e/x"),
		ws + "/in":     filepath.Join(ws, "d/e"),
		"missing/../a": filepath.Join(ws, "a"),
	}
	for in, want := range ok {
		got, err := root.Resolve(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"/etc", "..", "../x", "out", "out/x", "dangling", "d/e/up/x", "/"} {
		_, err := root.Resolve(in)
		require.ErrorIs(t, err, ErrOutside, in)
	}
	_, err = root.Resolve("loop")
	require.Error(t, err)
	_, err = root.Resolve("a\x00b")
	require.ErrorIs(t, err, ErrInvalid)

	t.Run("NoFollowKeepsLastComponent", func(t *testing.T) {
		got, err := root.ResolveNoFollow("out")
		require.NoError(t, err)
		require.Equal(t, filepath.Join(ws, "out"), got)
		got, err = root.ResolveNoFollow("in/../in")
		require.NoError(t, err)
		require.Equal(t, filepath.Join(ws, "in"), got)
		_, err = root.ResolveNoFollow("out/x")
		require.ErrorIs(t, err, ErrOutside)
	})
}
