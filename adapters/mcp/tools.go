package mcp

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bayhq/bay/core"
)

// tool is one row of the tool table (agent-reach.md §4.2).
type tool struct {
	name, description string
	// needs names the capabilities of which a configured profile must list
	// one for the tool to be registered; empty means always.
	needs []string
	// scope is what the caller's key must hold; "" means none (the
	// equivalent REST route is public).
	scope       string
	readOnly    bool
	destructive bool
	in, out     *jsonschema.Schema
	run         func(ctx context.Context, c caller, req *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error)
}

// Tool names, as upstream named them where it had them.
const (
	toolListProfiles       = "list_profiles"
	toolCreateSandbox      = "create_sandbox"
	toolListSandboxes      = "list_sandboxes"
	toolGetSandbox         = "get_sandbox"
	toolStopSandbox        = "stop_sandbox"
	toolDeleteSandbox      = "delete_sandbox"
	toolExtendSandboxTTL   = "extend_sandbox_ttl"
	toolExecutePython      = "execute_python"
	toolExecuteShell       = "execute_shell"
	toolStartExecution     = "start_execution"
	toolGetExecution       = "get_execution"
	toolCancelExecution    = "cancel_execution"
	toolExecutionHistory   = "get_execution_history"
	toolLastExecution      = "get_last_execution"
	toolAnnotateExecution  = "annotate_execution"
	toolReadFile           = "read_file"
	toolWriteFile          = "write_file"
	toolListFiles          = "list_files"
	toolDeleteFile         = "delete_file"
	toolSandboxCapabilites = "get_sandbox_capabilities"
)

var execNeeds = []string{core.CapabilityPython, core.CapabilityShell}

