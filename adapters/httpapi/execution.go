package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

// The execution, streaming, async, capabilities and terminal routes
// (agent-reach.md §1-§3, §6). Their request bodies are checked and
// canonicalized by perRoute like every JSON body: a comma-separated "tags"
// string arrives as a list (ExecTags holding an ExecTagList), and an
// AnnotateExecution/AnnotateHistoryEntry body arrives as JSONBody whatever
// its media type, with the fields the client left out absent
// (oapigen.Nullable is the zero value) and those it sent as null Specified
// with a nil Value.

// tagsOf reads a body's tags: perRoute already made a comma-separated
// string a list.
func tagsOf(t *oapigen.ExecTags) []string {
	if t == nil {
		return nil
	}
	if list, err := t.AsExecTagList(); err == nil {
		return list
	}
	if str, err := t.AsExecTagString(); err == nil {
		return core.SplitTags(str)
	}
	return nil
}

// execInput builds the service's input from a body's fields.
func execInput(kind core.ExecutionKind, code string, timeout *int, cwd, description *string, tags *oapigen.ExecTags, received time.Time) core.ExecInput {
	return core.ExecInput{
		Kind: kind, Code: code, Timeout: deref(timeout, 30), Cwd: cwd,
		Description: description, Tags: tagsOf(tags), Received: received,
	}
}

// received is when the request reached Bay.
func received(ctx context.Context) time.Time {
	if t := infoFrom(ctx).start; !t.IsZero() {
		return t
	}
	return time.Now()
}

// ListExecutions lists a sandbox's executions (agent-reach.md §1.4).
func (s *Server) ListExecutions(ctx context.Context, req oapigen.ListExecutionsRequestObject) (oapigen.ListExecutionsResponseObject, error) {
	p := req.Params
	limit, err := pageLimit(p.Limit)
	if err != nil {
		return nil, err
	}
	f := core.ExecutionFilter{Limit: limit, Success: p.Success, Since: p.Since, Until: p.Until, HasDescription: p.HasDescription}
	if p.Order != nil {
		switch *p.Order {
		case oapigen.OrderAsc:
			f.Asc = true
		case oapigen.OrderDesc:
		default:
			return nil, shape(fieldErr("Input should be 'desc' or 'asc'", "enum", "query", "order"))
		}
	}
	if f.Kind, err = kindParam(p.Kind, "kind"); err != nil {
		return nil, err
	}
	if p.Status != nil {
		switch st := core.ExecutionStatus(*p.Status); st {
		case core.ExecRunning, core.ExecFinished, core.ExecCancelled, core.ExecLost:
			f.Status = st
		default:
			return nil, shape(fieldErr("Input should be 'running', 'finished', 'cancelled' or 'lost'", "enum", "query", "status"))
		}
	}
	if p.Tags != nil {
		f.Tags, err = core.NormalizeTags(core.SplitTags(*p.Tags))
		if err != nil {
			return nil, shape(fieldErr(core.AsError(err).Message, "value_error", "query", "tags"))
		}
	}
	if p.Cursor != nil && *p.Cursor != "" {
		if f.After, err = decodeCursor(*p.Cursor); err != nil {
			return nil, err
		}
	}
	rows, next, err := s.executions.List(ctx, ownerFrom(ctx), req.SandboxId, f)
	if err != nil {
		return nil, err
	}
	items := make([]executionJSON, 0, len(rows))
	for i := range rows {
		items = append(items, toExecutionJSON(&rows[i], false))
	}
	return newReply(http.StatusOK, struct {
		Items      []executionJSON `json:"items"`
		NextCursor *string         `json:"next_cursor"`
	}{items, encodeCursor(next)})
}

// kindParam checks an execution kind query parameter.
func kindParam(k *oapigen.ExecutionKind, name string) (core.ExecutionKind, error) {
	if k == nil {
		return "", nil
	}
	switch kind := core.ExecutionKind(*k); kind {
	case core.ExecPython, core.ExecShell:
		return kind, nil
	}
	return "", shape(fieldErr("Input should be 'python' or 'shell'", "enum", "query", name))
}

// GetLastExecution returns a sandbox's newest execution.
func (s *Server) GetLastExecution(ctx context.Context, req oapigen.GetLastExecutionRequestObject) (oapigen.GetLastExecutionResponseObject, error) {
	kind, err := kindParam(req.Params.Kind, "kind")
	if err != nil {
		return nil, err
	}
	e, err := s.executions.Last(ctx, ownerFrom(ctx), req.SandboxId, kind)
	if err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, toExecutionJSON(e, true))
}

// maxWait bounds ?wait= (seconds).
const maxWait = 60

// GetExecution returns one execution, waiting up to ?wait= seconds while it runs.
func (s *Server) GetExecution(ctx context.Context, req oapigen.GetExecutionRequestObject) (oapigen.GetExecutionResponseObject, error) {
	wait := deref(req.Params.Wait, 0)
	if wait < 0 || wait > maxWait {
		return nil, shape(fieldErr("Input should be between 0 and 60", "less_than_equal", "query", "wait"))
	}
	e, err := s.executions.Get(ctx, ownerFrom(ctx), req.SandboxId, req.ExecutionId, time.Duration(wait)*time.Second)
	if err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, toExecutionJSON(e, true))
}

