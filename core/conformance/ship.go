package conformance

import (
	"bytes"
	"context"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
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
// contract (spec/ship.md, agent-reach.md §2.7 and §6.1) that Bay relies on:
// the runtime token, /meta's capabilities and their operations, GET
// /capabilities, the filesystem, the shapes of Python and shell results,
// their streams and cancel. Each capability's (and operation's) tests run
// only when the runtime declares it; whatever a runtime declares, it must
// honour as Ship does.
//
// The fakes (core/fake, cmd/fakeship) echo code and commands where Ship
// runs them, so the execution tests hold the two to relations the
// contract sets (a stream folds into the sync answer for the same code)
// and use the few shapes the fakes run as Ship does: a python
// time.sleep(N), a python raise Name("message"), a shell sleep N.
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
				"Python":       func() error { _, err := f.ship.Python(f.ctx, ep, "1", 5, ""); return err },
				"Shell": func() error {
					_, err := f.ship.Shell(f.ctx, ep, core.ShellInput{Command: "true", Timeout: 5})
					return err
				},
				"PythonStream": func() error {
					_, err := f.ship.PythonStream(f.ctx, ep, "1", 5, "", noEvents(t))
					return err
				},
				"ShellStream": func() error {
					_, err := f.ship.ShellStream(f.ctx, ep, core.ShellInput{Command: "true", Timeout: 5}, noEvents(t))
					return err
				},
				"Cancel":      func() error { return f.ship.Cancel(f.ctx, ep, core.NewExecutionID()) },
				"RuntimeInfo": func() error { _, err := f.ship.RuntimeInfo(f.ctx, ep); return err },
				"ReadFile":    func() error { _, err := f.ship.ReadFile(f.ctx, ep, written); return err },
				"WriteFile":   func() error { return f.ship.WriteFile(f.ctx, ep, written, "pwned") },
				"DeleteFile":  func() error { return f.ship.DeleteFile(f.ctx, ep, written) },
				"ListDir":     func() error { _, err := f.ship.ListDir(f.ctx, ep, "."); return err },
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
		if caps.Has(core.CapabilityFilesystem, "") {
			_, err = f.ship.ReadFile(f.ctx, f.ep, written)
			requireShipStatus(t, 404, err)
			_, err = f.ship.Download(f.ctx, f.ep, uploaded)
			requireFileNotFound(t, err)
		}
	})

	t.Run("Capabilities/OperationsAndConstant", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		caps, err := f.ship.Capabilities(f.ctx, f.ep)
		require.NoError(t, err, "a runtime declares runtime.auth \"bearer\" in /meta")
		require.NotEmpty(t, caps)
		for key, ops := range caps {
			require.NotEmpty(t, ops, "capability %q lists its operations", key)
			require.Equal(t, len(ops), len(slices.Compact(slices.Sorted(slices.Values(ops)))), "no operation of %q twice: %v", key, ops)
		}
		// Streamed and async executions need these (agent-reach.md §2.7).
		for _, key := range []string{core.CapabilityPython, core.CapabilityShell} {
			if ops, ok := caps[key]; ok {
				for _, op := range []string{opExec, core.OpExecStream, core.OpCancel} {
					require.Contains(t, ops, op, "operations of %q", key)
				}
			}
		}
		again, err := f.ship.Capabilities(f.ctx, f.ep)
		require.NoError(t, err)
		require.Equal(t, caps, again, "/meta is constant for the life of the runtime")
	})

	t.Run("RuntimeInfo/MatchesCapabilities", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		caps, err := f.ship.Capabilities(f.ctx, f.ep)
		require.NoError(t, err)
		info, err := f.ship.RuntimeInfo(f.ctx, f.ep)
		require.NoError(t, err, "GET /capabilities is served (agent-reach.md §6.1)")
		require.Equal(t, "v1", info["api_version"])
		require.IsType(t, map[string]any{}, info["runtime"], "runtime describes the runtime")
		infoCaps, ok := info["capabilities"].(map[string]any)
		require.True(t, ok, "capabilities is an object: %v", info["capabilities"])
		keys := slices.Sorted(maps.Keys(infoCaps))
		require.Equal(t, caps.Keys(), keys, "the document's capability keys are /meta's")
		for key, c := range infoCaps {
			entry, ok := c.(map[string]any)
			require.True(t, ok, "capability %q is an object: %v", key, c)
			list, ok := entry["operations"].([]any)
			require.True(t, ok, "capability %q lists operations: %v", key, entry)
			var ops []string
			for _, op := range list {
				ops = append(ops, op.(string))
			}
			require.ElementsMatch(t, caps[key], ops, "operations of %q are /meta's", key)
		}
		again, err := f.ship.RuntimeInfo(f.ctx, f.ep)
		require.NoError(t, err)
		require.Equal(t, info, again, "the document is constant for the life of the runtime")
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

	// Not parallel: the runtime may be shared, and the counts below must
	// be the kernel's alone (parallel subtests wait until this one ends).
	t.Run("Python/WarmKernelLeavesNoTrace", func(t *testing.T) {
		f := newFixture(t)
		f.require(core.CapabilityPython)
		before, err := f.ship.Python(f.ctx, f.ep, "1", 30, "")
		require.NoError(t, err)
		require.NotNil(t, before.ExecutionCount)
		require.NoError(t, f.ship.WarmKernel(f.ctx, f.ep, 30))
		require.NoError(t, f.ship.WarmKernel(f.ctx, f.ep, 30))
		after, err := f.ship.Python(f.ctx, f.ep, "2", 30, "")
		require.NoError(t, err)
		require.NotNil(t, after.ExecutionCount)
		require.Equal(t, *before.ExecutionCount+1, *after.ExecutionCount, "a warm-up is not counted")
		err = f.ship.WarmKernel(f.ctx, core.Endpoint{URL: f.ep.URL, Token: "wrong"}, 30)
		require.Error(t, err, "a warm-up needs the runtime token like any call")
	})

	t.Run("Python/ResultShape", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.require(core.CapabilityPython)
		// A bare expression's value is the output: the kernel prints its
		// repr, the in-memory fake echoes the code; for a literal the two
		// agree.
		first, err := f.ship.Python(f.ctx, f.ep, "42", 30, "")
		require.NoError(t, err)
		require.True(t, first.Success)
		require.Equal(t, "42", first.Output)
		require.Nil(t, first.Error)
		require.False(t, first.KernelRestarted)
		require.Equal(t, map[string]any{"text": "42", "images": []any{}}, first.Data,
			"Data is Ship's output object: text and a list of images")
		require.NotNil(t, first.ExecutionCount)
		second, err := f.ship.Python(f.ctx, f.ep, "'x'", 30, "")
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
	t.Run("Python/StreamFoldsIntoTheSyncAnswer", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.require(core.CapabilityPython, core.OpExecStream)
		// The kernel prints, the fakes echo: either way the stream's
		// stdout is what the sync call answers for the same code.
		const code = `print("streamed")`
		res, err := f.ship.Python(f.ctx, f.ep, code, 30, "")
		require.NoError(t, err)
		require.True(t, res.Success)
		r := f.stream(func(sink func(core.StreamEvent)) (*core.StreamEnd, error) {
			return f.ship.PythonStream(f.ctx, f.ep, code, 30, "", sink)
		})
		require.NoError(t, r.err)
		require.NotEmpty(t, r.events)
		for _, ev := range r.events {
			require.Equal(t, "stdout", ev.Type, "a print writes to stdout only: %+v", ev)
		}
		require.Equal(t, res.Output, strings.TrimSpace(fold(r.events, "stdout")),
			"the stdout events fold into the sync output (spec/ship.md §6)")
		end := r.end
		require.True(t, end.Success)
		require.Nil(t, end.Error)
		require.NotNil(t, end.ExecutionCount)
		require.Greater(t, *end.ExecutionCount, *res.ExecutionCount, "the kernel counts streamed cells too")
		require.Nil(t, end.ExitCode)
		require.False(t, end.TimedOut || end.Cancelled || end.KernelRestarted, "%+v", end)
	})

	t.Run("Python/StreamErrorIsTheSyncError", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.require(core.CapabilityPython, core.OpExecStream)
		const code = `raise ValueError("conformance")`
		res, err := f.ship.Python(f.ctx, f.ep, code, 30, "")
		require.NoError(t, err, "an exception in the cell is no failure of the call")
		require.False(t, res.Success)
		require.NotNil(t, res.Error)
		r := f.stream(func(sink func(core.StreamEvent)) (*core.StreamEnd, error) {
			return f.ship.PythonStream(f.ctx, f.ep, code, 30, "", sink)
		})
		require.NoError(t, r.err)
		var errs []core.StreamEvent
		for _, ev := range r.events {
			if ev.Type == "error" {
				errs = append(errs, ev)
			}
		}
		require.Len(t, errs, 1, "one error event: %+v", r.events)
		ev := errs[0]
		require.Equal(t, "ValueError", ev.EName)
		require.Equal(t, "conformance", ev.EValue)
		require.NotEmpty(t, ev.Traceback)
		require.Equal(t, "ValueError: conformance", ev.Traceback[len(ev.Traceback)-1],
			"the traceback ends with the exception (spec/ship.md §6)")
		end := r.end
		require.False(t, end.Success)
		require.NotNil(t, end.Error)
		require.Equal(t, strings.Join(ev.Traceback, "\n"), *end.Error, "the end's error is the traceback's text")
		require.Equal(t, cellNumber.ReplaceAllString(*res.Error, "In [N]"), cellNumber.ReplaceAllString(*end.Error, "In [N]"),
			"the end's error is the sync call's for the same code, up to the cell's number")
		require.False(t, end.TimedOut || end.Cancelled, "%+v", end)
	})

	t.Run("Shell/StreamFoldsIntoTheSyncAnswer", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.require(core.CapabilityShell, core.OpExecStream)
		// bash writes both streams and exits 3, the fakes echo: either way
		// the stream folds into what the sync call answers.
		in := core.ShellInput{Command: "echo out; echo err >&2; exit 3", Timeout: 30}
		res, err := f.ship.Shell(f.ctx, f.ep, in)
		require.NoError(t, err)
		r := f.stream(func(sink func(core.StreamEvent)) (*core.StreamEnd, error) {
			return f.ship.ShellStream(f.ctx, f.ep, in, sink)
		})
		require.NoError(t, r.err)
		for _, ev := range r.events {
			require.Contains(t, []string{"stdout", "stderr"}, ev.Type, "a command has two streams: %+v", ev)
		}
		require.NotEmpty(t, fold(r.events, "stdout"))
		require.Equal(t, res.Output, strings.TrimSpace(fold(r.events, "stdout")), "stdout folds into the output")
		syncErr := ""
		if res.Error != nil {
			syncErr = *res.Error
		}
		require.Equal(t, syncErr, strings.TrimSpace(fold(r.events, "stderr")), "stderr folds into the error")
		end := r.end
		require.NotNil(t, end.ExitCode)
		require.NotNil(t, res.ExitCode)
		require.Equal(t, *res.ExitCode, *end.ExitCode)
		require.Equal(t, res.Success, end.Success)
		require.Equal(t, res.Error, end.Error, "the end's error is the sync call's")
		require.Nil(t, end.ExecutionCount)
		require.False(t, end.TimedOut || end.Cancelled, "%+v", end)
	})

	t.Run("Shell/StreamTimesOut", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.require(core.CapabilityShell, core.OpExecStream)
		start := time.Now()
		r := f.stream(func(sink func(core.StreamEvent)) (*core.StreamEnd, error) {
			return f.ship.ShellStream(f.ctx, f.ep, core.ShellInput{Command: "sleep 30", Timeout: 1}, sink)
		})
		require.NoError(t, r.err, "a timeout ends the stream with an end event")
		require.Less(t, time.Since(start), 15*time.Second)
		end := r.end
		require.True(t, end.TimedOut)
		require.False(t, end.Success || end.Cancelled, "%+v", end)
		require.NotNil(t, end.ExitCode)
		require.EqualValues(t, -1, *end.ExitCode)
		require.NotNil(t, end.Error)
		require.Equal(t, "Command timed out", *end.Error)
	})

	t.Run("Cancel/UnknownExecution", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		caps, err := f.ship.Capabilities(f.ctx, f.ep)
		require.NoError(t, err)
		if !caps.Has(core.CapabilityPython, core.OpCancel) && !caps.Has(core.CapabilityShell, core.OpCancel) {
			t.Skipf("the runtime declares no cancel operation (it declares %v)", caps)
		}
		err = f.ship.Cancel(f.ctx, f.ep, core.NewExecutionID())
		require.Error(t, err)
		require.Equal(t, core.CodeNotFound, core.CodeOf(err), "error: %v", err)
	})

	t.Run("Python/CancelRunning", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.require(core.CapabilityPython, core.OpExecStream, core.OpCancel)
		id := core.NewExecutionID()
		done := f.goStream(func(sink func(core.StreamEvent)) (*core.StreamEnd, error) {
			return f.ship.PythonStream(f.ctx, f.ep, "import time; time.sleep(60)", 90, id, sink)
		})
		r := f.cancel(id, done)
		require.NoError(t, r.err)
		end := r.end
		require.True(t, end.Cancelled, "%+v", end)
		require.False(t, end.Success || end.TimedOut, "%+v", end)
		require.NotNil(t, end.Error)
		require.Contains(t, *end.Error, "KeyboardInterrupt", "a cancelled cell is interrupted (agent-reach.md §2.5)")
	})

	t.Run("Shell/CancelRunning", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.require(core.CapabilityShell, core.OpExecStream, core.OpCancel)
		id := core.NewExecutionID()
		done := f.goStream(func(sink func(core.StreamEvent)) (*core.StreamEnd, error) {
			return f.ship.ShellStream(f.ctx, f.ep, core.ShellInput{Command: "sleep 60", Timeout: 90, ExecID: id}, sink)
		})
		r := f.cancel(id, done)
		require.NoError(t, r.err)
		end := r.end
		require.True(t, end.Cancelled, "%+v", end)
		require.False(t, end.Success || end.TimedOut, "%+v", end)
		require.NotNil(t, end.ExitCode)
		require.EqualValues(t, -1, *end.ExitCode, "the command's process group is killed (agent-reach.md §2.5)")
	})
}