// table returns the tool table, in the spec's order.
func (s *Server) table() []tool {
	profileIDs := []string{}
	for _, p := range s.o.Sandboxes.Profiles() {
		profileIDs = append(profileIDs, p.ID)
	}
	kinds := []string{}
	for _, k := range []string{core.CapabilityPython, core.CapabilityShell} {
		if s.caps[k] {
			kinds = append(kinds, k)
		}
	}
	statuses := []string{}
	for _, st := range core.SandboxStatuses {
		if st != core.StatusDeleted {
			statuses = append(statuses, string(st))
		}
	}
	sandboxID := func(p props) props { return p.pattern("sandbox_id", sandboxIDPattern) }
	annotations := func(p props) props {
		return p.maxLength("description", core.MaxDescriptionChars).maxItems("tags", core.MaxTags)
	}
	return []tool{
		{
			name: toolListProfiles, readOnly: true,
			description: "List the sandbox profiles this Bay offers: image, resources, capabilities (python, shell, filesystem), idle timeout and network policy.",
			in:          inputSchema[struct{}](nil), out: outputSchema[profileListJSON](),
			run: s.listProfiles,
		},
		{
			name: toolCreateSandbox, scope: ScopeSandboxes,
			description: "Create a sandbox and return it. Reuse one sandbox for a whole task; files in its /workspace persist. " +
				"ttl is in seconds (0 = never expires); locker_id mounts an existing locker instead of a new one.",
			in: inputSchema[createSandboxIn](func(p props) {
				p.enum("profile", profileIDs...).minimum("ttl", 0).def("ttl", s.o.DefaultTTL).pattern("locker_id", lockerIDPattern)
			}),
			out: outputSchema[sandboxJSON](),
			run: s.createSandbox,
		},
		{
			name: toolListSandboxes, scope: ScopeSandboxes, readOnly: true,
			description: "List your sandboxes, newest first; pass next_cursor as cursor for the next page.",
			in: inputSchema[listSandboxesIn](func(p props) {
				p.enum("status", statuses...).rangeOf("limit", 1, 200).def("limit", 20)
			}),
			out: outputSchema[sandboxListJSON](),
			run: s.listSandboxes,
		},
		{
			name: toolGetSandbox, scope: ScopeSandboxes, readOnly: true,
			description: "Get a sandbox: status, profile, capabilities and deadlines.",
			in:          inputSchema[sandboxIn](func(p props) { sandboxID(p) }), out: outputSchema[sandboxJSON](),
			run: s.getSandbox,
		},
		{
			name: toolStopSandbox, scope: ScopeSandboxes,
			description: "Stop a sandbox's compute. Files persist; Python state is lost. The next call starts it again.",
			in:          inputSchema[sandboxIn](func(p props) { sandboxID(p) }), out: outputSchema[statusJSON](),
			run: s.stopSandbox,
		},
		{
			name: toolDeleteSandbox, scope: ScopeSandboxes, destructive: true,
			description: "Delete a sandbox, its compute, its managed locker (workspace files) and its execution history.",
			in:          inputSchema[sandboxIn](func(p props) { sandboxID(p) }), out: outputSchema[deletedJSON](),
			run: s.deleteSandbox,
		},
		{
			name: toolExtendSandboxTTL, scope: ScopeSandboxes,
			description: "Push a sandbox's expiry back by extend_by seconds.",
			in: inputSchema[extendTTLIn](func(p props) {
				sandboxID(p).minimum("extend_by", 1)
			}),
			out: outputSchema[sandboxJSON](),
			run: s.extendTTL,
		},
		{
			name: toolExecutePython, scope: ScopeSandboxes, needs: []string{core.CapabilityPython},
			description: "Run Python code in the sandbox's persistent kernel (variables survive between calls) and return its output, " +
				"error and execution_id; plots come back as images. timeout is in seconds (1-300).",
			in: inputSchema[executePythonIn](func(p props) {
				annotations(sandboxID(p).rangeOf("timeout", 1, 300).def("timeout", 30))
			}),
			out: outputSchema[pythonOut](),
			run: s.executePython,
		},
		{
			name: toolExecuteShell, scope: ScopeSandboxes, needs: []string{core.CapabilityShell},
			description: "Run a shell command (bash) in the sandbox and return stdout, stderr, exit_code and execution_id. " +
				"cwd is relative to /workspace; timeout is in seconds (1-300).",
			in: inputSchema[executeShellIn](func(p props) {
				annotations(sandboxID(p).rangeOf("timeout", 1, 300).def("timeout", 30))
			}),
			out: outputSchema[shellOut](),
			run: s.executeShell,
		},
		{
			name: toolStartExecution, scope: ScopeSandboxes, needs: execNeeds,
			description: "Start a long python or shell execution in the background (timeout up to 3600 s) and return it at once; " +
				"poll it with get_execution (wait_seconds) and stop it with cancel_execution.",
			in: inputSchema[startExecutionIn](func(p props) {
				annotations(sandboxID(p).enum("kind", kinds...).rangeOf("timeout", 1, 3600).def("timeout", 30))
			}),
			out: outputSchema[executionJSON](),
			run: s.startExecution,
		},
		{
			name: toolGetExecution, scope: ScopeSandboxes, needs: execNeeds, readOnly: true,
			description: "Get an execution by id; with wait_seconds (0-60), wait while it is still running.",
			in: inputSchema[getExecutionIn](func(p props) {
				sandboxID(p).pattern("execution_id", executionIDPattern).rangeOf("wait_seconds", 0, 60).def("wait_seconds", 0)
			}),
			out: outputSchema[executionJSON](),
			run: s.getExecution,
		},
		{
			name: toolCancelExecution, scope: ScopeSandboxes, needs: execNeeds,
			description: "Cancel a running execution; it turns cancelled when the runtime confirms.",
			in: inputSchema[executionIn](func(p props) {
				sandboxID(p).pattern("execution_id", executionIDPattern)
			}),
			out: outputSchema[executionJSON](),
			run: s.cancelExecution,
		},
		{
			name: toolExecutionHistory, scope: ScopeSandboxes, needs: execNeeds, readOnly: true,
			description: "List a sandbox's executions, newest first, filtered by kind, success and tags (a row must carry all); " +
				"pass next_cursor as cursor for the next page.",
			in: inputSchema[historyIn](func(p props) {
				sandboxID(p).enum("kind", kinds...).enum("exec_type", kinds...).rangeOf("limit", 1, 200).def("limit", 20).
					maxItems("tags", core.MaxTags)
			}),
			out: outputSchema[executionListJSON](),
			run: s.executionHistory,
		},
		{
			name: toolLastExecution, scope: ScopeSandboxes, needs: execNeeds, readOnly: true,
			description: "Get a sandbox's newest execution, of kind if given.",
			in:          inputSchema[lastExecutionIn](func(p props) { sandboxID(p).enum("kind", kinds...) }),
			out:         outputSchema[executionJSON](),
			run:         s.lastExecution,
		},
		{
			name: toolAnnotateExecution, scope: ScopeSandboxes, needs: execNeeds,
			description: "Set an execution's description, tags and notes; an argument left out is kept, null clears it.",
			in: inputSchema[annotateIn](func(p props) {
				sandboxID(p).pattern("execution_id", executionIDPattern).
					maxLength("description", core.MaxDescriptionChars).maxLength("notes", core.MaxNotesChars).
					maxItems("tags", core.MaxTags).nullable("description").nullable("notes").nullable("tags")
			}),
			out: outputSchema[executionJSON](),
			run: s.annotateExecution,
		},
		{
			name: toolReadFile, scope: ScopeSandboxes, needs: []string{core.CapabilityFilesystem}, readOnly: true,
			description: "Read a file of the sandbox's workspace (path relative to /workspace): UTF-8 text, or base64 for binary files.",
			in: inputSchema[readFileIn](func(p props) {
				sandboxID(p).enum("encoding", "text", "base64").def("encoding", "text")
			}),
			out: outputSchema[readFileOut](),
			run: s.readFile,
		},
		{
			name: toolWriteFile, scope: ScopeSandboxes, needs: []string{core.CapabilityFilesystem},
			description: "Write a file of the sandbox's workspace (path relative to /workspace), creating parent directories; " +
				"content is UTF-8 text, or base64 with encoding=base64.",
			in: inputSchema[writeFileIn](func(p props) {
				sandboxID(p).enum("encoding", "text", "base64").def("encoding", "text")
			}),
			out: outputSchema[writeFileOut](),
			run: s.writeFile,
		},
		{
			name: toolListFiles, scope: ScopeSandboxes, needs: []string{core.CapabilityFilesystem}, readOnly: true,
			description: "List a directory of the sandbox's workspace (path relative to /workspace; default the workspace itself).",
			in:          inputSchema[listFilesIn](func(p props) { sandboxID(p).def("path", ".") }),
			out:         outputSchema[listingJSON](),
			run:         s.listFiles,
		},
		{
			name: toolDeleteFile, scope: ScopeSandboxes, needs: []string{core.CapabilityFilesystem}, destructive: true,
			description: "Delete a file, or a directory with everything in it, from the sandbox's workspace.",
			in:          inputSchema[pathIn](func(p props) { sandboxID(p) }),
			out:         outputSchema[deletedJSON](),
			run:         s.deleteFile,
		},
		{
			name: toolSandboxCapabilites, scope: ScopeSandboxes, readOnly: true,
			description: "Describe what a sandbox can do and what its runtime contains: Python version and packages, shell tools, limits.",
			in:          inputSchema[sandboxIn](func(p props) { sandboxID(p) }),
			out:         outputSchema[capabilitiesJSON](),
			run:         s.sandboxCapabilities,
		},
	}
}

