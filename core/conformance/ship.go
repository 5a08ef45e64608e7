package conformance

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// ShipHarness describes the core.Ship under test: shipclient against a
// runtime that speaks Ship's HTTP API (ship/server, cmd/fakeship, the
// images), or core/fake's in-memory Ship.
type ShipHarness struct {
	// New returns the Ship and the endpoint, with its runtime token, of a
	// runtime it reaches. Tests may share one runtime: each works in a
	// directory of its own.
	New func(t *testing.T) (core.Ship, core.Endpoint)
}

// RunShip tests a core.Ship against its port and the parts of Ship's
// contract (spec/ship.md) that Bay relies on: the runtime token, /meta's
// capabilities, the filesystem and the shapes of Python and shell results.
// Each capability's tests run only when the runtime declares it; whatever
// a runtime declares, it must honour as Ship does.
func RunShip(t *testing.T, h ShipHarness) {
	newFixture := func(t *testing.T) *shipFixture {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		t.Cleanup(cancel)
		ship, ep := h.New(t)
		return &shipFixture{t: t, ctx: ctx, ship: ship, ep: ep, dir: core.RandomIDs{}.New("conformance-")}
	}

	t.Run("Health/OpenWithoutToken", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		require.NoError(t, f.ship.Health(f.ctx, f.ep.URL))
	})

	t.Run("Auth/EveryCallButHealthWantsTheToken", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		written, uploaded := f.path("written.txt"), f.path("uploaded.bin")
		for _, token := range []string{"", "not-" + f.ep.Token} {
			ep := core.Endpoint{URL: f.ep.URL, Token: token}
			calls := map[string]func() error{
				"Capabilities": func() error { _, err := f.ship.Capabilities(f.ctx, ep); return err },
				"Python":       func() error { _, err := f.ship.Python(f.ctx, ep, "1", 5); return err },
				"Shell": func() error {
					_, err := f.ship.Shell(f.ctx, ep, core.ShellInput{Command: "true", Timeout: 5})
					return err
				},
				"ReadFile":   func() error { _, err := f.ship.ReadFile(f.ctx, ep, written); return err },
				"WriteFile":  func() error { return f.ship.WriteFile(f.ctx, ep, written, "pwned") },
				"DeleteFile": func() error { return f.ship.DeleteFile(f.ctx, ep, written) },
				"ListDir":    func() error { _, err := f.ship.ListDir(f.ctx, ep, "."); return err },
				"Upload": func() error {
					_, err := f.ship.Upload(f.ctx, ep, uploaded, strings.NewReader("pwned"))
					return err
				},
				"Download": func() error { _, err := f.ship.Download(f.ctx, ep, written); return err },
			}
			for name, call := range calls {
				requireShipStatus(t, 401, call(), "%s with token %q", name, token)
			}
		}
		// The refused writes stored nothing.
		caps, err := f.ship.Capabilities(f.ctx, f.ep)
		require.NoError(t, err)
		if slices.Contains(caps, core.CapabilityFilesystem) {
			_, err = f.ship.ReadFile(f.ctx, f.ep, written)
			requireShipStatus(t, 404, err)
			_, err = f.ship.Download(f.ctx, f.ep, uploaded)
			requireFileNotFound(t, err)
		}
	})

	t.Run("Capabilities/SortedAndConstant", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		caps, err := f.ship.Capabilities(f.ctx, f.ep)
		require.NoError(t, err, "a runtime declares runtime.auth \"bearer\" in /meta")
		require.NotEmpty(t, caps)
		require.True(t, slices.IsSorted(caps), "%v", caps)
		require.Equal(t, len(caps), len(slices.Compact(slices.Clone(caps))), "no key twice: %v", caps)
		again, err := f.ship.Capabilities(f.ctx, f.ep)
		require.NoError(t, err)
		require.Equal(t, caps, again, "/meta is constant for the life of the runtime")
	})

	files := func(name string, test func(t *testing.T, f *shipFixture)) {
		t.Run("Filesystem/"+name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.require(core.CapabilityFilesystem)
			test(t, f)
		})
	}

	files("WriteReadExact", func(t *testing.T, f *shipFixture) {
		for i, content := range []string{
			"Hello from E2E test!\nLine 2\nLine 3",
			"",
			"no newline at the end",
			"\n\nblank lines\n\n",
			"crlf\r\nstays\r\nas is\r",
			"ünïcødé ✓ 沙箱 🚀 \u202e",
			`<html> & "quotes" 'single' \backslash`,
		} {
			p := f.path("exact", string(rune('a'+i))+".txt")
			require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, p, content))
			got, err := f.ship.ReadFile(f.ctx, f.ep, p)
			require.NoError(t, err)
			require.Equal(t, content, got, "no byte added or removed")
		}
	})

	files("OverwriteReplaces", func(t *testing.T, f *shipFixture) {
		p := f.path("over.txt")
		require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, p, "a much longer first version"))
		require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, p, "short"))
		got, err := f.ship.ReadFile(f.ctx, f.ep, p)
		require.NoError(t, err)
		require.Equal(t, "short", got)
	})

	files("ParentsAreCreatedAndListed", func(t *testing.T, f *shipFixture) {
		p := f.path("a", "b", "c.txt")
		require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, p, "nested"))

		entries, err := f.ship.ListDir(f.ctx, f.ep, f.path("a", "b"))
		require.NoError(t, err)
		require.Len(t, entries, 1)
		e := entries[0]
		require.Equal(t, "c.txt", e.Name)
		require.True(t, strings.HasSuffix(e.Path, "/"+p) && strings.HasPrefix(e.Path, "/"), "path is absolute: %s", e.Path)
		require.True(t, e.IsFile)
		require.False(t, e.IsDir)
		require.NotNil(t, e.Size)
		require.EqualValues(t, len("nested"), *e.Size)
		require.NotNil(t, e.ModifiedTime)

		entries, err = f.ship.ListDir(f.ctx, f.ep, f.path("a"))
		require.NoError(t, err)
		require.Len(t, entries, 1)
		e = entries[0]
		require.Equal(t, "b", e.Name)
		require.True(t, e.IsDir)
		require.False(t, e.IsFile)
		require.Nil(t, e.Size, "a directory has no size")
	})

	files("ListDirOrderAndHidden", func(t *testing.T, f *shipFixture) {
		for _, name := range []string{"b.txt", "A.txt", ".hidden", "zdir/x", "Cdir/y", ".hdir/z"} {
			require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, f.path(name), name))
		}
		entries, err := f.ship.ListDir(f.ctx, f.ep, f.dir)
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name)
		}
		require.Equal(t, []string{"Cdir", "zdir", "A.txt", "b.txt"}, names,
			"directories first, then by case-insensitive name; no hidden names")
	})

	files("ListDirErrors", func(t *testing.T, f *shipFixture) {
		_, err := f.ship.ListDir(f.ctx, f.ep, f.path("missing"))
		requireShipStatus(t, 404, err)
		require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, f.path("file"), "x"))
		_, err = f.ship.ListDir(f.ctx, f.ep, f.path("file"))
		requireShipStatus(t, 400, err, "a file is not a directory")
	})

	files("ReadErrors", func(t *testing.T, f *shipFixture) {
		_, err := f.ship.ReadFile(f.ctx, f.ep, f.path("missing.txt"))
		requireShipStatus(t, 404, err)
		require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, f.path("d", "x"), "x"))
		_, err = f.ship.ReadFile(f.ctx, f.ep, f.path("d"))
		requireShipStatus(t, 400, err, "a directory is not a file")
	})

	files("DeleteFile", func(t *testing.T, f *shipFixture) {
		p := f.path("d", "gone.txt")
		require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, p, "x"))
		require.NoError(t, f.ship.DeleteFile(f.ctx, f.ep, p))
		_, err := f.ship.ReadFile(f.ctx, f.ep, p)
		requireShipStatus(t, 404, err)
		_, err = f.ship.Download(f.ctx, f.ep, p)
		requireFileNotFound(t, err)
		entries, err := f.ship.ListDir(f.ctx, f.ep, f.path("d"))
		require.NoError(t, err, "the parent directory stays")
		require.Empty(t, entries)
		err = f.ship.DeleteFile(f.ctx, f.ep, p)
		requireShipStatus(t, 404, err, "deleting twice")
	})

	files("DeleteDirectoryRecursively", func(t *testing.T, f *shipFixture) {
		require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, f.path("tree", "x"), "x"))
		require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, f.path("tree", "sub", "y"), "y"))
		require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, f.path("kept"), "k"))
		require.NoError(t, f.ship.DeleteFile(f.ctx, f.ep, f.path("tree")))
		_, err := f.ship.ReadFile(f.ctx, f.ep, f.path("tree", "sub", "y"))
		requireShipStatus(t, 404, err)
		_, err = f.ship.ListDir(f.ctx, f.ep, f.path("tree"))
		requireShipStatus(t, 404, err)
		entries, err := f.ship.ListDir(f.ctx, f.ep, f.dir)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Equal(t, "kept", entries[0].Name)
	})

	files("UploadDownloadAllBytes", func(t *testing.T, f *shipFixture) {
		data := make([]byte, 0, 512)
		for i := range 512 {
			data = append(data, byte(i))
		}
		p := f.path("bin", "nested", "all.bin")
		n, err := f.ship.Upload(f.ctx, f.ep, p, bytes.NewReader(data))
		require.NoError(t, err)
		require.EqualValues(t, len(data), n)
		require.Equal(t, data, f.download(p))
		n, err = f.ship.Upload(f.ctx, f.ep, p, bytes.NewReader(data[:3]))
		require.NoError(t, err, "an upload replaces the file")
		require.EqualValues(t, 3, n)
		require.Equal(t, data[:3], f.download(p))
	})

	files("UploadAndWriteSeeTheSameFiles", func(t *testing.T, f *shipFixture) {
		up, written := f.path("up.txt"), f.path("written.txt")
		_, err := f.ship.Upload(f.ctx, f.ep, up, strings.NewReader("uploaded text\n"))
		require.NoError(t, err)
		got, err := f.ship.ReadFile(f.ctx, f.ep, up)
		require.NoError(t, err)
		require.Equal(t, "uploaded text\n", got)
		require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, written, "written text"))
		require.Equal(t, []byte("written text"), f.download(written))
	})

	files("DownloadErrors", func(t *testing.T, f *shipFixture) {
		p := f.path("missing.bin")
		_, err := f.ship.Download(f.ctx, f.ep, p)
		requireFileNotFound(t, err)
		require.Equal(t, "File not found: "+p, core.AsError(err).Message)
		require.Equal(t, p, core.AsError(err).Details["path"])
		require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, f.path("dir", "x"), "x"))
		_, err = f.ship.Download(f.ctx, f.ep, f.path("dir"))
		requireShipStatus(t, 400, err, "a directory is not a file")
	})

	t.Run("Python/ResultShape", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.require(core.CapabilityPython)
		// A bare expression's value is the output: the kernel prints its
		// repr, the in-memory fake echoes the code; for a literal the two
		// agree.
		first, err := f.ship.Python(f.ctx, f.ep, "42", 30)
		require.NoError(t, err)
		require.True(t, first.Success)
		require.Equal(t, "42", first.Output)
		require.Nil(t, first.Error)
		require.False(t, first.KernelRestarted)
		require.Equal(t, map[string]any{"text": "42", "images": []any{}}, first.Data,
			"Data is Ship's output object: text and a list of images")
		require.NotNil(t, first.ExecutionCount)
		second, err := f.ship.Python(f.ctx, f.ep, "'x'", 30)
		require.NoError(t, err)
		require.Equal(t, "'x'", second.Output)
		require.NotNil(t, second.ExecutionCount)
		require.Greater(t, *second.ExecutionCount, *first.ExecutionCount, "the kernel counts executions")
	})

	t.Run("Shell/ResultShape", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.require(core.CapabilityShell)
		require.NoError(t, f.ship.WriteFile(f.ctx, f.ep, f.path("cwd", "x"), "x"))
		dir := f.path("cwd")
		for _, cwd := range []*string{nil, &dir} {
			res, err := f.ship.Shell(f.ctx, f.ep, core.ShellInput{Command: "true", Timeout: 30, Cwd: cwd})
			require.NoError(t, err)
			require.True(t, res.Success)
			require.NotNil(t, res.ExitCode)
			require.EqualValues(t, 0, *res.ExitCode)
			require.Nil(t, res.Error, "no error and nothing on stderr")
		}
	})
}

