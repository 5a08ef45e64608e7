package mcp

import (
	"context"
	"fmt"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bayhq/bay/core"
)

// execReport is what an execute_python or execute_shell call ran into,
// whichever path (sync or stream) it took.
type execReport struct {
	kind        core.ExecutionKind
	sandboxID   string
	executionID string
	success     bool
	output      string
	errText     *string
	// bounded: output and errText are already cut to max_text_chars
	// (the stream path keeps only that much); outputCut and errCut say
	// whether anything was left out.
	bounded           bool
	outputCut, errCut bool
	exitCode          *int64
	executionCount    *int64
	timeMs            int64
	images            [][]byte
}

func (s *Server) executePython(ctx context.Context, c caller, req *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	id, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	if err := a.require("code"); err != nil {
		return nil, err
	}
	var in executePythonIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	timeout, err := intArg("timeout", in.Timeout, 30, 1, 300)
	if err != nil {
		return nil, err
	}
	ein := core.ExecInput{Kind: core.ExecPython, Code: in.Code, Timeout: timeout, Description: in.Description, Tags: in.Tags}
	rep, err := s.execute(ctx, c, req, id, ein)
	if err != nil {
		return nil, err
	}
	res := s.execResult(rep)
	if in.IncludeCode {
		out := res.StructuredContent.(pythonOut)
		out.Code = &in.Code
		res.StructuredContent = out
	}
	return res, nil
}

func (s *Server) executeShell(ctx context.Context, c caller, req *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	id, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	if err := a.require("command"); err != nil {
		return nil, err
	}
	var in executeShellIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	timeout, err := intArg("timeout", in.Timeout, 30, 1, 300)
	if err != nil {
		return nil, err
	}
	ein := core.ExecInput{Kind: core.ExecShell, Code: in.Command, Timeout: timeout, Cwd: in.Cwd,
		Description: in.Description, Tags: in.Tags}
	rep, err := s.execute(ctx, c, req, id, ein)
	if err != nil {
		return nil, err
	}
	res := s.execResult(rep)
	if in.IncludeCode {
		out := res.StructuredContent.(shellOut)
		out.Command = &in.Command
		res.StructuredContent = out
	}
	return res, nil
}

// execute runs an execution: the sync path, or the stream path when the
// client asked for progress (agent-reach.md §4.2).
func (s *Server) execute(ctx context.Context, c caller, req *sdk.CallToolRequest, sandboxID string, in core.ExecInput) (execReport, error) {
	if token := req.Params.GetProgressToken(); token != nil && req.Session != nil {
		return s.executeStream(ctx, c, req.Session, token, sandboxID, in)
	}
	out, err := s.o.Executions.Exec(ctx, c.owner, sandboxID, in)
	if err != nil {
		return execReport{}, err
	}
	e := out.Execution
	rep := execReport{kind: in.Kind, sandboxID: sandboxID, executionID: e.ID}
	if e.ExecutionTimeMs != nil {
		rep.timeMs = *e.ExecutionTimeMs
	}
	if r := out.Python; r != nil {
		rep.success, rep.output, rep.errText, rep.executionCount = r.Success, r.Output, r.Error, r.ExecutionCount
		if imgs, ok := r.Data["images"].([]any); ok {
			for _, img := range imgs {
				m, _ := img.(map[string]any)
				if b64, ok := m["image/png"].(string); ok {
					if png, err := decodeImage(b64); err == nil {
						rep.images = append(rep.images, png)
					}
				}
			}
		}
	} else if r := out.Shell; r != nil {
		rep.success, rep.output, rep.errText, rep.exitCode = r.Success, r.Output, r.Error, r.ExitCode
	}
	return rep, nil
}

// progressEvery is the least time between two progress notifications.
const progressEvery = time.Second