// registerTools adds the tools whose needs a configured profile meets.
func (s *Server) registerTools() {
	for _, t := range s.table() {
		if len(t.needs) > 0 && !slices.ContainsFunc(t.needs, func(c string) bool { return s.caps[c] }) {
			continue
		}
		ann := &sdk.ToolAnnotations{ReadOnlyHint: t.readOnly}
		if t.destructive {
			ann.DestructiveHint = ptr(true)
		}
		s.srv.AddTool(&sdk.Tool{
			Name: t.name, Description: t.description, InputSchema: t.in, OutputSchema: t.out, Annotations: ann,
		}, s.handler(t))
		s.tools = append(s.tools, t.name)
	}
}

// handler wraps a tool's work: authentication from the request's headers,
// the scope, the arguments, and any failure as an isError result.
func (s *Server) handler(t tool) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		c, err := s.callerOf(req.Extra)
		var res *sdk.CallToolResult
		if err == nil && t.scope != "" {
			err = c.need(t.scope)
		}
		var a args
		if err == nil {
			a, err = parseArgs(req.Params.Arguments)
		}
		if err == nil {
			res, err = t.run(ctx, c, req, a)
		}
		outcome := "success"
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				s.o.Metrics.MCPToolCall(t.name, "error")
				return nil, err // the client is gone: nobody reads a result
			}
			if ce := core.AsError(err); ce == nil || ce.Code == core.CodeInternal {
				s.log.ErrorContext(ctx, "mcp tool failed", "tool", t.name, "owner", c.owner,
					"request_id", c.requestID, "err", err)
			}
			res, outcome = ErrorResult(err, c.requestID), "error"
		}
		s.o.Metrics.MCPToolCall(t.name, outcome)
		return res, nil
	}
}