type shipFixture struct {
	t    *testing.T
	ctx  context.Context
	ship core.Ship
	ep   core.Endpoint
	// dir is this test's directory in the workspace.
	dir string
}

// path joins elem under the test's directory.
func (f *shipFixture) path(elem ...string) string {
	return strings.Join(append([]string{f.dir}, elem...), "/")
}

// require skips the test unless the runtime declares capability.
func (f *shipFixture) require(capability string) {
	f.t.Helper()
	caps, err := f.ship.Capabilities(f.ctx, f.ep)
	require.NoError(f.t, err)
	if !slices.Contains(caps, capability) {
		f.t.Skipf("the runtime does not declare %q (it declares %v)", capability, caps)
	}
}

func (f *shipFixture) download(p string) []byte {
	f.t.Helper()
	d, err := f.ship.Download(f.ctx, f.ep, p)
	require.NoError(f.t, err)
	defer d.Body.Close()
	b, err := io.ReadAll(d.Body)
	require.NoError(f.t, err)
	if d.Size >= 0 {
		require.EqualValues(f.t, len(b), d.Size, "the announced size is the size")
	}
	return b
}

// requireShipStatus wants the ship_error Bay makes of an error status of
// the runtime, carrying that status in its details.
func requireShipStatus(t *testing.T, status int, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.Equal(t, core.CodeShipError, core.CodeOf(err), "error: %v", err)
	require.EqualValues(t, status, core.AsError(err).Details["status"], msgAndArgs...)
}

// requireFileNotFound wants the file_not_found a download of a missing
// file gets (Bay's 404).
func requireFileNotFound(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, core.CodeFileNotFound, core.CodeOf(err), "error: %v", err)
}
