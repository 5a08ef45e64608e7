package shipclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/ship/wire"
)

// Bounds of a streamed execution's answer.
const (
	// maxStreamLine bounds one line (one event) of the answer: a
	// display_data event carries a whole image in base64, which Ship
	// sends up to 16 MiB, and the JSON around it needs some room.
	maxStreamLine = 16<<20 + 1<<20
	// maxStderrFold bounds the stderr a shell stream keeps for the end's
	// error, as Ship caps each stream of the sync answer.
	maxStderrFold = 16 << 20
	// streamReadBuffer is the read buffer; longer lines are assembled
	// from several reads.
	streamReadBuffer = 64 << 10
)

// errLineTooLong reports a line of the answer over maxStreamLine.
var errLineTooLong = fmt.Errorf("a line of the stream is longer than %d bytes", maxStreamLine)

// PythonStream implements core.Ship.
func (c *Client) PythonStream(ctx context.Context, ep core.Endpoint, code string, timeout int, execID string, sink func(core.StreamEvent)) (*core.StreamEnd, error) {
	body := wire.PythonStreamRequest{Code: code, Timeout: &timeout, ExecID: execID}
	return c.stream(ctx, ep, wire.PathPythonExecStream, execTimeout(timeout), body, false, sink)
}

// ShellStream implements core.Ship. The end's error is Ship's, or when
// that is empty the command's stderr, as Shell maps the sync answer.
func (c *Client) ShellStream(ctx context.Context, ep core.Endpoint, in core.ShellInput, sink func(core.StreamEvent)) (*core.StreamEnd, error) {
	timeout := in.Timeout
	body := wire.ShellStreamRequest{Command: in.Command, Cwd: in.Cwd, Timeout: &timeout, ExecID: in.ExecID}
	return c.stream(ctx, ep, wire.PathShellExecStream, execTimeout(in.Timeout), body, true, sink)
}

// stream posts in to a streaming route and reads its NDJSON answer,
// handing the output events to sink, until the end event.
//
// The deadline is total, timeout + margin from the request on, and is not
// pushed back by events: Ship ends a healthy execution at its timeout
// whether or not it printed anything, so a stream that is silent all along
// is as healthy as a chatty one, and only the total can tell a stuck
// runtime from a working one. A watchdog enforces it, so that its firing
// (timeout) is told apart from the caller's cancellation.
func (c *Client) stream(ctx context.Context, ep core.Endpoint, path string, total time.Duration, in any, shell bool, sink func(core.StreamEvent)) (*core.StreamEnd, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	if sink == nil {
		sink = func(core.StreamEvent) {}
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdog := newWatchdog(total, cancel)
	defer watchdog.stop()

	// failed maps an error of the round trip or of reading the answer:
	// past the deadline it is a timeout, whatever the read saw.
	failed := func(err error) error {
		if watchdog.fired() || errors.Is(parent.Err(), context.DeadlineExceeded) {
			return core.Wrap(err, core.CodeTimeout, "Ship request timed out: "+path)
		}
		if core.AsError(err) != nil {
			return err
		}
		return transportError(path, err)
	}

	req, err := newRequest(ctx, http.MethodPost, ep, path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", wire.ContentTypeNDJSON)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, failed(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return nil, statusError(path, resp)
	}
	end, err := readStream(resp.Body, path, shell, sink)
	if err != nil {
		return nil, failed(err)
	}
	// Ship closes the answer after the end: reading to its end lets the
	// connection serve another call.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return end, nil
}

// readStream reads events from r until the end event, which it returns.
// Output events go to sink; start and event types it does not know are
// skipped. An answer that stops before the end, or a line that is not an
// event, is ship_error; a failed read is returned as is.
func readStream(r io.Reader, path string, shell bool, sink func(core.StreamEvent)) (*core.StreamEnd, error) {
	br := bufio.NewReaderSize(r, streamReadBuffer)
	var (
		buf    []byte
		stderr strings.Builder
		err    error
	)
	for {
		buf, err = readLine(br, buf)
		switch {
		case errors.Is(err, io.EOF):
			return nil, core.Errorf(core.CodeShipError, "Ship request error: the stream of %s ended without an end event", path).
				WithDetails(map[string]any{"ship_path": path})
		case errors.Is(err, errLineTooLong):
			return nil, core.Wrap(err, core.CodeShipError, "Ship request error: "+err.Error()+" ("+path+")").
				WithDetails(map[string]any{"ship_path": path})
		case err != nil:
			return nil, err
		}
		line := bytes.TrimSpace(buf)
		if len(line) == 0 {
			continue
		}
		var ev wire.StreamEvent
		if err := json.Unmarshal(line, &ev); err != nil || ev.Type == "" {
			if err == nil {
				err = errors.New("an event without a type")
			}
			return nil, core.Wrap(err, core.CodeShipError, "Ship request error: malformed line in the stream of "+path).
				WithDetails(map[string]any{"ship_path": path})
		}
		switch ev.Type {
		case wire.EventStdout:
			sink(core.StreamEvent{Type: ev.Type, Text: ev.Text})
		case wire.EventStderr:
			if shell && stderr.Len() < maxStderrFold {
				stderr.WriteString(ev.Text[:min(len(ev.Text), maxStderrFold-stderr.Len())])
			}
			sink(core.StreamEvent{Type: ev.Type, Text: ev.Text})
		case wire.EventDisplayData:
			sink(core.StreamEvent{Type: ev.Type, Data: ev.Data, Update: ev.Update})
		case wire.EventResult:
			sink(core.StreamEvent{Type: ev.Type, Data: ev.Data, ExecutionCount: int64p(ev.ExecutionCount)})
		case wire.EventError:
			sink(core.StreamEvent{Type: ev.Type, EName: ev.EName, EValue: ev.EValue, Traceback: ev.Traceback})
		case wire.EventEnd:
			if ev.Success == nil {
				return nil, core.Errorf(core.CodeShipError, "Ship request error: the end event of %s has no success", path).
					WithDetails(map[string]any{"ship_path": path})
			}
			end := &core.StreamEnd{
				Success: *ev.Success, ExitCode: int64p(ev.ExitCode), ExecutionCount: int64p(ev.ExecutionCount),
				KernelRestarted: ev.KernelRestarted, TimedOut: ev.TimedOut, Cancelled: ev.Cancelled, Error: ev.Error,
			}
			if shell {
				end.Error = shellError(ev.Error, strings.TrimSpace(stderr.String()))
			}
			return end, nil
		}
		// start, and event types of a newer Ship, carry nothing Bay uses.
	}
}

// readLine reads the next line of br into buf (reused), without the limit
// of br's buffer but at most maxStreamLine bytes besides the newline. The
// last line may lack its newline; io.EOF means no line was left.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxStreamLine+1 {
			return nil, errLineTooLong
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return buf, nil
		}
		return nil, err
	}
}