func ptr[T any](v T) *T { return &v }

// Inputs and outputs. jsonschema tags are the properties' descriptions.

type sandboxIn struct {
	SandboxID string `json:"sandbox_id" jsonschema:"the sandbox id (sandbox-<12 hex digits>)"`
}

type createSandboxIn struct {
	Profile  string `json:"profile,omitempty" jsonschema:"the profile id (default python-default)"`
	TTL      *int64 `json:"ttl,omitempty" jsonschema:"seconds until the sandbox expires; 0 means never"`
	LockerID string `json:"locker_id,omitempty" jsonschema:"an existing locker to mount at /workspace"`
}

type listSandboxesIn struct {
	Status string `json:"status,omitempty" jsonschema:"only sandboxes with this status"`
	Limit  *int   `json:"limit,omitempty" jsonschema:"page size, 1-200"`
	Cursor string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page"`
}

type extendTTLIn struct {
	SandboxID string `json:"sandbox_id" jsonschema:"the sandbox id"`
	ExtendBy  int64  `json:"extend_by" jsonschema:"seconds to add to the sandbox's expiry"`
}

type statusJSON struct {
	Status string `json:"status"`
}

type deletedJSON struct {
	Deleted bool `json:"deleted"`
}

type executePythonIn struct {
	SandboxID   string  `json:"sandbox_id" jsonschema:"the sandbox id"`
	Code        string  `json:"code" jsonschema:"Python code to run"`
	Timeout     *int    `json:"timeout,omitempty" jsonschema:"seconds before the execution is interrupted"`
	Description *string `json:"description,omitempty" jsonschema:"what this execution does, kept in the history"`
	Tags        tagList `json:"tags,omitempty" jsonschema:"labels kept in the history (a list, or a comma-separated string)"`
	IncludeCode bool    `json:"include_code,omitempty" jsonschema:"echo the code in the result"`
}

type executeShellIn struct {
	SandboxID   string  `json:"sandbox_id" jsonschema:"the sandbox id"`
	Command     string  `json:"command" jsonschema:"the shell command to run"`
	Cwd         *string `json:"cwd,omitempty" jsonschema:"working directory relative to /workspace"`
	Timeout     *int    `json:"timeout,omitempty" jsonschema:"seconds before the command is killed"`
	Description *string `json:"description,omitempty" jsonschema:"what this execution does, kept in the history"`
	Tags        tagList `json:"tags,omitempty" jsonschema:"labels kept in the history (a list, or a comma-separated string)"`
	IncludeCode bool    `json:"include_code,omitempty" jsonschema:"echo the command in the result"`
}

type pythonOut struct {
	Success         bool    `json:"success"`
	Output          string  `json:"output"`
	Error           *string `json:"error"`
	ExecutionID     string  `json:"execution_id"`
	ExecutionTimeMs int64   `json:"execution_time_ms"`
	ExecutionCount  *int64  `json:"execution_count"`
	ImageCount      int     `json:"image_count"`
	OutputTruncated bool    `json:"output_truncated,omitempty"`
	ErrorTruncated  bool    `json:"error_truncated,omitempty"`
	Code            *string `json:"code,omitempty"`
}

type shellOut struct {
	Success         bool    `json:"success"`
	ExitCode        *int64  `json:"exit_code"`
	Output          string  `json:"output"`
	Error           *string `json:"error"`
	ExecutionID     string  `json:"execution_id"`
	ExecutionTimeMs int64   `json:"execution_time_ms"`
	OutputTruncated bool    `json:"output_truncated,omitempty"`
	ErrorTruncated  bool    `json:"error_truncated,omitempty"`
	Command         *string `json:"command,omitempty"`
}

