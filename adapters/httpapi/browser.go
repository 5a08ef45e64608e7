package httpapi

import (
	"context"
	"net/http"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

// ExecBrowser runs one browser command (browser.md §3).
func (s *Server) ExecBrowser(ctx context.Context, req oapigen.ExecBrowserRequestObject) (oapigen.ExecBrowserResponseObject, error) {
	b := deref(req.Body, oapigen.ExecBrowserJSONRequestBody{})
	var cmd core.BrowserCommand
	switch {
	case b.Command != nil && b.Cmd != nil:
		return nil, s.refused(ctx, req.SandboxId, shape(fieldErr("Give either command or cmd, not both", "value_error", "body")))
	case b.Command != nil:
		cmd.Fields = *b.Command
	case b.Cmd != nil:
		cmd.Cmd = *b.Cmd
	default:
		return nil, s.refused(ctx, req.SandboxId, shape(fieldErr("Give command (a typed command) or cmd (a command string)", "missing", "body", "command")))
	}
	res, err := s.sandboxes.BrowserExec(ctx, ownerFrom(ctx), req.SandboxId, core.BrowserExecInput{
		Command: cmd, Timeout: deref(b.Timeout, 0), MaxOutputBytes: deref(b.MaxOutputBytes, 0),
	})
	if err != nil {
		return nil, browserShape(err)
	}
	return newReply(http.StatusOK, browserResultJSON(res))
}

// ExecBrowserBatch runs browser commands in order within one budget.
func (s *Server) ExecBrowserBatch(ctx context.Context, req oapigen.ExecBrowserBatchRequestObject) (oapigen.ExecBrowserBatchResponseObject, error) {
	b := deref(req.Body, oapigen.ExecBrowserBatchJSONRequestBody{})
	in := core.BrowserBatchInput{Timeout: deref(b.Timeout, 0), StopOnError: b.StopOnError, MaxOutputBytes: deref(b.MaxOutputBytes, 0)}
	for i, c := range b.Commands {
		switch v := c.(type) {
		case map[string]any:
			in.Commands = append(in.Commands, core.BrowserCommand{Fields: v})
		case string:
			in.Commands = append(in.Commands, core.BrowserCommand{Cmd: v})
		default:
			return nil, s.refused(ctx, req.SandboxId, shape(fieldErr("Input should be a command object or a command string", "value_error", "body", "commands", i)))
		}
	}
	res, err := s.sandboxes.BrowserExecBatch(ctx, ownerFrom(ctx), req.SandboxId, in)
	if err != nil {
		return nil, browserShape(err)
	}
	steps := make([]map[string]any, 0, len(res.Steps))
	for _, st := range res.Steps {
		m := browserResultJSON(&st.BrowserResult)
		m["step_index"], m["cmd"] = st.Index, st.Cmd
		m["stdout"], m["stderr"] = st.Output, deref(st.Error, "")
		steps = append(steps, m)
	}
	return newReply(http.StatusOK, map[string]any{
		"success": res.Success, "total_steps": res.TotalSteps, "completed_steps": res.CompletedSteps,
		"duration_ms": res.DurationMS, "results": steps,
	})
}

// browserShape turns the runtime grammar's validation error (details.field,
// e.g. "commands[2].ref") into a 422 naming that field.
func browserShape(err error) error {
	ce := core.AsError(err)
	if ce == nil || ce.Code != core.CodeValidation {
		return err
	}
	field, ok := ce.Details["field"].(string)
	if !ok {
		return err
	}
	return shape(fieldErr(ce.Message, "value_error", "body", field))
}

// browserResultJSON renders a command's result (browser.md §3.4).
func browserResultJSON(r *core.BrowserResult) map[string]any {
	var page any
	if r.Page != nil {
		page = map[string]any{"tab_id": r.Page.TabID, "url": r.Page.URL, "title": r.Page.Title}
	}
	downloads := make([]map[string]any, 0, len(r.Downloads))
	for _, d := range r.Downloads {
		downloads = append(downloads, map[string]any{"path": d.Path, "size": d.Size, "state": d.State, "url": d.URL})
	}
	dialogs := make([]map[string]any, 0, len(r.Dialogs))
	for _, d := range r.Dialogs {
		dialogs = append(dialogs, map[string]any{"type": d.Type, "message": d.Message, "url": d.URL, "accepted": d.Accepted, "prompt_text": d.PromptText})
	}
	var code any
	if r.ErrorCode != "" {
		code = r.ErrorCode
	}
	result := r.Result
	if result == nil {
		result = map[string]any{}
	}
	return map[string]any{
		"success": r.Success, "output": r.Output, "error": r.Error, "exit_code": r.ExitCode, "error_code": code,
		"result": result, "page": page, "downloads": downloads, "dialogs": dialogs, "duration_ms": r.DurationMS,
	}
}
