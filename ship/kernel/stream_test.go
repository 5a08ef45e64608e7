package kernel

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recorder is a Sink that keeps the events and signals the first stdout.
type recorder struct {
	mu      sync.Mutex
	events  []Event
	printed chan struct{}
	once    sync.Once
	firstAt time.Time // of the first stdout
}

func newRecorder() *recorder { return &recorder{printed: make(chan struct{})} }

func (r *recorder) sink(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	if ev.Type == EventStdout {
		r.once.Do(func() {
			r.mu.Lock()
			r.firstAt = time.Now()
			r.mu.Unlock()
			close(r.printed)
		})
	}
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// waitPrinted waits for the first stdout event.
func (r *recorder) waitPrinted(t *testing.T) {
	t.Helper()
	select {
	case <-r.printed:
	case <-time.After(10 * time.Second):
		t.Fatal("no stdout event")
	}
}

// runAsync runs req in the background; the result arrives on the channel.
func runAsync(t *testing.T, m *Manager, req Request, sink Sink) <-chan *Result {
	t.Helper()
	e, err := m.Prepare(req)
	require.NoError(t, err)
	ch := make(chan *Result, 1)
	go func() {
		res, err := e.Run(context.Background(), sink)
		if err != nil {
			res = &Result{Error: "run: " + err.Error()}
		}
		ch <- res
	}()
	return ch
}

func wait(t *testing.T, ch <-chan *Result) *Result {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(15 * time.Second):
		t.Fatal("execution did not end")
		return nil
	}
}

func stream(t *testing.T, m *Manager, code string) ([]Event, *Result) {
	t.Helper()
	rec := newRecorder()
	e, err := m.Prepare(Request{Code: code, Timeout: 10 * time.Second})
	require.NoError(t, err)
	res, err := e.Run(context.Background(), rec.sink)
	require.NoError(t, err)
	return rec.all(), res
}

func TestManager_StreamEvents(t *testing.T) {
	t.Parallel()
	m := fakeKernel(t)
	events, res := stream(t, m, "events")
	one := 1
	require.Equal(t, []Event{
		{Type: EventStdout, Text: "out1\n"},
		{Type: EventStderr, Text: "err1\n"},
		// The custom MIME type is dropped, the PNG loses its line break.
		{Type: EventDisplayData, Data: map[string]any{"image/png": "iVBORw==", "text/plain": "<Figure>"}},
		{Type: EventDisplayData, Update: true, Data: map[string]any{"text/html": "<i>v2</i>"}},
		// clear_output and the widget-only display_data are gone.
		{Type: EventResult, ExecutionCount: &one, Data: map[string]any{
			"text/plain": "6", "application/json": map[string]any{"k": []any{1.0}}}},
		{Type: EventError, EName: "ValueError", EValue: "bad", Traceback: []string{"Traceback", "ValueError: bad"}},
	}, events, "events in arrival order, of this request only")
	require.False(t, res.Success)
	require.Equal(t, "Traceback\nValueError: bad", res.Error)
	require.Equal(t, 1, *res.ExecutionCount)
	require.Empty(t, res.Text, "a streamed execution's output travelled as events")
	require.Empty(t, res.Images)
	require.False(t, res.Cancelled)
	require.False(t, res.TimedOut)
}

func TestManager_SyncOutputOfStreamedCell(t *testing.T) {
	t.Parallel()
	m := fakeKernel(t)
	res, err := m.Exec(context.Background(), "events", false, 10*time.Second)
	require.NoError(t, err)
	// spec/ship.md §6: stream text and text/plain in order, the PNG's
	// text/plain dropped, update_display_data ignored.
	require.Equal(t, "out1\nerr1\n6", res.Text)
	require.Equal(t, []string{"iVBORw=="}, res.Images)
	require.Equal(t, "Traceback\nValueError: bad", res.Error)
	require.False(t, res.Success)
}