type startExecutionIn struct {
	SandboxID   string  `json:"sandbox_id" jsonschema:"the sandbox id"`
	Kind        string  `json:"kind" jsonschema:"python or shell"`
	Code        string  `json:"code" jsonschema:"the Python code or the shell command"`
	Cwd         *string `json:"cwd,omitempty" jsonschema:"shell only: working directory relative to /workspace"`
	Timeout     *int    `json:"timeout,omitempty" jsonschema:"seconds before the execution is stopped"`
	Description *string `json:"description,omitempty" jsonschema:"what this execution does, kept in the history"`
	Tags        tagList `json:"tags,omitempty" jsonschema:"labels kept in the history (a list, or a comma-separated string)"`
}

type executionIn struct {
	SandboxID   string `json:"sandbox_id" jsonschema:"the sandbox id"`
	ExecutionID string `json:"execution_id" jsonschema:"the execution id (exec-<12 hex digits>)"`
}

type getExecutionIn struct {
	SandboxID   string `json:"sandbox_id" jsonschema:"the sandbox id"`
	ExecutionID string `json:"execution_id" jsonschema:"the execution id"`
	WaitSeconds *int   `json:"wait_seconds,omitempty" jsonschema:"while the execution runs, wait up to this many seconds for it to end"`
}

type historyIn struct {
	SandboxID string  `json:"sandbox_id" jsonschema:"the sandbox id"`
	Kind      string  `json:"kind,omitempty" jsonschema:"python or shell"`
	ExecType  string  `json:"exec_type,omitempty" jsonschema:"alias of kind"`
	Success   *bool   `json:"success,omitempty" jsonschema:"only finished executions with this outcome"`
	Tags      tagList `json:"tags,omitempty" jsonschema:"only executions carrying all these tags"`
	Limit     *int    `json:"limit,omitempty" jsonschema:"page size, 1-200"`
	Cursor    string  `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page"`
}

type lastExecutionIn struct {
	SandboxID string `json:"sandbox_id" jsonschema:"the sandbox id"`
	Kind      string `json:"kind,omitempty" jsonschema:"python or shell"`
}

type annotateIn struct {
	SandboxID   string  `json:"sandbox_id" jsonschema:"the sandbox id"`
	ExecutionID string  `json:"execution_id" jsonschema:"the execution id"`
	Description *string `json:"description,omitempty" jsonschema:"new description; null clears it"`
	Tags        tagList `json:"tags,omitempty" jsonschema:"new tags (replacing the old ones); null clears them"`
	Notes       *string `json:"notes,omitempty" jsonschema:"new notes; null clears them"`
}

type readFileIn struct {
	SandboxID string `json:"sandbox_id" jsonschema:"the sandbox id"`
	Path      string `json:"path" jsonschema:"file path relative to /workspace"`
	Encoding  string `json:"encoding,omitempty" jsonschema:"text (UTF-8) or base64"`
}

type readFileOut struct {
	Path            string `json:"path"`
	Content         string `json:"content"`
	Encoding        string `json:"encoding"`
	Bytes           int64  `json:"bytes"`
	OutputTruncated bool   `json:"output_truncated,omitempty"`
}

type writeFileIn struct {
	SandboxID string `json:"sandbox_id" jsonschema:"the sandbox id"`
	Path      string `json:"path" jsonschema:"file path relative to /workspace"`
	Content   string `json:"content" jsonschema:"the file's content"`
	Encoding  string `json:"encoding,omitempty" jsonschema:"text (UTF-8) or base64"`
}

type writeFileOut struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

type listFilesIn struct {
	SandboxID string `json:"sandbox_id" jsonschema:"the sandbox id"`
	Path      string `json:"path,omitempty" jsonschema:"directory relative to /workspace"`
}

type pathIn struct {
	SandboxID string `json:"sandbox_id" jsonschema:"the sandbox id"`
	Path      string `json:"path" jsonschema:"path relative to /workspace"`
}

// The tools' work.

func (s *Server) listProfiles(ctx context.Context, _ caller, _ *sdk.CallToolRequest, _ args) (*sdk.CallToolResult, error) {
	return jsonResult(toProfiles(s.o.Sandboxes.Profiles())), nil
}