// patchOf turns a merge-patch body into the service's patch.
func patchOf(b *oapigen.ExecutionPatch) core.ExecutionPatch {
	var p core.ExecutionPatch
	if b == nil {
		return p
	}
	if b.Description.Specified {
		p.SetDescription, p.Description = true, b.Description.Value
	}
	if b.Notes.Specified {
		p.SetNotes, p.Notes = true, b.Notes.Value
	}
	if b.Tags.Specified {
		p.SetTags = true
		p.Tags = tagsOf(b.Tags.Value)
	}
	return p
}

// AnnotateExecution merge-patches an execution's description, tags and notes.
func (s *Server) AnnotateExecution(ctx context.Context, req oapigen.AnnotateExecutionRequestObject) (oapigen.AnnotateExecutionResponseObject, error) {
	e, err := s.executions.Annotate(ctx, ownerFrom(ctx), req.SandboxId, req.ExecutionId, patchOf(req.JSONBody))
	if err != nil {
		return nil, fieldShape(err)
	}
	return newReply(http.StatusOK, toExecutionJSON(e, true))
}

// CancelExecution asks the runtime to cancel a running execution (agent-reach.md §2.5).
func (s *Server) CancelExecution(ctx context.Context, req oapigen.CancelExecutionRequestObject) (oapigen.CancelExecutionResponseObject, error) {
	e, err := s.executions.Cancel(ctx, ownerFrom(ctx), req.SandboxId, req.ExecutionId)
	if err != nil {
		return nil, err
	}
	return newReply(http.StatusAccepted, toExecutionJSON(e, true))
}

// startStream starts a streamed execution and answers with its events.
func (s *Server) startStream(ctx context.Context, sandboxID string, in core.ExecInput) (streamReply, error) {
	run, err := s.executions.Start(ctx, ownerFrom(ctx), sandboxID, core.ModeStream, in)
	if err != nil {
		return streamReply{}, fieldShape(err)
	}
	return streamReply{ctx: ctx, run: run, heartbeat: s.heartbeat, requestID: infoFrom(ctx).id}, nil
}

// ExecPythonStream runs Python code and streams its events as SSE (agent-reach.md §2.2).
func (s *Server) ExecPythonStream(ctx context.Context, req oapigen.ExecPythonStreamRequestObject) (oapigen.ExecPythonStreamResponseObject, error) {
	b := deref(req.Body, oapigen.ExecPythonStreamJSONRequestBody{})
	return s.startStream(ctx, req.SandboxId, execInput(core.ExecPython, b.Code, b.Timeout, nil, b.Description, b.Tags, received(ctx)))
}

// ExecShellStream runs a shell command and streams its events as SSE.
func (s *Server) ExecShellStream(ctx context.Context, req oapigen.ExecShellStreamRequestObject) (oapigen.ExecShellStreamResponseObject, error) {
	b := deref(req.Body, oapigen.ExecShellStreamJSONRequestBody{})
	return s.startStream(ctx, req.SandboxId, execInput(core.ExecShell, b.Command, b.Timeout, b.Cwd, b.Description, b.Tags, received(ctx)))
}

// startAsync submits an execution, through Idempotency when a key is sent:
// a repeated key answers the same execution and runs nothing.
func (s *Server) startAsync(ctx context.Context, sandboxID, path string, key *string, in core.ExecInput) (asyncReply, error) {
	status, body, err := s.idempotent(ctx, key, http.MethodPost, path,
		func(ctx context.Context) (int, []byte, error) {
			run, err := s.executions.Start(ctx, ownerFrom(ctx), sandboxID, core.ModeAsync, in)
			if err != nil {
				return 0, nil, fieldShape(err)
			}
			run.Detach()
			r, err := newReply(http.StatusAccepted, toExecutionJSON(run.Execution, true))
			return r.status, r.body, err
		})
	if err != nil {
		return asyncReply{}, err
	}
	return asyncReply{jsonReply{status: status, body: body}}, nil
}

// asyncReply is a 202 with the execution's Location.
type asyncReply struct{ jsonReply }

func (r asyncReply) visit(w http.ResponseWriter) error {
	var e struct {
		ID        string `json:"id"`
		SandboxID string `json:"sandbox_id"`
	}
	if json.Unmarshal(r.body, &e) == nil && e.ID != "" {
		w.Header().Set("Location", "/v1/sandboxes/"+e.SandboxID+"/executions/"+e.ID)
	}
	return r.jsonReply.visit(w)
}

// ExecPythonAsync submits Python code to run in the background (agent-reach.md §2.5).
func (s *Server) ExecPythonAsync(ctx context.Context, req oapigen.ExecPythonAsyncRequestObject) (oapigen.ExecPythonAsyncResponseObject, error) {
	b := deref(req.Body, oapigen.ExecPythonAsyncJSONRequestBody{})
	return s.startAsync(ctx, req.SandboxId, "/v1/sandboxes/"+req.SandboxId+"/python/exec/async", req.Params.IdempotencyKey,
		execInput(core.ExecPython, b.Code, b.Timeout, nil, b.Description, b.Tags, received(ctx)))
}