// opExec is the operation of a synchronous execution, which every python
// and shell capability has.
const opExec = "exec"

// cellNumber matches the cell's number in an IPython traceback ("Cell In
// [5], line 1"): the same code run twice is two cells.
var cellNumber = regexp.MustCompile(`In ?\[\d+\]`)

// streamed is the outcome of a streamed execution.
type streamed struct {
	events []core.StreamEvent
	end    *core.StreamEnd
	err    error
}

// fold concatenates the text of the events of type typ.
func fold(events []core.StreamEvent, typ string) string {
	var b strings.Builder
	for _, ev := range events {
		if ev.Type == typ {
			b.WriteString(ev.Text)
		}
	}
	return b.String()
}

// noEvents is a sink for calls that must fail before any event.
func noEvents(t *testing.T) func(core.StreamEvent) {
	return func(ev core.StreamEvent) { t.Errorf("unexpected event %+v", ev) }
}

// goStream starts a streamed execution; its outcome comes on the channel.
func (f *shipFixture) goStream(run func(sink func(core.StreamEvent)) (*core.StreamEnd, error)) <-chan streamed {
	done := make(chan streamed, 1)
	go func() {
		var (
			mu sync.Mutex
			r  streamed
		)
		end, err := run(func(ev core.StreamEvent) {
			mu.Lock()
			r.events = append(r.events, ev)
			mu.Unlock()
		})
		mu.Lock()
		r.end, r.err = end, err
		mu.Unlock()
		done <- r
	}()
	return done
}