func (s *Server) createSandbox(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	var in createSandboxIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	if in.LockerID != "" {
		if err := checkID("locker_id", in.LockerID, lockerIDPattern, "locker-<12 lowercase hex digits>"); err != nil {
			return nil, err
		}
	}
	ttl := s.o.DefaultTTL
	if in.TTL != nil {
		if *in.TTL < 0 {
			return nil, argInvalid("ttl", "ttl must be at least 0 (0 means never)")
		}
		ttl = *in.TTL
	}
	info, err := s.o.Sandboxes.Create(ctx, c.owner, core.CreateSandboxInput{Profile: in.Profile, LockerID: in.LockerID, TTL: ttl})
	if err != nil {
		return nil, err
	}
	return jsonResult(toSandbox(info)), nil
}

func (s *Server) listSandboxes(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	var in listSandboxesIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	limit, err := intArg("limit", in.Limit, 20, 1, 200)
	if err != nil {
		return nil, err
	}
	page, err := s.o.Sandboxes.List(ctx, c.owner, in.Cursor, limit, in.Status)
	if err != nil {
		return nil, err
	}
	out := sandboxListJSON{Items: make([]sandboxJSON, 0, len(page.Items)), NextCursor: optional(page.NextCursor)}
	for i := range page.Items {
		out.Items = append(out.Items, toSandbox(&page.Items[i]))
	}
	return jsonResult(out), nil
}

// sandboxArg reads and checks the sandbox_id argument.
func sandboxArg(a args) (string, error) {
	if err := a.require("sandbox_id"); err != nil {
		return "", err
	}
	var in sandboxIn
	if err := a.decode(&in); err != nil {
		return "", err
	}
	return in.SandboxID, CheckSandboxID("sandbox_id", in.SandboxID)
}

// executionArgs reads and checks sandbox_id and execution_id.
func executionArgs(a args) (sandboxID, executionID string, err error) {
	if sandboxID, err = sandboxArg(a); err != nil {
		return "", "", err
	}
	if err := a.require("execution_id"); err != nil {
		return "", "", err
	}
	var in executionIn
	if err := a.decode(&in); err != nil {
		return "", "", err
	}
	return sandboxID, in.ExecutionID, CheckExecutionID("execution_id", in.ExecutionID)
}

func (s *Server) getSandbox(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	id, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	info, err := s.o.Sandboxes.Get(ctx, c.owner, id)
	if err != nil {
		return nil, err
	}
	return jsonResult(toSandbox(info)), nil
}

func (s *Server) stopSandbox(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	id, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	if err := s.o.Sandboxes.Stop(ctx, c.owner, id); err != nil {
		return nil, err
	}
	return jsonResult(statusJSON{Status: "stopped"}), nil
}

func (s *Server) deleteSandbox(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	id, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	if err := s.o.Sandboxes.Delete(ctx, c.owner, id); err != nil {
		return nil, err
	}
	return jsonResult(deletedJSON{Deleted: true}), nil
}

func (s *Server) extendTTL(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	id, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	if err := a.require("extend_by"); err != nil {
		return nil, err
	}
	var in extendTTLIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	info, err := s.o.Sandboxes.ExtendTTL(ctx, c.owner, id, in.ExtendBy)
	if err != nil {
		return nil, err
	}
	return jsonResult(toSandbox(info)), nil
}

func (s *Server) sandboxCapabilities(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	id, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	caps, err := s.o.Sandboxes.SandboxCapabilities(ctx, c.owner, id, false)
	if err != nil {
		return nil, err
	}
	return jsonResult(capabilitiesJSON{
		SandboxID: caps.SandboxID, Effective: nonNil(caps.Effective), Runtime: caps.Runtime,
		Profile: capabilitiesProfile{ID: caps.ProfileID, Capabilities: nonNil(caps.ProfileCapabilities)},
	}), nil
}

// Execution records.

// executionResult renders an execution: its text fields bounded, the text
// block the JSON without images, and its images as image blocks.
func (s *Server) executionResult(e *core.Execution) *sdk.CallToolResult {
	full := toExecution(e, true).bounded(s.o.MaxTextChars)
	bare := full
	bare.Images = nil
	res := jsonResult(full)
	if b, err := marshalJSON(bare); err == nil {
		res.Content = []sdk.Content{&sdk.TextContent{Text: string(b)}}
	}
	for _, img := range e.Images {
		if png, err := decodeImage(img); err == nil {
			res.Content = append(res.Content, &sdk.ImageContent{Data: png, MIMEType: "image/png"})
		}
	}
	return res
}

