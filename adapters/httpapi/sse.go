package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/bayhq/bay/core"
)

// sseWriteTimeout bounds each write to a stream client: a client that
// does not take an event in that time counts as gone (agent-reach.md §2.4).
const sseWriteTimeout = 30 * time.Second

// streamReply writes a run's events as Server-Sent Events: one "event:"
// line and one "data:" line of JSON per event, a ": keepalive" comment
// after heartbeat without output. The execution does not depend on the
// client: when it goes, the run is detached and goes on.
type streamReply struct {
	ctx       context.Context
	run       *core.Run
	heartbeat time.Duration
	requestID string
}

func (r streamReply) visit(w http.ResponseWriter) error {
	defer r.run.Detach()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if rc.Flush() != nil {
		return nil
	}
	for {
		ev, ok, done := r.run.Next(r.ctx, r.heartbeat)
		if done {
			return nil
		}
		if !ok {
			if !write([]byte(": keepalive\n\n")) {
				return nil
			}
			continue
		}
		if !write(r.frame(ev)) || ev.Terminal() {
			return nil
		}
	}
}

// frame renders one event.
func (r streamReply) frame(ev core.RunEvent) []byte {
	data := ev.Data
	if ev.Fault != nil {
		details := ev.Fault.Details
		if details == nil {
			details = map[string]any{}
		}
		data = map[string]any{"execution_id": ev.Data["execution_id"], "error": map[string]any{
			"code": ev.Fault.Code, "message": ev.Fault.Message, "details": details, "request_id": r.requestID,
		}}
	}
	var b bytes.Buffer
	b.WriteString("event: ")
	b.WriteString(ev.Name)
	b.WriteString("\ndata: ")
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(data) // ends with the newline of the data line
	b.WriteString("\n")
	return b.Bytes()
}