// stream runs a streamed execution to its end.
func (f *shipFixture) stream(run func(sink func(core.StreamEvent)) (*core.StreamEnd, error)) streamed {
	f.t.Helper()
	r := <-f.goStream(run)
	if r.err == nil {
		require.NotNil(f.t, r.end, "a stream without an error has an end")
	}
	return r
}

// cancel cancels execution id, in flight in the call whose outcome done
// reports, as soon as the runtime knows it (Ship registers an execution
// when its request arrives; until then Cancel is not_found), and returns
// the outcome, which must come soon after.
func (f *shipFixture) cancel(id string, done <-chan streamed) streamed {
	f.t.Helper()
	giveUp := time.After(30 * time.Second)
	for {
		err := f.ship.Cancel(f.ctx, f.ep, id)
		if err == nil {
			break
		}
		require.Equal(f.t, core.CodeNotFound, core.CodeOf(err), "error: %v", err)
		select {
		case r := <-done:
			f.t.Fatalf("the execution ended before it could be cancelled: %+v, %v", r.end, r.err)
		case <-giveUp:
			f.t.Fatalf("the runtime never knew execution %s", id)
		case <-time.After(20 * time.Millisecond):
		}
	}
	select {
	case r := <-done:
		if r.err == nil {
			require.NotNil(f.t, r.end)
		}
		return r
	case <-time.After(15 * time.Second):
		f.t.Fatal("a cancelled execution did not end within 15 s")
		return streamed{}
	}
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

// require skips the test unless the runtime declares capability with
// every one of operations.
func (f *shipFixture) require(capability string, operations ...string) {
	f.t.Helper()
	caps, err := f.ship.Capabilities(f.ctx, f.ep)
	require.NoError(f.t, err)
	for _, op := range append([]string{""}, operations...) {
		if !caps.Has(capability, op) {
			f.t.Skipf("the runtime does not declare %q with operation %q (it declares %v)", capability, op, caps)
		}
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
