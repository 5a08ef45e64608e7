package kernel

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/ship/runas"
)

// realKernel returns a Manager on a real ipykernel in a temp workspace, or
// skips when no python with ipykernel is available.
func realKernel(t *testing.T) (*Manager, string) {
	t.Helper()
	python := FindPython()
	if !HasIPyKernel(python) {
		skipf(t, "python3 with ipykernel not found (%s; set SHIP_PYTHON or apt-get install python3-ipykernel)", python)
	}
	ws := t.TempDir()
	state := t.TempDir()
	m := NewManager(Config{
		Python:         python,
		Workspace:      ws,
		StateDir:       state,
		Identity:       runas.Current(ws),
		InterruptGrace: 3 * time.Second,
	})
	t.Cleanup(m.Close)
	return m, ws
}

func run(t *testing.T, m *Manager, code string) *Result {
	t.Helper()
	res, err := m.Exec(context.Background(), code, false, 30*time.Second)
	require.NoError(t, err)
	return res
}

func TestManager_RealKernel(t *testing.T) {
	t.Parallel()
	m, ws := realKernel(t)
	require.Equal(t, StatusNotStarted, m.Status())
	require.NoError(t, m.Start(context.Background()))
	require.Equal(t, StatusAlive, m.Status())

	t.Run("PrintAndState", func(t *testing.T) {
		res := run(t, m, "x = 42\nprint(x * 2)")
		require.True(t, res.Success, res.Error)
		require.Equal(t, "84", res.Text)
		require.NotNil(t, res.ExecutionCount)
		require.False(t, res.KernelRestarted)
		res = run(t, m, "1 + 2 + x")
		require.Equal(t, "45", res.Text)
	})
	t.Run("StdoutAndStderr", func(t *testing.T) {
		res := run(t, m, "import sys\nprint('out')\nsys.stdout.flush()\nprint('err', file=sys.stderr)")
		require.True(t, res.Success)
		require.Contains(t, res.Text, "out")
		require.Contains(t, res.Text, "err")
	})
	t.Run("ErrorWithTraceback", func(t *testing.T) {
		res := run(t, m, "print('before')\n1/0")
		require.False(t, res.Success)
		require.Equal(t, "before", res.Text)
		require.Contains(t, res.Error, "ZeroDivisionError: division by zero")
		require.NotContains(t, res.Error, "\x1b[", "tracebacks must be plain text")
		res = run(t, m, "undefined_name_xyz")
		require.Contains(t, res.Error, "NameError")
		require.Contains(t, res.Error, "undefined_name_xyz")
	})
	t.Run("CwdIsWorkspace", func(t *testing.T) {
		res := run(t, m, "import os\nprint(os.getcwd())")
		want, err := filepath.EvalSymlinks(ws)
		require.NoError(t, err)
		require.Equal(t, want, res.Text)
		res = run(t, m, "print(os.environ['HOME'], os.environ.get('IPYTHONDIR','').startswith(os.getcwd()))")
		require.Equal(t, ws+" False", res.Text)
	})
	t.Run("DisplayPNG", func(t *testing.T) {
		png := "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
		res := run(t, m, "from IPython.display import display, Image\nimport base64\n"+
			"display(Image(data=base64.b64decode('"+png+"')))\nprint('done')")
		require.True(t, res.Success, res.Error)
		require.Equal(t, "done", res.Text)
		require.Len(t, res.Images, 1)
		raw, err := base64.StdEncoding.DecodeString(res.Images[0])
		require.NoError(t, err)
		require.Equal(t, "\x89PNG", string(raw[:4]))
	})
	t.Run("Silent", func(t *testing.T) {
		res, err := m.Exec(context.Background(), "y = 1", true, 10*time.Second)
		require.NoError(t, err)
		require.True(t, res.Success)
		require.Nil(t, res.ExecutionCount)
	})
	t.Run("ConcurrentAreSerialized", func(t *testing.T) {
		var wg sync.WaitGroup
		out := make([]string, 8)
		for i := range out {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := m.Exec(context.Background(), "import time\ntime.sleep(0.01)\nprint('r%d' % "+string(rune('0'+i))+")", false, 30*time.Second)
				if err == nil {
					out[i] = res.Text
				}
			}()
		}
		wg.Wait()
		for i, s := range out {
			require.Equal(t, "r"+string(rune('0'+i)), s)
		}
	})
	t.Run("TimeoutInterruptsAndKeepsState", func(t *testing.T) {
		run(t, m, "keep = 7")
		res, err := m.Exec(context.Background(), "import time\nprint('start', flush=True)\ntime.sleep(60)", false, time.Second)
		require.NoError(t, err)
		require.False(t, res.Success)
		require.Equal(t, "Code execution timed out after 1 seconds", res.Error)
		res = run(t, m, "print(keep)")
		require.True(t, res.Success, res.Error)
		require.Equal(t, "7", res.Text)
		require.False(t, res.KernelRestarted)
	})
	t.Run("UninterruptibleCellIsKilled", func(t *testing.T) {
		run(t, m, "lost = 1")
		res, err := m.Exec(context.Background(),
			"import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)", false, time.Second)
		require.NoError(t, err)
		require.Equal(t, "Code execution timed out after 1 seconds", res.Error)
		// The next call waits for the grace period, the kill and a new kernel.
		res = run(t, m, "print(lost)")
		require.True(t, res.KernelRestarted)
		require.Contains(t, res.Error, "NameError")
	})
	t.Run("CrashRestarts", func(t *testing.T) {
		run(t, m, "gone = 1")
		res := run(t, m, "import os\nos._exit(1)")
		require.False(t, res.Success)
		require.Contains(t, res.Error, "Kernel died")
		res = run(t, m, "print(gone)")
		require.True(t, res.KernelRestarted)
		require.Contains(t, res.Error, "NameError")
		res = run(t, m, "print('again')")
		require.False(t, res.KernelRestarted)
		require.Equal(t, "again", res.Text, "%+v", res)
	})
	t.Run("RestartAndShutdown", func(t *testing.T) {
		require.NoError(t, m.Restart(context.Background()))
		require.Equal(t, StatusAlive, m.Status())
		require.NoError(t, m.Shutdown(context.Background()))
		require.Equal(t, StatusNotStarted, m.Status())
		require.ErrorIs(t, m.Shutdown(context.Background()), ErrNoKernel)
		res := run(t, m, "print('fresh')")
		require.Equal(t, "fresh", res.Text)
	})
}