// ExecShellAsync submits a shell command to run in the background.
func (s *Server) ExecShellAsync(ctx context.Context, req oapigen.ExecShellAsyncRequestObject) (oapigen.ExecShellAsyncResponseObject, error) {
	b := deref(req.Body, oapigen.ExecShellAsyncJSONRequestBody{})
	return s.startAsync(ctx, req.SandboxId, "/v1/sandboxes/"+req.SandboxId+"/shell/exec/async", req.Params.IdempotencyKey,
		execInput(core.ExecShell, b.Command, b.Timeout, b.Cwd, b.Description, b.Tags, received(ctx)))
}

// GetSandboxCapabilities describes a sandbox's capabilities and runtime (agent-reach.md §6.2).
func (s *Server) GetSandboxCapabilities(ctx context.Context, req oapigen.GetSandboxCapabilitiesRequestObject) (oapigen.GetSandboxCapabilitiesResponseObject, error) {
	c, err := s.sandboxes.SandboxCapabilities(ctx, ownerFrom(ctx), req.SandboxId, deref(req.Params.Refresh, false))
	if err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, oapigen.SandboxCapabilities{
		SandboxId: c.SandboxID, Effective: nonNil(c.Effective), Runtime: c.Runtime,
		Profile: oapigen.SandboxCapabilitiesProfile{Id: c.ProfileID, Capabilities: nonNil(c.ProfileCapabilities)},
	})
}

// ListHistory is the compatibility listing of executions (offset paging).
func (s *Server) ListHistory(ctx context.Context, req oapigen.ListHistoryRequestObject) (oapigen.ListHistoryResponseObject, error) {
	p := req.Params
	limit := deref(p.Limit, 100)
	if limit < 1 || limit > 500 {
		return nil, shape(fieldErr("Input should be between 1 and 500", "less_than_equal", "query", "limit"))
	}
	offset := deref(p.Offset, 0)
	if offset < 0 {
		return nil, shape(fieldErr("Input should be greater than or equal to 0", "greater_than_equal", "query", "offset"))
	}
	kind, err := kindParam(p.ExecType, "exec_type")
	if err != nil {
		return nil, err
	}
	f := core.ExecutionFilter{Kind: kind, Limit: limit, Offset: offset, HasNotes: p.HasNotes, HasDescription: p.HasDescription}
	if deref(p.SuccessOnly, false) {
		f.Success = ptrTo(true)
	}
	if p.Tags != nil {
		if f.Tags, err = core.NormalizeTags(core.SplitTags(*p.Tags)); err != nil {
			return nil, shape(fieldErr(core.AsError(err).Message, "value_error", "query", "tags"))
		}
	}
	owner := ownerFrom(ctx)
	rows, _, err := s.executions.List(ctx, owner, req.SandboxId, f)
	if err != nil {
		return nil, err
	}
	total, err := s.executions.Count(ctx, owner, req.SandboxId, f)
	if err != nil {
		return nil, err
	}
	entries := make([]historyEntryJSON, 0, len(rows))
	for i := range rows {
		entries = append(entries, toHistoryEntry(&rows[i], false))
	}
	return newReply(http.StatusOK, struct {
		Entries []historyEntryJSON `json:"entries"`
		Total   int64              `json:"total"`
	}{entries, total})
}

func ptrTo[T any](v T) *T { return &v }

// GetLastHistoryEntry is GetLastExecution in the history entry shape.
func (s *Server) GetLastHistoryEntry(ctx context.Context, req oapigen.GetLastHistoryEntryRequestObject) (oapigen.GetLastHistoryEntryResponseObject, error) {
	kind, err := kindParam(req.Params.ExecType, "exec_type")
	if err != nil {
		return nil, err
	}
	e, err := s.executions.Last(ctx, ownerFrom(ctx), req.SandboxId, kind)
	if err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, toHistoryEntry(e, true))
}

// GetHistoryEntry is GetExecution in the history entry shape.
func (s *Server) GetHistoryEntry(ctx context.Context, req oapigen.GetHistoryEntryRequestObject) (oapigen.GetHistoryEntryResponseObject, error) {
	e, err := s.executions.Get(ctx, ownerFrom(ctx), req.SandboxId, req.ExecutionId, 0)
	if err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, toHistoryEntry(e, true))
}

// AnnotateHistoryEntry is AnnotateExecution in the history entry shape.
func (s *Server) AnnotateHistoryEntry(ctx context.Context, req oapigen.AnnotateHistoryEntryRequestObject) (oapigen.AnnotateHistoryEntryResponseObject, error) {
	e, err := s.executions.Annotate(ctx, ownerFrom(ctx), req.SandboxId, req.ExecutionId, patchOf(req.JSONBody))
	if err != nil {
		return nil, fieldShape(err)
	}
	return newReply(http.StatusOK, toHistoryEntry(e, true))
}