func (s *Server) getExecution(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	sandboxID, execID, err := executionArgs(a)
	if err != nil {
		return nil, err
	}
	var in getExecutionIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	wait, err := intArg("wait_seconds", in.WaitSeconds, 0, 0, 60)
	if err != nil {
		return nil, err
	}
	e, err := s.o.Executions.Get(ctx, c.owner, sandboxID, execID, time.Duration(wait)*time.Second)
	if err != nil {
		return nil, err
	}
	return s.executionResult(e), nil
}

func (s *Server) cancelExecution(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	sandboxID, execID, err := executionArgs(a)
	if err != nil {
		return nil, err
	}
	e, err := s.o.Executions.Cancel(ctx, c.owner, sandboxID, execID)
	if err != nil {
		return nil, err
	}
	return s.executionResult(e), nil
}

// kindArg checks an execution kind argument ("" means any).
func kindArg(field, kind string) (core.ExecutionKind, error) {
	switch k := core.ExecutionKind(kind); k {
	case "", core.ExecPython, core.ExecShell:
		return k, nil
	}
	return "", argInvalid(field, "%s must be python or shell", field)
}

func (s *Server) executionHistory(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	sandboxID, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	var in historyIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	f := core.ExecutionFilter{Success: in.Success}
	field, kind := "kind", in.Kind
	if kind == "" {
		field, kind = "exec_type", in.ExecType
	}
	if f.Kind, err = kindArg(field, kind); err != nil {
		return nil, err
	}
	if f.Limit, err = intArg("limit", in.Limit, 20, 1, 200); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if f.Tags, err = core.NormalizeTags(in.Tags); err != nil {
			return nil, argInvalid("tags", "%s", core.AsError(err).Message)
		}
	}
	if in.Cursor != "" {
		if f.After, err = decodeCursor(in.Cursor); err != nil {
			return nil, err
		}
	}
	rows, next, err := s.o.Executions.List(ctx, c.owner, sandboxID, f)
	if err != nil {
		return nil, err
	}
	out := executionListJSON{Items: make([]executionJSON, 0, len(rows)), NextCursor: encodeCursor(next)}
	for i := range rows {
		out.Items = append(out.Items, toExecution(&rows[i], false).bounded(s.o.MaxTextChars))
	}
	return jsonResult(out), nil
}

func (s *Server) lastExecution(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	sandboxID, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	var in lastExecutionIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	kind, err := kindArg("kind", in.Kind)
	if err != nil {
		return nil, err
	}
	e, err := s.o.Executions.Last(ctx, c.owner, sandboxID, kind)
	if err != nil {
		return nil, err
	}
	return s.executionResult(e), nil
}

func (s *Server) annotateExecution(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	sandboxID, execID, err := executionArgs(a)
	if err != nil {
		return nil, err
	}
	var in annotateIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	// Merge-patch: an argument left out is kept, null clears it.
	p := core.ExecutionPatch{
		SetDescription: a.has("description"), Description: in.Description,
		SetNotes: a.has("notes"), Notes: in.Notes,
		SetTags: a.has("tags"), Tags: in.Tags,
	}
	e, err := s.o.Executions.Annotate(ctx, c.owner, sandboxID, execID, p)
	if err != nil {
		return nil, err
	}
	return s.executionResult(e), nil
}

// Files.

func (s *Server) readFile(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	id, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	if err := a.require("path"); err != nil {
		return nil, err
	}
	var in readFileIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	switch in.Encoding {
	case "", "text":
		content, err := s.o.Sandboxes.ReadFile(ctx, c.owner, id, in.Path)
		if err != nil {
			return nil, err
		}
		out := readFileOut{Path: normalized(in.Path), Encoding: "text", Bytes: int64(len(content))}
		out.Content, out.OutputTruncated = Truncate(content, s.o.MaxTextChars, fileHint)
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: StripANSI(out.Content)}}, StructuredContent: out}, nil
	case "base64":
		b, err := s.download(ctx, c.owner, id, in.Path, s.o.MaxResourceBytes)
		if err != nil {
			return nil, err
		}
		out := readFileOut{Path: normalized(in.Path), Encoding: "base64", Bytes: int64(len(b)), Content: base64.StdEncoding.EncodeToString(b)}
		return jsonResult(out), nil
	default:
		return nil, argInvalid("encoding", "encoding must be text or base64")
	}
}