func TestManager_BadPython(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	m := NewManager(Config{Python: "/nonexistent/python3", Workspace: ws, StateDir: t.TempDir(), Identity: runas.Current(ws)})
	_, err := m.Exec(context.Background(), "1", false, time.Second)
	require.ErrorContains(t, err, "/nonexistent/python3")
}

func TestManager_RealKernelStreamAndCancel(t *testing.T) {
	t.Parallel()
	m, _ := realKernel(t)
	t.Run("EventsArriveAsPrinted", func(t *testing.T) {
		rec := newRecorder()
		e, err := m.Prepare(Request{Code: "import time\nfor i in range(3):\n    print(i, flush=True); time.sleep(0.3)\n6*7",
			Timeout: 30 * time.Second})
		require.NoError(t, err)
		res, err := e.Run(context.Background(), rec.sink)
		require.NoError(t, err)
		end := time.Now()
		require.True(t, res.Success, res.Error)
		require.Greater(t, end.Sub(rec.firstAt), 400*time.Millisecond, "the first print must arrive before the end")
		var text strings.Builder
		var result *Event
		for _, ev := range rec.all() {
			switch ev.Type {
			case EventStdout:
				text.WriteString(ev.Text)
			case EventResult:
				result = &ev
			}
		}
		require.Equal(t, "0\n1\n2\n", text.String())
		require.NotNil(t, result)
		require.Equal(t, "42", result.Data["text/plain"])
		require.Equal(t, *res.ExecutionCount, *result.ExecutionCount)
	})
	t.Run("ErrorEvent", func(t *testing.T) {
		rec := newRecorder()
		e, err := m.Prepare(Request{Code: "1/0", Timeout: 30 * time.Second})
		require.NoError(t, err)
		res, err := e.Run(context.Background(), rec.sink)
		require.NoError(t, err)
		events := rec.all()
		require.Len(t, events, 1)
		require.Equal(t, "ZeroDivisionError", events[0].EName)
		require.Equal(t, res.Error, strings.Join(events[0].Traceback, "\n"), "end error = the sync error")
	})
	t.Run("CancelKeepsState", func(t *testing.T) {
		run(t, m, "kept = 5")
		rec := newRecorder()
		done := runAsync(t, m, Request{Code: "import time\nprint('go', flush=True)\ntime.sleep(60)", Timeout: time.Minute,
			ID: "exec-real"}, rec.sink)
		rec.waitPrinted(t)
		start := time.Now()
		require.NoError(t, m.Cancel("exec-real"))
		res := wait(t, done)
		require.Less(t, time.Since(start), 5*time.Second)
		require.True(t, res.Cancelled)
		require.Contains(t, res.Error, "KeyboardInterrupt")
		res = run(t, m, "print(kept)")
		require.Equal(t, "5", res.Text)
		require.False(t, res.KernelRestarted)
	})
}