// executeStream runs an execution on the stream path, sending the last
// output line as a progress notification at most once a second. Only what
// the result shows of the output is kept in memory.
func (s *Server) executeStream(ctx context.Context, c caller, session *sdk.ServerSession, token any,
	sandboxID string, in core.ExecInput) (execReport, error) {
	run, err := s.o.Executions.Start(ctx, c.owner, sandboxID, core.ModeStream, in)
	if err != nil {
		return execReport{}, err
	}
	defer run.Detach()
	row := run.Execution
	hint := recordHint(sandboxID, row.ID)
	out, stderr := newKeeper(s.o.MaxTextChars), newKeeper(s.o.MaxTextChars)
	last := out
	var images [][]byte
	var sent time.Time
	var progress float64
	dirty := false
	write := func(k *keeper, text string) {
		if text == "" {
			return
		}
		k.WriteString(text)
		last, dirty = k, true
	}
	for ended := false; !ended; {
		ev, ok, done := run.Next(ctx, progressEvery)
		if done {
			if ctx.Err() != nil {
				return execReport{}, ctx.Err()
			}
			// This reader fell behind and the run dropped it: the result
			// still lands in the row.
			return s.awaitRow(ctx, c, in.Kind, sandboxID, row.ID)
		}
		if ok {
			switch ev.Name {
			case "stdout":
				write(out, str(ev.Data["text"]))
			case "stderr":
				if in.Kind == core.ExecPython {
					write(out, str(ev.Data["text"]))
				} else {
					write(stderr, str(ev.Data["text"]))
				}
			case "display_data", "result":
				bundle, _ := ev.Data["data"].(map[string]any)
				png, hasPNG := bundle["image/png"].(string)
				if hasPNG {
					if b, err := decodeImage(png); err == nil {
						images = append(images, b)
					}
				}
				if plain, ok := bundle["text/plain"].(string); ok && (ev.Name == "result" || !hasPNG) {
					write(out, plain)
				}
			case "fault":
				fault := ev.Fault
				if fault == nil {
					fault = core.Errorf(core.CodeInternal, "An internal error occurred")
				}
				d := map[string]any{}
				for k, v := range fault.Details {
					d[k] = v
				}
				d["execution_id"] = row.ID
				return execReport{}, &core.Error{Code: fault.Code, Message: fault.Message, Details: d, Err: fault.Err}
			case "done":
				ended = true
			}
		}
		if dirty && !ended && time.Since(sent) >= progressEvery {
			progress++
			_ = session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{
				ProgressToken: token, Progress: progress, Message: last.LastLine(),
			})
			sent, dirty = time.Now(), false
		}
	}
	// The run wrote the result onto its row before sending done.
	rep := reportOfRow(row)
	rep.images = images
	rep.bounded = true
	// The row's output follows the sync answer's rules exactly; when the
	// history bound cut it, the stream's own text has more.
	if row.OutputTruncated {
		rep.output, rep.outputCut = out.Result(hint)
	} else {
		rep.output, rep.outputCut = Truncate(row.Output, s.o.MaxTextChars, hint)
	}
	if in.Kind == core.ExecShell && row.ErrorTruncated {
		e, cut := stderr.Result(hint)
		rep.errText, rep.errCut = &e, cut
	} else if row.Error != nil {
		e, cut := Truncate(*row.Error, s.o.MaxTextChars, hint)
		rep.errText, rep.errCut = &e, cut || row.ErrorTruncated
	}
	return rep, nil
}

// awaitRow waits for an execution to leave running and reports its row.
func (s *Server) awaitRow(ctx context.Context, c caller, kind core.ExecutionKind, sandboxID, id string) (execReport, error) {
	for {
		e, err := s.o.Executions.Get(ctx, c.owner, sandboxID, id, 60*time.Second)
		if err != nil {
			return execReport{}, err
		}
		if e.Status != core.ExecRunning {
			rep := reportOfRow(e)
			rep.kind = kind
			for _, img := range e.Images {
				if png, err := decodeImage(img); err == nil {
					rep.images = append(rep.images, png)
				}
			}
			return rep, nil
		}
		if ctx.Err() != nil {
			return execReport{}, ctx.Err()
		}
	}
}