// download reads a whole file of a sandbox, refusing one over limit bytes
// (payload_too_large) without reading more than limit+1 bytes.
func (s *Server) download(ctx context.Context, owner, id, path string, limit int64) ([]byte, error) {
	d, err := s.o.Sandboxes.Download(ctx, owner, id, path)
	if err != nil {
		return nil, err
	}
	defer d.Body.Close()
	if d.Size > limit {
		return nil, tooLarge(d.Size, limit)
	}
	b, err := io.ReadAll(io.LimitReader(d.Body, limit+1))
	if err != nil {
		return nil, core.Wrap(err, core.CodeShipError, "Ship request error: download interrupted")
	}
	if int64(len(b)) > limit {
		return nil, tooLarge(-1, limit)
	}
	return b, nil
}

// tooLarge is payload_too_large for content over limit bytes (size, if
// known, is its length).
func tooLarge(size, limit int64) *core.Error {
	d := map[string]any{"limit_bytes": limit}
	if size >= 0 {
		d["size_bytes"] = size
	}
	return core.Errorf(core.CodePayloadTooLarge, "Content is larger than %d bytes", limit).WithDetails(d)
}

// normalized is a path as the runtime sees it, or the path as given when
// it is not valid (the service refused it already).
func normalized(p string) string {
	if n, err := core.NormalizePath("path", p); err == nil {
		return n
	}
	return p
}

func (s *Server) writeFile(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	id, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	if err := a.require("path", "content"); err != nil {
		return nil, err
	}
	var in writeFileIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	switch in.Encoding {
	case "", "text":
		if n := int64(len(in.Content)); n > s.o.MaxWriteBytes {
			return nil, tooLarge(n, s.o.MaxWriteBytes)
		}
		if err := s.o.Sandboxes.WriteFile(ctx, c.owner, id, in.Path, in.Content); err != nil {
			return nil, err
		}
		return jsonResult(writeFileOut{Path: normalized(in.Path), Bytes: int64(len(in.Content))}), nil
	case "base64":
		// The decoded length is known before decoding: refuse early.
		clean := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, in.Content)
		if n := int64(base64.StdEncoding.DecodedLen(len(clean))); n > s.o.MaxWriteBytes+2 {
			return nil, tooLarge(n, s.o.MaxWriteBytes)
		}
		b, err := base64.StdEncoding.DecodeString(clean)
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "=")); err != nil {
				return nil, argInvalid("content", "content is not valid base64")
			}
		}
		if n := int64(len(b)); n > s.o.MaxWriteBytes {
			return nil, tooLarge(n, s.o.MaxWriteBytes)
		}
		res, err := s.o.Sandboxes.Upload(ctx, c.owner, id, in.Path, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return jsonResult(writeFileOut{Path: res.Path, Bytes: res.Size}), nil
	default:
		return nil, argInvalid("encoding", "encoding must be text or base64")
	}
}

func (s *Server) listFiles(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	id, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	var in listFilesIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	if in.Path == "" {
		in.Path = "."
	}
	entries, err := s.o.Sandboxes.ListDir(ctx, c.owner, id, in.Path)
	if err != nil {
		return nil, err
	}
	return jsonResult(toListing(entries)), nil
}

func (s *Server) deleteFile(ctx context.Context, c caller, _ *sdk.CallToolRequest, a args) (*sdk.CallToolResult, error) {
	id, err := sandboxArg(a)
	if err != nil {
		return nil, err
	}
	if err := a.require("path"); err != nil {
		return nil, err
	}
	var in pathIn
	if err := a.decode(&in); err != nil {
		return nil, err
	}
	if err := s.o.Sandboxes.DeleteFile(ctx, c.owner, id, in.Path); err != nil {
		return nil, err
	}
	return jsonResult(deletedJSON{Deleted: true}), nil
}

// decodeImage decodes a base64 PNG as Ship sends it (whitespace allowed).
func decodeImage(b64 string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64), ""))
}

// validUTF8 reports whether b is text.
func validUTF8(b []byte) bool { return utf8.Valid(b) }