func TestManager_StreamBounds(t *testing.T) {
	t.Parallel()
	m := fakeKernel(t)
	m.cfg.MaxEventBytes = 1024

	events, _ := stream(t, m, "big:2000")
	require.Len(t, events, 1)
	data := events[0].Data
	require.Equal(t, true, data["omitted"])
	require.Equal(t, []string{"text/html", "text/plain"}, data["mime_types"])
	require.Greater(t, data["bytes"], 2000)

	events, _ = stream(t, m, "big:10")
	require.Equal(t, strings.Repeat("x", 10), events[0].Data["text/plain"])

	long := strings.Repeat("é", 1500) // 3000 bytes
	events, _ = stream(t, m, "print:"+long)
	var joined strings.Builder
	for _, ev := range events {
		require.Equal(t, EventStdout, ev.Type)
		require.LessOrEqual(t, len(ev.Text), 1024)
		joined.WriteString(ev.Text)
	}
	require.Greater(t, len(events), 2)
	require.Equal(t, long+"\n", joined.String(), "split on rune boundaries, nothing lost")
}

func TestManager_CancelRunning(t *testing.T) {
	t.Parallel()
	m := fakeKernel(t)
	_, err := m.Exec(context.Background(), "print:warm", false, 10*time.Second)
	require.NoError(t, err)

	rec := newRecorder()
	done := runAsync(t, m, Request{Code: "sleep:busy", Timeout: time.Minute, ID: "exec-run"}, rec.sink)
	rec.waitPrinted(t)
	require.NoError(t, m.Cancel("exec-run"))
	res := wait(t, done)
	require.True(t, res.Cancelled)
	require.False(t, res.Success)
	require.False(t, res.TimedOut)
	require.Equal(t, "KeyboardInterrupt", res.Error, "the cell's own traceback")
	events := rec.all()
	require.Equal(t, EventError, events[len(events)-1].Type)

	require.ErrorIs(t, m.Cancel("exec-run"), ErrExecNotFound, "a finished execution is gone")
	res, err = m.Exec(context.Background(), "print:after", false, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, "after", res.Text)
	require.False(t, res.KernelRestarted, "an interrupted cell keeps the kernel")
}

func TestManager_CancelQueued(t *testing.T) {
	t.Parallel()
	m := fakeKernel(t)
	rec := newRecorder()
	first := runAsync(t, m, Request{Code: "sleep:first", Timeout: time.Minute, ID: "exec-a"}, rec.sink)
	rec.waitPrinted(t)

	_, err := m.Prepare(Request{Code: "print:dup", ID: "exec-a"})
	require.ErrorIs(t, err, ErrDuplicateExec)

	queued := runAsync(t, m, Request{Code: "print:never", Timeout: time.Minute, ID: "exec-b"}, nil)
	require.Eventually(t, func() bool {
		m.exec.mu.Lock()
		defer m.exec.mu.Unlock()
		return len(m.exec.waiters) == 1
	}, 5*time.Second, time.Millisecond)
	require.NoError(t, m.Cancel("exec-b"))
	res := wait(t, queued)
	require.True(t, res.Cancelled)
	require.False(t, res.Success)
	require.Equal(t, cancelledQueuedMessage, res.Error)
	require.Empty(t, res.Text, "a cancelled queued execution never runs")
	require.Nil(t, res.ExecutionCount)

	require.ErrorIs(t, m.Cancel("exec-b"), ErrExecNotFound)
	require.ErrorIs(t, m.Cancel("nope"), ErrExecNotFound)
	require.NoError(t, m.Cancel("exec-a"))
	res = wait(t, first)
	require.True(t, res.Cancelled)
	require.Equal(t, 1, *res.ExecutionCount)

	res, err = m.Exec(context.Background(), "print:next", false, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, 2, *res.ExecutionCount, "the cancelled queued cell never reached the kernel")
}

func TestManager_CancelStubbornCellRestartsKernel(t *testing.T) {
	t.Parallel()
	m := fakeKernel(t)
	rec := newRecorder()
	done := runAsync(t, m, Request{Code: "stubborn:x", Timeout: time.Minute, ID: "exec-s"}, rec.sink)
	rec.waitPrinted(t)
	require.NoError(t, m.Cancel("exec-s"))
	res := wait(t, done)
	require.True(t, res.Cancelled)
	require.Equal(t, stuckMessage, res.Error)
	res, err := m.Exec(context.Background(), "print:fresh", false, 10*time.Second)
	require.NoError(t, err)
	require.True(t, res.KernelRestarted)
	require.Equal(t, "fresh", res.Text)
}

func TestSplitText(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"abc"}, splitText("abc", 8))
	require.Equal(t, []string{"aaaa", "aaaa", "a"}, splitText("aaaaaaaaa", 4))
	require.Equal(t, []string{"a€", "€"}, splitText("a€€", 4))
	require.Equal(t, []string{"€", "€", "€"}, splitText("€€€", 4))
}
