package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"unicode"

	"github.com/bayhq/bay/ship/kernel"
	"github.com/bayhq/bay/ship/shell"
	"github.com/bayhq/bay/ship/wire"
)

// eventWriter writes a streamed execution's answer: status 200 and
// wire.ContentTypeNDJSON on the first event, then one wire.StreamEvent per
// line, each flushed at once. It is safe for concurrent use (a shell
// command's two pipes send at the same time). After a failed write (the
// client went away) later events are dropped.
type eventWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	broken  bool
	buf     bytes.Buffer
}

func newEventWriter(w http.ResponseWriter) *eventWriter {
	return &eventWriter{w: w, rc: http.NewResponseController(w)}
}

// send writes ev as one line and flushes it.
func (e *eventWriter) send(ev wire.StreamEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sendLocked(ev)
}

// sendStart sends the start event unless an event was sent already; pid
// is the shell command's, nil for python or a command that did not start.
func (e *eventWriter) sendStart(pid *int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		e.sendLocked(wire.StreamEvent{Type: wire.EventStart, PID: pid})
	}
}

// sendLocked is send; the caller holds e.mu.
func (e *eventWriter) sendLocked(ev wire.StreamEvent) {
	if e.broken {
		return
	}
	if !e.started {
		e.started = true
		h := e.w.Header()
		h.Set("Content-Type", wire.ContentTypeNDJSON)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no")
		e.w.WriteHeader(http.StatusOK)
	}
	e.buf.Reset()
	enc := json.NewEncoder(&e.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		// Cannot happen for data decoded from the kernel's JSON; dropping
		// the event keeps the stream intact.
		return
	}
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		e.broken = true
		return
	}
	if err := e.rc.Flush(); err != nil {
		e.broken = true
	}
}

// kernelEvent puts a kernel output event on the wire.
func kernelEvent(ev kernel.Event) wire.StreamEvent {
	return wire.StreamEvent{
		Type:           ev.Type,
		Text:           ev.Text,
		Data:           ev.Data,
		Update:         ev.Update,
		ExecutionCount: ev.ExecutionCount,
		EName:          ev.EName,
		EValue:         ev.EValue,
		Traceback:      ev.Traceback,
	}
}

// pythonEnd is the end event of a python execution; its error is the sync
// answer's.
func pythonEnd(res *kernel.Result) wire.StreamEvent {
	return wire.StreamEvent{
		Type:            wire.EventEnd,
		Success:         &res.Success,
		ExecutionCount:  res.ExecutionCount,
		KernelRestarted: res.KernelRestarted,
		TimedOut:        res.TimedOut,
		Cancelled:       res.Cancelled,
		Error:           nullable(res.Error),
	}
}

// shellEnd is the end event of a shell command. Its error is what Bay
// reports for the sync answer: Ship's error, else the command's stderr
// (spec/ship.md §7).
func shellEnd(res shell.Result) wire.StreamEvent {
	errText := res.Stderr
	if res.Error != nil && *res.Error != "" {
		errText = *res.Error
	}
	return wire.StreamEvent{
		Type:      wire.EventEnd,
		Success:   &res.Success,
		ExitCode:  res.ReturnCode,
		TimedOut:  res.TimedOut,
		Cancelled: res.Cancelled,
		Error:     nullable(errText),
	}
}

// maxExecIDLen bounds an exec_id; Bay's are "exec-" + 12 hex digits.
const maxExecIDLen = 128

// checkExecID answers 422 and returns false when id cannot name an
// execution: it must fit into the cancel path as one segment.
func checkExecID(w http.ResponseWriter, id string) bool {
	bad := len(id) > maxExecIDLen || strings.ContainsAny(id, "/?#%") ||
		strings.ContainsFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
	if bad {
		writeValidation(w, wire.ValidationItem{Loc: []any{"body", "exec_id"},
			Msg:  "exec_id must be at most 128 characters without '/', '?', '#', '%', spaces or control characters",
			Type: "value_error"})
		return false
	}
	return true
}

// writeDuplicateExec answers 409 for an exec_id that is in use.
func writeDuplicateExec(w http.ResponseWriter, id string) {
	writeDetail(w, http.StatusConflict, "Execution already running or queued: "+id)
}

// handleCancel serves POST /exec/{exec_id}/cancel: the id may be a python
// execution (running or queued) or a shell command.
func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("exec_id")
	err := s.kernel.Cancel(id)
	if errors.Is(err, kernel.ErrExecNotFound) {
		err = s.shell.Cancel(id)
	}
	if err != nil {
		writeDetail(w, http.StatusNotFound, "Execution not found: "+id)
		return
	}
	writeJSON(w, http.StatusOK, wire.CancelResponse{Cancelled: true})
}