// reportOfRow reports a finished row; its text is bounded by the history
// limits, not yet by max_text_chars.
func reportOfRow(e *core.Execution) execReport {
	rep := execReport{
		kind: e.Kind, sandboxID: e.SandboxID, executionID: e.ID, output: e.Output, errText: e.Error,
		exitCode: e.ExitCode, executionCount: e.ExecutionCount,
	}
	if e.Success != nil {
		rep.success = *e.Success
	}
	if e.ExecutionTimeMs != nil {
		rep.timeMs = *e.ExecutionTimeMs
	}
	if e.Status == core.ExecLost && e.Error != nil {
		code := core.CodeInternal
		if e.ErrorCode != nil {
			code = core.Code(*e.ErrorCode)
		}
		rep.errText = ptr(fmt.Sprintf("[%s] %s", code, *e.Error))
	}
	return rep
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// execResult renders an execution's report (agent-reach.md §4.4): the
// structured content with output and error cut to max_text_chars, a text
// block (python: output then traceback; shell: stdout, then stderr under a
// "stderr:" line; ANSI escapes stripped; a last line naming the execution)
// and the images as image blocks.
func (s *Server) execResult(r execReport) *sdk.CallToolResult {
	if !r.bounded {
		hint := recordHint(r.sandboxID, r.executionID)
		r.output, r.outputCut = Truncate(r.output, s.o.MaxTextChars, hint)
		if r.errText != nil {
			e, cut := Truncate(*r.errText, s.o.MaxTextChars, hint)
			r.errText, r.errCut = &e, cut
		}
	}
	var text strings.Builder
	text.WriteString(StripANSI(r.output))
	errText := ""
	if r.errText != nil {
		errText = StripANSI(*r.errText)
	}
	sep := func() {
		if text.Len() > 0 && !strings.HasSuffix(text.String(), "\n") {
			text.WriteByte('\n')
		}
	}
	var structured any
	status := fmt.Sprintf("[execution_id=%s success=%t", r.executionID, r.success)
	if r.kind == core.ExecShell {
		if errText != "" {
			sep()
			text.WriteString("stderr:\n" + errText)
		}
		exit := "null"
		if r.exitCode != nil {
			exit = fmt.Sprint(*r.exitCode)
		}
		status += " exit_code=" + exit
		structured = shellOut{
			Success: r.success, ExitCode: r.exitCode, Output: r.output, Error: r.errText, ExecutionID: r.executionID,
			ExecutionTimeMs: r.timeMs, OutputTruncated: r.outputCut, ErrorTruncated: r.errCut,
		}
	} else {
		if errText != "" {
			sep()
			text.WriteString(errText)
		}
		structured = pythonOut{
			Success: r.success, Output: r.output, Error: r.errText, ExecutionID: r.executionID,
			ExecutionTimeMs: r.timeMs, ExecutionCount: r.executionCount, ImageCount: len(r.images),
			OutputTruncated: r.outputCut, ErrorTruncated: r.errCut,
		}
	}
	sep()
	fmt.Fprintf(&text, "%s time_ms=%d]", status, r.timeMs)
	res := &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: text.String()}}, StructuredContent: structured}
	for _, png := range r.images {
		res.Content = append(res.Content, &sdk.ImageContent{Data: png, MIMEType: "image/png"})
	}
	return res
}

func (s *Server) startExecution(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	id, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	if err := a.require("kind", "code"); err != nil {
		return nil, err
	}
	var in startExecutionIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	kind, err := kindArg("kind", in.Kind)
	if err != nil {
		return nil, err
	}
	if kind == "" {
		return nil, argInvalid("kind", "kind must be python or shell")
	}
	if kind == core.ExecPython && in.Cwd != nil {
		return nil, argInvalid("cwd", "cwd applies to shell executions only")
	}
	timeout, err := intArg("timeout", in.Timeout, 30, 1, 3600)
	if err != nil {
		return nil, err
	}
	run, err := s.o.Executions.Start(ctx, c.owner, id, core.ModeAsync, core.ExecInput{
		Kind: kind, Code: in.Code, Timeout: timeout, Cwd: in.Cwd, Description: in.Description, Tags: in.Tags,
	})
	if err != nil {
		return nil, err
	}
	run.Detach()
	// The run goes on in the background and writes its row; read the row
	// as stored rather than the run's copy.
	e, err := s.o.Executions.Get(ctx, c.owner, id, run.Execution.ID, 0)
	if err != nil {
		return nil, err
	}
	return s.executionResult(e), nil
}
