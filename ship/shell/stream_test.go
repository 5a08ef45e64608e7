package shell

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/ship/runas"
)

// chunk is one Output call.
type chunk struct {
	stream, text string
	at           time.Time
}

// capture records a streamed command's start and output.
type capture struct {
	mu      sync.Mutex
	pid     int
	chunks  []chunk
	started chan struct{}
	order   []string // "start" and stream names, in call order
}

func newCapture() *capture { return &capture{started: make(chan struct{})} }

func (c *capture) request(req Request) Request {
	req.Started = func(pid int) {
		c.mu.Lock()
		c.pid = pid
		c.order = append(c.order, "start")
		c.mu.Unlock()
		close(c.started)
	}
	req.Output = func(stream, text string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.chunks = append(c.chunks, chunk{stream, text, time.Now()})
		c.order = append(c.order, stream)
	}
	return req
}

// text joins the chunks of one stream.
func (c *capture) text(stream string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, ch := range c.chunks {
		if ch.stream == stream {
			b.WriteString(ch.text)
		}
	}
	return b.String()
}

func (c *capture) all() []chunk {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chunk(nil), c.chunks...)
}

func newRunner(t *testing.T) (*Runner, string) {
	t.Helper()
	dir := t.TempDir()
	return &Runner{ID: runas.Current(dir)}, dir
}

// stream runs command through bash with output streaming.
func stream(t *testing.T, r *Runner, dir, command string) (Result, *capture) {
	t.Helper()
	c := newCapture()
	res, err := r.Run(context.Background(), c.request(Request{Command: command, Dir: dir, Shell: true, Timeout: 30 * time.Second}))
	require.NoError(t, err)
	return res, c
}

func TestRun_StreamSeparatesStreams(t *testing.T) {
	t.Parallel()
	r, dir := newRunner(t)
	res, c := stream(t, r, dir, "echo out; echo err >&2; echo out2; exit 3")
	require.Equal(t, "out\nout2\n", c.text(Stdout))
	require.Equal(t, "err\n", c.text(Stderr))
	require.Equal(t, "start", c.order[0], "start comes before any output")
	require.Equal(t, *res.PID, c.pid)
	require.False(t, res.Success)
	require.Equal(t, 3, *res.ReturnCode)
	require.Equal(t, "out\nout2", res.Stdout, "the result keeps the sync shape")
	require.Equal(t, "err", res.Stderr)
	require.Nil(t, res.Error)
}

func TestRun_StreamValidUTF8(t *testing.T) {
	t.Parallel()
	r, dir := newRunner(t)
	t.Run("InvalidBytesReplaced", func(t *testing.T) {
		res, c := stream(t, r, dir, `printf 'a\377b'`)
		require.Equal(t, "a\uFFFDb", c.text(Stdout))
		require.Equal(t, "a\uFFFDb", res.Stdout)
	})
	t.Run("SplitCharacterKeptWhole", func(t *testing.T) {
		// The euro sign's three bytes arrive in two writes, with more than
		// the coalescing delay between them.
		_, c := stream(t, r, dir, `printf 'x\342\202'; sleep 0.3; printf '\254y'`)
		chunks := c.all()
		require.GreaterOrEqual(t, len(chunks), 2, "the first part was sent before the rest was written: %q", chunks)
		require.Equal(t, "x", chunks[0].text, "the incomplete sequence is held back")
		require.Equal(t, "x€y", c.text(Stdout))
		for _, ch := range chunks {
			require.NotContains(t, ch.text, "\uFFFD")
		}
	})
	t.Run("TruncatedAtEndReplaced", func(t *testing.T) {
		_, c := stream(t, r, dir, `printf 'z\342\202'`)
		require.Equal(t, "z\uFFFD", c.text(Stdout))
	})
}

func TestRun_StreamCoalesces(t *testing.T) {
	t.Parallel()
	r, dir := newRunner(t)
	t.Run("SmallWritesBatched", func(t *testing.T) {
		_, c := stream(t, r, dir, "for i in $(seq 1 200); do echo line$i; done")
		var want strings.Builder
		for i := 1; i <= 200; i++ {
			want.WriteString("line" + strconv.Itoa(i) + "\n")
		}
		require.Equal(t, want.String(), c.text(Stdout))
		require.Less(t, len(c.all()), 20, "200 quick lines come in a few chunks")
	})
	t.Run("SentWhileRunning", func(t *testing.T) {
		start := time.Now()
		_, c := stream(t, r, dir, "echo first; sleep 0.6; echo second")
		end := time.Now()
		chunks := c.all()
		require.Len(t, chunks, 2)
		require.Equal(t, "first\n", chunks[0].text)
		require.Less(t, chunks[0].at.Sub(start), 400*time.Millisecond, "sent ~50 ms after it was written")
		require.Greater(t, end.Sub(chunks[0].at), 400*time.Millisecond)
	})
	t.Run("SentAt32KiB", func(t *testing.T) {
		_, c := stream(t, r, dir, "head -c 200000 /dev/zero | tr '\\0' x; sleep 0.5")
		chunks := c.all()
		total := 0
		for _, ch := range chunks {
			require.LessOrEqual(t, len(ch.text), 2*coalesceBytes)
			total += len(ch.text)
		}
		require.Equal(t, 200000, total)
		require.GreaterOrEqual(t, len(chunks), 200000/(2*coalesceBytes))
	})
}

func TestRun_StdinIsDevNull(t *testing.T) {
	t.Parallel()
	r, dir := newRunner(t)
	res, _ := stream(t, r, dir, "cat; echo done")
	require.True(t, res.Success)
	require.Equal(t, "done", res.Stdout)
}

// gone reports whether pid no longer runs (absent, or a zombie nobody
// reaped yet).
func gone(pid int) bool {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// startCancellable runs command with id in the background and waits until
// it printed the pid of a child in its process group.
func startCancellable(t *testing.T, r *Runner, dir, id, command string) (<-chan Result, *capture, int) {
	t.Helper()
	c := newCapture()
	done := make(chan Result, 1)
	go func() {
		res, err := r.Run(context.Background(), c.request(Request{Command: command, Dir: dir, Shell: true,
			Timeout: time.Minute, ID: id}))
		if err != nil {
			res = failed(err.Error())
		}
		done <- res
	}()
	var child int
	require.Eventually(t, func() bool {
		n, err := strconv.Atoi(strings.TrimSpace(c.text(Stdout)))
		child = n
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	return done, c, child
}

func TestRun_CancelKillsTheGroup(t *testing.T) {
	t.Parallel()
	r, dir := newRunner(t)
	done, _, child := startCancellable(t, r, dir, "exec-sh1", "sleep 60 & echo $!; wait")
	_, err := r.Run(context.Background(), Request{Command: "true", Dir: dir, Shell: true, ID: "exec-sh1"})
	require.ErrorIs(t, err, ErrDuplicate)

	start := time.Now()
	require.NoError(t, r.Cancel("exec-sh1"))
	res := <-done
	require.Less(t, time.Since(start), 2*time.Second, "SIGTERM ends it at once")
	require.True(t, res.Cancelled)
	require.False(t, res.TimedOut)
	require.False(t, res.Success)
	require.Equal(t, -1, *res.ReturnCode)
	require.Equal(t, "Command cancelled", *res.Error)
	require.Eventually(t, func() bool { return gone(child) }, 5*time.Second, 20*time.Millisecond,
		"the background child in the group is killed too")
	require.ErrorIs(t, r.Cancel("exec-sh1"), ErrNotFound, "a finished command is gone")
	require.ErrorIs(t, r.Cancel("nope"), ErrNotFound)
}

func TestRun_CancelEscalatesToSIGKILL(t *testing.T) {
	t.Parallel()
	r, dir := newRunner(t)
	done, _, child := startCancellable(t, r, dir, "exec-sh2", "trap '' TERM; sleep 60 & echo $!; wait")
	start := time.Now()
	require.NoError(t, r.Cancel("exec-sh2"))
	res := <-done
	took := time.Since(start)
	require.GreaterOrEqual(t, took, killGrace-100*time.Millisecond, "SIGTERM is ignored")
	require.Less(t, took, killGrace+3*time.Second)
	require.Equal(t, -1, *res.ReturnCode)
	require.True(t, res.Cancelled)
	require.Eventually(t, func() bool { return gone(child) }, 5*time.Second, 20*time.Millisecond)
}

func TestRun_StreamTimeout(t *testing.T) {
	t.Parallel()
	r, dir := newRunner(t)
	c := newCapture()
	res, err := r.Run(context.Background(), c.request(Request{Command: "echo begun; sleep 30", Dir: dir, Shell: true,
		Timeout: 500 * time.Millisecond}))
	require.NoError(t, err)
	require.True(t, res.TimedOut)
	require.False(t, res.Cancelled)
	require.Equal(t, -1, *res.ReturnCode)
	require.Equal(t, "Command timed out", *res.Error)
	require.Equal(t, "begun\n", c.text(Stdout))
	require.Equal(t, "begun", res.Stdout, "partial output is kept")
}

func TestIncompleteTail(t *testing.T) {
	t.Parallel()
	cases := map[string]int{
		"":                 0,
		"abc":              0,
		"a€":               0,
		"a\xe2":            1,
		"a\xe2\x82":        2,
		"\xf0\x9f\x98":     3,
		"\xf0\x9f\x98\x80": 0,
		"a\xff":            0, // invalid, not incomplete
		"a\x82":            0, // a stray continuation byte
	}
	for in, want := range cases {
		require.Equal(t, want, incompleteTail([]byte(in)), "%q", in)
	}
}
